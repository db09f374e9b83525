"""Atomic publication of output directories (datasets, exported pickle trees).

Writers fill a hidden staging directory next to the destination and publish it with one rename,
so a destination path either holds a complete result or nothing: a failed write removes its
staging directory, and one left by a killed writer is removed by the next write to the same
destination. Every published directory carries ``destination.MARKER_FILE``, so a later
``--overwrite`` can tell it from folders it must not touch (``check_destination``, re-exported
here, is the output rule every writer checks first). This module must not know what the
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

from landmarkgait.data.destination import check_destination, mark_output
from landmarkgait.data.errors import DataError

log = logging.getLogger(__name__)


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
    mark_output(staging)
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
