"""Contact sheet of a dataset subject: views x types, a few frames each, as one PNG.

Lets a person check at a glance what the generator (or a converter) produced. It must not
modify the dataset.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.errors import DataError
from landmarkgait.data.reader import SilhouetteDataset


def contact_sheet(
    dataset: SilhouetteDataset, out: Path, *, subject: str | None = None, frames_per_cell: int = 3
) -> Path:
    """Write a PNG grid for ``subject`` (default: the first): one row per view, one cell per type.

    Each cell shows ``frames_per_cell`` frames spread evenly over the sequence; missing sequences
    stay black.
    """
    if frames_per_cell < 1:
        raise DataError(f"frames_per_cell must be >= 1, got {frames_per_cell}")
    subjects = dataset.subjects
    chosen = subject if subject is not None else subjects[0]
    if chosen not in subjects:
        raise DataError(
            f"{dataset.path}: no subject {chosen!r}; subjects are {', '.join(subjects[:10])}, ..."
        )
    indices = {(e.type, e.view): i for i, e in enumerate(dataset.entries) if e.subject == chosen}
    types = list(dict.fromkeys(key[0] for key in indices))  # dataset order: nm, bg, cl for CASIA-B
    views = sorted({key[1] for key in indices})
    height, width = dataset.metadata.frame_height, dataset.metadata.frame_width
    cell_width = width * frames_per_cell
    sheet = np.zeros((len(views) * height, len(types) * cell_width), dtype=np.uint8)
    records = dataset.read_many(list(indices.values()))
    for (type_, view), record in zip(indices, records, strict=True):
        frames = record.frames
        picks = np.linspace(0, frames.shape[0] - 1, frames_per_cell).round().astype(int)
        row, column = views.index(view) * height, types.index(type_) * cell_width
        sheet[row : row + height, column : column + cell_width] = np.concatenate(list(frames[picks]), axis=1)
    return write_atomic(Path(out), _render_png(sheet, chosen, types, views, height, cell_width))


def _render_png(
    sheet: np.ndarray, subject: str, types: list[str], views: list[str], height: int, cell_width: int
) -> bytes:
    from matplotlib.figure import Figure

    dpi = 100  # about one screen pixel per frame pixel
    figure = Figure(
        figsize=(sheet.shape[1] / dpi + 1.2, sheet.shape[0] / dpi + 1.0), dpi=dpi, layout="constrained"
    )
    axis = figure.add_subplot()
    axis.imshow(sheet, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axis.set_xticks([cell_width * (i + 0.5) for i in range(len(types))], types, fontsize=8)
    axis.set_yticks([height * (i + 0.5) for i in range(len(views))], views, fontsize=8)
    axis.xaxis.tick_top()
    axis.set_ylabel("view")
    axis.set_title(f"subject {subject}: views x types", fontsize=9, pad=18)
    for i in range(1, len(types)):
        axis.axvline(i * cell_width - 0.5, color="tab:red", linewidth=0.6)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
