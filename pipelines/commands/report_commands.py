"""``landmarkgait report``: the results table of a sweep or experiments, read from MLflow.

Parses arguments, calls ``landmarkgait.pipelines.report`` and prints the table. No report logic
lives here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from landmarkgait.pipelines.commands.arguments import add_command, add_json_option, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``landmarkgait report``."""
    report = add_command(subparsers, "report", _report)
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--sweep", metavar="RUN_ID", help="the sweep run whose trials to compare")
    source.add_argument(
        "--experiment",
        metavar="NAME",
        action="append",
        help="compare every finished pipeline run of an experiment; repeat it to join several "
        "(seeds run on other days under other names)",
    )
    report.add_argument(
        "--merge",
        metavar="CSV",
        nargs="+",
        action="extend",
        type=Path,
        help="also the runs of reports written earlier (their results.csv or runs.csv), e.g. seeds "
        "whose MLflow store is gone; every run must share the dataset and protocol",
    )
    report.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the files (default: $LANDMARKGAIT_HOME/reports/<source>)",
    )
    report.add_argument("--overwrite", action="store_true", help="replace DIR if it holds an earlier report")
    report.add_argument(
        "--matrix",
        action="store_true",
        help="instead, the trained-on x tested-on matrix of the experiments' runs and their evaluations "
        "on other datasets (evaluate CONFIG --run RUN): matrix.md, matrix.csv, matrix.png, in MLflow too",
    )
    report.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the local sqlite store)",
    )
    add_json_option(report, "the table rows and file paths")


def _report(args: argparse.Namespace) -> int:
    """paper-style results table of a sweep or experiment: methods x NM / BG / CL, with the GEI baseline

    Reads finished pipeline runs (a sweep's trials, or an experiment's runs) from MLflow and writes
    results.md, results.csv, runs.csv, rank1.png (grouped bars) and learning_curves.png. Every
    number is the evaluated stage run's logged metric; a method run with several seeds shows their
    mean ± sample standard deviation and n (error bars in the chart), and a seed run twice counts
    its newest run. --experiment may be repeated and --merge adds the runs of earlier reports' CSVs,
    so seeds run on different days form one table. A GEI + nearest-neighbour row is computed on the
    same dataset and protocol once and kept as its own MLflow run. With --sweep, the files are also
    logged to the sweep run under report/.
    """
    if args.matrix:
        from landmarkgait.pipelines.commands.matrix_commands import report_matrix

        return report_matrix(args)
    from landmarkgait.data.destination import check_destination
    from landmarkgait.data.keys import key_problem
    from landmarkgait.data.quoting import printable_lines, quote_value
    from landmarkgait.pipelines.config import TrackingSection, landmarkgait_home
    from landmarkgait.pipelines.errors import PipelineError
    from landmarkgait.pipelines.tracking.location import resolve_tracking_uri

    experiments = args.experiment or []
    merge = args.merge or []
    source = f"sweep-{args.sweep}" if args.sweep else experiments[0]
    if args.out is None and (len(experiments) > 1 or merge):
        raise PipelineError("--out DIR is needed when a report joins several experiments or --merge CSVs")
    for path in merge:  # before MLflow is asked anything
        if not path.is_file():
            raise PipelineError(f"--merge {path}: no such file (a report's results.csv or runs.csv)")
    if args.out is None and key_problem(source) is not None:  # it would name a folder in the home
        option = "--sweep" if args.sweep else "--experiment"
        raise PipelineError(
            f"{option} {quote_value(source)} cannot name a report folder ({key_problem(source)}); pass --out DIR"
        )
    out = args.out or landmarkgait_home() / "reports" / source
    check_destination(out, overwrite=args.overwrite, what="--out")  # before MLflow is asked anything
    names = ", ".join(quote_value(name) for name in experiments)
    wanted = f"run {quote_value(args.sweep)}" if args.sweep else f"experiment {names}"
    uri = resolve_tracking_uri(TrackingSection(tracking_uri=args.tracking_uri), reading=wanted)
    from landmarkgait.pipelines.report.sources import RunSource
    from landmarkgait.pipelines.report.write import write_report  # MLflow and matplotlib: after the checks
    from landmarkgait.pipelines.tracking.tracker import Tracker

    tracker = Tracker.of_run(uri, args.sweep) if args.sweep else Tracker.of_experiment(uri, experiments[0])
    more = [RunSource(Tracker.of_experiment(uri, name)) for name in experiments[1:]]
    report = write_report(
        tracker, out, sweep_run_id=args.sweep, overwrite=args.overwrite, more=more, merge=merge
    )
    if args.json:
        print_json(
            {
                "rows": [
                    {
                        "method": row.method,
                        "run_id": row.run_id,  # the newest of the method's runs
                        "n": row.n,
                        "rank1": {c: cell.mean for c, cell in row.rank1.items()},
                        "mAP": {c: cell.mean for c, cell in row.mean_ap.items()},
                        "rank1_std": {c: cell.std for c, cell in row.rank1.items()},
                        "mAP_std": {c: cell.std for c, cell in row.mean_ap.items()},
                        "runs": [{"run_id": run.run_id, "seed": run.seed} for run in row.runs],
                    }
                    for row in report.rows
                ],
                "files": {name: str(path) for name, path in report.files.items()},
            }
        )
    else:
        print(printable_lines(report.markdown), end="")  # run names and params come from the store
        print(f"written: {', '.join(str(path) for path in report.files.values())}")
    return 0
