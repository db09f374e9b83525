"""Helpers shared by the tests: free ports, waiting, subprocess control, micro configs.

Kept apart from conftest.py so that test modules import them as a plain module
(``from cluster_helpers import ...``); conftest.py holds only fixtures and session setup.
"""

from __future__ import annotations

import json
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
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.runtime.ports import free_loopback_port, free_loopback_ports

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


@contextmanager
def ray_head_node(
    log_path: Path, num_cpus: int, resources: dict[str, float] | None = None
) -> Iterator[RayHead]:
    """``ray start --head --block`` on 127.0.0.1 (token auth and single-node mode come from the
    environment conftest.py sets), stopped on leaving."""
    port, dashboard_port, agent_port = free_loopback_ports(3)
    env = {
        **os.environ,
        # No drain on SIGTERM: Ray 2.60 otherwise waits up to 30 s for the idle head to drain.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        # The cluster's own State API for its processes (Ray Train's placement-group cleaner):
        # with several Ray instances on the machine Ray would guess, and say so every second.
        "RAY_API_SERVER_ADDRESS": f"http://127.0.0.1:{dashboard_port}",
    }
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [
                BIN / "ray",
                "start",
                "--head",
                "--block",
                f"--port={port}",
                "--node-ip-address=127.0.0.1",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dashboard_port}",
                # Not Ray's fixed default: two heads on one machine (this suite's, the README
                # walkthrough's, a benchmark's) would share it and one's job agent would be down.
                f"--dashboard-agent-listen-port={agent_port}",
                f"--num-cpus={num_cpus}",
                f"--resources={json.dumps(resources or {})}",
                "--disable-usage-stats",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    head = RayHead(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard_port}", env, process.pid)
    try:
        wait_until(
            lambda: (
                process.poll() is not None
                or http_ok(head.dashboard_url + "/api/version", os.environ["RAY_AUTH_TOKEN"])
            ),
            90,
            "Ray head",
        )
        if process.poll() is not None:
            raise RuntimeError(f"ray start --head exited: {log_path.read_text()[-2000:]}")
        yield head
    finally:
        stop_process(process, timeout_s=60)


class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 with proxied artifacts (mlflow-artifacts: URIs) that
    can be stopped and started again on the same port and store, as an operator restarts one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_loopback_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.root / "server.log", "a") as log_file:
            self._process = subprocess.Popen(
                [
                    BIN / "mlflow",
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{self.root / 'mlflow.db'}",
                    "--artifacts-destination",
                    str(self.root / "artifacts"),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self._process
        wait_until(lambda: process.poll() is not None or http_ok(self.uri + "/health"), 90, "MLflow server")
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None


@contextmanager
def mlflow_server_at(root: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
    resources_per_worker: dict[str, float] | None = None,
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
            "resources_per_worker": resources_per_worker or {},
        },
        "tracking": {"tracking_uri": tracking_uri, "experiment": experiment},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def ray_train_worker_pids(root_pid: int) -> list[int]:
    """PIDs of the live Ray Train worker processes descending from ``root_pid`` (a head's or a
    node's process; their process title names the actor). Ray work of anything else on the
    machine is left alone."""
    try:
        descendants = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    pids = []
    for process in descendants:
        try:
            if "RayTrainWorker" in " ".join(process.cmdline()):
                pids.append(process.pid)
        except psutil.Error:
            continue
    return pids


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


def logged_steps(client: MlflowClient, run_id: str, key: str = "loss/total") -> list[int]:
    """The distinct steps at which a run logged ``key``, in order."""
    return sorted({metric.step for metric in client.get_metric_history(run_id, key)})
