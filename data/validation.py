"""Checking a dataset against its specification: shard schemas, rows, keys and the fingerprint.

``read_index`` runs the checks that need no frame data whenever a dataset is opened;
``validate_dataset`` (``landmarkgait data validate``) also reads every frame, checks its length
and recomputes the content fingerprint, which ``assemble_dataset`` computes the same way. Every
violation is a ``DataError`` naming the file, the row and the field. It must not write anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    INDEX_COLUMNS,
    KEY_COLUMNS,
    METADATA_FILE,
    SCHEMA,
    SHARD_PATTERN,
    DatasetMetadata,
    binary_values,
    check_frame_bytes,
    landmarkgait_metadata,
    list_shards,
    open_parquet,
    read_metadata,
)
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value


@dataclass
class ShardScan:
    """Columns of one shard as read for validation; digests only when frames were read."""

    path: Path
    row_group_rows: tuple[int, ...]
    keys: list[tuple[str, str, str]]
    num_frames: list[int]
    heights: list[int]
    widths: list[int]
    frame_digests: list[str] | None


def _open_shard(path: Path) -> pq.ParquetFile:
    try:
        shard = open_parquet(path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: unreadable Parquet file: {error}") from error
    schema = shard.schema_arrow
    landmarkgait_metadata(schema, path)
    for expected in SCHEMA:
        index = schema.get_field_index(expected.name)
        if index < 0:
            raise DataError(f"{path}: missing column '{expected.name}' ({expected.type})")
        actual = schema.field(index).type
        if actual != expected.type:
            raise DataError(f"{path}: column '{expected.name}' has type {actual}, expected {expected.type}")
    return shard


def _first_null(column: pa.ChunkedArray) -> int:
    return column.is_null().to_pylist().index(True)


def scan_shard(path: Path, *, read_frames: bool) -> ShardScan:
    """Check one shard's schema and index columns; with ``read_frames`` also frame lengths and digests."""
    with _open_shard(path) as shard:
        return _scan_open_shard(shard, path, read_frames=read_frames)


def _scan_open_shard(shard: pq.ParquetFile, path: Path, *, read_frames: bool) -> ShardScan:
    try:
        table = shard.read(columns=list(INDEX_COLUMNS), use_threads=False)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: cannot read columns {', '.join(INDEX_COLUMNS)}: {error}") from error
    for name in INDEX_COLUMNS:
        column = table.column(name)
        if column.null_count:
            raise DataError(f"{path}: row {_first_null(column)}: field '{name}' is null")
    columns = {name: table.column(name).to_pylist() for name in INDEX_COLUMNS}
    for name in KEY_COLUMNS:  # checked on every read: a shard may come from anywhere
        for row, value in enumerate(columns[name]):
            problem = key_problem(value)
            if problem:
                raise DataError(f"{path}: row {row}: field '{name}' is {quote_value(value)}: {problem}")
    for name in ("num_frames", "height", "width"):
        for row, value in enumerate(columns[name]):
            if value <= 0:
                what = "empty sequence" if name == "num_frames" else "empty frames"
                raise DataError(f"{path}: row {row}: field '{name}' is {value} ({what})")
    row_group_rows = tuple(shard.metadata.row_group(i).num_rows for i in range(shard.num_row_groups))
    scan = ShardScan(
        path=path,
        row_group_rows=row_group_rows,
        keys=list(zip(columns["subject"], columns["type"], columns["view"], strict=True)),
        num_frames=columns["num_frames"],
        heights=columns["height"],
        widths=columns["width"],
        frame_digests=None,
    )
    if read_frames:
        scan.frame_digests = _frame_digests(shard, scan)
    return scan


def _frame_digests(shard: pq.ParquetFile, scan: ShardScan) -> list[str]:
    """Check every row's frame length and hash its bytes, one row group in memory at a time."""
    digests: list[str] = []
    for group in range(shard.num_row_groups):
        try:
            frames = shard.read_row_group(group, columns=["frames"], use_threads=False).column(0)
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{scan.path}: row group {group}: cannot read field 'frames': {error}") from error
        for chunk in frames.iterchunks():
            for value in binary_values(chunk):
                row = len(digests)
                check_frame_bytes(
                    value.size, scan.num_frames[row], scan.heights[row], scan.widths[row], scan.path, row
                )
                digests.append(hashlib.sha256(value).hexdigest())
    return digests


def check_across_shards(scans: list[ShardScan], frame_height: int, frame_width: int) -> None:
    """Raise unless every row has the dataset's frame size and no key appears twice in the dataset."""
    seen: dict[tuple[str, str, str], tuple[Path, int]] = {}
    for scan in scans:
        for row, key in enumerate(scan.keys):
            if (scan.heights[row], scan.widths[row]) != (frame_height, frame_width):
                raise DataError(
                    f"{scan.path}: row {row}: fields 'height'/'width' are {scan.heights[row]}x{scan.widths[row]}, "
                    f"expected the dataset's frame size {frame_height}x{frame_width}"
                )
            if key in seen:
                first_path, first_row = seen[key]
                raise DataError(
                    f"{scan.path}: row {row}: duplicate (subject, type, view) {key}, "
                    f"also in {first_path} row {first_row}"
                )
            seen[key] = (scan.path, row)


def content_fingerprint(scans: list[ShardScan]) -> str:
    """``sha256:<hex>`` of the sorted rows' keys, sizes and frame digests (data/README.md, Fingerprint).

    Depends only on content, not on sharding, row order or compression. Needs scans that read frames.
    """
    rows = []
    for scan in scans:
        assert scan.frame_digests is not None
        for row, key in enumerate(scan.keys):
            rows.append(
                [*key, scan.num_frames[row], scan.heights[row], scan.widths[row], scan.frame_digests[row]]
            )
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(json.dumps(row).encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


def check_dataset(path: Path, *, read_frames: bool) -> tuple[DatasetMetadata, list[ShardScan]]:
    """Metadata and scans of every shard of the dataset at ``path``, checked against each other."""
    metadata = read_metadata(path)
    shards = list_shards(path)
    if not shards:
        raise DataError(f"{path}: dataset has no shard files ({SHARD_PATTERN})")
    progress = tqdm(shards, desc="Validating shards", disable=None if read_frames else True)
    scans = [scan_shard(shard, read_frames=read_frames) for shard in progress]
    check_across_shards(scans, metadata.frame_height, metadata.frame_width)
    num_rows = sum(len(scan.keys) for scan in scans)
    if num_rows != metadata.num_sequences:
        raise DataError(
            f"{path / METADATA_FILE}: field 'num_sequences' is {metadata.num_sequences} but the shards "
            f"hold {num_rows} rows"
        )
    return metadata, scans


def validate_dataset(path: Path) -> DatasetMetadata:
    """Check everything, reading all frames: the index checks, every frame length, the fingerprint."""
    path = Path(path)
    metadata, scans = check_dataset(path, read_frames=True)
    fingerprint = content_fingerprint(scans)
    if fingerprint != metadata.fingerprint:
        raise DataError(
            f"{path / METADATA_FILE}: field 'fingerprint' is {metadata.fingerprint} but the content hashes "
            f"to {fingerprint} (shards changed after the dataset was written)"
        )
    return metadata
