"""``landmarkgait data synth | preview``: generate the synthetic benchmark and look at it.

Parses arguments, calls ``landmarkgait.data.synth`` and prints the outcome. No generation logic lives here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from landmarkgait.data.synth import CASIA_B_TYPES, CASIA_B_VIEWS, SynthConfig, generate_dataset


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth`` and ``preview`` under ``landmarkgait data``."""
    defaults = SynthConfig()
    synth = subparsers.add_parser(
        "synth",
        help="generate the synthetic CASIA-B-like benchmark as a Parquet dataset",
        description=(
            "Render articulated 3D walkers (identity in body shape and gait style) through a perspective "
            "camera at each view, add bags (bg), coats (cl) and segmentation artefacts, pretreat to 64x64 "
            "exactly like convert-frames, and write a Parquet dataset with CASIA-B's structure and its "
            "default train/test partition. One Ray task per subject; the same arguments and seed give "
            "byte-identical shards whatever the number of workers."
        ),
    )
    synth.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset directory to create")
    synth.add_argument(
        "--subjects",
        type=int,
        default=defaults.subjects,
        help=f"number of subjects 001..N (default: {defaults.subjects})",
    )
    synth.add_argument(
        "--views",
        type=_comma_list,
        default=CASIA_B_VIEWS,
        metavar="V,V,...",
        help=f"comma-separated subset of the views {','.join(CASIA_B_VIEWS)} (default: all)",
    )
    synth.add_argument(
        "--types",
        type=_comma_list,
        default=CASIA_B_TYPES,
        metavar="T,T,...",
        help=f"comma-separated subset of the sequence types {','.join(CASIA_B_TYPES)} (default: all)",
    )
    synth.add_argument(
        "--min-frames",
        type=int,
        default=defaults.min_frames,
        help=f"shortest sequence (default: {defaults.min_frames})",
    )
    synth.add_argument(
        "--max-frames",
        type=int,
        default=defaults.max_frames,
        help=f"longest sequence (default: {defaults.max_frames})",
    )
    synth.add_argument(
        "--seed", type=int, default=defaults.seed, help=f"random seed (default: {defaults.seed})"
    )
    synth.add_argument(
        "--render-size",
        type=int,
        default=defaults.render_size,
        help=f"render window in pixels before pretreatment to 64x64 (default: {defaults.render_size})",
    )
    synth.add_argument(
        "--artefacts",
        type=float,
        default=defaults.artefacts,
        help=f"strength of segmentation artefacts, 0 = clean silhouettes (default: {defaults.artefacts})",
    )
    synth.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel Ray tasks (default: all CPUs); does not change the output",
    )
    synth.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    synth.set_defaults(handler=_synth)

    preview = subparsers.add_parser(
        "preview",
        help="write a contact sheet PNG (views x types) of one subject",
        description=(
            "Write a PNG contact sheet of one subject of a dataset: one row per view, one column per "
            "sequence type, a few frames spread over each sequence."
        ),
    )
    preview.add_argument("dataset", type=Path, metavar="DATASET", help="Parquet dataset directory")
    preview.add_argument("--out", type=Path, required=True, metavar="PNG", help="image file to write")
    preview.add_argument("--subject", help="subject to show (default: the first)")
    preview.add_argument("--frames", type=int, default=3, help="frames per sequence (default: 3)")
    preview.set_defaults(handler=_preview)


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _synth(args: argparse.Namespace) -> int:
    from landmarkgait.data.format import read_metadata

    config = SynthConfig(
        subjects=args.subjects,
        types=args.types,
        views=args.views,
        min_frames=args.min_frames,
        max_frames=args.max_frames,
        seed=args.seed,
        render_size=args.render_size,
        artefacts=args.artefacts,
        workers=args.workers,
    )
    started = time.perf_counter()
    out = generate_dataset(config, args.out, overwrite=args.overwrite)
    metadata = read_metadata(out)
    partition = metadata.extra["partition"]
    print(
        f"wrote {out}: {metadata.num_sequences} sequences of {config.subjects} subjects "
        f"({len(partition['TRAIN_SET'])} train / {len(partition['TEST_SET'])} test) "
        f"in {time.perf_counter() - started:.1f} s; fingerprint {metadata.fingerprint}"
    )
    return 0


def _preview(args: argparse.Namespace) -> int:
    from landmarkgait.data.reader import SilhouetteDataset
    from landmarkgait.data.synth.preview import contact_sheet

    out = contact_sheet(
        SilhouetteDataset(args.dataset), args.out, subject=args.subject, frames_per_cell=args.frames
    )
    print(f"wrote {out}")
    return 0
