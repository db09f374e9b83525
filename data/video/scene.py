"""Painting synthetic video frames: a textured room, a clothed walker, its shadow, light and sensor noise.

Why a module of its own: ``synthetic`` decides *what* is filmed (the walk, the camera, the masks);
this decides how it looks, which is what background subtraction is tested against: a static but
textured background, clothes whose colours may come close to it, a cast shadow on the floor that
must not count as the person, a slow drift of the lighting and per-frame sensor noise (the lossy
codec adds its own errors when the frames are written). Everything is drawn from the generator it
is given, so the same arguments paint the same frames. It must not know about capsules, cameras or
files.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_NOISE_FIELDS, _NOISE_MARGIN = 6, 24


@dataclass(frozen=True)
class Look:
    """How one video looks: everything the painter draws at random, drawn once per video."""

    background: np.ndarray  # float32 BGR [H, W, 3], 0-255
    skin: np.ndarray  # BGR [3] of the head (and hands: they share the top band's colour)
    upper: np.ndarray  # BGR [3] of the torso and arms (shirt, coat or bag)
    lower: np.ndarray  # BGR [3] of the legs
    shadow_darkness: float  # shadowed floor keeps this fraction of its light (1 = no shadow)
    drift_amplitude: float  # relative change of the lighting over the video
    drift_period: float  # frames per cycle of the lighting drift
    drift_phase: float
    noise: np.ndarray  # float32 [K, H + margin, W + margin, 3]: sensor noise fields, in grey levels


def sample_look(
    room_rng: np.random.Generator,
    rng: np.random.Generator,
    height: int,
    width: int,
    horizon: float,
    num_frames: int,
) -> Look:
    """Draw a room from ``room_rng`` (wall above the ``horizon`` row, floor below) and the walker's
    clothes, shadow and light from ``rng``: a camera's room can stay the same from video to video."""
    return Look(
        background=_room(room_rng, height, width, horizon),
        skin=rng.uniform([60, 90, 140], [120, 160, 220]),
        upper=rng.uniform(20, 235, 3),
        lower=rng.uniform(20, 200, 3),
        shadow_darkness=float(rng.uniform(0.55, 0.8)) if rng.random() < 0.7 else 1.0,
        drift_amplitude=float(rng.uniform(0.02, 0.05)),
        drift_period=float(rng.uniform(3.0, 6.0) * num_frames),
        drift_phase=float(rng.uniform(0.0, 2.0 * np.pi)),
        noise=rng.standard_normal(
            (_NOISE_FIELDS, height + _NOISE_MARGIN, width + _NOISE_MARGIN, 3), dtype=np.float32
        )
        * np.float32(rng.uniform(1.5, 3.5)),
    )


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Noise in [-1, 1] that varies over about ``cell`` pixels, float32 ``[H, W]``."""
    coarse = rng.uniform(-1.0, 1.0, (height // cell + 2, width // cell + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _room(rng: np.random.Generator, height: int, width: int, horizon: float) -> np.ndarray:
    """A wall with posters, shelves and a skirting board over a tiled floor, with texture at all scales."""
    wall, floor = rng.uniform(70, 210, 3), rng.uniform(50, 170, 3)
    row = int(np.clip(horizon, 0, height))
    image = np.empty((height, width, 3), np.float32)
    image[:row], image[row:] = wall, floor
    for _ in range(int(rng.integers(6, 14))):  # posters, doors, shelves: flat patches of other colours
        x, y = int(rng.integers(0, width)), int(rng.integers(0, max(row, 1)))
        w, h = int(rng.integers(width // 20, width // 4)), int(rng.integers(height // 20, height // 3))
        cv2.rectangle(image, (x, y), (x + w, min(y + h, row)), rng.uniform(30, 230, 3).tolist(), -1)
    spacing = max(4.0, (height - row) / 6.0)
    for k in range(1, 12):  # floor tiles, closer together towards the horizon
        y = row + int(spacing * k * k / 6.0)
        if y < height:
            cv2.line(image, (0, y), (width - 1, y), (floor * 0.8).tolist(), 1)
    cv2.rectangle(image, (0, row - 3), (width - 1, row), (wall * 0.6).tolist(), -1)  # skirting board
    texture = sum(_smooth_noise(rng, height, width, cell) * gain for cell, gain in ((40, 14), (8, 9), (2, 5)))
    image += texture[..., None]
    return np.clip(image, 0, 255)


def paint_frame(
    look: Look,
    frame_number: int,
    person_alpha: np.ndarray | None,
    shadow_alpha: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """One BGR uint8 frame: background, darkened where shadowed, the walker over it, light and noise.

    ``person_alpha`` and ``shadow_alpha`` are float32 ``[H, W]`` coverages in [0, 1] (soft edges),
    or None where there is nothing to draw. Work is limited to the boxes they cover.
    """
    frame = look.background.copy()
    if shadow_alpha is not None and (box := _box(shadow_alpha)) is not None:
        uncovered = (
            shadow_alpha[box] if person_alpha is None else shadow_alpha[box] * (1.0 - person_alpha[box])
        )
        frame[box] *= (1.0 - (1.0 - look.shadow_darkness) * uncovered)[..., None]
    if person_alpha is not None and (box := _box(person_alpha)) is not None:
        alpha = person_alpha[box][..., None]
        frame[box] += (_clothes(look, box, person_alpha.shape[0]) - frame[box]) * alpha
    gain = 1.0 + look.drift_amplitude * np.sin(
        2.0 * np.pi * frame_number / look.drift_period + look.drift_phase
    )
    return cv2.addWeighted(frame, gain, _sensor_noise(look, rng), 1.0, 0.0, dtype=cv2.CV_8U)  # saturates


def _sensor_noise(look: Look, rng: np.random.Generator) -> np.ndarray:
    """This frame's noise: one of the look's noise fields at a random offset (drawing a new field
    for every frame would cost more than painting it)."""
    height, width = look.background.shape[:2]
    field = look.noise[int(rng.integers(len(look.noise)))]
    top, left = (int(offset) for offset in rng.integers(0, _NOISE_MARGIN + 1, 2))
    return field[top : top + height, left : left + width]


def _box(alpha: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns where ``alpha`` is non-zero, or None if it is zero everywhere."""
    rows, columns = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _clothes(look: Look, box: tuple[slice, slice], height: int) -> np.ndarray:
    """The walker's colours ``[h, w, 3]`` over its ``box``, by height: head, upper body, legs, shoes."""
    rows, columns = box
    relative = np.linspace(0.0, 1.0, rows.stop - rows.start, dtype=np.float32)
    colours = np.empty((relative.size, 3), np.float32)
    colours[:] = look.lower
    colours[relative < 0.47] = look.upper
    colours[relative < 0.13] = look.skin
    colours[relative > 0.96] = look.lower * 0.35
    # Light from above: the body darkens a little towards the feet.
    colours *= (1.05 - 0.2 * relative)[:, None]
    return np.broadcast_to(colours[:, None, :], (relative.size, columns.stop - columns.start, 3))
