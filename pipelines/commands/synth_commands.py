"""``landmarkgait data synth | synth-ground-truth | preview``: generate the synthetic benchmark,
write its ground truth and look at it.

Parses arguments, calls ``landmarkgait.data.synth`` and prints the outcome. No generation logic lives here.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from landmarkgait.data.errors import DataError
from landmarkgait.data.synth.config import CASIA_B_TYPES, CASIA_B_VIEWS, SynthConfig
from landmarkgait.data.synth.generator import generate_dataset
from landmarkgait.pipelines.commands.arguments import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth`` and ``preview`` under ``landmarkgait data``."""
    synth = add_command(subparsers, "synth", _synth)
    synth.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset directory to create")
    _add_number(synth, "subjects", int, "number of subjects 001..N")
    _add_subset(synth, "views", CASIA_B_VIEWS, "V,V,...", "views")
    _add_subset(synth, "types", CASIA_B_TYPES, "T,T,...", "sequence types")
    _add_number(synth, "min_frames", int, "shortest sequence")
    _add_number(synth, "max_frames", int, "longest sequence")
    _add_number(synth, "seed", int, "random seed")
    _add_number(synth, "render_size", int, "render window in pixels before pretreatment to 64x64")
    _add_number(synth, "artefacts", float, "strength of segmentation artefacts, 0 = clean silhouettes")
    synth.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel Ray tasks (default: all CPUs); does not change the output",
    )
    synth.add_argument(
        "--ground-truth",
        action="store_true",
        help="also write part labels and joints of every frame to DIR.ground_truth/ (the dataset is unchanged)",
    )
    synth.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")

    truth = add_command(subparsers, "synth-ground-truth", _synth_ground_truth)
    truth.add_argument("dataset", type=Path, metavar="DATASET", help="a dataset written by `data synth`")
    truth.add_argument("--workers", type=int, default=None, help="parallel Ray tasks (default: all CPUs)")
    truth.add_argument("--overwrite", action="store_true", help="replace DATASET.ground_truth/ if it exists")

    preview = add_command(subparsers, "preview", _preview)
    preview.add_argument("dataset", type=Path, metavar="DATASET", help="Parquet dataset directory")
    preview.add_argument("--out", type=Path, required=True, metavar="PNG", help="image file to write")
    preview.add_argument("--subject", help="subject to show (default: the first)")
    preview.add_argument("--frames", type=int, default=3, help="frames per sequence (default: 3)")
    preview.add_argument("--overwrite", action="store_true", help="replace PNG if it is an existing file")


def _add_number(parser: argparse.ArgumentParser, field: str, kind: type, meaning: str) -> None:
    """``--FIELD`` for a numeric ``SynthConfig`` field, defaulting to (and showing) the config's default."""
    default = getattr(SynthConfig(), field)
    parser.add_argument(
        f"--{field.replace('_', '-')}", type=kind, default=default, help=f"{meaning} (default: {default})"
    )


def _add_subset(
    parser: argparse.ArgumentParser, field: str, every: tuple[str, ...], metavar: str, what: str
) -> None:
    """``--FIELD A,B,...``: a comma-separated subset of ``every`` (default: all of them)."""
    parser.add_argument(
        f"--{field}",
        type=comma_list,
        default=every,
        metavar=metavar,
        help=f"comma-separated subset of the {what} {','.join(every)} (default: all)",
    )


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _synth(args: argparse.Namespace) -> int:
    """generate the synthetic CASIA-B-like benchmark as a Parquet dataset

    Render articulated 3D walkers (identity in body shape and gait style) through a perspective camera at
    each view, add bags (bg), coats (cl) and segmentation artefacts, pretreat to 64x64 exactly like
    convert-frames, and write a Parquet dataset with CASIA-B's structure and its default train/test
    partition. One Ray task per subject; the same arguments and seed give byte-identical shards whatever
    the number of workers.
    """
    from landmarkgait.data.format import read_metadata

    # The options are named after the config's fields (see register).
    config = SynthConfig(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(SynthConfig)}
    )
    from landmarkgait.data.staging import check_destination

    check_destination(args.out, overwrite=args.overwrite)  # before Ray is even imported
    from landmarkgait.data.synth.truth_files import ground_truth_path

    if args.ground_truth:
        check_destination(ground_truth_path(args.out), overwrite=args.overwrite)
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    started = time.perf_counter()
    with ray_session(num_cpus=config.workers, include_dashboard=False):  # loopback-only local Ray
        out = generate_dataset(config, args.out, overwrite=args.overwrite, ground_truth=args.ground_truth)
    metadata = read_metadata(out)
    partition = metadata.extra["partition"]
    print(
        f"wrote {out}: {metadata.num_sequences} sequences of {config.subjects} subjects "
        f"({len(partition['TRAIN_SET'])} train / {len(partition['TEST_SET'])} test) "
        f"in {time.perf_counter() - started:.1f} s; fingerprint {metadata.fingerprint}"
    )
    if args.ground_truth:
        print(f"wrote its ground truth to {ground_truth_path(out)}")
    return 0


def _synth_ground_truth(args: argparse.Namespace) -> int:
    """write per-frame part labels and joints of a synthetic dataset, beside it

    Re-render every sequence of a dataset written by `data synth` (its generator arguments are in the
    dataset's metadata), check that the silhouettes equal the stored ones, and write DATASET.ground_truth/:
    per frame a label map (0 background, 1 head, 2 upper body, 3 lower body) and the 2D joints, both in
    the stored 64x64 frame. The dataset itself is not changed (same files, same fingerprint). One Ray
    task per subject; refused with one line naming the sequence if one re-renders differently.
    """
    from landmarkgait.data.format import read_metadata
    from landmarkgait.data.staging import check_destination
    from landmarkgait.data.synth.ground_truth import synth_config_of, write_ground_truth
    from landmarkgait.data.synth.truth_files import ground_truth_path

    if args.workers is not None and args.workers < 1:
        raise DataError(f"--workers must be >= 1, got {args.workers}")
    synth_config_of(read_metadata(args.dataset), args.dataset)  # before Ray is even imported
    check_destination(ground_truth_path(args.dataset), overwrite=args.overwrite)
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    started = time.perf_counter()
    with ray_session(num_cpus=args.workers, include_dashboard=False):  # loopback-only local Ray
        out = write_ground_truth(args.dataset, overwrite=args.overwrite, workers=args.workers)
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    return 0


def _preview(args: argparse.Namespace) -> int:
    """write a contact sheet PNG (views x types) of one subject

    Write a PNG contact sheet of one subject of a dataset: one row per view, one column per sequence type,
    a few frames spread over each sequence.
    """
    from landmarkgait.data.destination import check_file_destination
    from landmarkgait.data.reader import SilhouetteDataset
    from landmarkgait.data.synth.preview import contact_sheet

    check_file_destination(args.out, overwrite=args.overwrite, what="--out")
    out = contact_sheet(
        SilhouetteDataset(args.dataset), args.out, subject=args.subject, frames_per_cell=args.frames
    )
    print(f"wrote {out}")
    return 0
