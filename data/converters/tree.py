"""The input layout of the converters: ``SRC/<subject>/<type>/<view>/<files>``, as OpenGait stores it.

Finds the sequences of a tree and the directories that hold none, in (subject, type, view) order.
It must not open the files it lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from landmarkgait.data.errors import DataError

# OpenGait's pretreatment ignores precomputed gait energy images stored beside the frames.
_IGNORED_NAME_PART = "gei.png"


@dataclass(frozen=True)
class SkippedItem:
    """An input sequence that was not converted, and why."""

    location: str
    reason: str


@dataclass(frozen=True)
class TreeItem:
    """One ``<subject>/<type>/<view>`` directory and its input files in name order."""

    subject: str
    type: str
    view: str
    directory: Path
    files: tuple[Path, ...]


def _subdirectories(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


def scan_tree(src: Path, suffix: str) -> tuple[list[TreeItem], list[SkippedItem]]:
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
                    items.append(TreeItem(subject.name, type_dir.name, view.name, view, files))
                else:
                    skipped.append(SkippedItem(str(view), f"no *{suffix} files"))
    if not items:
        raise DataError(f"{src}: no <subject>/<type>/<view>/*{suffix} files found")
    return items, skipped
