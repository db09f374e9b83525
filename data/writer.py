"""Writing datasets in the Parquet silhouette format: shards, then one atomic publication.

``write_shard`` writes one shard file and may run in many processes at once (converter workers,
Ray tasks); ``assemble_dataset`` validates a directory of shards, fingerprints it, writes
``_common_metadata`` and publishes the directory; ``write_dataset`` does both from one process.
It must not decide what the format is (``landmarkgait.data.format``) or read datasets back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from landmarkgait.data.atomic import atomic_path
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    COMPRESSION,
    COMPRESSION_LEVEL,
    DEFAULT_ROWS_PER_GROUP,
    DEFAULT_SEQUENCES_PER_SHARD,
    FORMAT_VERSION,
    INDEX_COLUMNS,
    KEY_COLUMNS,
    METADATA_FILE,
    SCHEMA,
    SHARD_PATTERN,
    DatasetMetadata,
    SequenceRecord,
    ShardInfo,
    list_shards,
    schema_with_metadata,
    shard_file_name,
)
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir
from landmarkgait.data.validation import check_across_shards, content_fingerprint, scan_shard

log = logging.getLogger(__name__)


def _check_record(record: SequenceRecord, position: int, path: Path) -> None:
    where = f"{path}: record {position}"
    if not isinstance(record, SequenceRecord):
        raise DataError(f"{where}: expected a SequenceRecord, got {type(record).__name__}")
    for name in KEY_COLUMNS:
        value = getattr(record, name)
        problem = key_problem(value)
        if problem:
            raise DataError(f"{where}: field '{name}' is {quote_value(value)}: {problem}")
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
    num_sequences = num_frames = 0
    frame_size: tuple[int, int] | None = None
    with atomic_path(path) as temporary:
        with pq.ParquetWriter(
            temporary,
            schema_with_metadata({"format_version": FORMAT_VERSION}),
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
    with staging_dir(out) as staging:
        for number, chunk in enumerate(_chunks(records, sequences_per_shard)):
            write_shard(chunk, staging / shard_file_name(number))
        return assemble_dataset(
            staging, out, name=name, source=source, extra_metadata=extra_metadata, overwrite=overwrite
        )


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
    filesystem, e.g. from ``landmarkgait.data.staging.staging_dir(out)``). On failure ``shard_dir`` is
    left as it was for the caller to discard; ``out`` is never half-written.
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
        scan_shard(path, read_frames=True) for path in tqdm(shards, desc="Checking shards", disable=None)
    ]
    first = scans[0]
    frame_height, frame_width = first.heights[0], first.widths[0]
    check_across_shards(scans, frame_height, frame_width)
    metadata = DatasetMetadata(
        format_version=FORMAT_VERSION,
        name=name,
        frame_height=frame_height,
        frame_width=frame_width,
        source=source,
        num_sequences=sum(len(scan.keys) for scan in scans),
        fingerprint=content_fingerprint(scans),
        extra=extra,
    )
    _write_metadata_file(shard_dir / METADATA_FILE, metadata)
    publish_directory(shard_dir, out, overwrite=overwrite)
    log.info("wrote dataset %s: %d sequences, %s", out, metadata.num_sequences, metadata.fingerprint)
    return out


def _write_metadata_file(path: Path, metadata: DatasetMetadata) -> None:
    pq.write_metadata(schema_with_metadata(asdict(metadata)), path)
