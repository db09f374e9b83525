"""The report's pictures: a grouped bar chart of rank-1 per condition, and learning curves.

PNG bytes from matplotlib's non-interactive backend; the caller writes them. Nothing here reads
MLflow: the learning curves get their ``(step, value)`` series handed in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from landmarkgait.pipelines.report.collect import MethodRow

Series = Sequence[tuple[int, float]]


# Learning-curve panels per row of the figure.
CURVE_COLUMNS = 3


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def rank1_bar_chart(rows: Sequence[MethodRow], conditions: Sequence[str], title: str) -> bytes:
    """Bars of rank-1 per condition, one colour per method, values written on the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2.2 + 1.9 * len(conditions), 4.2))
    width = 0.8 / max(len(rows), 1)
    for index, row in enumerate(rows):
        positions = [c + (index - (len(rows) - 1) / 2) * width for c in range(len(conditions))]
        values = [row.rank1.get(condition, 0.0) for condition in conditions]
        bars = axes.bar(positions, values, width, label=row.method)
        axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    axes.set_xticks(range(len(conditions)), conditions)
    axes.set_ylabel("rank-1 (%), identical views excluded")
    axes.set_ylim(0, 100)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper right")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def learning_curves(curves: Mapping[str, Mapping[str, Series]], title: str) -> bytes:
    """One panel per metric (e.g. ``loss/total``, ``eval/rank1/NM``), one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(metric for per_method in curves.values() for metric in per_method))
    columns = min(max(len(metrics), 1), CURVE_COLUMNS)
    rows = -(-max(len(metrics), 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    panels = axes.flatten()
    for panel in panels[len(metrics) :]:
        panel.set_visible(False)
    for panel, metric in zip(panels, metrics, strict=False):
        for method, per_metric in curves.items():
            series = per_metric.get(metric, ())
            if series:
                steps, values = zip(*series, strict=True)
                panel.plot(steps, values, marker="o" if len(series) < 12 else None, label=method)
        panel.set_title(metric, fontsize=9)
        panel.set_xlabel("iteration")
        panel.grid(alpha=0.3)
    panels[0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _png(figure)
