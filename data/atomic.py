"""Atomic file writes: a file appears at its path complete, or not at all.

Every writer in the project that replaces a file (shards, pickles, checkpoints, evaluation and
sweep reports, previews) writes a hidden temporary file ``.<name>.tmp-<hex>`` beside the
destination and renames it into place, so a reader or an interrupted run never sees half a file.
This module must not know what the files contain; whole directories are published by
``landmarkgait.data.staging``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from landmarkgait.data.errors import DataError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``, else it is deleted.

    For writers that need a path or a file of their own (Parquet writers, ``pickle.dump``,
    ``torch.save``). The directory must exist: a worker writing into a staging directory that was
    discarded must fail rather than create it again.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: Path, content: bytes | str) -> Path:
    """Write ``content`` (``str`` as UTF-8) to ``path`` atomically, creating missing parent folders.

    For whole reports built in memory (CSV, PNG, JSON), whose output folder may not exist yet.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            temporary.write_bytes(content.encode() if isinstance(content, str) else content)
    except OSError as error:
        raise DataError(f"{path}: cannot write it ({error.strerror or error})") from None
    return path


def check_writable(path: Path, what: str) -> None:
    """Fail now, naming ``what`` (e.g. ``--csv``), if ``path`` (a file or folder) cannot be
    written later.

    Probes ``path`` if it is a folder, else the nearest existing folder above it, with a temporary
    folder removed at once: long work is not wasted on an output that cannot be written, and
    nothing is left behind.
    """
    path = Path(path).expanduser().absolute()
    existing = path if path.is_dir() else next(folder for folder in path.parents if folder.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(0, "not a directory")
        os.rmdir(tempfile.mkdtemp(prefix=".landmarkgait-probe-", dir=existing))
    except OSError as error:
        raise DataError(
            f"{what} {path}: cannot create it in {existing} ({error.strerror or error})"
        ) from None
