"""Converting the sequences of a tree into one dataset: chunks become shards in workers, then assembly.

``convert_tree`` is the path every input format shares; an ``InputFormat`` says what differs (which
files, which worker reads them, what the metadata records). It reports skipped items, enforces
``strict`` and records the conversion in the dataset's metadata. It must not read input files itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, TypedDict

from landmarkgait.data.converters.pool import DEFAULT_WORKERS, run_pool, split
from landmarkgait.data.converters.tree import SkippedItem, TreeItem, scan_tree
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import DEFAULT_SEQUENCES_PER_SHARD, SequenceRecord, ShardInfo, shard_file_name
from landmarkgait.data.partition import Partition, load_partition, partition_metadata
from landmarkgait.data.staging import check_destination, staging_dir
from landmarkgait.data.writer import assemble_dataset, write_shard

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What one worker made of its chunk: its shard (None if every item was skipped) and the rest."""

    shard: ShardInfo | None = None
    dropped_frames: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)


@dataclass(frozen=True)
class ConversionReport:
    """Outcome of a conversion into a dataset."""

    out: Path
    num_sequences: int
    num_frames: int
    size_bytes: int
    skipped: tuple[SkippedItem, ...]
    dropped_frames: int = 0  # frames removed by pretreatment from converted sequences


class ConversionKeywords(TypedDict, total=False):
    """The keyword arguments every ``convert_*_tree`` function passes on to ``convert_tree``."""

    name: str | None
    workers: int
    sequences_per_shard: int
    overwrite: bool
    strict: bool
    partition: Path | None


@dataclass(frozen=True)
class InputFormat:
    """What one kind of input tree brings to ``convert_tree``."""

    suffix: str  # of the input files, e.g. ".pkl"
    # Runs in a spawned worker on ``(items, shard path, *worker_arguments)``: a module-level function.
    chunk_function: Callable[[Any], ChunkResult]
    worker_arguments: Callable[[list[TreeItem]], tuple[Any, ...]]  # computed once, from all items
    source_kind: str  # the metadata's ``source`` is ``<source_kind>:<absolute source path>``
    extra: dict[str, Any]  # recorded under ``extra["conversion"]``, with the skip and drop counts


def write_chunk(records: Iterator[SequenceRecord], path: Path, result: ChunkResult) -> ChunkResult:
    """Write ``records`` as the shard at ``path`` unless there are none; ``result`` notes the shard."""
    first = next(records, None)
    if first is not None:  # a chunk whose items were all skipped writes no shard
        result.shard = write_shard(chain([first], records), path)
    return result


def convert_tree(
    src: Path,
    out: Path,
    input_format: InputFormat,
    *,
    name: str | None = None,
    workers: int = DEFAULT_WORKERS,
    sequences_per_shard: int = DEFAULT_SEQUENCES_PER_SHARD,
    overwrite: bool = False,
    strict: bool = False,
    partition: Path | None = None,
) -> ConversionReport:
    """Convert ``src/<subject>/<type>/<view>/*<suffix>`` into the dataset ``out`` with a process pool.

    ``name`` defaults to the name of ``out``; items that cannot be converted are skipped and
    reported, or fail the run with ``strict``. ``partition``: an OpenGait partition JSON file
    (Gait3D's with its PROBE_SET, GREW's, ...) the dataset records as its own split.
    """
    src, out = Path(src), Path(out)
    check_destination(out, overwrite=overwrite, source=src)
    recorded = load_partition(partition) if partition is not None else None  # before any work
    items, skipped = scan_tree(src, input_format.suffix)
    worker_arguments = input_format.worker_arguments(items)
    with staging_dir(out) as staging:
        chunks = split(items, workers, sequences_per_shard)
        tasks = [(chunk, staging / shard_file_name(n), *worker_arguments) for n, chunk in enumerate(chunks)]
        results = run_pool(
            input_format.chunk_function,
            tasks,
            [len(c) for c in chunks],
            workers,
            f"Converting {src.name}",
        )
        return finish_conversion(
            src,
            out,
            staging,
            results,
            skipped,
            extra=input_format.extra,
            name=name,
            source=f"{input_format.source_kind}:{src.resolve()}",
            overwrite=overwrite,
            strict=strict,
            partition=recorded,
        )


def finish_conversion(
    src: Path,
    out: Path,
    staging: Path,
    results: list[ChunkResult],
    skipped: list[SkippedItem],
    *,
    extra: dict[str, Any],
    name: str | None,
    source: str,
    overwrite: bool,
    strict: bool,
    partition: Partition | None = None,
) -> ConversionReport:
    """Report the skipped items, enforce ``strict`` and assemble the chunks' shards in ``staging`` as ``out``.

    The common end of every converter, whatever ran its chunks (a process pool or Ray tasks).
    A ``partition`` is stored in the metadata, where ``resolve_partition`` finds it.
    """
    skipped = sorted(
        [*skipped, *(item for result in results for item in result.skipped)], key=lambda item: item.location
    )
    for item in skipped:
        log.warning("skipped %s: %s", item.location, item.reason)
    if strict and skipped:
        raise DataError(
            f"{src}: {len(skipped)} sequences could not be converted (strict mode), first: "
            f"{skipped[0].location}: {skipped[0].reason}"
        )
    shards = [result.shard for result in results if result.shard is not None]
    if not shards:
        raise DataError(f"{src}: no sequence could be converted (first reason: {skipped[0].reason})")
    dropped = sum(result.dropped_frames for result in results)
    assemble_dataset(
        staging,
        out,
        name=name or out.name,
        source=source,
        extra_metadata={"conversion": {**extra, "skipped_sequences": len(skipped), "dropped_frames": dropped}}
        | ({"partition": partition_metadata(partition)} if partition is not None else {}),
        overwrite=overwrite,
    )
    return ConversionReport(
        out=out,
        num_sequences=sum(shard.num_sequences for shard in shards),
        num_frames=sum(shard.num_frames for shard in shards),
        size_bytes=sum(shard.size_bytes for shard in shards),
        skipped=tuple(skipped),
        dropped_frames=dropped,
    )
