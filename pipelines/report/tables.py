"""The paper-style results table as Markdown and CSV: methods x (rank-1, mAP) per condition and mean.

Values are the runs' logged metrics, printed with two decimals in Markdown and in full in CSV;
the means are the plain means of the conditions a run has. A method with several runs (seeds)
shows mean ± sample standard deviation and n; a table of single runs reads as it did before
repeats. Keypoint error and part mIoU (``QUALITY_COLUMNS``, percent) follow as columns of their
own when any line has them. ``runs_csv`` keeps every run's own numbers: it is what ``report
--merge`` reads back. Nothing here reads MLflow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from landmarkgait.pipelines.report.collect import QUALITY_COLUMNS, Evaluated, MethodRow
from landmarkgait.pipelines.report.repeats import MethodResult, Spread

# Columns of the per-run CSV (``runs.csv``) before the metrics.
RUN_COLUMNS = ("method", "seed", "run_id", "start_time", "dataset", "protocol")


def columns(conditions: Sequence[str]) -> list[str]:
    return [
        *(f"rank-1 {c}" for c in conditions),
        "rank-1 mean",
        *(f"mAP {c}" for c in conditions),
        "mAP mean",
    ]


def condition_columns(conditions: Sequence[str]) -> list[str]:
    """The columns a run logs (the means are computed): ``rank-1 NM`` ... ``mAP CL``."""
    return [*(f"rank-1 {c}" for c in conditions), *(f"mAP {c}" for c in conditions)]


def quality_columns(results: Sequence[MethodResult]) -> list[str]:
    """The ground-truth quality columns some line of the table has, in ``QUALITY_COLUMNS`` order."""
    return [column for column in QUALITY_COLUMNS if any(column in result.quality for result in results)]


def row_cells(
    result: MethodResult, conditions: Sequence[str], quality: Sequence[str] = ()
) -> list[Spread | None]:
    """The line's cells in ``columns`` order, then its ``quality`` columns."""
    return [
        *(result.rank1.get(c) for c in conditions),
        result.rank1_mean,
        *(result.mean_ap.get(c) for c in conditions),
        result.mean_ap_mean,
        *(result.quality.get(column) for column in quality),
    ]


def markdown_cell(cell: Spread | None, runs: int) -> str:
    """``45.42``, ``45.42 ± 1.20``, or ``45.42 (n=1)`` when fewer of the line's runs logged it."""
    if cell is None:
        return "–"
    text = f"{cell.mean:.2f}" if cell.std is None else f"{cell.mean:.2f} ± {cell.std:.2f}"
    return text if cell.n == runs else f"{text} (n={cell.n})"


def markdown_table(results: Sequence[MethodResult], conditions: Sequence[str]) -> str:
    """A GitHub Markdown table, percent with two decimals (``–`` where no run logged a value); an
    ``n`` column (runs per method) once any method has several."""
    repeated = any(result.n > 1 for result in results)
    quality = quality_columns(results)
    header = ["method", *(["n"] if repeated else []), *columns(conditions), *quality]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for result in results:
        cells = [markdown_cell(cell, result.n) for cell in row_cells(result, conditions, quality)]
        lines.append(
            "| " + " | ".join([result.method, *([str(result.n)] if repeated else []), *cells]) + " |"
        )
    return "\n".join(lines) + "\n"


def _seed(row: MethodRow) -> str:
    return "" if row.seed is None else str(row.seed)


def csv_table(
    results: Sequence[MethodResult], conditions: Sequence[str], evaluated: Evaluated | None = None
) -> str:
    """The same table as CSV, full precision: per column the mean, ``<column> std`` (empty for one
    run) and ``<column> n``; then the newest run's id, every run's id and seed, and the evaluation."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    quality = quality_columns(results)
    names = [
        name
        for column in (*columns(conditions), *quality)
        for name in (column, f"{column} std", f"{column} n")
    ]
    writer.writerow(["method", *names, "run_id", "run_ids", "seeds", "dataset", "protocol"])
    for result in results:
        values: list[str] = []
        for cell in row_cells(result, conditions, quality):
            if cell is None:
                values += ["", "", "0"]
            else:
                values += [repr(cell.mean), "" if cell.std is None else repr(cell.std), str(cell.n)]
        writer.writerow(
            [
                result.method,
                *values,
                result.run_id,
                " ".join(run.run_id for run in result.runs),
                " ".join(_seed(run) for run in result.runs),
                evaluated.fingerprint if evaluated else "",
                evaluated.protocol_tag if evaluated else "",
            ]
        )
    return buffer.getvalue()


def runs_csv(results: Sequence[MethodResult], conditions: Sequence[str], evaluated: Evaluated) -> str:
    """Every run of the table with its own logged values, seed and evaluation: what a later
    ``report --merge`` reads to aggregate these runs with others."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    quality = quality_columns(results)
    writer.writerow([*RUN_COLUMNS, *condition_columns(conditions), *quality])
    for result in results:
        for run in result.runs:
            values = [
                *(run.rank1.get(c) for c in conditions),
                *(run.mean_ap.get(c) for c in conditions),
                *(run.quality.get(column) for column in quality),
            ]
            writer.writerow(
                [
                    run.method,
                    _seed(run),
                    run.run_id,
                    run.start_time,
                    evaluated.fingerprint,
                    evaluated.protocol_tag,
                    *("" if value is None else repr(value) for value in values),
                ]
            )
    return buffer.getvalue()
