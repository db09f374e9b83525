"""What a dataset holds, as far as results depend on it: read from its index and a few sequences.

The doctor sets these facts beside what the reference preset expects: frame size (what the cutting
transform makes of it), sequence lengths against the training clip, the test split's subjects,
views and types against the protocol's test set, and whether the silhouettes were prepared as
OpenGait's pretreatment prepares them (full frame height, centred on their mass). Lengths and keys
come from the index alone (``landmarkgait.data.index``), so this is fast at any size; the alignment
is measured on at most ``SAMPLED_SEQUENCES`` sequences spread over the dataset, never on every
frame. It must not validate frame contents (``data validate`` does) or write anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset

# Sequences read to measure the alignment, spread evenly over the dataset's rows, and frames of each.
SAMPLED_SEQUENCES = 16
SAMPLED_FRAMES = 30


@dataclass(frozen=True)
class DatasetFacts:
    """A dataset's size and shape as the comparison needs them.

    ``shorter_than`` maps a clip length to the share of sequences with fewer frames. The alignment
    (``silhouette_span``: mean share of the frame height between a silhouette's top and bottom
    rows; ``centre_offset``: mean distance in columns of its mass centre from the middle column) is
    None when no sampled frame held a silhouette.
    """

    path: str
    name: str
    fingerprint: str
    synthetic: bool
    frame_height: int
    frame_width: int
    sequences: int
    length_min: int
    length_median: float
    length_max: int
    shorter_than: dict[int, float]
    test_subjects: int
    test_views: tuple[str, ...]
    test_types: tuple[str, ...]
    sampled_frames: int
    silhouette_span: float | None
    centre_offset: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_dataset_facts(
    path: Path, partition: Path | None = None, clip_lengths: Iterable[int] = ()
) -> DatasetFacts:
    """The facts of the dataset at ``path`` under ``partition`` (None: the dataset's own, else
    CASIA-B's split), with the share of sequences shorter than each of ``clip_lengths``."""
    dataset = SilhouetteDataset(path)
    lengths = np.array([entry.num_frames for entry in dataset.entries])
    test = set(resolve_partition(dataset, partition).test_set)
    test_entries = [entry for entry in dataset.entries if entry.subject in test]
    span, offset, frames = _alignment(dataset)
    meta = dataset.metadata
    return DatasetFacts(
        path=str(dataset.path),
        name=meta.name,
        fingerprint=meta.fingerprint,
        synthetic="synth" in meta.extra,
        frame_height=meta.frame_height,
        frame_width=meta.frame_width,
        sequences=len(dataset),
        length_min=int(lengths.min()),
        length_median=float(np.median(lengths)),
        length_max=int(lengths.max()),
        shorter_than={clip: float((lengths < clip).mean()) for clip in sorted(set(clip_lengths))},
        test_subjects=len({entry.subject for entry in test_entries}),
        test_views=tuple(sorted({entry.view for entry in test_entries})),
        test_types=tuple(sorted({entry.type for entry in test_entries})),
        sampled_frames=frames,
        silhouette_span=span,
        centre_offset=offset,
    )


def _alignment(dataset: SilhouetteDataset) -> tuple[float | None, float | None, int]:
    """Mean span and centre offset (see ``DatasetFacts``) over the first ``SAMPLED_FRAMES`` frames
    of ``SAMPLED_SEQUENCES`` sequences spread over the rows, and how many frames held a silhouette."""
    count = min(SAMPLED_SEQUENCES, len(dataset))
    indices = sorted({int(i) for i in np.linspace(0, len(dataset) - 1, count).round()})
    spans: list[float] = []
    offsets: list[float] = []
    for record in dataset.read_many(indices):
        for frame in record.frames[:SAMPLED_FRAMES]:  # [H, W] uint8
            span, offset = frame_alignment(frame)
            if span is not None and offset is not None:
                spans.append(span)
                offsets.append(offset)
    if not spans:
        return None, None, 0
    return float(np.mean(spans)), float(np.mean(offsets)), len(spans)


def frame_alignment(frame: np.ndarray) -> tuple[float | None, float | None]:
    """``(span, offset)`` of one ``[H, W]`` frame, as OpenGait's pretreatment aligns it: the share
    of rows between the silhouette's first and last row, and how many columns the column where its
    cumulative mass first exceeds half lies from ``W // 2``; ``(None, None)`` for an empty frame."""
    rows = np.flatnonzero(frame.any(axis=1))
    if rows.size == 0:
        return None, None
    mass = frame.sum(axis=0, dtype=np.int64).cumsum()
    centre = int(np.argmax(mass > mass[-1] / 2))
    return (rows[-1] - rows[0] + 1) / frame.shape[0], abs(centre - frame.shape[1] // 2)
