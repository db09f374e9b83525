"""One video -> the person's full-frame silhouettes, by OpenCV background subtraction.

Why a module of its own: the conversion (``convert``), the benchmark and the tests all need the raw
masks of one video before pretreatment, to store them or to compare them with ground truth. Per
processed frame: the background subtractor (MOG2 or KNN) marks foreground 255 and shadow 127;
shadows are dropped; an opening removes noise specks and a closing mends small gaps; the largest
connected component is the person if it covers at least ``min_area`` of the frame, and smaller
blobs inside its bounding box (a head or a foot cut off by a thin gap) join it; finally each pixel
on the person's outline is kept only if its colour is nearer the person's nearby colour than the
background model's (a pixel the person covers less than half of is background). Frames without a
person are dropped. It must not pretreat, write files or know where the video came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import check_frame_size, check_regular_file
from landmarkgait.data.video.settings import SubtractionSettings

log = logging.getLogger(__name__)

FOREGROUND = 255  # MOG2 and KNN mark shadows 127, below this
# A blob smaller than this fraction of the person's area is noise even inside the person's box.
_MIN_PART_FRACTION = 0.02
# Opening removes specks of noise; closing mends one- or two-pixel gaps inside the body. A 5x5 closing
# also filled the gaps between arms and body and between the legs (pretreated IoU against the true
# masks 0.85-0.87 instead of 0.85-0.88 on subjects 001-002), which is the shape gait is read from.
_OPENING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
# The outline is the mask minus its 3x3 erosion; the person's nearby colour is the mean over the
# mask's interior in a 9x9 window (9 and 13 scored alike on subjects 001-002, 5 lower).
_INTERIOR = np.ones((3, 3), np.uint8)
_COLOUR_WINDOW = (9, 9)


class VideoError(DataError):
    """A video that yields no silhouettes: missing, unreadable, empty or without a person."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # pickled across Ray tasks
        return type(self), (self.path, self.reason)


@dataclass(frozen=True)
class VideoSilhouettes:
    """The person masks of one video: uint8 ``[T, H, W]`` (0/255) for the ``T`` frames with a person."""

    frames: np.ndarray
    indices: np.ndarray  # int64 [T]: each mask's frame number in the video
    frames_processed: int  # frames looked at (every ``frame_step``-th frame)


def extract_silhouettes(path: Path, settings: SubtractionSettings) -> VideoSilhouettes:
    """Background-subtract the video at ``path``; raise ``VideoError`` if it shows no person at all."""
    path = Path(path)
    subtractor = _subtractor(settings)
    frames, indices, processed = [], [], 0
    for index, frame in _decoded_frames(path, settings.frame_step):
        # -1: OpenCV's own schedule, 1/(frames seen) at first: the warm-up learns the scene quickly.
        rate = -1.0 if processed < settings.warm_up else 1.0 / settings.history
        processed += 1
        mask = _person_mask(subtractor.apply(frame, learningRate=rate), settings.min_area)
        if mask is not None:
            frames.append(_refined_outline(mask, frame, subtractor.getBackgroundImage()))
            indices.append(index)
    if not processed:
        raise VideoError(path, "the video holds no frames")
    if not frames:
        raise VideoError(
            path,
            f"no person found in any of its {processed} frames ({settings.method}: no moving blob of at "
            f"least {settings.min_area:g} of the frame)",
        )
    log.debug("%s: a person in %d of %d frames", path, len(frames), processed)
    return VideoSilhouettes(np.stack(frames), np.asarray(indices, dtype=np.int64), processed)


def _subtractor(settings: SubtractionSettings) -> cv2.BackgroundSubtractor:
    threshold = settings.foreground_threshold
    if settings.method == "KNN":
        return cv2.createBackgroundSubtractorKNN(
            history=settings.history, dist2Threshold=threshold, detectShadows=True
        )
    return cv2.createBackgroundSubtractorMOG2(
        history=settings.history, varThreshold=threshold, detectShadows=True
    )


def _open_capture(path: Path) -> cv2.VideoCapture:
    """Open ``path`` for decoding, or raise ``VideoError`` saying why it cannot be.

    By the input rule: a regular file (a FIFO or device would block or never end), and frames
    within the pixel budget, read from the container's header before a frame is decoded.
    """
    if not path.exists():
        raise VideoError(path, "no such video file")
    try:
        size = check_regular_file(path, "video")
    except DataError as error:
        raise VideoError(path, str(error).removeprefix(f"{path}: ")) from None
    if size == 0:
        raise VideoError(path, "the video file is empty (0 bytes)")
    # FFmpeg prints its own complaints about broken files to stderr; our error names the file.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(path, "cannot decode it as a video (unreadable, truncated or not a video file)")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    try:
        check_frame_size(width, height, path, "the video")
    except DataError as error:
        capture.release()
        raise VideoError(path, str(error).removeprefix(f"{path}: ")) from None
    return capture


def _decoded_frames(path: Path, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame number, BGR frame)`` of every ``step``-th frame."""
    capture = _open_capture(path)
    try:
        index = 0
        while True:
            wanted = index % step == 0
            if wanted:
                ok, frame = capture.read()
            else:
                ok, frame = capture.grab(), None
            if not ok:
                return
            if wanted:
                yield index, frame
            index += 1
    finally:
        capture.release()


def _person_mask(foreground: np.ndarray, min_area: float) -> np.ndarray | None:
    """The cleaned person mask (uint8 0/255) of one subtractor output, or None if no blob is person-sized."""
    mask = np.where(foreground == FOREGROUND, np.uint8(255), np.uint8(0))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPENING)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _CLOSING)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    person = 1 + int(areas.argmax())
    if stats[person, cv2.CC_STAT_AREA] < min_area * mask.size:
        return None
    left, top, width, height = stats[person, :4]
    keep = np.zeros(count, dtype=bool)
    keep[person] = True
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        inside = x >= left and y >= top and x + w <= left + width and y + h <= top + height
        keep[label] |= inside and area >= _MIN_PART_FRACTION * stats[person, cv2.CC_STAT_AREA]
    return np.where(keep[labels], np.uint8(255), np.uint8(0))


def _refined_outline(mask: np.ndarray, frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``mask`` without the outline pixels whose colour is nearer the background than the person.

    Why: the subtractor marks every pixel that differs from the background, so the soft edge of a
    person (pixels the body covers only in part, blurred further by compression) ends up a pixel
    wider all round: 10-16 % extra area on a side view, which thickens legs and arms after
    pretreatment. Comparing each outline pixel with the mean colour of the person's interior nearby
    and with the background model decides whether the person covers most of it. Outline pixels
    with no interior nearby (a thin limb) stay.
    """
    interior = cv2.erode(mask, _INTERIOR)
    outline = (mask > 0) & (interior == 0)
    colour = frame.astype(np.float32)
    weight = (interior > 0).astype(np.float32)
    interior_sum = cv2.boxFilter(colour * weight[..., None], -1, _COLOUR_WINDOW, normalize=False)
    interior_count = cv2.boxFilter(weight, -1, _COLOUR_WINDOW, normalize=False)
    person_colour = interior_sum / np.maximum(interior_count, 1.0)[..., None]
    to_person = np.square(colour - person_colour).sum(-1)
    to_background = np.square(colour - background.astype(np.float32)).sum(-1)
    background_side = outline & (interior_count > 0) & (to_background < to_person)
    return np.where(background_side, np.uint8(0), mask)
