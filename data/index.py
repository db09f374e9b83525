"""The index of a dataset: every row's key and where it is stored, read without frame data.

What ``landmarkgait.data.reader.SilhouetteDataset`` needs to find a sequence by number or key.
Opening runs the structural checks of ``landmarkgait.data.validation``. It must not read frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.format import DatasetMetadata, SequenceKey
from landmarkgait.data.validation import check_dataset


@dataclass(frozen=True)
class ShardIndex:
    """A shard file and the number of rows in each of its row groups."""

    path: Path
    row_group_rows: tuple[int, ...]

    @property
    def num_rows(self) -> int:
        return sum(self.row_group_rows)


@dataclass(frozen=True)
class DatasetIndex:
    """Everything about a dataset except the frames: what the reader needs to locate rows."""

    metadata: DatasetMetadata
    shards: tuple[ShardIndex, ...]
    entries: tuple[SequenceKey, ...]  # dataset row order: shards by file name, then rows
    entry_rows: tuple[tuple[int, int], ...]  # (shard number, row in the shard) of each entry


def read_index(path: Path) -> DatasetIndex:
    """Open a dataset's index with the checks that need no frame data.

    Checks metadata and format version, shard schemas (columns and types), nulls, empty sequences,
    frame size, duplicate keys and row count. Frame byte lengths are checked whenever a row is
    read, and for every row by ``validate_dataset``.
    """
    metadata, scans = check_dataset(Path(path), read_frames=False)
    entries: list[SequenceKey] = []
    entry_rows: list[tuple[int, int]] = []
    for number, scan in enumerate(scans):
        entries.extend(SequenceKey(*key, scan.num_frames[row]) for row, key in enumerate(scan.keys))
        entry_rows.extend((number, row) for row in range(len(scan.keys)))
    return DatasetIndex(
        metadata=metadata,
        shards=tuple(ShardIndex(scan.path, scan.row_group_rows) for scan in scans),
        entries=tuple(entries),
        entry_rows=tuple(entry_rows),
    )
