"""Helpers shared by the tests: free ports, waiting, subprocess control, micro configs.

Kept apart from conftest.py so that test modules import them as a plain module
(``from cluster_helpers import ...``); conftest.py holds only fixtures and session setup.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def http_ok(url: str, token: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop_process(process: subprocess.Popen, timeout_s: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# The views of the session's micro dataset (conftest.micro_dataset).
MICRO_VIEWS = ("000", "090", "180")


@dataclass(frozen=True)
class RayHead:
    address: str
    dashboard_url: str
    env: dict[str, str]
    pid: int  # the `ray start --block` process: the head's servers and workers descend from it


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 600
) -> subprocess.CompletedProcess:
    """Run the ``landmarkgait`` console script as a real subprocess."""
    return subprocess.run(
        [str(BIN / "landmarkgait"), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
    )


@contextmanager
def cli_process(*args: str, log: Path) -> Iterator[subprocess.Popen]:
    """A ``landmarkgait`` process logging to ``log``, killed on leaving if it still runs."""
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [str(BIN / "landmarkgait"), *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=dict(os.environ),
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()


def write_micro_config(
    path: Path,
    dataset: Path,
    tracking_uri: str,
    experiment: str,
    total_iter: int = 4,
    save_iter: int = 2,
    num_workers: int = 2,
    storage_path: Path | None = None,
) -> Path:
    """A pipeline config of micro presets: each stage a few iterations of a 2 x 2 batch."""
    import yaml

    def stage() -> dict:
        return {
            "total_iter": total_iter,
            "save_iter": save_iter,
            "log_iter": save_iter,
            "sampler": {"subjects_per_batch": 2, "sequences_per_subject": 2, "frames": 8},
        }

    config = {
        "name": experiment,
        "data": {"path": str(dataset)},
        "model": {"preset": "micro"},
        "stages": {"landmark": stage(), "parsing": stage(), "recognition": stage()},
        "scaling": {
            "num_workers": num_workers,
            "cpus_per_worker": 0.5,
            "storage_path": str(storage_path) if storage_path else None,
        },
        "tracking": {"tracking_uri": tracking_uri, "experiment": experiment},
    }
    path.write_text(yaml.safe_dump(config))
    return path


LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def listeners(pid: int) -> set[tuple[str, int, str]]:
    """(address, port, process name) of the TCP sockets that ``pid`` and its descendants listen on."""
    try:
        root = psutil.Process(pid)
        names = {process.pid: process.name() for process in [root, *root.children(recursive=True)]}
    except psutil.NoSuchProcess:
        return set()
    return {
        (connection.laddr.ip, connection.laddr.port, names[connection.pid])
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.pid in names
    }


def run_watching_listeners(
    argv: list[str], log_dir: Path, timeout_s: float, interval_s: float = 0.5
) -> tuple[int, set[tuple[str, int, str]], str, str]:
    """Run a CLI without a cluster address (Ray's multi-node mode enabled in its environment, so
    the command itself must choose loopback) and sample what it and its children listen on.

    Returns (exit code, listeners seen, stdout, stderr).
    """
    stdout, stderr = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with open(stdout, "w") as out, open(stderr, "w") as err:
        process = subprocess.Popen(
            argv,
            env={**os.environ, "RAY_ADDRESS": "", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"},
            stdout=out,
            stderr=err,
            cwd=REPO,
            start_new_session=True,
        )
        seen: set[tuple[str, int, str]] = set()
        try:
            deadline = time.monotonic() + timeout_s
            while process.poll() is None and time.monotonic() < deadline:
                seen |= listeners(process.pid)
                time.sleep(interval_s)
        finally:
            stop_process(process)
    return process.returncode, seen, stdout.read_text(), stderr.read_text()
