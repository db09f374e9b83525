"""Writing a report: table (Markdown, CSV), bar chart and learning curves, on disk and in MLflow.

A method's runs of distinct seeds make one line (mean ± standard deviation, n); ``runs.csv``
keeps every run's own numbers, for a later report to ``--merge``.

The folder is staged and published by one rename, marked as an output of landmarkgait (so
``--overwrite`` may replace it later); with a sweep, the same files are logged to the sweep run
under ``report/`` so the MLflow UI shows them next to the trials.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.staging import publish_directory, staging_dir
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.baseline import gei_row
from landmarkgait.pipelines.report.charts import Series, learning_curves, rank1_bar_chart
from landmarkgait.pipelines.report.collect import CONDITIONS
from landmarkgait.pipelines.report.repeats import MethodResult, aggregate, method_result
from landmarkgait.pipelines.report.sources import RunSource, gather
from landmarkgait.pipelines.report.tables import csv_table, markdown_table, runs_csv
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

# What the stage curves show: how well stages 1-2 (and recognition, which fine-tunes LandmarkNet)
# match the synthetic ground truth as they train, logged at every eval_iter (stage, metric).
STAGE_CURVE_METRICS = (
    ("landmark", "quality/keypoint_error"),
    ("parsing", "quality/keypoint_error"),
    ("parsing", "quality/part_miou"),
    ("parsing", "quality/part_iou/head"),
    ("recognition", "quality/part_miou"),
    ("recognition", "quality/part_iou/head"),
)


@dataclass(frozen=True)
class Report:
    rows: list[MethodResult]
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
    more: Sequence[RunSource] = (),
    merge: Sequence[Path] = (),
) -> Report:
    """The report of a sweep's trials (``sweep_run_id``) or of the experiment's pipeline runs, with
    the runs of ``more`` sources and ``merge`` CSVs, as the folder ``out`` (replaced only with
    ``overwrite``, if an earlier report or other output)."""
    sources = [RunSource(tracker, sweep_run_id), *more]
    gathered = gather(sources, merge)
    if not gathered.rows or gathered.evaluated is None:
        where = " and ".join([*(source.describe() for source in sources), *map(str, merge)])
        raise PipelineError(f"{where} has no finished, evaluated pipeline run to report")
    evaluated = gathered.evaluated
    conditions = CONDITIONS.get(evaluated.protocol, ())
    baseline = gei_row(tracker, evaluated, sweep_run_id) if gathered.in_mlflow else gathered.csv_baseline
    methods = sorted(aggregate(gathered.rows, conditions), key=lambda result: result.method)
    rows = ([method_result(baseline.method, [baseline], conditions)] if baseline else []) + methods
    names = " + ".join(dict.fromkeys(source.tracker.experiment_name for source in sources))
    title = title or f"{names}: {evaluated.protocol} protocol, dataset {evaluated.fingerprint[7:19]}"
    markdown = markdown_table(rows, conditions)
    curves = {
        row.method: [
            {metric: tracker.metric_history(run_id, metric) for metric in CURVE_METRICS}
            for run_id in row.curve_run_ids
        ]
        for row in rows
        if row.curve_run_ids
    }
    notes = "Rank-1 and mAP (%), identical-view cells excluded"
    if any(row.n > 1 for row in rows):
        notes += "; methods with several runs (seeds): mean ± sample standard deviation over n runs"
    if any(row.quality for row in rows):
        notes += (
            "; keypoint error (% of the torso length) and part mIoU (%) against the synthetic "
            "ground truth, from the evaluated stage run or its upstream parsing run"
        )
    if merge:
        notes += f"; merged with the runs of {', '.join(f'`{path}`' for path in merge)}"
    contents: dict[str, bytes | str] = {
        "results.md": f"# {title}\n\n{notes}.\n\n{markdown}",
        "results.csv": csv_table(rows, conditions, evaluated),
        "runs.csv": runs_csv(rows, conditions, evaluated),
        "rank1.png": rank1_bar_chart(rows, conditions, title),
    }
    if curves:  # none when every run comes from a merged CSV
        contents["learning_curves.png"] = learning_curves(curves, title)
    stage_curves = stage_quality_curves(tracker, rows)
    if stage_curves:  # none without ground truth beside the dataset
        contents["stage_curves.png"] = learning_curves(stage_curves, f"{title}: against the ground truth")
    with staging_dir(out) as staging:  # the folder appears complete, marked as ours, or not at all
        for name, content in contents.items():
            write_atomic(staging / name, content)
            if sweep_run_id:
                tracker.log_artifact(sweep_run_id, staging / name, "report")
        publish_directory(staging, out, overwrite=overwrite)
    files = {name: out / name for name in contents}
    log.info("report of %d methods written to %s", len(rows), out)
    return Report(rows=rows, conditions=conditions, markdown=markdown, files=files)


def stage_quality_curves(
    tracker: Tracker, rows: Sequence[MethodResult]
) -> dict[str, list[dict[str, Series]]]:
    """Per method, per run: ``{"stage: metric": history}`` of ``STAGE_CURVE_METRICS`` that were
    logged more than once (a single end-of-stage value is in the table, not a curve)."""
    curves: dict[str, list[dict[str, Series]]] = {}
    for row in rows:
        for links in row.stage_run_ids:
            series = {
                f"{stage}: {metric}": history
                for stage, metric in STAGE_CURVE_METRICS
                if stage in links and len(history := tracker.metric_history(links[stage], metric)) > 1
            }
            if series:
                curves.setdefault(row.method, []).append(series)
    return curves
