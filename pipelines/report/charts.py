"""The report's pictures: a grouped bar chart of rank-1 per condition, and learning curves.

PNG bytes from matplotlib's non-interactive backend; the caller writes them. A method with several
runs (seeds) is drawn as its mean with the sample standard deviation as error bars, and as one
line per run in the learning curves. Nothing here reads MLflow: the learning curves get their
``(step, value)`` series handed in.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from landmarkgait.pipelines.report.repeats import MethodResult

Series = Sequence[tuple[int, float]]


# Learning-curve panels per row of the figure.
CURVE_COLUMNS = 3


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes, closed afterwards (every chart of the report goes through here)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def rank1_bar_chart(rows: Sequence[MethodResult], conditions: Sequence[str], title: str) -> bytes:
    """Bars of mean rank-1 per condition, one colour per method, values written on the bars; error
    bars of one standard deviation where a method has several runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2.2 + 1.9 * len(conditions), 4.2))
    width = 0.8 / max(len(rows), 1)
    for index, row in enumerate(rows):
        positions = [c + (index - (len(rows) - 1) / 2) * width for c in range(len(conditions))]
        cells = [row.rank1.get(condition) for condition in conditions]
        values = [cell.mean if cell else 0.0 for cell in cells]
        errors = [cell.std if cell and cell.std is not None else 0.0 for cell in cells]
        label = row.method if row.n == 1 else f"{row.method} (n={row.n})"
        bars = axes.bar(
            positions,
            values,
            width,
            label=label,
            yerr=errors if any(errors) else None,
            capsize=3 if any(errors) else 0,
            error_kw={"elinewidth": 1},
        )
        for bar, value, error in zip(bars, values, errors, strict=True):  # above the error bar
            axes.annotate(
                f"{value:.1f}",
                (bar.get_x() + bar.get_width() / 2, value + error),
                xytext=(0, 1),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axes.set_xticks(range(len(conditions)), conditions)
    axes.set_ylabel("rank-1 (%), identical views excluded")
    axes.set_ylim(0, 100)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper right")
    axes.grid(axis="y", alpha=0.3)
    return figure_png(figure)


def learning_curves(curves: Mapping[str, Sequence[Mapping[str, Series]]], title: str) -> bytes:
    """One panel per metric (e.g. ``loss/total``, ``eval/rank1/NM``), one line per run, a colour per
    method (``curves``: per method, one ``{metric: series}`` per run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(
        dict.fromkeys(
            metric for per_method in curves.values() for per_run in per_method for metric in per_run
        )
    )
    colours = {method: f"C{index % 10}" for index, method in enumerate(curves)}
    columns = min(max(len(metrics), 1), CURVE_COLUMNS)
    rows = -(-max(len(metrics), 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    panels = axes.flatten()
    for panel in panels[len(metrics) :]:
        panel.set_visible(False)
    for panel, metric in zip(panels, metrics, strict=False):
        for method, per_run in curves.items():
            labelled = False
            for per_metric in per_run:
                series = per_metric.get(metric, ())
                if not series:
                    continue
                steps, values = zip(*series, strict=True)
                panel.plot(
                    steps,
                    values,
                    marker="o" if len(series) < 12 else None,
                    color=colours[method],
                    alpha=1.0 if len(per_run) == 1 else 0.7,
                    label=None if labelled else method,
                )
                labelled = True
        panel.set_title(metric, fontsize=9)
        panel.set_xlabel("iteration")
        panel.grid(alpha=0.3)
    labelled = [panel for panel in panels if panel.get_legend_handles_labels()[0]]
    if labelled:  # on the first panel with lines (a merged run has no history)
        labelled[0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure_png(figure)
