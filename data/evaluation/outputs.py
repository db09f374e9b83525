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
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from landmarkgait.data.evaluation.results import GaitEvaluation, ViewTable


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
    """Write every cell (and per-view / overall means) as rows of a CSV file, atomically.

    Tables with rank-k cells besides rank-1 (SUSTech1K's rank-5) add a ``rank<k>`` column each.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    extra_ranks = sorted({rank for table in evaluation.tables for rank in table.ranks})
    if evaluation.tables:
        writer.writerow(
            ["condition", "probe_view", "gallery_view", "rank1", "mAP", "num_probes", "identical_view"]
            + [f"rank{rank}" for rank in extra_ranks]
        )
    for table in evaluation.tables:
        per_view = {rank: table.rank_per_view(rank) for rank in table.ranks}

        def extra(cells: dict[int, float], table: ViewTable = table) -> list[str]:
            return [_csv_number(cells[rank]) if rank in table.ranks else "" for rank in extra_ranks]

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
                        *extra({rank: cells[row, column] for rank, cells in table.ranks.items()}),
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
                    *extra({rank: values[row] for rank, values in per_view.items()}),
                ]
            )
        total = int(table.num_probes.sum())
        row_values = [_csv_number(table.rank1_mean), _csv_number(table.map_mean), total, False]
        means = {rank: table.rank_mean(rank) for rank in table.ranks}
        writer.writerow([table.condition, "mean", "mean", *row_values, *extra(means)])
    if evaluation.scalars:
        writer.writerow(["metric", "value"])
        for name, value in evaluation.scalars.items():
            writer.writerow([name, _csv_number(value)])
    return write_atomic(path, buffer.getvalue())


# Heatmap geometry at 100 dpi: a cell of CELL_INCHES fits "[100.0]" at FONT_SIZE points.
CELL_INCHES = 0.6
FONT_SIZE = 9


def write_heatmap_png(evaluation: GaitEvaluation, path: Path) -> Path:
    """Rank-1 heatmap per condition (probe view x gallery view), or a bar chart for open sets."""
    buffer = io.BytesIO()
    heatmap_figure(evaluation).savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


def heatmap_figure(evaluation: GaitEvaluation) -> Figure:
    """One panel per condition, stacked so the figure stays narrow enough to read unscaled.

    Cells grow with the view count, so every cell shows its rank-1 (``%.1f``) at a readable size;
    identical-view cells are bracketed as in the text table (excluded from the means) and empty
    cells read "n/a" on grey.
    """
    from matplotlib.figure import Figure

    if not evaluation.tables:
        figure = Figure(figsize=(5.2, 4.6), dpi=100, layout="constrained")
        _scalar_bars(figure.subplots(), evaluation)
        return figure
    columns = max(len(table.gallery_views) for table in evaluation.tables)
    heights = [len(table.probe_views) * CELL_INCHES + 1.3 for table in evaluation.tables]
    width = max(columns * CELL_INCHES + 2.6, 6.5)
    figure = Figure(figsize=(width, sum(heights)), dpi=100, layout="constrained")
    axes = figure.subplots(len(heights), 1, squeeze=False, height_ratios=heights)[:, 0]
    for axis, table in zip(axes, evaluation.tables, strict=True):
        _rank1_panel(figure, axis, table)
    return figure


def _rank1_panel(figure: Figure, axis: Axes, table: ViewTable) -> None:
    """One condition's rank-1 cells with their values, view labels and a colour bar."""
    image = axis.imshow(table.rank1, vmin=0.0, vmax=100.0, cmap="viridis", aspect="auto")
    axis.set_facecolor("0.85")  # NaN cells (no probe) show the background
    rotation = 0 if max(len(view) for view in table.gallery_views) <= 4 else 90
    axis.set_xticks(
        range(len(table.gallery_views)), table.gallery_views, rotation=rotation, fontsize=FONT_SIZE
    )
    axis.set_yticks(range(len(table.probe_views)), table.probe_views, fontsize=FONT_SIZE)
    axis.set_xlabel("gallery view", fontsize=FONT_SIZE + 1)
    axis.set_ylabel("probe view", fontsize=FONT_SIZE + 1)
    note = (
        "all views in the gallery"
        if table.gallery_views == (ALL_VIEWS,)
        else "[same view]: left out of the mean"
    )
    axis.set_title(
        f"{table.condition} rank-1 (%), mean {table.rank1_mean:.1f}% ({note})", fontsize=FONT_SIZE + 1
    )
    for (row, column), value in np.ndenumerate(table.rank1):
        colour, label = "black", "n/a"
        if np.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            colour = "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
            identical = table.probe_views[row] == table.gallery_views[column]
            label = f"[{value:.1f}]" if identical else f"{value:.1f}"
        axis.text(column, row, label, ha="center", va="center", fontsize=FONT_SIZE, color=colour)
    figure.colorbar(image, ax=axis, shrink=0.9, label="rank-1 (%)")


def _scalar_bars(axis: Axes, evaluation: GaitEvaluation) -> None:
    """Open-set metrics as labelled bars."""
    names = list(evaluation.scalars)
    bars = axis.bar(names, [evaluation.scalars[name] for name in names], color="tab:blue")
    axis.bar_label(bars, fmt="%.1f", fontsize=FONT_SIZE)
    axis.set_ylim(0.0, 105.0)
    axis.set_ylabel("%")
    axis.set_title(f"{evaluation.protocol} ({evaluation.metric})")


def _csv_number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{float(value):.4f}"
