"""Atomic publication of output directories (datasets, exported pickle trees).

Writers fill a hidden staging directory next to the destination and publish it with one rename,
so a destination path either holds a complete result or nothing: a failed write removes its
staging directory, and one left by a killed writer is removed by the next write to the same
destination. This module must not know what the
directories contain; single files are replaced by ``landmarkgait.data.atomic``.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from landmarkgait.data.errors import DataError

log = logging.getLogger(__name__)


def check_destination(out: Path, *, overwrite: bool, source: Path | None = None) -> None:
    """Fail early, before any work, when ``out`` exists and may not be replaced, when it cannot be
    created, or when it is, holds or lies inside ``source`` (replacing it would destroy the input)."""
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise DataError(
            f"{out}: destination already exists (pass --overwrite / overwrite=True to replace it)"
        )
    if source is not None:
        src, dst = Path(source).resolve(), out.resolve()
        if dst == src or src in dst.parents or dst in src.parents:
            raise DataError(
                f"{out}: destination is, holds or lies inside the source {source}; choose another"
            )
    existing = next((parent for parent in [out.parent, *out.parent.parents] if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise DataError(f"{out}: cannot create it, {existing} is a file, not a directory")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"{out}: cannot create it, {existing} is not writable")


# Who owns a staging directory, in its name: a killed writer's leftovers are recognised by the
# next writer on the same host, whose process is then gone (``remove_stale_staging``).
OWNER = f"{socket.gethostname()}.{os.getpid()}"


def staging_prefix(out: Path) -> str:
    return f".{out.name}.tmp-"


def remove_stale_staging(out: Path) -> list[Path]:
    """Delete the staging directories of ``out`` that writers killed on this host left behind.

    A directory belongs to a dead writer when its name carries this host and a process id that no
    longer runs; others' (live writers, other hosts of a shared filesystem) are left alone.
    """
    removed = []
    host = socket.gethostname()
    for candidate in Path(out).parent.glob(f"{glob.escape(staging_prefix(Path(out)))}*"):
        owner = candidate.name[len(staging_prefix(Path(out))) :].rsplit("-", 1)[0]
        owner_host, _, pid = owner.rpartition(".")
        if owner_host == host and pid.isdigit() and not _process_alive(int(pid)) and candidate.is_dir():
            shutil.rmtree(candidate, ignore_errors=True)
            log.info("removed %s, left by an interrupted writer", candidate)
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """Yield an empty hidden directory beside ``out`` (same filesystem, so publishing is a rename).

    The directory is removed when the block fails or is interrupted (Ctrl-C included); publishing
    it (``publish_directory``, ``landmarkgait.data.writer.assemble_dataset``) renames it away.
    """
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f"{staging_prefix(out)}{OWNER}-", dir=out.parent))
    except OSError as error:
        raise DataError(f"{out}: cannot create it ({error.strerror or error})") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_directory(staging: Path, out: Path, *, overwrite: bool) -> Path:
    """Move the finished ``staging`` directory to ``out`` atomically and return ``out``.

    With ``overwrite`` an existing ``out`` is first renamed aside and deleted only after the new
    directory is in place, so no reader ever sees a mixture of old and new files.
    """
    staging, out = Path(staging), Path(out)
    check_destination(out, overwrite=overwrite)
    if not (out.exists() or out.is_symlink()):
        os.rename(staging, out)
        return out
    retired = out.with_name(f".{out.name}.old-{uuid.uuid4().hex}")
    os.rename(out, retired)
    os.rename(staging, out)
    if retired.is_dir() and not retired.is_symlink():
        shutil.rmtree(retired)
    else:
        retired.unlink()
    return out
