"""Segmentation artefacts of background subtraction, applied to rendered silhouettes.

Real gait silhouettes are not clean: boundaries are ragged, clothes that match the background
leave holes, moving background leaves blobs, feet drag their shadows along and some frames fail
altogether. This module adds these effects, vectorised over frames; it must not change the
walker's geometry (shadows are extra ground-plane capsules, rendered like the body).

``strength`` scales every effect; 0 leaves the silhouettes clean.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from landmarkgait.data.synth.capsules import Capsules, Part, stack_capsules
from landmarkgait.data.synth.motion import Skeleton


@dataclass(frozen=True)
class Shadow:
    """A foot shadow on the ground: direction away from the light, length and width in metres."""

    direction: np.ndarray  # unit vector on the ground plane [3]
    length: float
    width: float


def sample_shadow(rng: np.random.Generator, strength: float) -> Shadow | None:
    """A light for one walk; about half the walks (more with higher strength) cast visible shadows."""
    if strength <= 0.0 or rng.random() > min(0.5 * strength, 1.0):
        return None
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return Shadow(
        direction=np.array([np.cos(angle), 0.0, np.sin(angle)]),
        length=float(rng.uniform(0.08, 0.35) * strength),
        width=float(rng.uniform(0.03, 0.05)),
    )


def shadow_capsules(shadow: Shadow, skeleton: Skeleton) -> Capsules:
    """One flat-ish capsule per foot on the ground plane, from under the foot away from the light."""
    parts: list[Part] = []
    for side in ("l", "r"):
        under_foot = (skeleton[f"heel_{side}"] + skeleton[f"toe_{side}"]) / 2.0
        under_foot = under_foot * np.array([1.0, 0.0, 1.0]) + np.array([0.0, shadow.width * 0.5, 0.0])
        parts.append(
            (under_foot, under_foot + shadow.direction * shadow.length, shadow.width, shadow.width * 0.7)
        )
    return stack_capsules(parts)


def segmentation_artefacts(masks: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Ragged boundaries, holes and blobs: bool masks ``[T, H, W]`` → uint8 frames ``[T, H, W]`` (0/255)."""
    frames = _ragged_boundaries(masks, rng, strength)
    if strength > 0.0:
        _holes_and_blobs(frames, rng, strength)
    return frames


def _ragged_boundaries(masks: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Threshold a blurred mask against a smooth random field: the boundary moves in and out by
    about a pixel in patches, like a segmentation threshold that varies over the image.

    Frames are stacked into one tall image for OpenCV; the render window leaves empty rows at the
    top and bottom of every frame, so filtering across frame borders mixes only zeros.
    """
    num_frames, height, width = masks.shape
    tall = masks.reshape(num_frames * height, width).view(np.uint8) * np.uint8(255)
    soft = cv2.blur(tall, (5, 5))
    cell = 6
    coarse = rng.integers(0, 256, (num_frames * height // cell + 1, width // cell + 1), dtype=np.uint8)
    field = cv2.resize(coarse, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)
    field = cv2.blur(field[: num_frames * height, :width], (cell + 1, cell + 1))
    # threshold = 128 + gain * (field - 128), clamped so that it never admits pixels far outside
    # (soft = 0) nor removes the core (soft = 255).
    gain = 0.8 * strength
    threshold = cv2.addWeighted(field, gain, field, 0.0, 128.0 * (1.0 - gain))
    threshold = np.clip(threshold, 8, 247, out=threshold)
    return cv2.compare(soft, threshold, cv2.CMP_GT).reshape(num_frames, height, width)


def _holes_and_blobs(frames: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """Carve small holes inside the silhouette and add small blobs next to it, in place."""
    num_frames, height = frames.shape[:2]
    hole_frames = np.flatnonzero(rng.random(num_frames) < 0.25 * strength)
    blob_frames = np.flatnonzero(rng.random(num_frames) < 0.06 * strength)
    scale = height / 128.0
    for index in hole_frames.tolist():
        rows, columns = np.nonzero(frames[index])
        if rows.size == 0:
            continue
        for _ in range(int(rng.integers(1, 3))):
            pick = int(rng.integers(rows.size))
            axes = (
                max(1, round(rng.uniform(1.0, 3.5) * scale)),
                max(1, round(rng.uniform(1.0, 3.5) * scale)),
            )
            cv2.ellipse(frames[index], (int(columns[pick]), int(rows[pick])), axes, 0.0, 0.0, 360.0, 0, -1)
    for index in blob_frames.tolist():
        rows, columns = np.nonzero(frames[index])
        if rows.size == 0:
            continue
        centre_row = int(rng.integers(rows.min(), rows.max() + 1))
        centre_column = int(rng.integers(columns.min() - 12, columns.max() + 13))
        axes = (max(1, round(rng.uniform(2.0, 7.0) * scale)), max(1, round(rng.uniform(2.0, 6.0) * scale)))
        angle = float(rng.uniform(0.0, 180.0))
        cv2.ellipse(frames[index], (centre_column, centre_row), axes, angle, 0.0, 360.0, 255, -1)


def failed_frames(num_frames: int, num_failed: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of frames whose segmentation fails (pretreatment then drops them)."""
    return np.sort(rng.choice(num_frames, size=num_failed, replace=False)) if num_failed else np.zeros(0, int)


def fail_frames(frames: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> None:
    """Reduce the given frames to a few stray pixels, in place: fewer than pretreatment's minimum."""
    for index in indices.tolist():
        frames[index] = 0
        row = int(rng.integers(0, frames.shape[1] - 4))
        column = int(rng.integers(0, frames.shape[2] - 6))
        frames[index, row : row + 4, column : column + 6] = 255
