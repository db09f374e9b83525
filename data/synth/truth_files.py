"""The ground-truth folder of a synthetic dataset: Parquet shards beside the dataset, and its reader.

``<dataset>.ground_truth/`` lies next to ``<dataset>/``, never inside it, so writing ground truth
changes nothing about the dataset: not its shards or ``_common_metadata``, not its fingerprint
(``validation.content_fingerprint`` hashes the ``*.parquet`` files directly in the dataset folder),
not the size ``data summary`` reports (it counts every file below the folder). The folder holds
one shard per subject (one row per sequence: ``subject``, ``type``, ``view``, ``num_frames``,
``labels`` uint8 ``[T, 64, 64]`` bytes, ``joints`` float32 little-endian ``[T, J, 2]`` bytes) and
``_common_metadata``, whose schema metadata (JSON under ``METADATA_KEY``) names the parts, the
joints, the frame size and the fingerprint of the dataset it belongs to; the reader refuses it
for any other dataset. What the labels and joints mean is ``synth.labels``. This module must not
render or compare silhouettes; it writes atomically (``atomic``, ``staging``) and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from landmarkgait.data.atomic import atomic_path
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    COMPRESSION,
    COMPRESSION_LEVEL,
    KEY_COLUMNS,
    METADATA_FILE,
    SequenceRecord,
    binary_values,
    list_shards,
    open_parquet,
    read_metadata,
)
from landmarkgait.data.synth.labels import FOREGROUND_LEVEL, JOINT_NAMES, PART_NAMES, SequenceGroundTruth

GROUND_TRUTH_SUFFIX = ".ground_truth"
METADATA_KEY = "landmarkgait_ground_truth"
VERSION = 1
SCHEMA = pa.schema(
    [
        pa.field("subject", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("view", pa.string(), nullable=False),
        pa.field("num_frames", pa.int32(), nullable=False),
        pa.field("labels", pa.binary(), nullable=False),
        pa.field("joints", pa.binary(), nullable=False),
    ]
)


def ground_truth_path(dataset: Path) -> Path:
    """Where the ground truth of the dataset folder ``dataset`` lives: beside it (``.`` included)."""
    dataset = Path(os.path.abspath(dataset))
    return dataset.with_name(f"{dataset.name}{GROUND_TRUTH_SUFFIX}")


def write_truth_shard(items: Iterable[tuple[SequenceRecord, SequenceGroundTruth]], path: Path) -> int:
    """Write the ground truth of ``items`` as one shard at ``path``, atomically; returns the row count."""
    rows: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for record, truth in items:
        for name in KEY_COLUMNS:
            rows[name].append(getattr(record, name))
        rows["num_frames"].append(truth.labels.shape[0])
        rows["labels"].append(np.ascontiguousarray(truth.labels, dtype=np.uint8).tobytes())
        rows["joints"].append(np.ascontiguousarray(truth.joints, dtype="<f4").tobytes())
    with atomic_path(Path(path)) as temporary:
        # One sequence per row group, as the dataset's shards: reading one decodes only it.
        pq.write_table(
            pa.table(rows, schema=SCHEMA),
            temporary,
            row_group_size=1,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            write_page_checksum=True,
        )
    return len(rows["subject"])


def write_truth_metadata(folder: Path, dataset_fingerprint: str, frame_size: int) -> None:
    """Write ``_common_metadata`` into a finished (staging) ground-truth folder."""
    value = {
        "version": VERSION,
        "dataset_fingerprint": dataset_fingerprint,
        "frame_size": frame_size,
        "parts": list(PART_NAMES),
        "joint_names": list(JOINT_NAMES),
        "foreground_level": FOREGROUND_LEVEL,
    }
    pq.write_metadata(SCHEMA.with_metadata({METADATA_KEY: json.dumps(value)}), Path(folder) / METADATA_FILE)


@dataclass(frozen=True)
class _Row:
    shard: int
    row: int
    num_frames: int


class GroundTruth:
    """The ground truth of one dataset, opened for reading: ``truth.read(subject, type, view)``.

    Opening checks that the folder belongs to ``dataset`` (same fingerprint); reads check every
    row's byte lengths. Files are opened per read, so an instance pickles cheaply.
    """

    def __init__(self, dataset: Path | str, folder: Path | str | None = None) -> None:
        self.dataset = Path(dataset)
        self.path = Path(folder) if folder is not None else ground_truth_path(self.dataset)
        metadata_file = self.path / METADATA_FILE
        if not metadata_file.is_file():
            raise DataError(
                f"{self.path}: no ground truth (missing {METADATA_FILE}); write it with "
                f"`landmarkgait data synth-ground-truth {self.dataset}`"
            )
        self.metadata = _read_truth_metadata(metadata_file)
        fingerprint = read_metadata(self.dataset).fingerprint
        if self.metadata["dataset_fingerprint"] != fingerprint:
            raise DataError(
                f"{metadata_file}: field 'dataset_fingerprint' is {self.metadata['dataset_fingerprint']}, "
                f"but {self.dataset} has fingerprint {fingerprint} (ground truth of another dataset; "
                "rewrite it with `landmarkgait data synth-ground-truth DATASET --overwrite`)"
            )
        self.frame_size = int(self.metadata["frame_size"])
        self.joint_names: tuple[str, ...] = tuple(self.metadata["joint_names"])
        self._shards = list_shards(self.path)
        self._rows: dict[tuple[str, str, str], _Row] = {}
        for number, shard in enumerate(self._shards):
            table = pq.read_table(shard, columns=[*KEY_COLUMNS, "num_frames"])
            keys = zip(
                *(table.column(name).to_pylist() for name in (*KEY_COLUMNS, "num_frames")), strict=True
            )
            for row, (subject, type_, view, num_frames) in enumerate(keys):
                self._rows[(subject, type_, view)] = _Row(number, row, num_frames)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        return key in self._rows

    def read(self, subject: str, type_: str, view: str) -> SequenceGroundTruth:
        """The ground truth of one sequence: labels ``[T, S, S]`` and joints ``[T, J, 2]``."""
        where = self._rows.get((subject, type_, view))
        if where is None:
            raise DataError(f"{self.path}: no ground truth for sequence {subject}/{type_}/{view}")
        shard = self._shards[where.shard]
        try:
            table = open_parquet(shard).read_row_group(where.row, columns=["labels", "joints"])
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{shard}: row {where.row}: cannot read the ground truth: {error}") from error
        labels, joints = (binary_values(table.column(name).chunk(0))[0] for name in ("labels", "joints"))
        size, count = self.frame_size, len(self.joint_names)
        expected = {"labels": where.num_frames * size * size, "joints": where.num_frames * count * 2 * 4}
        for name, value in (("labels", labels), ("joints", joints)):
            if value.size != expected[name]:
                raise DataError(
                    f"{shard}: row {where.row}: field {name!r} holds {value.size} bytes, expected "
                    f"{expected[name]} for {where.num_frames} frames"
                )
        return SequenceGroundTruth(
            labels=np.frombuffer(labels, dtype=np.uint8).reshape(where.num_frames, size, size),
            joints=np.frombuffer(joints, dtype="<f4").reshape(where.num_frames, count, 2),
            joint_names=self.joint_names,
        )


def _read_truth_metadata(path: Path) -> dict[str, Any]:
    try:
        raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY.encode())
        value = json.loads(raw) if raw is not None else None
    except (OSError, pa.ArrowException, ValueError) as error:
        raise DataError(f"{path}: unreadable ground-truth metadata: {error}") from error
    if not isinstance(value, dict):
        raise DataError(f"{path}: schema metadata has no '{METADATA_KEY}' object (not a ground-truth folder)")
    if value.get("version") != VERSION:
        raise DataError(
            f"{path}: field 'version' is {value.get('version')!r}; this code reads version {VERSION}"
        )
    expected_types = {"dataset_fingerprint": str, "frame_size": int, "joint_names": list, "parts": list}
    for name, kind in expected_types.items():
        if not isinstance(value.get(name), kind):
            raise DataError(f"{path}: field {name!r} must be a {kind.__name__}, got {value.get(name)!r}")
    return value
