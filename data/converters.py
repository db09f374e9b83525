"""Conversions between the Parquet format and OpenGait's trees, run over several processes.

- ``convert_pkl_tree``: OpenGait pickle tree ``SRC/<subject>/<type>/<view>/*.pkl`` -> dataset;
- ``convert_frame_tree``: raw frames ``SRC/<subject>/<type>/<view>/*.png`` -> pretreated dataset;
- ``export_pkl_tree``: dataset -> OpenGait pickle tree ``DST/<subject>/<type>/<view>/<view>.pkl``.

Work is split into shard-sized chunks handled by a process pool with a progress bar. Items that
cannot be converted are skipped and reported with the reason (or fail the run with ``strict``).
Outputs are staged beside the destination and published by one rename: an interrupted run leaves
no partial output at the destination. Workers are spawned processes, so a script calling these
functions needs the usual ``if __name__ == "__main__":`` guard. This module must not define the format (``landmarkgait.data.format``),
the pretreatment (``landmarkgait.data.pretreatment``) or how pickles are read (``landmarkgait.data.pickle_io``).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import (
    DEFAULT_SEQUENCES_PER_SHARD,
    SequenceRecord,
    assemble_dataset,
    shard_file_name,
    write_shard,
)
from landmarkgait.data.pickle_io import load_array_pickle, save_array_pickle
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.staging import (
    check_destination,
    discard_staging_dir,
    make_staging_dir,
    publish_directory,
)

log = logging.getLogger(__name__)

DEFAULT_WORKERS = max(2, os.cpu_count() or 2)
# OpenGait's pretreatment ignores precomputed gait energy images stored beside the frames.
_IGNORED_NAME_PART = "gei.png"
_EXPORT_CHUNK = 64


@dataclass(frozen=True)
class SkippedItem:
    """An input sequence that was not converted, and why."""

    location: str
    reason: str


@dataclass(frozen=True)
class ConversionReport:
    """Outcome of a conversion into a dataset."""

    out: Path
    num_sequences: int
    num_frames: int
    size_bytes: int
    skipped: tuple[SkippedItem, ...]
    dropped_frames: int = 0  # frames removed by pretreatment from converted sequences


@dataclass(frozen=True)
class ExportReport:
    """Outcome of an export to a pickle tree."""

    out: Path
    num_files: int
    size_bytes: int


@dataclass(frozen=True)
class _TreeItem:
    """One ``<subject>/<type>/<view>`` directory and its input files in name order."""

    subject: str
    type: str
    view: str
    directory: Path
    files: tuple[Path, ...]


@dataclass
class _ChunkResult:
    num_sequences: int = 0
    num_frames: int = 0
    size_bytes: int = 0
    dropped_frames: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)


def _subdirectories(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


def _scan_tree(src: Path, suffix: str) -> tuple[list[_TreeItem], list[SkippedItem]]:
    """Find ``src/<subject>/<type>/<view>/*<suffix>``; sequences in (subject, type, view) order."""
    if not src.is_dir():
        raise DataError(f"{src}: source directory does not exist")
    items, skipped = [], []
    for subject in _subdirectories(src):
        for type_dir in _subdirectories(subject):
            for view in _subdirectories(type_dir):
                found = (
                    p
                    for p in view.glob(f"*{suffix}")
                    if not p.name.startswith(".") and _IGNORED_NAME_PART not in p.name
                )
                files = tuple(sorted(found, key=lambda p: p.name))
                if files:
                    items.append(_TreeItem(subject.name, type_dir.name, view.name, view, files))
                else:
                    skipped.append(SkippedItem(str(view), f"no *{suffix} files"))
    if not items:
        raise DataError(f"{src}: no <subject>/<type>/<view>/*{suffix} files found")
    return items, skipped


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them and cleans up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_pool(
    function: Callable[[Any], _ChunkResult],
    tasks: Sequence[tuple[Any, ...]],
    sizes: Sequence[int],
    workers: int,
    desc: str,
) -> list[_ChunkResult]:
    """Run ``function`` over ``tasks`` in ``workers`` processes; progress counts ``sizes`` per task."""
    context = multiprocessing.get_context("spawn")
    results = []
    pool = context.Pool(min(workers, len(tasks)), initializer=_ignore_sigint)
    try:
        with tqdm(total=sum(sizes), desc=desc, unit="seq") as progress:
            for number, result in pool.imap_unordered(
                _numbered, [(function, n, t) for n, t in enumerate(tasks)]
            ):
                results.append(result)
                progress.update(sizes[number])
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


def _numbered(job: tuple[Callable[[Any], _ChunkResult], int, Any]) -> tuple[int, _ChunkResult]:
    function, number, task = job
    return number, function(task)


def _split(items: Sequence[Any], workers: int, max_per_chunk: int) -> list[list[Any]]:
    """Consecutive chunks of at most ``max_per_chunk``; small inputs are still spread over all workers."""
    for name, value in (("workers", workers), ("sequences_per_shard", max_per_chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"{name} must be an integer >= 1, got {value!r}")
    size = max(1, min(max_per_chunk, math.ceil(len(items) / workers)))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _write_chunk(records: Iterator[SequenceRecord], path: Path, result: _ChunkResult) -> _ChunkResult:
    first = next(records, None)
    if first is not None:  # a chunk whose items were all skipped writes no shard
        info = write_shard(chain([first], records), path)
        result.num_sequences = info.num_sequences
        result.num_frames = info.num_frames
        result.size_bytes = info.size_bytes
    return result


def _convert(
    src: Path,
    out: Path,
    items: list[_TreeItem],
    skipped: list[SkippedItem],
    *,
    chunk_function: Callable[[Any], _ChunkResult],
    task_options: tuple[Any, ...],
    name: str | None,
    source: str,
    extra: dict[str, Any],
    workers: int,
    sequences_per_shard: int,
    overwrite: bool,
    strict: bool,
) -> ConversionReport:
    staging = make_staging_dir(out)
    try:
        chunks = _split(items, workers, sequences_per_shard)
        tasks = [(chunk, staging / shard_file_name(n), *task_options) for n, chunk in enumerate(chunks)]
        results = _run_pool(
            chunk_function, tasks, [len(c) for c in chunks], workers, f"Converting {src.name}"
        )
        skipped += [item for result in results for item in result.skipped]
        skipped.sort(key=lambda item: item.location)
        for item in skipped:
            log.warning("skipped %s: %s", item.location, item.reason)
        if strict and skipped:
            raise DataError(
                f"{src}: {len(skipped)} sequences could not be converted (strict mode), first: "
                f"{skipped[0].location}: {skipped[0].reason}"
            )
        if not any(result.num_sequences for result in results):
            raise DataError(f"{src}: no sequence could be converted (first reason: {skipped[0].reason})")
        dropped = sum(result.dropped_frames for result in results)
        extra = {**extra, "skipped_sequences": len(skipped), "dropped_frames": dropped}
        assemble_dataset(
            staging,
            out,
            name=name or out.name,
            source=source,
            extra_metadata={"conversion": extra},
            overwrite=overwrite,
        )
    except BaseException:
        discard_staging_dir(staging)
        raise
    return ConversionReport(
        out=out,
        num_sequences=sum(result.num_sequences for result in results),
        num_frames=sum(result.num_frames for result in results),
        size_bytes=sum(result.size_bytes for result in results),
        skipped=tuple(skipped),
        dropped_frames=dropped,
    )


# ----------------------------------------------------------------------------------------- pickle trees


def _first_frame_size(items: list[_TreeItem]) -> tuple[int, int] | None:
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


def _load_pkl_item(item: _TreeItem, frame_size: tuple[int, int] | None) -> SequenceRecord:
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


def _pkl_chunk(task: tuple[list[_TreeItem], Path, tuple[int, int] | None]) -> _ChunkResult:
    items, path, frame_size = task
    result = _ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                yield _load_pkl_item(item, frame_size)
            except DataError as error:
                result.skipped.append(SkippedItem(str(item.directory), str(error)))

    return _write_chunk(records(), path, result)


def convert_pkl_tree(
    src: Path,
    out: Path,
    *,
    name: str | None = None,
    workers: int = DEFAULT_WORKERS,
    sequences_per_shard: int = DEFAULT_SEQUENCES_PER_SHARD,
    overwrite: bool = False,
    strict: bool = False,
) -> ConversionReport:
    """Convert an OpenGait pickle tree to a dataset; arrays are stored bit for bit.

    Every pickle goes through the restricted unpickler: foreign or malicious pickles are skipped
    (reported with the file's name), as are non-uint8 arrays and sequences whose frame size
    differs from the first sequence's.
    """
    src, out = Path(src), Path(out)
    check_destination(out, overwrite=overwrite)
    items, skipped = _scan_tree(src, ".pkl")
    return _convert(
        src,
        out,
        items,
        skipped,
        chunk_function=_pkl_chunk,
        task_options=(_first_frame_size(items),),
        name=name,
        source=f"opengait-pkl:{src.resolve()}",
        extra={"command": "convert-pkl"},
        workers=workers,
        sequences_per_shard=sequences_per_shard,
        overwrite=overwrite,
        strict=strict,
    )


# ------------------------------------------------------------------------------------------ frame trees


def read_grayscale(path: Path) -> np.ndarray:
    """Decode an image file as OpenGait does (``cv2.IMREAD_GRAYSCALE``)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"{path}: cannot decode image")
    return image


def _frames_chunk(task: tuple[list[_TreeItem], Path, int]) -> _ChunkResult:
    items, path, img_size = task
    result = _ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                pretreated = pretreat_sequence([read_grayscale(f) for f in item.files], img_size)
            except DataError as error:
                result.skipped.append(SkippedItem(str(item.directory), str(error)))
                continue
            if not len(pretreated.frames):
                reason = f"all {len(item.files)} frames dropped by pretreatment (blank, or no centre column)"
                result.skipped.append(SkippedItem(str(item.directory), reason))
                continue
            result.dropped_frames += pretreated.dropped
            yield SequenceRecord(item.subject, item.type, item.view, pretreated.frames)

    return _write_chunk(records(), path, result)


def convert_frame_tree(
    src: Path,
    out: Path,
    *,
    img_size: int = 64,
    name: str | None = None,
    workers: int = DEFAULT_WORKERS,
    sequences_per_shard: int = DEFAULT_SEQUENCES_PER_SHARD,
    overwrite: bool = False,
    strict: bool = False,
) -> ConversionReport:
    """Pretreat a CASIA-B-layout PNG tree (frames in name order) into a dataset.

    Pixels equal OpenGait's ``datasets/pretreatment.py`` output; blank frames are dropped and
    counted; sequences with no usable frame or an undecodable image are skipped and reported.
    """
    src, out = Path(src), Path(out)
    pretreat_sequence([], img_size)  # check img_size before starting workers
    check_destination(out, overwrite=overwrite)
    items, skipped = _scan_tree(src, ".png")
    return _convert(
        src,
        out,
        items,
        skipped,
        chunk_function=_frames_chunk,
        task_options=(img_size,),
        name=name,
        source=f"frames:{src.resolve()}",
        extra={"command": "convert-frames", "img_size": img_size},
        workers=workers,
        sequences_per_shard=sequences_per_shard,
        overwrite=overwrite,
        strict=strict,
    )


# ------------------------------------------------------------------------------------------------ export


def _export_chunk(task: tuple[SilhouetteDataset, list[int], Path]) -> _ChunkResult:
    dataset, indices, root = task
    result = _ChunkResult()
    for record in dataset.read_many(indices):
        directory = root / record.subject / record.type / record.view
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{record.view}.pkl"
        save_array_pickle(record.frames, target)
        result.num_sequences += 1
        result.num_frames += record.frames.shape[0]
        result.size_bytes += target.stat().st_size
    return result


def export_pkl_tree(
    src: Path, out: Path, *, workers: int = DEFAULT_WORKERS, overwrite: bool = False
) -> ExportReport:
    """Write a dataset back as an OpenGait pickle tree, one ``<view>.pkl`` per sequence.

    The file name follows OpenGait's pretreatment; arrays are bit-identical to the stored frames.
    """
    out = Path(out)
    check_destination(out, overwrite=overwrite)
    dataset = SilhouetteDataset(src)
    staging = make_staging_dir(out)
    try:
        chunks = _split(range(len(dataset)), workers, _EXPORT_CHUNK)
        tasks = [(dataset, chunk, staging) for chunk in chunks]
        results = _run_pool(
            _export_chunk, tasks, [len(c) for c in chunks], workers, f"Exporting {dataset.path.name}"
        )
        publish_directory(staging, out, overwrite=overwrite)
    except BaseException:
        discard_staging_dir(staging)
        raise
    return ExportReport(
        out=out,
        num_files=sum(result.num_sequences for result in results),
        size_bytes=sum(result.size_bytes for result in results),
    )
