"""Where a report's runs come from: sweeps and experiments in MLflow, and report CSVs merged in.

Several experiments (seeds run on different days under other names) and earlier reports' CSVs
(runs whose MLflow store is gone) become one list of runs, checked to share one dataset and
evaluation: the first MLflow run's, else the first CSV's. A CSV's GEI row is set apart: the GEI
baseline is computed from the dataset, not trained, so a table has one, from MLflow when it can.
Nothing here writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from landmarkgait.pipelines.report.baseline import GEI_METHOD
from landmarkgait.pipelines.report.collect import Evaluated, MethodRow, check_same_evaluation, collect_rows
from landmarkgait.pipelines.report.merge import read_report_csv
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSource:
    """Runs in MLflow: a sweep's trials (``sweep_run_id``) or an experiment's pipeline runs."""

    tracker: Tracker
    sweep_run_id: str | None = None

    def describe(self) -> str:
        return (
            f"sweep {self.sweep_run_id}"
            if self.sweep_run_id
            else f"experiment {self.tracker.experiment_name!r}"
        )

    def runs(self) -> list[RunRecord]:
        return (
            self.tracker.trial_runs(self.sweep_run_id) if self.sweep_run_id else self.tracker.pipeline_runs()
        )


@dataclass
class TableRuns:
    """Every run of a table (MLflow's first), the evaluation they share, and a merged GEI row."""

    rows: list[MethodRow] = field(default_factory=list)
    evaluated: Evaluated | None = None
    in_mlflow: bool = False  # ``evaluated`` is an MLflow run's (its dataset path is known)
    csv_baseline: MethodRow | None = None


def gather(sources: Sequence[RunSource], merge: Sequence[Path] = ()) -> TableRuns:
    """The runs of ``sources`` then of the ``merge`` CSVs, refused in one line if any was evaluated
    on another dataset or protocol than the first."""
    gathered = TableRuns()
    for source in sources:
        collected = collect_rows(
            source.tracker,
            source.runs(),
            trials=source.sweep_run_id is not None,
            evaluated=gathered.evaluated,
        )
        log.info("%s: %d evaluated runs", source.describe(), len(collected.rows))
        gathered.rows += collected.rows
        gathered.evaluated = collected.evaluated
    gathered.in_mlflow = gathered.evaluated is not None
    for path in merge:
        merged = read_report_csv(Path(path))
        if merged.evaluated is not None:
            gathered.evaluated = check_same_evaluation(
                gathered.evaluated, merged.evaluated, f"--merge {path}"
            )
        for row in merged.rows:
            if row.method == GEI_METHOD:
                gathered.csv_baseline = gathered.csv_baseline or row
            else:
                gathered.rows.append(row)
        log.info("--merge %s: %d runs", merged.path, len(merged.rows))
    return gathered
