"""Videos -> a pretreated Parquet dataset: background subtraction, then exactly ``convert-frames``' pretreatment.

Why a module of its own: it joins the pieces (``sources`` says which videos, ``silhouettes``
extracts the masks, ``data.pretreatment`` crops and scales them as OpenGait does, the converters'
``write_chunk`` / ``finish_conversion`` write and assemble the shards) and fans the chunks out as
Ray tasks, one chunk of videos per task and shard. A video without a person is skipped and
reported (or fails the run with ``strict``); the dataset appears by one rename. It must not start
Ray: the caller runs it inside ``ray_session``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from landmarkgait.data.converters.conversion import (
    ChunkResult,
    ConversionReport,
    finish_conversion,
    write_chunk,
)
from landmarkgait.data.converters.pool import split
from landmarkgait.data.converters.tree import SkippedItem
from landmarkgait.data.format import DEFAULT_SEQUENCES_PER_SHARD, SequenceRecord, shard_file_name
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.staging import check_destination, staging_dir
from landmarkgait.data.video.settings import SubtractionSettings
from landmarkgait.data.video.silhouettes import VideoError, extract_silhouettes
from landmarkgait.data.video.sources import VideoItem
from landmarkgait.data.video.tasks import run_ray_tasks, task_limit


def video_sequence(item: VideoItem, settings: SubtractionSettings, img_size: int) -> SequenceRecord:
    """One video as a pretreated sequence; ``VideoError`` if no frame survives."""
    masks = extract_silhouettes(item.path, settings)
    pretreated = pretreat_sequence(list(masks.frames), img_size)
    if not len(pretreated.frames):
        raise VideoError(item.path, f"all {len(masks.frames)} person masks dropped by pretreatment")
    return SequenceRecord(item.subject, item.type, item.view, pretreated.frames)


def _convert_chunk(
    items: list[VideoItem], path: Path, settings: SubtractionSettings, img_size: int
) -> ChunkResult:
    import cv2

    cv2.setNumThreads(1)  # one task per core
    result = ChunkResult()

    def records() -> Iterator[SequenceRecord]:
        for item in items:
            try:
                yield video_sequence(item, settings, img_size)
            except VideoError as error:
                result.skipped.append(SkippedItem(str(item.path), error.reason))

    return write_chunk(records(), path, result)


def convert_videos(
    src: Path,
    items: list[VideoItem],
    out: Path,
    settings: SubtractionSettings,
    *,
    img_size: int = 64,
    name: str | None = None,
    workers: int | None = None,
    sequences_per_shard: int = DEFAULT_SEQUENCES_PER_SHARD,
    overwrite: bool = False,
    strict: bool = False,
) -> ConversionReport:
    """Convert the videos ``items`` (resolved from ``src``) into the dataset ``out``, as Ray tasks.

    At most ``workers`` tasks run at once (default: one per CPU of the Ray session).
    """
    src, out = Path(src), Path(out)
    check_destination(out, overwrite=overwrite, source=src)
    pretreat_sequence([], img_size)  # check img_size before any task starts
    limit = task_limit(workers)
    with staging_dir(out) as staging:
        chunks = split(items, limit, sequences_per_shard)
        results = run_ray_tasks(
            _convert_chunk,
            [(chunk, staging / shard_file_name(n), settings, img_size) for n, chunk in enumerate(chunks)],
            sizes=[len(chunk) for chunk in chunks],
            limit=limit,
            desc=f"Converting {src.name}",
            unit="video",
        )
        extra = {
            "command": "convert-video",
            "img_size": img_size,
            "method": settings.method,
            "history": settings.history,
            "min_area": settings.min_area,
            "frame_step": settings.frame_step,
        }
        return finish_conversion(
            src,
            out,
            staging,
            results,
            [],
            extra=extra,
            name=name,
            source=f"videos:{src.resolve()}",
            overwrite=overwrite,
            strict=strict,
        )
