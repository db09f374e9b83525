"""OpenGait pickle tree ``SRC/<subject>/<type>/<view>/*.pkl`` -> dataset, arrays stored bit for bit.

Every pickle goes through the restricted unpickler of ``landmarkgait.data.pickle_io``; what it
refuses, and arrays that are not uint8 ``[T, H, W]`` of the dataset's frame size, are skipped and
reported. It must not pretreat frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landmarkgait.data.converters.conversion import ChunkResult, InputFormat, convert_tree, write_chunk
from landmarkgait.data.converters.tree import SkippedItem, TreeItem
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.pickle_io import load_array_pickle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from landmarkgait.data.converters.conversion import ConversionKeywords, ConversionReport


def _first_frame_size(items: list[TreeItem]) -> tuple[int, int] | None:
    """Frame size of the first loadable sequence: every other sequence must match it."""
    for item in items:
        if len(item.files) == 1:
            try:
                array = load_array_pickle(item.files[0])
            except DataError:
                continue
            if array.dtype == np.uint8 and array.ndim == 3 and array.shape[0]:
                return array.shape[1], array.shape[2]
    return None


def _load_pkl_item(item: TreeItem, frame_size: tuple[int, int] | None) -> SequenceRecord:
    if len(item.files) != 1:
        raise DataError(f"holds {len(item.files)} .pkl files; one array per sequence is supported")
    array = load_array_pickle(item.files[0])
    if array.dtype != np.uint8 or array.ndim != 3:
        raise DataError(f"{item.files[0]}: expected a uint8 array [T, H, W], got {array.dtype} {array.shape}")
    if 0 in array.shape:
        raise DataError(f"{item.files[0]}: empty sequence (shape {array.shape})")
    if frame_size is not None and array.shape[1:] != frame_size:
        raise DataError(
            f"{item.files[0]}: frame size {array.shape[1]}x{array.shape[2]} differs from the dataset's "
            f"{frame_size[0]}x{frame_size[1]}"
        )
    return SequenceRecord(item.subject, item.type, item.view, np.ascontiguousarray(array))


def _pkl_chunk(task: tuple[list[TreeItem], Path, tuple[int, int] | None]) -> ChunkResult:
    items, path, frame_size = task
    result = ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                yield _load_pkl_item(item, frame_size)
            except DataError as error:
                result.skipped.append(SkippedItem(str(item.directory), str(error)))

    return write_chunk(records(), path, result)


_PICKLE_TREE = InputFormat(
    suffix=".pkl",
    chunk_function=_pkl_chunk,
    worker_arguments=lambda items: (_first_frame_size(items),),
    source_kind="opengait-pkl",
    extra={"command": "convert-pkl"},
)


def convert_pkl_tree(src: Path, out: Path, **options: Unpack[ConversionKeywords]) -> ConversionReport:
    """Convert an OpenGait pickle tree to a dataset; arrays are stored bit for bit.

    Every pickle goes through the restricted unpickler: foreign or malicious pickles are skipped
    (reported with the file's name), as are non-uint8 arrays and sequences whose frame size
    differs from the first sequence's. ``options``: ``name``, ``workers``, ``sequences_per_shard``,
    ``overwrite``, ``strict`` (see ``convert_tree``).
    """
    return convert_tree(src, out, _PICKLE_TREE, **options)
