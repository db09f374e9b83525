"""One writer per training run: an exclusive lock on the Ray Train run name under LANDMARKGAIT_HOME.

A pipeline's Ray Train run name is fixed by its last stage's key, so two drivers on the same
config would share Ray's checkpoints and MLflow runs: the second used to close the first's live
runs as orphans and resume into them. The lock is an ``flock`` on a file named by a digest of the
run name (never by the name itself, which comes from a config), holding the owner's pid, host and
start time for the message. The kernel releases it when its owner dies however it dies, so a
re-run after a real crash (SIGKILL, lost node) takes it at once and resumes as before.

Scope: drivers that share this LANDMARKGAIT_HOME (one machine, or a shared home). This module must
not know about MLflow or Ray.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from landmarkgait.pipelines.config import landmarkgait_home
from landmarkgait.pipelines.errors import PipelineError

# The owner line is short; a longer file is not ours and is not read further.
_OWNER_BYTES = 512


def lock_path(run_name: str) -> Path:
    """Where the lock of ``run_name`` lives (a digest: config names never touch the path)."""
    digest = hashlib.sha256(run_name.encode("utf-8")).hexdigest()[:32]
    return landmarkgait_home() / "locks" / f"train-{digest}.lock"


@contextmanager
def exclusive_run(run_name: str) -> Iterator[None]:
    """Hold the lock of ``run_name`` for the body, or refuse at once naming the live owner."""
    path = lock_path(run_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(descriptor, _OWNER_BYTES, 0).decode("utf-8", "replace").strip()
            raise PipelineError(
                f"run {run_name} is being trained by another landmarkgait process ({owner or 'unknown'}); "
                f"wait for it to end or stop it, then re-run to reuse or resume its stages"
            ) from None
        owner = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, owner.encode("utf-8"), 0)
        yield
    finally:
        os.close(descriptor)  # releases the flock
