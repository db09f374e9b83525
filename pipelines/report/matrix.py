"""``report --matrix``: trained-on × tested-on rank-1 over runs and datasets, from MLflow.

A recognition run evaluated on its own dataset holds its numbers itself; ``evaluate CONFIG --run
RUN`` on another dataset logs them to an ``evaluation`` run nested under RUN and tagged with that
dataset's fingerprint. This module gathers both kinds from one or more experiments into one matrix:
a row per training dataset and method, a column per test dataset and evaluation (protocol,
distance, frames), each cell the rank-1 mean over the protocol's conditions (a run evaluated on a
column twice counts its newest evaluation; several runs of a row show mean ± sample standard
deviation and n). It writes the matrix as Markdown, CSV and a heatmap, in a folder and to a new
MLflow run of the first experiment. It trains and evaluates nothing.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.staging import publish_directory, staging_dir
from landmarkgait.models.registry import STAGE_SPECS
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.charts import figure_png
from landmarkgait.pipelines.report.collect import evaluation_of, method_label
from landmarkgait.pipelines.report.repeats import Spread, spread
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_EVALUATED_RUN, TAG_KIND, TAG_NOTE, TAG_STAGE
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

# The kind of the MLflow run a matrix is logged to, and where its files go in it.
MATRIX_KIND = "report"
MATRIX_ARTIFACTS = "matrix"


@dataclass(frozen=True, order=True)
class DatasetKey:
    """A dataset as runs name it: its content fingerprint and the folder name it was read from."""

    fingerprint: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name or '(unnamed)'} ({self.fingerprint.removeprefix('sha256:')[:6]})"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a trained run: where it trained, what it was tested on, its rank-1."""

    trained_run_id: str
    method: str
    trained_on: DatasetKey
    tested_on: DatasetKey
    protocol: str  # ``Evaluated.protocol_tag``: protocol, distance, frames
    rank1: float  # mean over the protocol's conditions
    conditions: Mapping[str, float]
    run_id: str  # the run holding the metrics (the trained run itself, or an evaluation run)
    start_time: int


@dataclass(frozen=True)
class Cell:
    spread: Spread
    run_ids: tuple[str, ...]  # the runs holding the numbers, one per trained run
    conditions: dict[str, float] = field(default_factory=dict)  # mean per condition over the runs


Row = tuple[DatasetKey, str]  # (trained on, method)
Column = tuple[DatasetKey, str]  # (tested on, protocol tag)


@dataclass(frozen=True)
class Matrix:
    rows: list[Row]
    columns: list[Column]
    cells: dict[tuple[Row, Column], Cell]


@dataclass(frozen=True)
class MatrixReport:
    matrix: Matrix
    markdown: str
    files: dict[str, Path]
    run_id: str


def headline_rank1(metrics: Mapping[str, float]) -> tuple[float, dict[str, float]] | None:
    """The rank-1 mean over a protocol's conditions (``eval/rank1/<condition>``) and the
    conditions, or the single ``eval/rank1`` of a protocol without conditions; None if neither."""
    conditions = {
        key.split("/")[2]: value
        for key, value in metrics.items()
        if key.startswith("eval/rank1/") and key.count("/") == 2
    }
    if conditions:
        return sum(conditions.values()) / len(conditions), conditions
    if "eval/rank1" in metrics:
        return metrics["eval/rank1"], {}
    return None


def _dataset(run: RunRecord) -> DatasetKey:
    return DatasetKey(run.tags.get(TAG_DATA, ""), Path(run.params.get("data.path", "")).name)


def collect_evaluations(trackers: Sequence[Tracker]) -> list[Evaluation]:
    """Every finished evaluation in the experiments of ``trackers``: evaluated stage runs (on their
    own dataset) and ``evaluation`` runs of them (on another); each run once, oldest first."""
    found: dict[str, Evaluation] = {}
    trained: dict[str, RunRecord] = {}
    for tracker in trackers:
        for run in tracker.finished_runs("stage"):
            spec = STAGE_SPECS.get(run.tags.get(TAG_STAGE, ""))
            if spec is not None and spec.evaluates:
                trained[run.run_id] = run
                _add(found, run, run)
        for run in tracker.finished_runs("evaluation"):
            source = run.tags.get(TAG_EVALUATED_RUN)
            if not source or not run.tags.get(TAG_DATA):  # evaluate --embeddings names no dataset
                log.info("evaluation run %s names no dataset fingerprint; left out of the matrix", run.run_id)
                continue
            if source not in trained:
                trained[source] = tracker.get_run(source)
            _add(found, trained[source], run)
    return sorted(found.values(), key=lambda evaluation: evaluation.start_time)


def _add(found: dict[str, Evaluation], trained: RunRecord, holder: RunRecord) -> None:
    headline = headline_rank1(holder.metrics)
    if headline is None:
        return
    found[holder.run_id] = Evaluation(
        trained_run_id=trained.run_id,
        method=method_label(trained.params),
        trained_on=_dataset(trained),
        tested_on=_dataset(holder),
        protocol=evaluation_of(holder).protocol_tag,
        rank1=headline[0],
        conditions=headline[1],
        run_id=holder.run_id,
        start_time=holder.start_time,
    )


def build_matrix(evaluations: Sequence[Evaluation]) -> Matrix:
    """Rows (trained on, method) × columns (tested on, protocol); a trained run's newest evaluation
    per column, aggregated over the runs of a row."""
    newest: dict[tuple[Row, Column, str], Evaluation] = {}
    for evaluation in evaluations:  # oldest first: a later evaluation of the same run replaces it
        row = (evaluation.trained_on, evaluation.method)
        column = (evaluation.tested_on, evaluation.protocol)
        newest[(row, column, evaluation.trained_run_id)] = evaluation
    grouped: dict[tuple[Row, Column], list[Evaluation]] = {}
    for (row, column, _), evaluation in newest.items():
        grouped.setdefault((row, column), []).append(evaluation)
    cells = {}
    for key, group in grouped.items():
        names = sorted({name for evaluation in group for name in evaluation.conditions})
        cells[key] = Cell(
            spread=spread([evaluation.rank1 for evaluation in group]),
            run_ids=tuple(evaluation.run_id for evaluation in group),
            conditions={
                name: sum(e.conditions[name] for e in group if name in e.conditions)
                / sum(name in e.conditions for e in group)
                for name in names
            },
        )
    rows = sorted({row for row, _ in cells})
    columns = sorted({column for _, column in cells})
    return Matrix(rows, columns, cells)


def _row_label(row: Row) -> str:
    return f"{row[0].label} · {row[1]}"


def _column_label(column: Column) -> str:
    return f"{column[0].label} · {column[1]}"


def _escaped(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_matrix(matrix: Matrix) -> str:
    """The matrix as a Markdown table; bold cells were tested on the data they were trained on."""
    header = ["trained on · method \\ tested on · evaluation", *map(_column_label, matrix.columns)]
    lines = [
        f"| {' | '.join(map(_escaped, header))} |",
        f"|---|{'|'.join('---:' for _ in matrix.columns)}|",
    ]
    for row in matrix.rows:
        cells = []
        for column in matrix.columns:
            cell = matrix.cells.get((row, column))
            if cell is None:
                cells.append("–")
                continue
            value = cell.spread
            text = (
                f"{value.mean:.2f}"
                if value.std is None
                else f"{value.mean:.2f} ± {value.std:.2f} (n={value.n})"
            )
            cells.append(f"**{text}**" if row[0].fingerprint == column[0].fingerprint else text)
        lines.append(f"| {_escaped(_row_label(row))} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def csv_matrix(matrix: Matrix) -> str:
    """One line per cell: both datasets in full, the rank-1 mean, std, n, each condition, the runs."""
    conditions = sorted({name for cell in matrix.cells.values() for name in cell.conditions})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "trained_on",
            "trained_fingerprint",
            "method",
            "tested_on",
            "tested_fingerprint",
            "evaluation",
            "rank-1 mean",
            "rank-1 mean std",
            "n",
            *(f"rank-1 {name}" for name in conditions),
            "run_ids",
        ]
    )
    for (row, column), cell in sorted(matrix.cells.items()):
        writer.writerow(
            [
                row[0].name,
                row[0].fingerprint,
                row[1],
                column[0].name,
                column[0].fingerprint,
                column[1],
                cell.spread.mean,
                "" if cell.spread.std is None else cell.spread.std,
                cell.spread.n,
                *(cell.conditions.get(name, "") for name in conditions),
                " ".join(cell.run_ids),
            ]
        )
    return buffer.getvalue()


def heatmap(matrix: Matrix, title: str) -> bytes:
    """Rank-1 mean per (row, column) as a heatmap, each value written in its cell, empty cells blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.full((len(matrix.rows), len(matrix.columns)), np.nan)
    for (row, column), cell in matrix.cells.items():
        values[matrix.rows.index(row), matrix.columns.index(column)] = cell.spread.mean
    figure, axes = plt.subplots(figsize=(3.0 + 1.8 * len(matrix.columns), 1.6 + 0.55 * len(matrix.rows)))
    image = axes.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (r, c), value in np.ndenumerate(values):
        if not np.isnan(value):
            axes.text(
                c,
                r,
                f"{value:.1f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 60 else "black",
            )
    axes.set_xticks(
        range(len(matrix.columns)),
        [_column_label(c) for c in matrix.columns],
        rotation=20,
        ha="right",
        fontsize=8,
    )
    axes.set_yticks(range(len(matrix.rows)), [_row_label(r) for r in matrix.rows], fontsize=8)
    axes.set_xlabel("tested on · evaluation")
    axes.set_ylabel("trained on · method")
    figure.colorbar(image, ax=axes, label="rank-1 mean over conditions (%)")
    axes.set_title(title, fontsize=10)
    return figure_png(figure)


def write_matrix(trackers: Sequence[Tracker], out: Path, *, overwrite: bool = False) -> MatrixReport:
    """The matrix of the experiments of ``trackers`` as ``matrix.md``, ``matrix.csv`` and
    ``matrix.png`` in the folder ``out`` (replaced only with ``overwrite``, if an earlier output),
    and as the artifacts and description of a new MLflow run in the first experiment."""
    evaluations = collect_evaluations(trackers)
    names = " + ".join(dict.fromkeys(tracker.experiment_name for tracker in trackers))
    if not evaluations:
        raise PipelineError(f"experiment {names} has no finished, evaluated recognition run")
    matrix = build_matrix(evaluations)
    title = f"{names}: rank-1 (%), trained on × tested on"
    markdown = markdown_matrix(matrix)
    note = (
        "Rank-1 mean over each protocol's conditions (identical-view cells excluded where the protocol "
        "excludes them); bold: tested on the training data; several runs: mean ± sample std (n)."
    )
    contents: dict[str, bytes | str] = {
        "matrix.md": f"# {title}\n\n{note}\n\n{markdown}",
        "matrix.csv": csv_matrix(matrix),
        "matrix.png": heatmap(matrix, title),
    }
    tracker = trackers[0]
    run_id = tracker.create_run(name="cross-dataset matrix", tags={TAG_KIND: MATRIX_KIND})
    try:
        with staging_dir(out) as staging:  # the folder appears complete, marked as ours, or not at all
            for name, content in contents.items():
                write_atomic(staging / name, content)
                tracker.log_artifact(run_id, staging / name, MATRIX_ARTIFACTS)
            publish_directory(staging, out, overwrite=overwrite)
        tracker.set_tags(run_id, {TAG_NOTE: f"{title}\n\n{note}\n\n{markdown}"})
    except BaseException:
        tracker.finish(run_id, "KILLED")
        raise
    tracker.finish(run_id)
    log.info("matrix of %d evaluations written to %s and MLflow run %s", len(evaluations), out, run_id)
    return MatrixReport(matrix, markdown, {name: out / name for name in contents}, run_id)
