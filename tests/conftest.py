"""Shared fixtures: one real Ray head and one real MLflow server per test session, on loopback.

The Ray head is started the way a user starts a cluster (``ray start --head``, token
authentication, dashboard on 127.0.0.1) so that in-process pipeline runs, CLI subprocesses and
``ray job submit`` all use the same cluster. Everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_helpers import MICRO_VIEWS, RayHead, mlflow_server_at, ray_head_node

# A session-private Ray token, set before any test module imports Ray (Ray reads it once) and
# inherited by every child process: CLI subprocesses, `ray start`, `ray job submit`. Ray's
# single-node mode makes the session's head listen on 127.0.0.1 only (pipelines/runtime/ray_runtime.py).
os.environ.update(
    {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }
)


@pytest.fixture(scope="session")
def landmarkgait_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LANDMARKGAIT_HOME for the session (set before Ray starts, so workers inherit it)."""
    home = tmp_path_factory.mktemp("landmarkgait-home")
    os.environ["LANDMARKGAIT_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def ray_head(landmarkgait_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    with ray_head_node(tmp_path_factory.mktemp("ray-head") / "head.log", num_cpus=2) as head:
        yield head


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
    with mlflow_server_at(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server.uri


@pytest.fixture(scope="session")
def micro_dataset(ray_cluster: RayHead, landmarkgait_home: Path) -> Path:
    """A tiny synthetic CASIA-B (8 subjects, 3 views, all 10 types) generated once per session.

    Short sequences (10-14 frames, above the 8 a training batch samples): every pipeline test
    evaluates all frames of its 120 test sequences.
    """
    from landmarkgait.data.synth.config import SynthConfig
    from landmarkgait.data.synth.generator import generate_dataset

    config = SynthConfig(subjects=8, views=MICRO_VIEWS, min_frames=10, max_frames=14, seed=0)
    return generate_dataset(config, landmarkgait_home / "datasets" / "micro")


@pytest.fixture(scope="session")
def micro_dataset_with_truth(ray_cluster: RayHead, landmarkgait_home: Path) -> Path:
    """The micro dataset generated again with its ground truth beside it (``micro-truth.ground_truth``),
    so stage runs on it log keypoint error and part mIoU. Same frames and fingerprint as
    ``micro_dataset`` (and so the same stage keys): tests must not share an MLflow experiment
    between the two, or one would reuse the other's stage runs."""
    from landmarkgait.data.synth.config import SynthConfig
    from landmarkgait.data.synth.generator import generate_dataset

    config = SynthConfig(subjects=8, views=MICRO_VIEWS, min_frames=10, max_frames=14, seed=0)
    return generate_dataset(config, landmarkgait_home / "datasets" / "micro-truth", ground_truth=True)
