"""What a ``GaitEvaluation`` looks like outside Python: a rank-1 text table, a CSV file, a PNG heatmap.

Files are written atomically (``landmarkgait.data.atomic``), so a report is complete or absent.
It must not compute metrics: every number comes from the evaluation it is given.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.evaluation.names import ALL_VIEWS

if TYPE_CHECKING:
    from landmarkgait.data.evaluation.results import GaitEvaluation


def format_rank1_table(evaluation: GaitEvaluation) -> str:
    """Human-readable rank-1 tables (probe view rows x gallery view columns) and means."""
    lines = [f"protocol {evaluation.protocol}, distance {evaluation.metric}"]
    for table in evaluation.tables:
        lines.append("")
        note = (
            "all views in the gallery, own subject's own view excluded"
            if table.gallery_views == (ALL_VIEWS,)
            else "identical-view cells in brackets, excluded from means"
        )
        lines.append(
            f"{table.condition}: rank-1 {table.rank1_mean:.2f}%  mAP {table.map_mean:.2f}%  ({note})"
        )
        lines.append("probe\\gallery " + " ".join(f"{view:>7}" for view in table.gallery_views) + "    mean")
        for row, view in enumerate(table.probe_views):
            cells = []
            for column, gallery_view in enumerate(table.gallery_views):
                value = table.rank1[row, column]
                text = "-" if not np.isfinite(value) else f"{value:.1f}"
                cells.append(f"{f'[{text}]' if view == gallery_view else text:>7}")
            mean = table.rank1_per_view[row]
            lines.append(f"{view:>13} " + " ".join(cells) + f" {mean:7.2f}")
    if evaluation.scalars:
        lines.append("")
        lines.extend(f"{name:>8}: {value:.2f}%" for name, value in evaluation.scalars.items())
    return "\n".join(lines)


def write_csv(evaluation: GaitEvaluation, path: Path) -> Path:
    """Write every cell (and per-view / overall means) as rows of a CSV file, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if evaluation.tables:
        writer.writerow(
            ["condition", "probe_view", "gallery_view", "rank1", "mAP", "num_probes", "identical_view"]
        )
    for table in evaluation.tables:
        for row, view in enumerate(table.probe_views):
            for column, gallery_view in enumerate(table.gallery_views):
                writer.writerow(
                    [
                        table.condition,
                        view,
                        gallery_view,
                        _csv_number(table.rank1[row, column]),
                        _csv_number(table.mean_ap[row, column]),
                        int(table.num_probes[row]),
                        view == gallery_view,
                    ]
                )
            writer.writerow(
                [
                    table.condition,
                    view,
                    "mean",
                    _csv_number(table.rank1_per_view[row]),
                    _csv_number(table.map_per_view[row]),
                    int(table.num_probes[row]),
                    False,
                ]
            )
        total = int(table.num_probes.sum())
        row_values = [_csv_number(table.rank1_mean), _csv_number(table.map_mean), total, False]
        writer.writerow([table.condition, "mean", "mean", *row_values])
    if evaluation.scalars:
        writer.writerow(["metric", "value"])
        for name, value in evaluation.scalars.items():
            writer.writerow([name, _csv_number(value)])
    return write_atomic(path, buffer.getvalue())


def write_heatmap_png(evaluation: GaitEvaluation, path: Path) -> Path:
    """Rank-1 heatmap per condition (probe view x gallery view), or a bar chart for open sets."""
    from matplotlib.figure import Figure

    panels = max(len(evaluation.tables), 1)
    figure = Figure(figsize=(5.2 * panels, 4.6), dpi=100, layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for axis, table in zip(axes, evaluation.tables, strict=False):
        image = axis.imshow(table.rank1, vmin=0.0, vmax=100.0, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(table.gallery_views)), table.gallery_views, rotation=90, fontsize=7)
        axis.set_yticks(range(len(table.probe_views)), table.probe_views, fontsize=7)
        axis.set_xlabel("gallery view")
        axis.set_ylabel("probe view")
        axis.set_title(
            f"{table.condition} rank-1, mean {table.rank1_mean:.1f}% (diagonal excluded)", fontsize=9
        )
        if table.rank1.size <= 400:
            for (row, column), value in np.ndenumerate(table.rank1):
                identical = table.probe_views[row] == table.gallery_views[column]
                label = "-" if not np.isfinite(value) else f"{value:.0f}"
                axis.text(
                    column,
                    row,
                    label,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="red" if identical else ("black" if value > 60 else "white"),
                )
        figure.colorbar(image, ax=axis, shrink=0.8, label="rank-1 %")
    if not evaluation.tables:
        names = list(evaluation.scalars)
        axes[0].bar(names, [evaluation.scalars[name] for name in names], color="tab:blue")
        axes[0].set_ylim(0.0, 100.0)
        axes[0].set_ylabel("%")
        axes[0].set_title(f"{evaluation.protocol} ({evaluation.metric})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


def _csv_number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{float(value):.4f}"
