"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

Why: ``timeout``, systemd, Kubernetes and Slurm stop a job with SIGTERM, a closed terminal sends
SIGHUP. Python's default for both is to die at once, and ``ray.init`` replaces the SIGTERM handler
with ``sys.exit``: either way no ``except KeyboardInterrupt`` ran, so MLflow runs stayed RUNNING
and staging folders stayed behind. Here both signals raise ``TerminationSignal``, a
``KeyboardInterrupt``, in the main thread: every cleanup written for Ctrl-C (runs marked KILLED,
staging removed, Ray stopped) runs unchanged, and the CLI exits with 128 + the signal number
(143 for SIGTERM, 129 for SIGHUP). A second signal during that cleanup is ignored, so the cleanup
finishes; SIGKILL remains for a cleanup that hangs.

Only the CLI installs the handlers (``install``); ``reinstall`` puts them back after Ray replaced
them, and does nothing in a program that never installed them (the Python API leaves a caller's
signals alone).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_installed = False
_received: int | None = None


class TerminationSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; handled wherever Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handle(signum: int, frame: FrameType | None) -> None:
    global _received
    if _received is not None:  # already stopping: let the cleanup finish
        return
    _received = signum
    raise TerminationSignal(signum)


def install() -> None:
    """Route SIGTERM and SIGHUP to ``TerminationSignal`` in this (main-thread) program."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, _handle)
    _installed = True


def reinstall() -> None:
    """Put the handlers back after a library replaced them (``ray.init`` sets its own SIGTERM
    handler), if ``install`` ran in this program."""
    if _installed:
        install()


def received() -> int | None:
    """The termination signal that arrived (even if a library turned it into another exception)."""
    return _received


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal number."""
    return 128 + signum
