"""Raw frames ``SRC/<subject>/<type>/<view>/*.png`` (CASIA-B layout) -> pretreated dataset.

Frames are decoded as OpenGait decodes them and pretreated by ``landmarkgait.data.pretreatment``,
so pixels equal OpenGait's ``datasets/pretreatment.py`` output. It must not change the pretreatment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from landmarkgait.data.converters.conversion import ChunkResult, InputFormat, convert_tree, write_chunk
from landmarkgait.data.converters.tree import SkippedItem, TreeItem
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.input_files import (
    MAX_IMAGE_BYTES,
    check_frame_size,
    image_frame_size,
    read_regular_bytes,
)
from landmarkgait.data.pretreatment import pretreat_sequence

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from landmarkgait.data.converters.conversion import ConversionKeywords, ConversionReport


def read_grayscale(path: Path) -> np.ndarray:
    """Decode an image file as OpenGait does (``cv2.IMREAD_GRAYSCALE``, here from the bytes read).

    The file is read by the input rule (a regular file of bounded size, never a FIFO) and its
    header's frame size is checked against the pixel budget before a pixel is decoded.
    """
    content = read_regular_bytes(Path(path), "image", MAX_IMAGE_BYTES)
    check_frame_size(*image_frame_size(content, path), path, "image")
    image = cv2.imdecode(np.frombuffer(content, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"{path}: cannot decode image")
    return image


def _frames_chunk(task: tuple[list[TreeItem], Path, int]) -> ChunkResult:
    items, path, img_size = task
    result = ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                pretreated = pretreat_sequence([read_grayscale(f) for f in item.files], img_size)
            except DataError as error:
                result.skipped.append(SkippedItem(str(item.directory), str(error)))
                continue
            if not len(pretreated.frames):
                reason = f"all {len(item.files)} frames dropped by pretreatment (blank, or no centre column)"
                result.skipped.append(SkippedItem(str(item.directory), reason))
                continue
            result.dropped_frames += pretreated.dropped
            yield SequenceRecord(item.subject, item.type, item.view, pretreated.frames)

    return write_chunk(records(), path, result)


def convert_frame_tree(
    src: Path, out: Path, *, img_size: int = 64, **options: Unpack[ConversionKeywords]
) -> ConversionReport:
    """Pretreat a CASIA-B-layout PNG tree (frames in name order) into a dataset.

    Frames become ``img_size`` x ``img_size``; pixels equal OpenGait's ``datasets/pretreatment.py``
    output; blank frames are dropped and counted; sequences with no usable frame or an undecodable
    image are skipped and reported. ``options``: ``name``, ``workers``, ``sequences_per_shard``,
    ``overwrite``, ``strict`` (see ``convert_tree``).
    """
    pretreat_sequence([], img_size)  # check img_size before starting workers
    frame_tree = InputFormat(
        suffix=".png",
        chunk_function=_frames_chunk,
        worker_arguments=lambda _items: (img_size,),
        source_kind="frames",
        extra={"command": "convert-frames", "img_size": img_size},
    )
    return convert_tree(src, out, frame_tree, **options)
