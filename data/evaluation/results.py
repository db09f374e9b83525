"""The result of a protocol: per-condition tables of probe view x gallery view, and scalar metrics.

Means follow OpenGait: identical-view cells are shown but left out of every mean, and per-view
means are averaged into a condition's mean. ``summary()`` is the flat form MLflow and sweeps read.
It must not compute distances or rankings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landmarkgait.data.evaluation.outputs import format_rank1_table, write_csv, write_heatmap_png

if TYPE_CHECKING:
    from landmarkgait.data.evaluation.submission import Submission


@dataclass(frozen=True)
class ViewTable:
    """Results of one probe condition: rows are probe views, columns gallery views.

    ``rank1`` and ``mean_ap`` are percentages ``[V_probe, V_gallery]``, NaN where a cell has no probe.
    For the single-view gallery protocols the identical-view cells (diagonal) are kept for display but
    excluded from every mean; the cross-view-gallery variant has one column, ``"all"``.
    """

    condition: str
    probe_views: tuple[str, ...]
    gallery_views: tuple[str, ...]
    rank1: np.ndarray
    mean_ap: np.ndarray
    num_probes: np.ndarray  # [V_probe]
    ranks: Mapping[int, np.ndarray] = field(default_factory=dict)  # rank-k cells for k > 1 (SUSTech1K)

    def _excluded(self) -> np.ndarray:
        return np.array([[p == g for g in self.gallery_views] for p in self.probe_views], dtype=bool)

    def _per_view(self, values: np.ndarray) -> np.ndarray:
        kept = np.where(self._excluded(), np.nan, values)
        means = np.full(len(self.probe_views), np.nan)
        for row, cells in enumerate(kept):
            if np.any(np.isfinite(cells)):
                means[row] = float(np.nanmean(cells))
        return means

    @property
    def rank1_per_view(self) -> np.ndarray:
        """Mean rank-1 of each probe view over the other gallery views ``[V_probe]``."""
        return self._per_view(self.rank1)

    @property
    def map_per_view(self) -> np.ndarray:
        return self._per_view(self.mean_ap)

    @property
    def rank1_mean(self) -> float:
        return _nanmean(self.rank1_per_view)

    @property
    def map_mean(self) -> float:
        return _nanmean(self.map_per_view)

    def rank_per_view(self, rank: int) -> np.ndarray:
        """Mean rank-``rank`` of each probe view over the other gallery views ``[V_probe]``."""
        return self._per_view(self.rank1 if rank == 1 else self.ranks[rank])

    def rank_mean(self, rank: int) -> float:
        """A condition's rank-``rank``: the mean of its probe views' means."""
        return _nanmean(self.rank_per_view(rank))

    @property
    def rank1_with_identical_views(self) -> float:
        """Mean rank-1 over every cell, identical views included (CCPG's second figure)."""
        return _nanmean(self.rank1.reshape(-1))


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


@dataclass(frozen=True)
class GaitEvaluation:
    """Result of one protocol: per-condition view tables and/or scalar metrics (percentages)."""

    protocol: str
    metric: str
    tables: tuple[ViewTable, ...] = ()
    scalars: Mapping[str, float] = field(default_factory=dict)
    submission: Submission | None = None  # GREW's challenge file, when the test set holds its probes

    def summary(self) -> dict[str, float]:
        """Flat metrics: ``rank1/NM``, ``mAP/NM``, per probe view ``rank1/NM/000``, open-set ``rank1`` ..."""
        result: dict[str, float] = {}
        for table in self.tables:
            result[f"rank1/{table.condition}"] = table.rank1_mean
            result[f"mAP/{table.condition}"] = table.map_mean
            for rank in table.ranks:
                result[f"rank{rank}/{table.condition}"] = table.rank_mean(rank)
        for table in self.tables:
            for view, rank1, mean_ap in zip(
                table.probe_views, table.rank1_per_view, table.map_per_view, strict=True
            ):
                result[f"rank1/{table.condition}/{view}"] = float(rank1)
                result[f"mAP/{table.condition}/{view}"] = float(mean_ap)
            for rank in table.ranks:
                for view, value in zip(table.probe_views, table.rank_per_view(rank), strict=True):
                    result[f"rank{rank}/{table.condition}/{view}"] = float(value)
        result |= {name: float(value) for name, value in self.scalars.items()}
        return result

    def headline(self) -> str:
        """One line of the means: ``NM rank-1 95.10% mAP 90.02%, BG ...`` and scalar metrics."""
        parts = [
            f"{table.condition} rank-1 {table.rank1_mean:.2f}% mAP {table.map_mean:.2f}%"
            for table in self.tables
        ]
        parts += [f"{name} {value:.2f}%" for name, value in self.scalars.items()]
        return ", ".join(parts)

    def format_table(self) -> str:
        """Human-readable rank-1 tables (probe view rows x gallery view columns) and means."""
        return format_rank1_table(self)

    def to_csv(self, path: Path) -> Path:
        """Write every cell (and per-view / overall means) as rows of a CSV file, atomically."""
        return write_csv(self, path)

    def heatmap_png(self, path: Path) -> Path:
        """Rank-1 heatmap per condition (probe view x gallery view), or a bar chart for open sets."""
        return write_heatmap_png(self, path)
