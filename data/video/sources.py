"""Which videos ``convert-video`` converts, and under which key: a file, a tree or a CSV manifest.

Why a module of its own: the three ways of naming videos all end as the same checked list of
``(subject, type, view, path)`` items, and every key comes from untrusted input (folder names,
manifest cells, options), so each is checked with ``keys.key_problem`` here, before it can
name anything, and each must be a regular file (``stat`` only). It must not open the videos.

- a video file: one item, keyed by ``--subject`` (default: the file's stem), ``--type`` and
  ``--view``;
- a folder: ``SRC/<subject>/<type>/<view>.<ext>``, as ``data synth-videos`` writes them;
- a ``.csv`` file with the header ``subject,type,view,path``: paths relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import MAX_MANIFEST_BYTES, check_regular_file, read_regular_text
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
MANIFEST_FIELDS = ("subject", "type", "view", "path")
DEFAULT_TYPE, DEFAULT_VIEW = "nm-01", "000"


@dataclass(frozen=True)
class VideoItem:
    """One video and the dataset key its sequence gets."""

    subject: str
    type: str
    view: str
    path: Path

    @property
    def key(self) -> tuple[str, str, str]:
        return self.subject, self.type, self.view


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def resolve_videos(
    src: Path, *, subject: str | None = None, type_: str = DEFAULT_TYPE, view: str = DEFAULT_VIEW
) -> list[VideoItem]:
    """The videos ``src`` names, in key order; raise ``DataError`` naming the file and field if bad."""
    src = Path(src)
    if src.is_dir():
        items = _tree(src)
    elif src.is_file() and src.suffix.lower() == ".csv":
        items = _manifest(src)
    elif src.is_file() and is_video(src):
        items = [_checked(VideoItem(subject or src.stem, type_, view, src), f"{src}")]
    elif src.exists():
        raise DataError(
            f"{src}: expected a video ({', '.join(VIDEO_SUFFIXES)}), a folder SRC/<subject>/<type>/<view>.<ext> "
            f"or a CSV manifest ({','.join(MANIFEST_FIELDS)})"
        )
    else:
        raise DataError(f"{src}: no such video, folder or manifest")
    duplicates = _first_duplicate(items)
    if duplicates is not None:
        first, second = duplicates
        raise DataError(f"{second.path}: key {'/'.join(second.key)} is already taken by {first.path}")
    return sorted(items, key=lambda item: item.key)


def _checked(item: VideoItem, where: str) -> VideoItem:
    for field in ("subject", "type", "view"):
        problem = key_problem(getattr(item, field))
        if problem is not None:
            raise DataError(f"{where}: {field} {quote_value(getattr(item, field))}: {problem}")
    if item.path.exists():  # a missing video is skipped and reported by the conversion
        check_regular_file(item.path, "video")  # a FIFO or device is refused before any task starts
    return item


def _tree(src: Path) -> list[VideoItem]:
    items = []
    for subject in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for type_dir in sorted(p for p in subject.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for video in sorted(p for p in type_dir.iterdir() if p.is_file() and is_video(p)):
                items.append(_checked(VideoItem(subject.name, type_dir.name, video.stem, video), str(video)))
    if not items:
        raise DataError(
            f"{src}: no <subject>/<type>/<view>.{{{','.join(s[1:] for s in VIDEO_SUFFIXES)}}} videos found"
        )
    return items


def _manifest(path: Path) -> list[VideoItem]:
    text = read_regular_text(path, "CSV manifest", MAX_MANIFEST_BYTES)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or not set(MANIFEST_FIELDS) <= set(reader.fieldnames):
            raise DataError(
                f"{path}: header {quote_value(reader.fieldnames or [])} lacks the columns {','.join(MANIFEST_FIELDS)}"
            )
        rows = list(reader)
    except csv.Error as error:
        raise DataError(f"{path}: cannot read the manifest ({error})") from None
    if not rows:
        raise DataError(f"{path}: the manifest lists no videos")
    items = []
    for line, row in enumerate(rows, start=2):
        where = f"{path} line {line}"
        if any(row.get(field) is None for field in MANIFEST_FIELDS):
            raise DataError(f"{where}: expected {len(MANIFEST_FIELDS)} cells ({','.join(MANIFEST_FIELDS)})")
        video = path.parent / row["path"]
        if not is_video(video):
            raise DataError(f"{where}: path {row['path']!r} is not a video ({', '.join(VIDEO_SUFFIXES)})")
        items.append(_checked(VideoItem(row["subject"], row["type"], row["view"], video), where))
    return items


def _first_duplicate(items: list[VideoItem]) -> tuple[VideoItem, VideoItem] | None:
    seen: dict[tuple[str, str, str], VideoItem] = {}
    for item in items:
        if item.key in seen:
            return seen[item.key], item
        seen[item.key] = item
    return None
