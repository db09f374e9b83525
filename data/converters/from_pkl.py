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


def _sequence_file(item: TreeItem, pkl_in_use: int | None) -> Path:
    """The one pickle of a sequence that holds its silhouettes.

    ``pkl_in_use`` is its position among the sequence's ``.pkl`` files in name order, as OpenGait's
    ``data_in_use`` picks a modality (CCPG's aligned silhouettes are 0, SUSTech1K's camera
    silhouettes 6); None requires a single file.
    """
    if pkl_in_use is None:
        if len(item.files) != 1:
            raise DataError(
                f"holds {len(item.files)} .pkl files; one array per sequence is supported (choose one by "
                "its position in name order with --pkl-in-use, as OpenGait's data_in_use)"
            )
        return item.files[0]
    if pkl_in_use >= len(item.files):
        raise DataError(f"holds {len(item.files)} .pkl files, none at position {pkl_in_use} (--pkl-in-use)")
    return item.files[pkl_in_use]


def _first_frame_size(items: list[TreeItem], pkl_in_use: int | None) -> tuple[int, int] | None:
    """Frame size of the first loadable sequence: every other sequence must match it."""
    for item in items:
        try:
            array = load_array_pickle(_sequence_file(item, pkl_in_use))
        except DataError:
            continue
        if array.dtype == np.uint8 and array.ndim == 3 and array.shape[0]:
            return array.shape[1], array.shape[2]
    return None


def _load_pkl_item(
    item: TreeItem, frame_size: tuple[int, int] | None, pkl_in_use: int | None
) -> SequenceRecord:
    path = _sequence_file(item, pkl_in_use)
    array = load_array_pickle(path)
    if array.dtype != np.uint8 or array.ndim != 3:
        raise DataError(f"{path}: expected a uint8 array [T, H, W], got {array.dtype} {array.shape}")
    if 0 in array.shape:
        raise DataError(f"{path}: empty sequence (shape {array.shape})")
    if frame_size is not None and array.shape[1:] != frame_size:
        raise DataError(
            f"{path}: frame size {array.shape[1]}x{array.shape[2]} differs from the dataset's "
            f"{frame_size[0]}x{frame_size[1]}"
        )
    return SequenceRecord(item.subject, item.type, item.view, np.ascontiguousarray(array))


def _pkl_chunk(task: tuple[list[TreeItem], Path, tuple[int, int] | None, int | None]) -> ChunkResult:
    items, path, frame_size, pkl_in_use = task
    result = ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                yield _load_pkl_item(item, frame_size, pkl_in_use)
            except DataError as error:
                result.skipped.append(SkippedItem(str(item.directory), str(error)))

    return write_chunk(records(), path, result)


def convert_pkl_tree(
    src: Path, out: Path, *, pkl_in_use: int | None = None, **options: Unpack[ConversionKeywords]
) -> ConversionReport:
    """Convert an OpenGait pickle tree to a dataset; arrays are stored bit for bit.

    Every pickle goes through the restricted unpickler: foreign or malicious pickles are skipped
    (reported with the file's name), as are non-uint8 arrays and sequences whose frame size
    differs from the first sequence's. ``pkl_in_use``: which of a sequence's pickles (position in
    name order) holds its silhouettes, for trees that store several modalities per sequence
    (CCPG, SUSTech1K). ``options``: ``name``, ``workers``, ``sequences_per_shard``, ``overwrite``,
    ``strict``, ``partition`` (see ``convert_tree``).
    """
    if pkl_in_use is not None and (isinstance(pkl_in_use, bool) or pkl_in_use < 0):
        raise DataError(f"pkl_in_use must be a position >= 0, got {pkl_in_use!r}")
    pickle_tree = InputFormat(
        suffix=".pkl",
        chunk_function=_pkl_chunk,
        worker_arguments=lambda items: (_first_frame_size(items, pkl_in_use), pkl_in_use),
        source_kind="opengait-pkl",
        extra={"command": "convert-pkl"} | ({"pkl_in_use": pkl_in_use} if pkl_in_use is not None else {}),
    )
    return convert_tree(src, out, pickle_tree, **options)
