"""Summaries of a dataset for people and scripts: what is in it and how big it is.

Backs ``landmarkgait data inspect``. Reads only the index (no frames), so it is fast on any size.
It must not validate frame contents (``landmarkgait.data.validation.validate_dataset`` does) or print.
Every string in the text report comes from the dataset's files and is shown ``printable``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkgait.data.format import DatasetMetadata, list_shards
from landmarkgait.data.quoting import printable
from landmarkgait.data.reader import SilhouetteDataset

HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class LengthBin:
    """Sequences whose frame count lies in ``[low, high]``."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class DatasetSummary:
    """Contents of a dataset: keys, counts, sequence lengths and size on disk."""

    path: str
    metadata: DatasetMetadata
    subjects: tuple[str, ...]
    sequences_per_type: dict[str, int]
    sequences_per_view: dict[str, int]
    num_sequences: int
    num_frames: int
    length_min: int
    length_median: float
    length_max: int
    length_histogram: tuple[LengthBin, ...]
    num_shards: int
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``inspect --json``)."""
        return asdict(self)

    def format_text(self) -> str:
        """Human-readable report for the terminal (names, keys and paths escaped: ``printable``)."""
        meta = self.metadata
        names = [printable(subject) for subject in self.subjects]
        subjects = (
            ", ".join(names) if len(names) <= 8 else (f"{', '.join(names[:3])}, ..., {', '.join(names[-3:])}")
        )
        lines = [
            f"dataset       {printable(self.path)}",
            f"name          {printable(meta.name)} (format v{meta.format_version})",
            f"source        {printable(meta.source)}",
            f"fingerprint   {printable(meta.fingerprint)}",
            f"frame size    {meta.frame_height} x {meta.frame_width}",
            f"subjects      {len(self.subjects)}: {subjects}",
            f"types         {len(self.sequences_per_type)}: {_counts(self.sequences_per_type)}",
            f"views         {len(self.sequences_per_view)}: {_counts(self.sequences_per_view)}",
            f"sequences     {self.num_sequences}",
            f"frames        {self.num_frames} (per sequence: min {self.length_min}, "
            f"median {self.length_median:g}, max {self.length_max})",
            f"size on disk  {_human_bytes(self.size_bytes)} in {self.num_shards} shards "
            f"({self.size_bytes / max(self.num_frames, 1):.0f} B/frame)",
        ]
        if meta.extra:
            lines.append(f"extra         {', '.join(printable(str(key)) for key in sorted(meta.extra))}")
        lines.append("frames per sequence:")
        widest = max(b.count for b in self.length_histogram)
        for length_bin in self.length_histogram:
            bar = "#" * math.ceil(40 * length_bin.count / widest) if length_bin.count else ""
            lines.append(f"  {length_bin.low:>5}-{length_bin.high:<5} {length_bin.count:>7}  {bar}")
        return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{printable(key)} ({value})" for key, value in counts.items())


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    raise AssertionError("unreachable")


def length_histogram(lengths: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[LengthBin, ...]:
    """Equal-width integer bins from the shortest to the longest sequence."""
    low, high = int(lengths.min()), int(lengths.max())
    width = max(1, math.ceil((high - low + 1) / bins))
    edges = range(low, high + 1, width)
    return tuple(
        LengthBin(
            start, min(start + width - 1, high), int(((lengths >= start) & (lengths < start + width)).sum())
        )
        for start in edges
    )


def summarize_dataset(path: Path) -> DatasetSummary:
    """Open ``path`` (structural checks only) and summarise it."""
    dataset = SilhouetteDataset(path)
    lengths = np.array([entry.num_frames for entry in dataset.entries])
    files = [p for p in Path(path).rglob("*") if p.is_file()]
    return DatasetSummary(
        path=str(dataset.path),
        metadata=dataset.metadata,
        subjects=dataset.subjects,
        sequences_per_type=dict(sorted(Counter(e.type for e in dataset.entries).items())),
        sequences_per_view=dict(sorted(Counter(e.view for e in dataset.entries).items())),
        num_sequences=len(dataset),
        num_frames=int(lengths.sum()),
        length_min=int(lengths.min()),
        length_median=float(np.median(lengths)),
        length_max=int(lengths.max()),
        length_histogram=length_histogram(lengths),
        num_shards=len(list_shards(dataset.path)),
        size_bytes=sum(p.stat().st_size for p in files),
    )
