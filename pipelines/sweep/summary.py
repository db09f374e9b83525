"""What a sweep leaves in MLflow when it ends: trial table (CSV), metric-vs-parameter plot, best trial.

Reads the trials from MLflow (the source of truth across interruptions and resumes), not from
Tune's in-memory results, so a resumed sweep summarises the trials of every session.
"""

from __future__ import annotations

import csv
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkgait.data.atomic import atomic_path
from landmarkgait.models.registry import STAGES
from landmarkgait.pipelines.sweep.config import LoadedSweep
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import (
    TAG_BEST,
    TAG_BEST_TRIAL,
    TAG_NOTE,
    TAG_OUTCOME,
    TAG_SWEPT,
    TAG_TRIAL,
)
from landmarkgait.pipelines.tracking.tracker import Tracker


@dataclass
class TrialRow:
    trial_id: str
    run_id: str
    outcome: str  # finished / stopped_early / failed / interrupted / running
    params: dict[str, Any]
    metric: float | None
    stage_runs: dict[str, str] = field(default_factory=dict)
    described: bool = False  # the run has a description (a finished pipeline's)

    def as_csv(self, keys: list[str], metric: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "trial_id": self.trial_id,
            "mlflow_run_id": self.run_id,
            "outcome": self.outcome,
        }
        row.update({key: self.params.get(key, "") for key in keys})
        row[metric] = "" if self.metric is None else f"{self.metric:.6g}"
        row.update({f"{stage}_run_id": self.stage_runs.get(stage, "") for stage in STAGES})
        return row


def trial_row(run: RunRecord, loaded: LoadedSweep) -> TrialRow:
    keys = loaded.sweep.search.searched_keys()
    # Only the keys this trial set: a point that leaves a key alone (the holistic ablation and
    # the landmark count) still logs the base config's value of it with the full config.
    swept = set(run.tags.get(TAG_SWEPT, ",".join(keys)).split(","))
    params = {key: _parse(run.params.get(key, "")) if key in swept else "" for key in keys}
    outcome = run.tags.get(TAG_OUTCOME) or ("finished" if run.status == "FINISHED" else "running")
    return TrialRow(
        trial_id=run.tags.get(TAG_TRIAL, ""),
        run_id=run.run_id,
        outcome=outcome,
        params=params,
        metric=run.metrics.get(loaded.sweep.search.metric),
        stage_runs=run.stage_links(),
        described=TAG_NOTE in run.tags,
    )


def best_trial(rows: list[TrialRow], mode: str) -> TrialRow | None:
    """Best metric among finished trials (ASHA-stopped ones report an earlier point of training)."""
    candidates = [row for row in rows if row.outcome == "finished" and row.metric is not None]
    candidates = [row for row in candidates if math.isfinite(row.metric)]
    if not candidates:
        return None
    pick = max if mode == "max" else min
    return pick(candidates, key=lambda row: row.metric)


def write_csv(path: Path, rows: list[TrialRow], loaded: LoadedSweep) -> None:
    """Atomic write of the trial table."""
    keys, metric = loaded.sweep.search.searched_keys(), loaded.sweep.search.metric
    header = ["trial_id", "mlflow_run_id", "outcome", *keys, metric, *(f"{stage}_run_id" for stage in STAGES)]
    with atomic_path(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(row.as_csv(keys, metric) for row in rows)


def plot_metric_vs_params(
    path: Path, rows: list[TrialRow], loaded: LoadedSweep, best: TrialRow | None
) -> None:
    """One panel per swept key: the metric of every trial against the key's value (best circled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys, metric = loaded.sweep.search.searched_keys(), loaded.sweep.search.metric
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4), squeeze=False)
    styles = {"finished": ("tab:blue", "o"), "stopped_early": ("tab:orange", "v")}
    for axis, key in zip(axes[0], keys, strict=True):
        for outcome, (colour, marker) in styles.items():
            points = [
                (row.params[key], row.metric)
                for row in rows
                if row.outcome == outcome and row.metric is not None and row.params[key] != ""
            ]
            if points:
                axis.scatter(
                    *zip(*points, strict=True), c=colour, marker=marker, label=outcome.replace("_", " ")
                )
        if best is not None and best.params[key] != "":  # "": a point that does not set the key
            axis.scatter(
                [best.params[key]],
                [best.metric],
                s=160,
                facecolors="none",
                edgecolors="tab:red",
                label="best",
            )
        axis.set_xlabel(key)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=8)
    figure.suptitle(f"{loaded.sweep.name}: {metric} ({loaded.sweep.search.mode})", fontsize=10)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)


def trial_note(row: TrialRow, tracker: Tracker) -> str:
    """Markdown shown on an unfinished trial's MLflow page: its stage runs as links."""
    lines = [f"Sweep trial `{row.trial_id}` ({row.outcome}). Stage runs:", ""]
    for stage, run_id in row.stage_runs.items():
        lines.append(f"- {stage}: {tracker.run_link(run_id)}")
    return "\n".join(lines)


def summarise_sweep(
    tracker: Tracker, loaded: LoadedSweep, sweep_run_id: str, directory: Path
) -> tuple[list[TrialRow], TrialRow | None, Path]:
    """Trial table, plot and best-trial tags, logged to the sweep run and written under ``directory``."""
    rows = sorted(
        (trial_row(run, loaded) for run in tracker.trial_runs(sweep_run_id)), key=lambda row: row.trial_id
    )
    best = best_trial(rows, loaded.sweep.search.mode)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "summary.csv"
    write_csv(csv_path, rows, loaded)
    with tempfile.TemporaryDirectory(prefix="landmarkgait-sweep-") as scratch:
        plot = Path(scratch) / "metric_vs_params.png"
        plot_metric_vs_params(plot, rows, loaded, best)
        tracker.log_artifact(sweep_run_id, plot, "sweep")
    tracker.log_artifact(sweep_run_id, csv_path, "sweep")
    for row in rows:
        tags = {TAG_BEST: str(row is best).lower()}
        if not row.described:  # a finished trial's pipeline run describes itself, stage links included
            tags[TAG_NOTE] = trial_note(row, tracker)
        tracker.set_tags(row.run_id, tags)
    counts = {
        outcome: sum(row.outcome == outcome for row in rows)
        for outcome in ("finished", "stopped_early", "failed")
    }
    tracker.log_metrics(
        sweep_run_id, {f"trials/{outcome}": count for outcome, count in counts.items()}, step=0
    )
    if best is not None:
        tracker.set_tags(sweep_run_id, {TAG_BEST_TRIAL: best.run_id})
        tracker.log_metrics(sweep_run_id, {f"best/{loaded.sweep.search.metric}": best.metric}, step=0)
        tracker.set_tags(sweep_run_id, {f"{TAG_BEST}.{key}": value for key, value in best.params.items()})
    return rows, best, csv_path


def _parse(value: str) -> Any:
    """MLflow params are strings; numbers come back as numbers for plotting and the CSV."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
