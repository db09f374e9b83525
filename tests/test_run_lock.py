"""One writer per training run: the lock refuses a second holder naming the first, and a holder
killed with SIGKILL (a real crash) leaves nothing that blocks the re-run.

The end-to-end case, two real ``landmarkgait train`` drivers on one config, is in
tests/test_pipeline_faults.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from landmarkgait.pipelines.driver.run_lock import exclusive_run, lock_path
from landmarkgait.pipelines.errors import PipelineError

HOLD = """
import sys, time
from landmarkgait.pipelines.driver.run_lock import exclusive_run
with exclusive_run(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANDMARKGAIT_HOME", str(tmp_path))
    return tmp_path


def hold_lock(name: str) -> subprocess.Popen:
    """Another process holding the lock of ``name`` until killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, name], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_second_holder_is_refused_naming_the_owner_until_it_crashes(home: Path) -> None:
    holder = hold_lock("bench-0123456789ab")
    try:
        refused = pytest.raises(PipelineError, match=rf"another landmarkgait process \(pid {holder.pid} on ")
        with refused, exclusive_run("bench-0123456789ab"):
            pytest.fail("entered a run that another live process holds")
        with exclusive_run("bench-other"):  # other runs are not blocked
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with exclusive_run("bench-0123456789ab"):  # the kernel released the dead owner's lock
        assert f"pid {os.getpid()} on " in lock_path("bench-0123456789ab").read_text()


def test_lock_file_name_never_comes_from_the_run_name(home: Path) -> None:
    path = lock_path("../../../../tmp/x/ESCAPED-0123")
    assert path.parent == home / "locks"
    assert "ESCAPED" not in path.name
    with exclusive_run("../../../../tmp/x/ESCAPED-0123"):
        assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o600"
