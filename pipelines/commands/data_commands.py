"""``landmarkgait data convert-pkl | convert-frames | export-pkl | inspect | validate``.

Parses arguments, calls ``landmarkgait.data.converters`` / ``landmarkgait.data.summary`` /
``landmarkgait.data.validation`` and prints the outcome. No conversion or validation logic lives here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from landmarkgait.data.converters.conversion import ConversionReport
from landmarkgait.data.converters.from_frames import convert_frame_tree
from landmarkgait.data.converters.from_pkl import convert_pkl_tree
from landmarkgait.data.converters.pool import DEFAULT_WORKERS
from landmarkgait.data.converters.to_pkl import export_pkl_tree
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import DEFAULT_SEQUENCES_PER_SHARD
from landmarkgait.data.summary import summarize_dataset
from landmarkgait.data.validation import validate_dataset
from landmarkgait.pipelines.commands.arguments import add_command, add_json_option, print_json
from landmarkgait.pipelines.error_text import error_line


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the dataset conversion and inspection commands under ``landmarkgait data``."""
    convert_pkl = add_command(subparsers, "convert-pkl", _convert_pkl)
    _add_conversion_arguments(convert_pkl, "OpenGait pickle tree")
    convert_pkl.add_argument(
        "--pkl-in-use",
        type=int,
        metavar="N",
        help="a sequence's pickle holding its silhouettes, by position in name order, for trees with "
        "several per sequence (OpenGait's data_in_use: CCPG 0, SUSTech1K 6)",
    )

    convert_frames = add_command(subparsers, "convert-frames", _convert_frames)
    _add_conversion_arguments(convert_frames, "raw frame tree")
    convert_frames.add_argument(
        "--img-size", type=int, default=64, help="output frame height and width in pixels (default: 64)"
    )

    export_pkl = add_command(subparsers, "export-pkl", _export_pkl)
    export_pkl.add_argument("src", type=Path, metavar="SRC", help="Parquet dataset directory")
    export_pkl.add_argument("dst", type=Path, metavar="DST", help="pickle tree to create")
    _add_worker_arguments(export_pkl)

    inspect = add_command(subparsers, "inspect", _inspect)
    inspect.add_argument("path", type=Path, metavar="PATH", help="Parquet dataset directory")
    add_json_option(inspect, "the summary")

    validate = add_command(subparsers, "validate", _validate)
    validate.add_argument("path", type=Path, metavar="PATH", help="Parquet dataset directory")


def _add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"worker processes (default: {DEFAULT_WORKERS})"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace DST if it exists")


def _add_conversion_arguments(parser: argparse.ArgumentParser, source: str) -> None:
    parser.add_argument("src", type=Path, metavar="SRC", help=f"root of the {source}")
    parser.add_argument("dst", type=Path, metavar="DST", help="Parquet dataset directory to create")
    add_dataset_output_arguments(parser)
    _add_worker_arguments(parser)
    parser.add_argument(
        "--partition",
        type=Path,
        metavar="JSON",
        help="OpenGait partition file the dataset records as its split (e.g. Gait3D.json with its PROBE_SET)",
    )


def add_dataset_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--name``, ``--sequences-per-shard`` and ``--strict``: what every converter writes, and how strictly."""
    parser.add_argument("--name", help="dataset name stored in the metadata (default: DST's name)")
    parser.add_argument(
        "--sequences-per-shard",
        type=int,
        default=DEFAULT_SEQUENCES_PER_SHARD,
        help=f"maximum sequences per shard file (default: {DEFAULT_SEQUENCES_PER_SHARD})",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail (writing nothing) if any sequence would be skipped"
    )


def print_conversion(report: ConversionReport) -> None:
    print(
        f"wrote {report.out}: {report.num_sequences} sequences, {report.num_frames} frames, "
        f"{report.size_bytes / 2**20:.1f} MiB"
    )
    if report.dropped_frames:
        print(f"dropped {report.dropped_frames} blank frames during pretreatment")
    if report.skipped:
        print(f"skipped {len(report.skipped)} sequences:")
        for item in report.skipped:
            print(f"  {item.location}: {item.reason}")


def _conversion_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``_add_conversion_arguments`` stands for, shared by both converters."""
    return {
        "name": args.name,
        "workers": args.workers,
        "sequences_per_shard": args.sequences_per_shard,
        "overwrite": args.overwrite,
        "strict": args.strict,
        "partition": args.partition,
    }


def _convert_pkl(args: argparse.Namespace) -> int:
    """convert an OpenGait pickle tree to a Parquet dataset

    Convert an OpenGait pickle tree SRC/<subject>/<type>/<view>/*.pkl (each a uint8 array T x H x W) to a
    Parquet dataset at DST. Pickles are read with a restricted unpickler that admits numpy arrays only;
    anything else is skipped and reported with the file's name.
    """
    print_conversion(
        convert_pkl_tree(args.src, args.dst, pkl_in_use=args.pkl_in_use, **_conversion_options(args))
    )
    return 0


def _convert_frames(args: argparse.Namespace) -> int:
    """pretreat a raw PNG frame tree (CASIA-B layout) into a Parquet dataset

    Pretreat raw silhouette frames SRC/<subject>/<type>/<view>/*.png (name order) exactly as OpenGait's
    datasets/pretreatment.py does (drop blank frames, crop, resize to height IMG_SIZE, centre, cut to
    IMG_SIZE x IMG_SIZE) and store them as a Parquet dataset at DST.
    """
    report = convert_frame_tree(args.src, args.dst, img_size=args.img_size, **_conversion_options(args))
    print_conversion(report)
    return 0


def _export_pkl(args: argparse.Namespace) -> int:
    """write a Parquet dataset back as an OpenGait pickle tree

    Write the Parquet dataset SRC as an OpenGait pickle tree DST/<subject>/<type>/<view>/<view>.pkl with
    bit-identical arrays, for use with OpenGait itself.
    """
    report = export_pkl_tree(args.src, args.dst, workers=args.workers, overwrite=args.overwrite)
    print(f"wrote {report.out}: {report.num_files} pickle files, {report.size_bytes / 2**20:.1f} MiB")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    """summarise a dataset: subjects, types, views, counts, lengths, size

    Summarise a Parquet dataset: metadata, subjects, types, views, sequence and frame counts, a histogram
    of sequence lengths and the size on disk. Reads no frames.
    """
    summary = summarize_dataset(args.path)
    if args.json:
        print_json(summary.to_dict(), sort_keys=False)
    else:
        print(summary.format_text())
    return 0


def _validate(args: argparse.Namespace) -> int:
    """fully check a dataset (exit 0 valid, 1 invalid)

    Check a Parquet dataset completely: metadata and format version, shard schemas, keys, every frame
    length, and that the content still matches its fingerprint. Exit status 0 if valid, 1 if not (the
    reason names the file, row and field).
    """
    try:
        metadata = validate_dataset(args.path)
    except DataError as error:
        print(f"invalid: {error_line(error)}", file=sys.stderr)
        return 1
    print(f"valid: {args.path} ({metadata.num_sequences} sequences, {metadata.fingerprint})")
    return 0
