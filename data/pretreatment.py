"""OpenGait's silhouette pretreatment: raw binary frames -> aligned ``img_size`` x ``img_size`` crops.

For the same input frames the output pixels equal what OpenGait's ``datasets/pretreatment.py``
writes, so models trained here and there see the same data. It is the one code path for both the
frame converter and the synthetic generator. It must not read or write files.

Per frame: drop it if its pixel sum is <= 10000; crop to the rows with content; resize to height
``img_size`` keeping the aspect ratio (cubic interpolation); find the column where the cumulative
mass first exceeds half the total; cut ``img_size`` columns centred there, zero-padding at the
borders. Frames for which no centre column > 0 exists are dropped, as OpenGait drops them.

The geometry of a kept frame (rows cropped, resized width, columns cut) is computed once, from
the silhouette, as a ``FrameGeometry``; the silhouette is cut through it, and so can be anything
drawn in the same raw frame (the synthetic generator's part labels and joints), which then lines
up with the stored frame pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from landmarkgait.data.errors import DataError

# A frame whose pixel values sum to at most this holds no silhouette (OpenGait's threshold).
MIN_FRAME_SUM = 10000


@dataclass(frozen=True)
class FrameGeometry:
    """Where a kept frame's ``img_size`` x ``img_size`` crop comes from in its raw frame.

    Rows ``top..bottom`` (inclusive) of the ``source_width``-wide raw frame are resized to
    ``img_size`` x ``width``; ``padding`` zero columns (0 or ``img_size // 2``) are added on each
    side, and ``img_size`` columns from ``left`` (in padded columns) are kept.
    """

    top: int
    bottom: int
    source_width: int
    width: int
    left: int
    padding: int
    img_size: int

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The crop of a raw-frame-sized image ``[H, W]`` or ``[H, W, C]`` (uint8 or float32).

        Cubic interpolation, as for the silhouette: label maps go through it one label's
        indicator at a time (``align_labels``), never as label numbers.
        """
        return self.cut(self.resize(image[self.top : self.bottom + 1]))

    def resize(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``top..bottom`` of a raw-frame-sized image, resized to ``img_size`` x ``width``."""
        return _resize(rows, self.width, self.img_size)

    def cut(self, resized: np.ndarray) -> np.ndarray:
        """Pad and cut an image already resized to ``img_size`` x ``width``."""
        if self.padding:
            border = np.zeros((self.img_size, self.padding, *resized.shape[2:]), dtype=resized.dtype)
            resized = np.concatenate([border, resized, border], axis=1)
        return resized[:, self.left : self.left + self.img_size]

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Raw-frame points ``[..., 2]`` (x, y) -> the same points in the crop, float64.

        Coordinates are in pixels with pixel (row r, column c) centred at (c, r), in both frames;
        the resize maps centres as ``cv2.resize`` does, ``dst = (src + 0.5) * scale - 0.5``.
        """
        points = np.asarray(points, dtype=np.float64)
        scale_x = self.width / self.source_width
        scale_y = self.img_size / (self.bottom - self.top + 1)
        x = (points[..., 0] + 0.5) * scale_x - 0.5 + self.padding - self.left
        y = (points[..., 1] - self.top + 0.5) * scale_y - 0.5
        return np.stack([x, y], axis=-1)


@dataclass(frozen=True)
class PretreatResult:
    """Pretreated frames, uint8 ``[T, img_size, img_size]`` (T may be 0), and how many were dropped.

    ``kept[i]`` is the input position of output frame i and ``geometries[i]`` how it was cut.
    """

    frames: np.ndarray
    dropped: int
    kept: tuple[int, ...] = ()
    geometries: tuple[FrameGeometry, ...] = field(default=(), repr=False)


def pretreat_sequence(frames: Sequence[np.ndarray], img_size: int = 64) -> PretreatResult:
    """Pretreat the frames of one sequence, given in temporal order as uint8 ``[H, W]`` arrays."""
    if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 2 or img_size % 2:
        raise DataError(f"img_size must be an even integer >= 2, got {img_size!r}")
    aligned, kept, geometries = [], [], []
    for position, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 2:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise DataError(f"frame {position}: expected a uint8 grayscale image [H, W], got {got}")
        pretreated = pretreat_frame(frame, img_size)
        if pretreated is not None:
            aligned.append(pretreated[0])
            geometries.append(pretreated[1])
            kept.append(position)
    stacked = np.stack(aligned) if aligned else np.zeros((0, img_size, img_size), dtype=np.uint8)
    return PretreatResult(
        frames=stacked, dropped=len(frames) - len(aligned), kept=tuple(kept), geometries=tuple(geometries)
    )


def pretreat_frame(image: np.ndarray, img_size: int) -> tuple[np.ndarray, FrameGeometry] | None:
    """One frame -> ``[img_size, img_size]`` and its geometry, or None when OpenGait would drop it."""
    if image.sum() <= MIN_FRAME_SUM:
        return None
    has_content = image.sum(axis=1) != 0
    top = int(has_content.argmax())
    bottom = len(has_content) - 1 - int(has_content[::-1].argmax())
    # The person is taller than wide, so the height fixes the scale.
    aspect = image.shape[1] / (bottom - top + 1)
    width = int(img_size * aspect)
    if width == 0:  # thinner than one output column; OpenGait's cv2.resize would fail here
        return None
    person = _resize(image[top : bottom + 1], width, img_size)
    past_half = person.sum(axis=0).cumsum() > person.sum() / 2
    centre = int(past_half.argmax())
    if centre == 0:  # no column passes half the mass, or it is column 0: OpenGait finds no centre
        return None
    half = img_size // 2
    padding = half if centre - half <= 0 or centre + half >= width else 0
    geometry = FrameGeometry(top, bottom, image.shape[1], width, centre - half + padding, padding, img_size)
    return geometry.cut(person), geometry


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """OpenGait's resize (cubic); channels ``[H, W, C]`` stay channels, even one."""
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
    return resized.reshape(height, width, *image.shape[2:])


def align_labels(
    labels: np.ndarray, num_labels: int, geometries: Sequence[FrameGeometry], foreground: np.ndarray
) -> np.ndarray:
    """Raw-frame label maps -> the crops', crisp: uint8 ``[T, H, W]`` (0 none, 1..``num_labels``)
    -> uint8 ``[T, img_size, img_size]``, frame i cut by ``geometries[i]``.

    Each label's indicator is resized as a float image like the silhouette, and every pixel of
    the crops' bool ``foreground`` ``[T, img_size, img_size]`` takes the label whose indicator is
    largest there; others are 0. Resizing the label numbers instead would blend neighbouring
    labels into a third one.
    """
    aligned = np.zeros((len(geometries), num_labels, *foreground.shape[1:]), dtype=np.float32)
    for index, (frame, geometry) in enumerate(zip(labels, geometries, strict=True)):
        rows = frame[geometry.top : geometry.bottom + 1]
        for value in range(1, num_labels + 1):
            indicator = (rows == value).astype(np.float32)
            aligned[index, value - 1] = geometry.cut(geometry.resize(indicator))
    # argmax over axis 1 (first label on ties), as comparisons: numpy's argmax is slow off the last axis
    label, best = np.ones(foreground.shape, dtype=np.uint8), aligned[:, 0]
    for value in range(2, num_labels + 1):
        better = aligned[:, value - 1] > best
        label[better] = value
        best = np.maximum(best, aligned[:, value - 1])
    return np.where(foreground, label, np.uint8(0))
