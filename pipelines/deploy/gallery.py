"""Reading an embeddings dataset: its keys at once, its embeddings in batches of bounded size.

Why: a gallery may hold 100,000 sequences or more, gigabytes of float32. ``identify`` needs each
embedding once, to compare it with a few probes, so it streams them (``GalleryIndex.batches``)
and its memory does not grow with the gallery; evaluation needs all of them at once
(``read_embeddings``), and fills one ``[N, C, P]`` array batch by batch instead of holding the
Parquet table beside a copy of it. Both read through the same checks, so a dataset that is not
what ``landmarkgait embed`` writes is refused in one line naming the file, row and field. An
embedding holding NaN or infinity is refused too, naming its sequence: distances to it are NaN,
and one such row made the open-set threshold NaN and every probe "unknown".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import check_regular_file
from landmarkgait.data.quoting import printable
from landmarkgait.pipelines.deploy.embedding import EMBEDDINGS_SCHEMA

_KEY_COLUMNS = ("subject", "type", "view", "run_id", "channels", "parts")
# Bytes of float32 embeddings decoded at a time when streaming (~1,400 rows of C = 128, P = 48).
BATCH_BYTES = 1 << 25
_READ_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class GalleryIndex:
    """An embeddings dataset's files and keys, checked; its embeddings stay on disk until asked for."""

    path: Path
    files: tuple[Path, ...]
    subjects: list[str]
    types: list[str]
    views: list[str]
    run_ids: frozenset[str]
    channels: int
    parts: int

    def __len__(self) -> int:
        return len(self.subjects)

    def sequence(self, row: int) -> str:
        """``subject/type/view`` of a row, printable (the keys come from a file)."""
        return printable(f"{self.subjects[row]}/{self.types[row]}/{self.views[row]}")

    def batches(self, max_bytes: int = BATCH_BYTES) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first row, float32 [rows, C, P])`` over the whole dataset in row order, at most
        ``max_bytes`` of embeddings each (at least one row)."""
        width = self.channels * self.parts
        rows_per_batch = max(1, max_bytes // (4 * width))
        first = 0
        for file in self.files:
            row_in_file = 0
            # Unbuffered, the reader pre-reads whole files (0.5 GB each in benchmarks/identify_scale.py).
            parquet = pq.ParquetFile(file, pre_buffer=False, buffer_size=_READ_BUFFER_BYTES)
            for batch in parquet.iter_batches(batch_size=rows_per_batch, columns=["embedding"]):
                column = batch.column(0)
                invalid = np.diff(column.offsets.to_numpy()) != width
                invalid |= column.is_null().to_numpy(zero_copy_only=False)
                if invalid.any():
                    raise DataError(
                        f"{file}: row {row_in_file + int(invalid.argmax())}: field 'embedding' must "
                        f"hold channels*parts = {width} floats"
                    )
                values = column.flatten().to_numpy(zero_copy_only=False)
                finite = np.isfinite(values).reshape(len(batch), width).all(axis=1)
                if not finite.all():
                    bad = int(finite.argmin())
                    raise DataError(
                        f"{file}: row {row_in_file + bad}: the embedding of sequence "
                        f"{self.sequence(first + bad)} holds NaN or infinite values"
                    )
                with warnings.catch_warnings():  # read-only Arrow memory; the tensor is only read
                    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                    yield first, torch.from_numpy(values).view(len(batch), self.channels, self.parts)
                first += len(batch)
                row_in_file += len(batch)


def scan_gallery(path: str | Path) -> GalleryIndex:
    """Read and check the keys of the embeddings dataset at ``path`` (a directory of Parquet files
    written by ``landmarkgait embed``, or one such file)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: embeddings dataset does not exist")
    files = tuple(sorted(path.glob("*.parquet"))) if path.is_dir() else (path,)
    if not files:
        raise DataError(
            f"{path}: not an embeddings dataset written by 'landmarkgait embed' (no Parquet files)"
        )
    keys: dict[str, list] = {name: [] for name in _KEY_COLUMNS}
    for file in files:
        check_regular_file(file, "embeddings file")  # a FIFO would block pyarrow
        try:
            _check_schema(file, pq.read_schema(file))
            table = pq.read_table(file, columns=list(_KEY_COLUMNS))
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(
                f"{file}: not an embeddings dataset written by 'landmarkgait embed' ({error})"
            ) from None
        for name in _KEY_COLUMNS:
            if table[name].null_count:
                raise DataError(
                    f"{file}: field {name!r} is empty (null) in some rows; re-run landmarkgait embed"
                )
            keys[name].extend(table[name].to_pylist())
    if not keys["subject"]:
        raise DataError(f"{path}: embeddings dataset holds no rows")
    shapes = set(zip(keys["channels"], keys["parts"], strict=True))
    if len(shapes) != 1:
        raise DataError(f"{path}: embeddings of several shapes {sorted(shapes)}; expected one network's")
    ((channels, parts),) = shapes
    return GalleryIndex(
        path=path,
        files=files,
        subjects=keys["subject"],
        types=keys["type"],
        views=keys["view"],
        run_ids=frozenset(keys["run_id"]),
        channels=channels,
        parts=parts,
    )


def _check_schema(file: Path, found: pa.Schema) -> None:
    """Every column ``embed`` writes, with its type (a list of doubles is another dataset)."""
    for expected in EMBEDDINGS_SCHEMA:
        index = found.get_field_index(expected.name)
        if index < 0:
            raise DataError(
                f"{file}: not an embeddings dataset written by 'landmarkgait embed' (no column {expected.name!r})"
            )
        if found.field(index).type != expected.type:
            raise DataError(
                f"{file}: field {expected.name!r} is {_type_name(found.field(index).type)}, "
                f"expected {_type_name(expected.type)}"
            )


def _type_name(type_: pa.DataType) -> str:
    """``list<float>`` rather than Arrow's ``list<item: float>`` (files name the item differently)."""
    return f"list<{type_.value_type}>" if pa.types.is_list(type_) else str(type_)


@dataclass(frozen=True)
class Embeddings:
    """An embeddings dataset in memory: its keys and ``[N, C, P]`` float32 vectors."""

    index: GalleryIndex
    vectors: np.ndarray

    @property
    def subjects(self) -> list[str]:
        return self.index.subjects

    @property
    def types(self) -> list[str]:
        return self.index.types

    @property
    def views(self) -> list[str]:
        return self.index.views

    @property
    def run_ids(self) -> frozenset[str]:
        return self.index.run_ids


def read_embeddings(path: str | Path) -> Embeddings:
    """The whole embeddings dataset at ``path`` in memory (one array, filled batch by batch)."""
    index = scan_gallery(path)
    vectors = np.empty((len(index), index.channels, index.parts), dtype=np.float32)
    for first, batch in index.batches():
        vectors[first : first + batch.shape[0]] = batch.numpy()
    return Embeddings(index, vectors)
