"""Tapered capsules: the one volume primitive that bodies, clothing and shadows are built from.

A capsule is a segment with a radius at each end; a silhouette is the union of its capsules'
projections. This module only stores and combines them; it must not know what they represent or
how they are drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Capsules:
    """``K`` tapered capsules over ``T`` frames: endpoints ``[T, K, 3]`` (metres), radii ``[T, K]``."""

    start: np.ndarray
    end: np.ndarray
    start_radius: np.ndarray
    end_radius: np.ndarray

    def frames(self, window: slice) -> Capsules:
        """The same capsules over a window of frames."""
        return Capsules(
            self.start[window], self.end[window], self.start_radius[window], self.end_radius[window]
        )


Part = tuple[np.ndarray, np.ndarray, "float | np.ndarray", "float | np.ndarray"]


def stack_capsules(parts: Sequence[Part]) -> Capsules:
    """Build ``Capsules`` from ``(start [T, 3], end [T, 3], start_radius, end_radius)`` tuples."""
    num_frames = parts[0][0].shape[0]

    def radii(index: int) -> np.ndarray:
        return np.stack([np.broadcast_to(np.asarray(part[index], float), (num_frames,)) for part in parts], 1)

    return Capsules(
        start=np.stack([part[0] for part in parts], 1),
        end=np.stack([part[1] for part in parts], 1),
        start_radius=radii(2),
        end_radius=radii(3),
    )


def concat_capsules(groups: Sequence[Capsules]) -> Capsules:
    """Join capsule groups of the same frames (body, clothing, shadows) into one set."""
    return Capsules(
        start=np.concatenate([group.start for group in groups], 1),
        end=np.concatenate([group.end for group in groups], 1),
        start_radius=np.concatenate([group.start_radius for group in groups], 1),
        end_radius=np.concatenate([group.end_radius for group in groups], 1),
    )
