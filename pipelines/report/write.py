"""Writing a report: table (Markdown, CSV), bar chart and learning curves, on disk and in MLflow.

The folder is staged and published by one rename, marked as an output of landmarkgait (so
``--overwrite`` may replace it later); with a sweep, the same files are logged to the sweep run
under ``report/`` so the MLflow UI shows them next to the trials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.staging import publish_directory, staging_dir
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.baseline import gei_row
from landmarkgait.pipelines.report.charts import learning_curves, rank1_bar_chart
from landmarkgait.pipelines.report.collect import CONDITIONS, MethodRow, collect_rows
from landmarkgait.pipelines.report.tables import csv_table, markdown_table
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

# What the learning curves show: the recognition terms separately (the total hides a falling triplet loss under a flat
# cross-entropy), the training accuracy, and rank-1 at every evaluation.
CURVE_METRICS = (
    "loss/triplet",
    "loss/cross_entropy",
    "loss/accuracy",
    "eval/rank1/NM",
    "eval/rank1/BG",
    "eval/rank1/CL",
)


@dataclass(frozen=True)
class Report:
    rows: list[MethodRow]
    conditions: tuple[str, ...]
    markdown: str
    files: dict[str, Path]


def write_report(
    tracker: Tracker,
    out: Path,
    sweep_run_id: str | None = None,
    title: str = "",
    *,
    overwrite: bool = False,
) -> Report:
    """The report of a sweep's trials (``sweep_run_id``) or of the experiment's pipeline runs, as
    the folder ``out`` (replaced only with ``overwrite``, if an earlier report or other output)."""
    runs = tracker.trial_runs(sweep_run_id) if sweep_run_id else tracker.pipeline_runs()
    collected = collect_rows(tracker, runs, trials=sweep_run_id is not None)
    if not collected.rows or collected.evaluated is None:
        where = f"sweep {sweep_run_id}" if sweep_run_id else f"experiment {tracker.experiment_name!r}"
        raise PipelineError(f"{where} has no finished, evaluated pipeline run to report")
    evaluated = collected.evaluated
    conditions = CONDITIONS.get(evaluated.protocol, ())
    baseline = gei_row(tracker, evaluated, sweep_run_id)
    rows = ([baseline] if baseline else []) + collected.rows
    title = (
        title
        or f"{tracker.experiment_name}: {evaluated.protocol} protocol, dataset {evaluated.fingerprint[7:19]}"
    )
    markdown = markdown_table(rows, conditions)
    curves = {
        row.method: {metric: tracker.metric_history(row.curve_run_id, metric) for metric in CURVE_METRICS}
        for row in rows
        if row.curve_run_id
    }
    contents: dict[str, bytes | str] = {
        "results.md": f"# {title}\n\nRank-1 and mAP (%), identical-view cells excluded.\n\n{markdown}",
        "results.csv": csv_table(rows, conditions),
        "rank1.png": rank1_bar_chart(rows, conditions, title),
        "learning_curves.png": learning_curves(curves, title),
    }
    with staging_dir(out) as staging:  # the folder appears complete, marked as ours, or not at all
        for name, content in contents.items():
            write_atomic(staging / name, content)
            if sweep_run_id:
                tracker.log_artifact(sweep_run_id, staging / name, "report")
        publish_directory(staging, out, overwrite=overwrite)
    files = {name: out / name for name in contents}
    log.info("report of %d methods written to %s", len(rows), out)
    return Report(rows=rows, conditions=conditions, markdown=markdown, files=files)
