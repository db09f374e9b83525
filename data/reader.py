"""Random access to the sequences of a Parquet silhouette dataset, by index or by key.

Used by training and evaluation (inside Ray Train workers), converters and the CLI. It opens shard
files lazily in whichever process uses it, so an instance can be pickled to Ray workers cheaply;
memory stays bounded by one batch plus an optional LRU cache of decoded row groups. It must not
sample, transform or write data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    SequenceKey,
    SequenceRecord,
    binary_values,
    check_frame_bytes,
    open_parquet,
)
from landmarkgait.data.index import read_index

__all__ = ["SequenceKey", "SilhouetteDataset"]


class _Location(NamedTuple):
    """Where one row is stored: shard number, row in the shard, row group, offset in the group."""

    shard: int
    row: int
    group: int
    offset: int


class SilhouetteDataset:
    """A dataset directory opened for reading; ``dataset[i]`` is a ``SequenceRecord``.

    Opening runs the structural checks of ``landmarkgait.data.index.read_index``; each row's frame length is
    checked when the row is read. ``cache_bytes`` > 0 keeps recently read row groups (decoded) in
    memory up to that many bytes. ``read_many`` decodes up to ``read_threads`` row groups at once:
    decompression dominates a read and pyarrow runs it without the GIL, while training, which
    reads its batch between steps, leaves the cores idle meanwhile. Not thread-safe: use one
    instance per thread.
    """

    def __init__(self, path: Path | str, cache_bytes: int = 0, read_threads: int = 1) -> None:
        if cache_bytes < 0:
            raise DataError(f"cache_bytes must be >= 0, got {cache_bytes}")
        if isinstance(read_threads, bool) or not isinstance(read_threads, int) or read_threads < 1:
            raise DataError(f"read_threads must be an integer >= 1, got {read_threads!r}")
        self.path = Path(path)
        self.cache_bytes = cache_bytes
        self.read_threads = read_threads
        index = read_index(self.path)
        self.metadata = index.metadata
        self.entries: list[SequenceKey] = list(index.entries)
        self._shard_paths = [shard.path for shard in index.shards]
        self._group_starts = [np.cumsum([0, *shard.row_group_rows]) for shard in index.shards]
        self._locations = self._row_locations(index.entry_rows)
        self._positions = {(e.subject, e.type, e.view): i for i, e in enumerate(self.entries)}
        self._reset_handles()

    def _row_locations(self, entry_rows: Sequence[tuple[int, int]]) -> list[_Location]:
        """Where every entry is stored, for O(1) lookups."""
        locations = []
        for shard, row in entry_rows:
            group = int(np.searchsorted(self._group_starts[shard], row, side="right")) - 1
            locations.append(_Location(shard, row, group, row - int(self._group_starts[shard][group])))
        return locations

    def _reset_handles(self) -> None:
        # Open shard files, per thread: one pyarrow reader is not meant for concurrent reads.
        self._opened = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._cache: OrderedDict[tuple[int, int], list[pa.Buffer]] = OrderedDict()
        self._cached_bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_opened", "_pool", "_cache", "_cached_bytes"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_handles()

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> SequenceRecord:
        return self.read_many([index])[0]

    def __repr__(self) -> str:
        return f"SilhouetteDataset({str(self.path)!r}, {len(self)} sequences)"

    @property
    def subjects(self) -> tuple[str, ...]:
        """Distinct subjects, sorted."""
        return tuple(sorted({entry.subject for entry in self.entries}))

    def indices_by_subject(self) -> dict[str, list[int]]:
        """Row indices of each subject's sequences, in row order."""
        groups: dict[str, list[int]] = {}
        for index, entry in enumerate(self.entries):
            groups.setdefault(entry.subject, []).append(index)
        return groups

    def find(self, subject: str, type: str, view: str) -> int:
        """Row index of the sequence with this key."""
        try:
            return self._positions[(subject, type, view)]
        except KeyError:
            raise DataError(
                f"{self.path}: no sequence with subject={subject!r}, type={type!r}, view={view!r}"
            ) from None

    def read_many(self, indices: Sequence[int]) -> list[SequenceRecord]:
        """Read several rows, decoding each needed row group once (the way batches are read)."""
        wanted = [(index, self._locations[index]) for index in map(self._checked_index, indices)]
        keys = list(dict.fromkeys((where.shard, where.group) for _, where in wanted))
        groups = {key: self._cached(key) for key in keys}
        missing = [key for key, frames in groups.items() if frames is None]
        for key, frames in zip(missing, self._decode_all(missing), strict=True):
            groups[key] = frames
            self._remember(key, frames)
        return [
            self._record(index, where, groups[(where.shard, where.group)][where.offset])
            for index, where in wanted
        ]

    def _checked_index(self, index: int) -> int:
        size = len(self.entries)
        if not isinstance(index, (int, np.integer)) or not -size <= index < size:
            raise IndexError(f"{self.path}: index {index!r} out of range for {size} sequences")
        return int(index) % size

    def _record(self, index: int, where: _Location, data: pa.Buffer) -> SequenceRecord:
        entry = self.entries[index]
        height, width = self.metadata.frame_height, self.metadata.frame_width
        check_frame_bytes(
            data.size, entry.num_frames, height, width, self._shard_paths[where.shard], where.row
        )
        frames = np.frombuffer(data, dtype=np.uint8).reshape(entry.num_frames, height, width)
        return SequenceRecord(entry.subject, entry.type, entry.view, frames)

    def _cached(self, key: tuple[int, int]) -> list[pa.Buffer] | None:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
        return cached

    def _decode_all(self, keys: list[tuple[int, int]]) -> list[list[pa.Buffer]]:
        """The frames of each (shard, row group), decoded in up to ``read_threads`` threads."""
        if self.read_threads == 1 or len(keys) < 2:
            return [self._decode(key) for key in keys]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.read_threads, thread_name_prefix="parquet-read")
        return list(self._pool.map(self._decode, keys))

    def _decode(self, key: tuple[int, int]) -> list[pa.Buffer]:
        shard, group = key
        files: dict[int, pq.ParquetFile] = self._opened.__dict__.setdefault("files", {})
        try:
            if shard not in files:
                files[shard] = open_parquet(self._shard_paths[shard])
            column = files[shard].read_row_group(group, columns=["frames"], use_threads=False).column(0)
        except (OSError, pa.ArrowException) as error:
            raise DataError(
                f"{self._shard_paths[shard]}: row group {group}: cannot read field 'frames': {error}"
            ) from error
        return [value for chunk in column.iterchunks() for value in binary_values(chunk)]

    def _remember(self, key: tuple[int, int], frames: list[pa.Buffer]) -> None:
        size = sum(value.size for value in frames)
        if size > self.cache_bytes:
            return
        self._cache[key] = frames
        self._cached_bytes += size
        while self._cached_bytes > self.cache_bytes:
            _, evicted = self._cache.popitem(last=False)
            self._cached_bytes -= sum(value.size for value in evicted)
