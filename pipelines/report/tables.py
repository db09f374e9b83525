"""The paper-style results table as Markdown and CSV: methods x (rank-1, mAP) per condition and mean.

Values are the runs' logged metrics, printed with two decimals in Markdown and in full in CSV;
the means are the plain means of the conditions a row has. Nothing here reads MLflow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from landmarkgait.pipelines.report.collect import MethodRow


def mean(values: Mapping[str, float], conditions: Sequence[str]) -> float | None:
    present = [values[c] for c in conditions if c in values]
    return sum(present) / len(present) if present and len(present) == len(conditions) else None


def columns(conditions: Sequence[str]) -> list[str]:
    return [
        *(f"rank-1 {c}" for c in conditions),
        "rank-1 mean",
        *(f"mAP {c}" for c in conditions),
        "mAP mean",
    ]


def row_values(row: MethodRow, conditions: Sequence[str]) -> list[float | None]:
    return [
        *(row.rank1.get(c) for c in conditions),
        mean(row.rank1, conditions),
        *(row.mean_ap.get(c) for c in conditions),
        mean(row.mean_ap, conditions),
    ]


def markdown_table(rows: Sequence[MethodRow], conditions: Sequence[str]) -> str:
    """A GitHub Markdown table, percent with two decimals (``–`` where a run logged nothing)."""
    header = ["method", *columns(conditions)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        cells = ["–" if value is None else f"{value:.2f}" for value in row_values(row, conditions)]
        lines.append("| " + " | ".join([row.method, *cells]) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[MethodRow], conditions: Sequence[str]) -> str:
    """The same table as CSV with full precision and each row's MLflow run id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", *columns(conditions), "run_id"])
    for row in rows:
        values = ["" if value is None else repr(value) for value in row_values(row, conditions)]
        writer.writerow([row.method, *values, row.run_id])
    return buffer.getvalue()
