"""Shared fixtures: one real Ray head and one real MLflow server per test session, on loopback.

The Ray head is started the way a user starts a cluster (``ray start --head``, token
authentication, dashboard on 127.0.0.1) so that in-process pipeline runs, CLI subprocesses and
``ray job submit`` all use the same cluster. Everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A session-private Ray token, set before any test module imports Ray (Ray reads it once) and
# inherited by every child process: CLI subprocesses, `ray start`, `ray job submit`.
os.environ.update(
    {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@pytest.fixture(scope="session")
def landmarkgait_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LANDMARKGAIT_HOME for the session (set before Ray starts, so workers inherit it)."""
    home = tmp_path_factory.mktemp("landmarkgait-home")
    os.environ["LANDMARKGAIT_HOME"] = str(home)
    return home


@dataclass(frozen=True)
class RayHead:
    address: str
    dashboard_url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def ray_head(landmarkgait_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    env = dict(os.environ)
    secret = os.environ["RAY_AUTH_TOKEN"]
    port, dashboard_port = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("ray-head") / "head.log"
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
                "--num-cpus=2",
                "--disable-usage-stats",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    head = RayHead(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard_port}", env)
    try:
        wait_until(
            lambda: process.poll() is not None or http_ok(head.dashboard_url + "/api/version", secret),
            90,
            "Ray head",
        )
        if process.poll() is not None:
            raise RuntimeError(f"ray start --head exited: {log_path.read_text()[-2000:]}")
        yield head
    finally:
        stop_process(process, timeout_s=60)


@pytest.fixture(scope="session")
def ray_cluster(ray_head: RayHead) -> Iterator[RayHead]:
    """This test process connected to the session's Ray head."""
    import ray

    ray.init(address=ray_head.address, log_to_driver=False)
    try:
        yield ray_head
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 with proxied artifacts (mlflow-artifacts: URIs)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    with open(root / "server.log", "w") as log_file:
        process = subprocess.Popen(
            [
                BIN / "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or http_ok(uri + "/health"), 90, "MLflow server")
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
        yield uri
    finally:
        stop_process(process)


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


MICRO_VIEWS = ("000", "090", "180")


@pytest.fixture(scope="session")
def micro_dataset(ray_cluster: RayHead, landmarkgait_home: Path) -> Path:
    """A tiny synthetic CASIA-B (8 subjects, 3 views, all 10 types) generated once per session."""
    from data.synth import SynthConfig, generate_dataset

    config = SynthConfig(subjects=8, views=MICRO_VIEWS, min_frames=20, max_frames=26, seed=0)
    return generate_dataset(config, landmarkgait_home / "datasets" / "micro")


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
