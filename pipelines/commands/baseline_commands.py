"""``landmarkgait baseline gei``: the training-free GEI + nearest-neighbour baseline.

Parses arguments, calls ``landmarkgait.data.evaluation.gei_baseline`` and prints or writes the
evaluation. No evaluation logic lives here.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from landmarkgait.data.evaluation.names import METRICS
from landmarkgait.pipelines.commands.arguments import (
    add_command,
    add_command_group,
    add_json_option,
    print_json,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``landmarkgait baseline gei``."""
    baselines = add_command_group(
        subparsers,
        "baseline",
        help="training-free baselines that calibrate a dataset's difficulty",
        title="baselines",
        metavar="BASELINE",
    )
    gei = add_command(baselines, "gei", _gei)
    gei.add_argument("dataset", type=Path, metavar="DATASET", help="Parquet dataset directory")
    gei.add_argument(
        "--partition",
        type=Path,
        metavar="JSON",
        help="OpenGait partition JSON (default: the dataset's own partition, else CASIA-B's 74/50 split)",
    )
    gei.add_argument("--metric", choices=METRICS, default="euc", help="distance (default: euc)")
    add_json_option(gei, "the summary metrics")
    gei.add_argument("--csv", type=Path, metavar="PATH", help="also write the per-view results as CSV")
    gei.add_argument("--heatmap", type=Path, metavar="PNG", help="also write the per-view rank-1 heatmap")
    gei.add_argument("--overwrite", action="store_true", help="replace existing --csv / --heatmap files")


def _gei(args: argparse.Namespace) -> int:
    """gait-energy-image + nearest neighbour, CASIA-B protocol on the test subjects

    Average each test sequence's silhouettes into a gait energy image (GEI) and match probes to the
    gallery by nearest neighbour with the CASIA-B protocol (probes nm-05/06, bg-01/02, cl-01/02; gallery
    nm-01..04; identical-view cells excluded). Prints rank-1 per probe view x gallery view and the NM / BG
    / CL means.
    """
    from landmarkgait.data.destination import check_file_destination

    for option, path in (("--csv", args.csv), ("--heatmap", args.heatmap)):
        if path:
            check_file_destination(path, overwrite=args.overwrite, what=option)  # before a minute of reading
    from landmarkgait.data.evaluation.gei_baseline import evaluate_gei_baseline
    from landmarkgait.data.partition import resolve_partition
    from landmarkgait.data.reader import SilhouetteDataset

    dataset = SilhouetteDataset(args.dataset)
    partition = resolve_partition(dataset, args.partition)
    evaluation = evaluate_gei_baseline(dataset, partition.test_set, metric=args.metric)
    if args.csv:
        evaluation.to_csv(args.csv)
    if args.heatmap:
        evaluation.heatmap_png(args.heatmap)
    if args.json:
        metrics = {
            key: (value if math.isfinite(value) else None) for key, value in evaluation.summary().items()
        }
        report = {
            "dataset": str(args.dataset),
            "fingerprint": dataset.metadata.fingerprint,
            "test_subjects": len(partition.test_set),
            "protocol": evaluation.protocol,
            "metric": evaluation.metric,
            "metrics": metrics,
        }
        print_json(report, sort_keys=False)
    else:
        print(evaluation.format_table())
    return 0
