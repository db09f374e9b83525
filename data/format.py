"""The Parquet silhouette dataset format, version 1: schema, writing, metadata and validation.

A dataset is a directory of shard files (``part-00000.parquet`` ...) with one row per gait
sequence, plus ``_common_metadata``: a row-less Parquet file whose schema carries the
dataset-level metadata as JSON under the key ``landmarkgait``. ``data/README.md`` is the
specification. This module is the only code that knows the on-disk layout; it must not know about
sampling, training or where sequences come from (converters and the synthetic generator call it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from landmarkgait.data.errors import DataError
from landmarkgait.data.staging import (
    check_destination,
    discard_staging_dir,
    make_staging_dir,
    publish_directory,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
METADATA_KEY = "landmarkgait"
METADATA_FILE = "_common_metadata"
SHARD_PATTERN = "*.parquet"
KEY_COLUMNS = ("subject", "type", "view")
INDEX_COLUMNS = (*KEY_COLUMNS, "num_frames", "height", "width")
DEFAULT_SEQUENCES_PER_SHARD = 256
# One sequence per row group: reading a sequence then decompresses only that sequence, which
# measured several times faster for random access than 4-16 rows per group (see data/README.md).
DEFAULT_ROWS_PER_GROUP = 1
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9  # decompresses ~15% faster and is ~10% smaller than 1-3 on silhouettes

SCHEMA = pa.schema(
    [
        pa.field("subject", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("view", pa.string(), nullable=False),
        pa.field("num_frames", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("frames", pa.binary(), nullable=False),
    ]
)


@dataclass(frozen=True)
class SequenceRecord:
    """One gait sequence: who, in which condition, from which view, and its frames.

    ``frames`` is uint8 ``[T, H, W]`` in C order; records read from a dataset are read-only views.
    """

    subject: str
    type: str
    view: str
    frames: np.ndarray


@dataclass(frozen=True)
class SequenceKey:
    """Identity and length of one row, known without reading its frames."""

    subject: str
    type: str
    view: str
    num_frames: int


@dataclass(frozen=True)
class ShardInfo:
    """What ``write_shard`` wrote: for progress reports and size accounting."""

    path: Path
    num_sequences: int
    num_frames: int
    size_bytes: int


@dataclass(frozen=True)
class DatasetMetadata:
    """Dataset-level facts stored in ``_common_metadata``.

    ``fingerprint`` hashes the content (keys and frame bytes, in sorted key order), so it does not
    depend on sharding or row order; MLflow runs use it to tell whether two datasets are the same.
    """

    format_version: int
    name: str
    frame_height: int
    frame_width: int
    source: str
    num_sequences: int
    fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)


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


def shard_file_name(number: int) -> str:
    """Name of shard ``number`` (writers that split work across processes number their shards)."""
    return f"part-{number:05d}.parquet"


def list_shards(directory: Path) -> list[Path]:
    """Shard files of a dataset or staging directory, in row order."""
    return sorted(
        path for path in Path(directory).glob(SHARD_PATTERN) if not path.name.startswith((".", "_"))
    )


# ---------------------------------------------------------------------------------------------- writing


def _check_record(record: SequenceRecord, position: int, path: Path) -> None:
    where = f"{path}: record {position}"
    if not isinstance(record, SequenceRecord):
        raise DataError(f"{where}: expected a SequenceRecord, got {type(record).__name__}")
    for name in KEY_COLUMNS:
        value = getattr(record, name)
        # Keys become directory names when exporting to OpenGait's pickle tree.
        if not isinstance(value, str) or value in ("", ".", "..") or any(c in value for c in "/\\\0"):
            raise DataError(f"{where}: field '{name}' must be a non-empty path-safe string, got {value!r}")
    frames = record.frames
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise DataError(f"{where}: field 'frames' must be a uint8 array [T, H, W], got {got}")
    if min(frames.shape) == 0:
        raise DataError(f"{where}: field 'frames' is empty (shape {frames.shape})")


def _record_table(records: list[SequenceRecord]) -> pa.Table:
    return pa.table(
        {
            "subject": [r.subject for r in records],
            "type": [r.type for r in records],
            "view": [r.view for r in records],
            "num_frames": [r.frames.shape[0] for r in records],
            "height": [r.frames.shape[1] for r in records],
            "width": [r.frames.shape[2] for r in records],
            "frames": [np.ascontiguousarray(r.frames).tobytes() for r in records],
        },
        schema=SCHEMA,
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def write_shard(
    records: Iterable[SequenceRecord], path: Path, *, rows_per_group: int = DEFAULT_ROWS_PER_GROUP
) -> ShardInfo:
    """Write ``records`` as ONE shard file at ``path`` (zstd, small row groups), atomically.

    Memory stays bounded by one row group. Safe to call from several processes at once on
    different paths. All records of a shard must share one frame size; at least one is required.
    """
    path = Path(path)
    if rows_per_group < 1:
        raise DataError(f"rows_per_group must be >= 1, got {rows_per_group}")
    schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps({"format_version": FORMAT_VERSION})})
    temp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    num_sequences = num_frames = 0
    frame_size: tuple[int, int] | None = None
    try:
        with pq.ParquetWriter(
            temp,
            schema,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            use_dictionary=list(KEY_COLUMNS),
            write_statistics=list(INDEX_COLUMNS),
            write_page_checksum=True,
        ) as writer:
            for group in _chunks(records, rows_per_group):
                for offset, record in enumerate(group):
                    _check_record(record, num_sequences + offset, path)
                    size = record.frames.shape[1:]
                    if frame_size is None:
                        frame_size = size
                    elif size != frame_size:
                        raise DataError(
                            f"{path}: record {num_sequences + offset}: field 'frames' has frame size "
                            f"{size[0]}x{size[1]}, expected {frame_size[0]}x{frame_size[1]} like record 0"
                        )
                writer.write_table(_record_table(group), row_group_size=rows_per_group)
                num_sequences += len(group)
                num_frames += sum(r.frames.shape[0] for r in group)
        if num_sequences == 0:
            raise DataError(f"{path}: a shard needs at least one sequence, got none")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return ShardInfo(path, num_sequences, num_frames, path.stat().st_size)


def write_dataset(
    records: Iterable[SequenceRecord],
    out: Path,
    *,
    name: str,
    source: str,
    extra_metadata: dict[str, Any] | None = None,
    sequences_per_shard: int = DEFAULT_SEQUENCES_PER_SHARD,
    overwrite: bool = False,
) -> Path:
    """Write a whole dataset from one process: shards into a staging dir, then ``assemble_dataset``."""
    out = Path(out)
    if sequences_per_shard < 1:
        raise DataError(f"sequences_per_shard must be >= 1, got {sequences_per_shard}")
    check_destination(out, overwrite=overwrite)
    staging = make_staging_dir(out)
    try:
        for number, chunk in enumerate(_chunks(records, sequences_per_shard)):
            write_shard(chunk, staging / shard_file_name(number))
        return assemble_dataset(
            staging, out, name=name, source=source, extra_metadata=extra_metadata, overwrite=overwrite
        )
    except BaseException:
        discard_staging_dir(staging)
        raise


def assemble_dataset(
    shard_dir: Path,
    out: Path,
    *,
    name: str,
    source: str,
    extra_metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Turn a directory of shards written by ``write_shard`` into the dataset at ``out``.

    Validates every row (including frame lengths), computes the content fingerprint, writes
    ``_common_metadata`` and renames ``shard_dir`` to ``out`` (``shard_dir`` must be on the same
    filesystem, e.g. from ``landmarkgait.data.staging.make_staging_dir(out)``). On failure ``shard_dir`` is left
    as it was for the caller to discard; ``out`` is never half-written.
    """
    shard_dir, out = Path(shard_dir), Path(out)
    check_destination(out, overwrite=overwrite)
    for argument, value in (("name", name), ("source", source)):
        if not isinstance(value, str) or not value:
            raise DataError(f"{argument} must be a non-empty string, got {value!r}")
    shards = list_shards(shard_dir)
    if not shards:
        raise DataError(f"{shard_dir}: no shard files ({SHARD_PATTERN}) to assemble")
    extra = dict(extra_metadata or {})
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as error:
        raise DataError(f"extra_metadata must be JSON-serialisable: {error}") from error
    scans = [
        _scan_shard(path, read_frames=True) for path in tqdm(shards, desc="Checking shards", disable=None)
    ]
    first = scans[0]
    frame_height, frame_width = first.heights[0], first.widths[0]
    _check_across_shards(scans, frame_height, frame_width)
    metadata = DatasetMetadata(
        format_version=FORMAT_VERSION,
        name=name,
        frame_height=frame_height,
        frame_width=frame_width,
        source=source,
        num_sequences=sum(len(scan.keys) for scan in scans),
        fingerprint=_fingerprint(scans),
        extra=extra,
    )
    _write_metadata_file(shard_dir / METADATA_FILE, metadata)
    publish_directory(shard_dir, out, overwrite=overwrite)
    log.info("wrote dataset %s: %d sequences, %s", out, metadata.num_sequences, metadata.fingerprint)
    return out


def _write_metadata_file(path: Path, metadata: DatasetMetadata) -> None:
    pq.write_metadata(SCHEMA.with_metadata({METADATA_KEY: json.dumps(asdict(metadata))}), path)


# ---------------------------------------------------------------------------------------------- reading


_METADATA_FIELD_TYPES: dict[str, type] = {
    "format_version": int,
    "name": str,
    "frame_height": int,
    "frame_width": int,
    "source": str,
    "num_sequences": int,
    "fingerprint": str,
    "extra": dict,
}


def _check_format_version(value: Any, where: str) -> None:
    if value != FORMAT_VERSION or type(value) is not int:
        raise DataError(
            f"{where}: field 'format_version' is {value!r}; this version of landmarkgait reads "
            f"format version {FORMAT_VERSION}"
        )


def _landmarkgait_metadata(schema: pa.Schema, where: Path) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise DataError(
            f"{where}: Parquet schema metadata has no '{METADATA_KEY}' key (not a landmarkgait file)"
        )
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise DataError(f"{where}: '{METADATA_KEY}' schema metadata is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise DataError(f"{where}: '{METADATA_KEY}' schema metadata must be a JSON object")
    _check_format_version(value.get("format_version"), str(where))
    return value


def read_metadata(path: Path) -> DatasetMetadata:
    """Read and check the dataset-level metadata of the dataset directory ``path``."""
    path = Path(path)
    metadata_path = path / METADATA_FILE
    if not path.is_dir():
        raise DataError(f"{path}: not a dataset directory")
    if not metadata_path.is_file():
        raise DataError(f"{path}: not a landmarkgait dataset (missing {METADATA_FILE})")
    try:
        schema = pq.read_schema(metadata_path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{metadata_path}: unreadable Parquet metadata file: {error}") from error
    values = _landmarkgait_metadata(schema, metadata_path)
    for name, expected in _METADATA_FIELD_TYPES.items():
        value = values.get(name)
        if type(value) is not expected:
            raise DataError(f"{metadata_path}: field '{name}' must be a {expected.__name__}, got {value!r}")
    return DatasetMetadata(**{name: values[name] for name in _METADATA_FIELD_TYPES})


@dataclass
class _ShardScan:
    """Columns of one shard as read for validation; digests only when frames were read."""

    path: Path
    row_group_rows: tuple[int, ...]
    keys: list[tuple[str, str, str]]
    num_frames: list[int]
    heights: list[int]
    widths: list[int]
    frame_digests: list[str] | None


def open_parquet(path: Path) -> pq.ParquetFile:
    """A shard opened for reading that verifies the CRC-32 of every page it reads.

    Shards are written with page checksums, so a flipped byte in compressed frames becomes an
    error naming the shard instead of silently wrong silhouettes (zstd carries no checksum of its
    own here). Files written without checksums read as before.
    """
    return pq.ParquetFile(path, page_checksum_verification=True)


def _open_shard(path: Path) -> pq.ParquetFile:
    try:
        shard = open_parquet(path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: unreadable Parquet file: {error}") from error
    schema = shard.schema_arrow
    _landmarkgait_metadata(schema, path)
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


def _scan_shard(path: Path, *, read_frames: bool) -> _ShardScan:
    with _open_shard(path) as shard:
        return _scan_open_shard(shard, path, read_frames=read_frames)


def _scan_open_shard(shard: pq.ParquetFile, path: Path, *, read_frames: bool) -> _ShardScan:
    try:
        table = shard.read(columns=list(INDEX_COLUMNS), use_threads=False)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: cannot read columns {', '.join(INDEX_COLUMNS)}: {error}") from error
    for name in INDEX_COLUMNS:
        column = table.column(name)
        if column.null_count:
            raise DataError(f"{path}: row {_first_null(column)}: field '{name}' is null")
    columns = {name: table.column(name).to_pylist() for name in INDEX_COLUMNS}
    for name in ("num_frames", "height", "width"):
        for row, value in enumerate(columns[name]):
            if value <= 0:
                what = "empty sequence" if name == "num_frames" else "empty frames"
                raise DataError(f"{path}: row {row}: field '{name}' is {value} ({what})")
    row_group_rows = tuple(shard.metadata.row_group(i).num_rows for i in range(shard.num_row_groups))
    scan = _ShardScan(
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


def binary_values(array: pa.BinaryArray) -> list[pa.Buffer]:
    """The values of a binary array as zero-copy buffers (``Scalar.as_buffer`` would copy each)."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return [data.slice(int(start), int(end - start)) for start, end in pairwise(bounds)]


def _frame_digests(shard: pq.ParquetFile, scan: _ShardScan) -> list[str]:
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


def check_frame_bytes(size: int, num_frames: int, height: int, width: int, path: Path, row: int) -> None:
    """Raise unless a row's ``frames`` value holds exactly ``num_frames * height * width`` bytes."""
    expected = num_frames * height * width
    if size != expected:
        raise DataError(
            f"{path}: row {row}: field 'frames' holds {size} bytes, expected num_frames*height*width = "
            f"{num_frames}*{height}*{width} = {expected}"
        )


def _check_across_shards(scans: list[_ShardScan], frame_height: int, frame_width: int) -> None:
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


def _fingerprint(scans: list[_ShardScan]) -> str:
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


def _check_dataset(path: Path, *, read_frames: bool) -> tuple[DatasetMetadata, list[_ShardScan]]:
    metadata = read_metadata(path)
    shards = list_shards(path)
    if not shards:
        raise DataError(f"{path}: dataset has no shard files ({SHARD_PATTERN})")
    progress = tqdm(shards, desc="Validating shards", disable=None if read_frames else True)
    scans = [_scan_shard(shard, read_frames=read_frames) for shard in progress]
    _check_across_shards(scans, metadata.frame_height, metadata.frame_width)
    num_rows = sum(len(scan.keys) for scan in scans)
    if num_rows != metadata.num_sequences:
        raise DataError(
            f"{path / METADATA_FILE}: field 'num_sequences' is {metadata.num_sequences} but the shards "
            f"hold {num_rows} rows"
        )
    return metadata, scans


def read_index(path: Path) -> DatasetIndex:
    """Open a dataset's index with the checks that need no frame data.

    Checks metadata and format version, shard schemas (columns and types), nulls, empty sequences,
    frame size, duplicate keys and row count. Frame byte lengths are checked whenever a row is
    read, and for every row by ``validate_dataset``.
    """
    metadata, scans = _check_dataset(Path(path), read_frames=False)
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


def validate_dataset(path: Path) -> DatasetMetadata:
    """Check everything, reading all frames: the index checks, every frame length, the fingerprint."""
    path = Path(path)
    metadata, scans = _check_dataset(path, read_frames=True)
    fingerprint = _fingerprint(scans)
    if fingerprint != metadata.fingerprint:
        raise DataError(
            f"{path / METADATA_FILE}: field 'fingerprint' is {metadata.fingerprint} but the content hashes "
            f"to {fingerprint} (shards changed after the dataset was written)"
        )
    return metadata
