"""``landmarkgait report --matrix``: parse what ``report`` was given, call ``report.matrix``, print.

The matrix is an option of ``report`` (``report_commands`` adds it and hands over here); no matrix
logic lives here.
"""

from __future__ import annotations

import argparse

from landmarkgait.pipelines.commands.arguments import print_json


def report_matrix(args: argparse.Namespace) -> int:
    """Trained-on × tested-on rank-1 of the experiments' runs and their cross-dataset evaluations.

    Writes matrix.md, matrix.csv and matrix.png (default folder $LANDMARKGAIT_HOME/reports/
    matrix-<experiment>) and logs them, with the table as its description, to a new MLflow run of
    the first experiment.
    """
    from landmarkgait.data.destination import check_destination
    from landmarkgait.data.keys import key_problem
    from landmarkgait.data.quoting import printable_lines, quote_value
    from landmarkgait.pipelines.config import TrackingSection, landmarkgait_home
    from landmarkgait.pipelines.errors import PipelineError
    from landmarkgait.pipelines.tracking.location import resolve_tracking_uri

    if args.sweep or args.merge:
        raise PipelineError(
            "--matrix reads the runs and evaluations of experiments: give --experiment NAME "
            "(repeatable), without --sweep or --merge"
        )
    experiments = args.experiment
    source = f"matrix-{experiments[0]}"
    if args.out is None and key_problem(source) is not None:  # it would name a folder in the home
        raise PipelineError(
            f"--experiment {quote_value(experiments[0])} cannot name a report folder "
            f"({key_problem(source)}); pass --out DIR"
        )
    out = args.out or landmarkgait_home() / "reports" / source
    check_destination(out, overwrite=args.overwrite, what="--out")  # before MLflow is asked anything
    names = ", ".join(quote_value(name) for name in experiments)
    uri = resolve_tracking_uri(TrackingSection(tracking_uri=args.tracking_uri), reading=f"experiment {names}")
    # MLflow and matplotlib load only after the checks above.
    from landmarkgait.pipelines.report.matrix import MATRIX_ARTIFACTS, write_matrix
    from landmarkgait.pipelines.tracking.tracker import Tracker

    trackers = [Tracker.of_experiment(uri, name) for name in dict.fromkeys(experiments)]
    report = write_matrix(trackers, out, overwrite=args.overwrite)
    matrix = report.matrix
    if args.json:
        print_json(
            {
                "columns": [
                    {"tested_on": key.name, "fingerprint": key.fingerprint, "evaluation": evaluation}
                    for key, evaluation in matrix.columns
                ],
                "rows": [
                    {
                        "trained_on": key.name,
                        "fingerprint": key.fingerprint,
                        "method": method,
                        "cells": [
                            None
                            if (cell := matrix.cells.get(((key, method), column))) is None
                            else {
                                "rank1": cell.spread.mean,
                                "rank1_std": cell.spread.std,
                                "n": cell.spread.n,
                                "runs": list(cell.run_ids),
                            }
                            for column in matrix.columns
                        ],
                    }
                    for key, method in matrix.rows
                ],
                "mlflow_run_id": report.run_id,
                "files": {name: str(path) for name, path in report.files.items()},
            },
            sort_keys=False,
        )
    else:
        print(printable_lines(report.markdown), end="")  # dataset names and methods come from the store
        print(f"written: {', '.join(str(path) for path in report.files.values())}")
        print(
            f"MLflow run {report.run_id}: the same files under {MATRIX_ARTIFACTS}/, the table as its description"
        )
    return 0
