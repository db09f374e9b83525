"""The Parquet silhouette dataset format, version 1: schema, records, shard names and metadata.

A dataset is a directory of shard files (``part-00000.parquet`` ...) with one row per gait
sequence, plus ``_common_metadata``: a row-less Parquet file whose schema carries the
dataset-level metadata as JSON under the key ``landmarkgait``. ``data/README.md`` is the
specification and this module its code: the constants, the row schema, the per-row invariants and
how metadata is read. Writing is ``landmarkgait.data.writer``, checking whole datasets
``landmarkgait.data.validation``, locating rows ``landmarkgait.data.index``. It must not know about
sampling, training or where sequences come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import MAX_JSON_BYTES, check_json_depth, check_regular_file

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


def shard_file_name(number: int) -> str:
    """Name of shard ``number`` (writers that split work across processes number their shards)."""
    return f"part-{number:05d}.parquet"


def list_shards(directory: Path) -> list[Path]:
    """Shard files of a dataset or staging directory, in row order."""
    return sorted(
        path for path in Path(directory).glob(SHARD_PATTERN) if not path.name.startswith((".", "_"))
    )


def open_parquet(path: Path) -> pq.ParquetFile:
    """A shard opened for reading that verifies the CRC-32 of every page it reads.

    Shards are written with page checksums, so a flipped byte in compressed frames becomes an
    error naming the shard instead of silently wrong silhouettes (zstd carries no checksum of its
    own here). Files written without checksums read as before. A FIFO or device named like a shard
    is refused before pyarrow opens it (``input_files``).
    """
    check_regular_file(path, "Parquet shard")
    return pq.ParquetFile(path, page_checksum_verification=True)


def binary_values(array: pa.BinaryArray) -> list[pa.Buffer]:
    """The values of a binary array as zero-copy buffers (``Scalar.as_buffer`` would copy each)."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return [data.slice(int(start), int(end - start)) for start, end in pairwise(bounds)]


def check_frame_bytes(size: int, num_frames: int, height: int, width: int, path: Path, row: int) -> None:
    """Raise unless a row's ``frames`` value holds exactly ``num_frames * height * width`` bytes."""
    expected = num_frames * height * width
    if size != expected:
        raise DataError(
            f"{path}: row {row}: field 'frames' holds {size} bytes, expected num_frames*height*width = "
            f"{num_frames}*{height}*{width} = {expected}"
        )


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


def schema_with_metadata(value: dict[str, Any]) -> pa.Schema:
    """The row schema carrying ``value`` as JSON under ``METADATA_KEY`` (shards and ``_common_metadata``)."""
    return SCHEMA.with_metadata({METADATA_KEY: json.dumps(value)})


def landmarkgait_metadata(schema: pa.Schema, where: Path) -> dict[str, Any]:
    """The JSON object under ``METADATA_KEY`` in a shard's or ``_common_metadata``'s schema, checked."""
    raw = (schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise DataError(
            f"{where}: Parquet schema metadata has no '{METADATA_KEY}' key (not a landmarkgait file)"
        )
    try:
        check_json_depth(raw.decode("utf-8", errors="replace"), f"{where}: '{METADATA_KEY}' schema metadata")
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
    check_regular_file(metadata_path, "dataset metadata", MAX_JSON_BYTES)
    try:
        schema = pq.read_schema(metadata_path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{metadata_path}: unreadable Parquet metadata file: {error}") from error
    values = landmarkgait_metadata(schema, metadata_path)
    for name, expected in _METADATA_FIELD_TYPES.items():
        value = values.get(name)
        if type(value) is not expected:
            raise DataError(f"{metadata_path}: field '{name}' must be a {expected.__name__}, got {value!r}")
    return DatasetMetadata(**{name: values[name] for name in _METADATA_FIELD_TYPES})
