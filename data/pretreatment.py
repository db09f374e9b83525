"""OpenGait's silhouette pretreatment: raw binary frames -> aligned ``img_size`` x ``img_size`` crops.

For the same input frames the output pixels equal what OpenGait's ``datasets/pretreatment.py``
writes, so models trained here and there see the same data. It is the one code path for both the
frame converter and the synthetic generator. It must not read or write files.

Per frame: drop it if its pixel sum is <= 10000; crop to the rows with content; resize to height
``img_size`` keeping the aspect ratio (cubic interpolation); find the column where the cumulative
mass first exceeds half the total; cut ``img_size`` columns centred there, zero-padding at the
borders. Frames for which no centre column > 0 exists are dropped, as OpenGait drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from landmarkgait.data.errors import DataError

# A frame whose pixel values sum to at most this holds no silhouette (OpenGait's threshold).
MIN_FRAME_SUM = 10000


@dataclass(frozen=True)
class PretreatResult:
    """Pretreated frames, uint8 ``[T, img_size, img_size]`` (T may be 0), and how many were dropped."""

    frames: np.ndarray
    dropped: int


def pretreat_sequence(frames: Sequence[np.ndarray], img_size: int = 64) -> PretreatResult:
    """Pretreat the frames of one sequence, given in temporal order as uint8 ``[H, W]`` arrays."""
    if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 2 or img_size % 2:
        raise DataError(f"img_size must be an even integer >= 2, got {img_size!r}")
    kept = []
    for position, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 2:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise DataError(f"frame {position}: expected a uint8 grayscale image [H, W], got {got}")
        aligned = _pretreat_frame(frame, img_size)
        if aligned is not None:
            kept.append(aligned)
    stacked = np.stack(kept) if kept else np.zeros((0, img_size, img_size), dtype=np.uint8)
    return PretreatResult(frames=stacked, dropped=len(frames) - len(kept))


def _pretreat_frame(image: np.ndarray, img_size: int) -> np.ndarray | None:
    """One frame -> ``[img_size, img_size]``, or None when OpenGait would drop it."""
    if image.sum() <= MIN_FRAME_SUM:
        return None
    has_content = image.sum(axis=1) != 0
    top = int(has_content.argmax())
    bottom = len(has_content) - 1 - int(has_content[::-1].argmax())
    person = image[top : bottom + 1]
    # The person is taller than wide, so the height fixes the scale.
    aspect = person.shape[1] / person.shape[0]
    width = int(img_size * aspect)
    if width == 0:  # thinner than one output column; OpenGait's cv2.resize would fail here
        return None
    person = cv2.resize(person, (width, img_size), interpolation=cv2.INTER_CUBIC)
    past_half = person.sum(axis=0).cumsum() > person.sum() / 2
    centre = int(past_half.argmax())
    if centre == 0:  # no column passes half the mass, or it is column 0: OpenGait finds no centre
        return None
    half = img_size // 2
    left, right = centre - half, centre + half
    if left <= 0 or right >= person.shape[1]:
        border = np.zeros((img_size, half), dtype=np.uint8)
        person = np.concatenate([border, person, border], axis=1)
        left, right = left + half, right + half
    return person[:, left:right]
