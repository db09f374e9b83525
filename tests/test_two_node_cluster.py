"""A real two-node Ray cluster: placement across nodes, chaining through an MLflow server, losing
a node mid-stage, restarting the tracking server mid-stage.

Both nodes run on this machine and listen on 127.0.0.1 only: the head is a ``ray start --head``
like the session's, the second node is started by ``loopback_ray_node.py`` (why not
``ray start --address``: see that script). Each node offers one ``trainer_slot``, and the
stage's two workers each ask for one, so Ray Train must place one worker per node. Every stage
runs as the ``landmarkgait`` CLI joined to the head, with Ray Train storage shared by both nodes
(a local folder: they share the filesystem) and a real ``mlflow server``.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from cluster_helpers import (
    BIN,
    MlflowServer,
    RayHead,
    cli_process,
    logged_steps,
    mlflow_server_at,
    ray_head_node,
    ray_train_worker_pids,
    run_cli,
    wait_until,
    write_micro_config,
)
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

SLOT = "trainer_slot"
NODE_SCRIPT = Path(__file__).with_name("loopback_ray_node.py")


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant at once, as a machine failure would end them."""
    try:
        root = psutil.Process(pid)
        victims = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in victims:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(victims, timeout=30)


@dataclass
class TwoNodeCluster:
    head: RayHead
    log_dir: Path
    nodes: list[subprocess.Popen] = field(default_factory=list)

    def add_node(self) -> subprocess.Popen:
        """Start a worker node (1 CPU, one trainer slot) and wait until the head counts it."""
        log = self.log_dir / f"node-{len(self.nodes)}.log"
        with open(log, "w") as handle:
            node = subprocess.Popen(
                [
                    sys.executable,
                    str(NODE_SCRIPT),
                    self.head.address,
                    "--num-cpus",
                    "1",
                    "--resources",
                    f'{{"{SLOT}": 1}}',
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.head.env,
            )
        self.nodes.append(node)
        wait_until(lambda: node.poll() is not None or "joined" in log.read_text(), 90, "a worker node")
        assert node.poll() is None, log.read_text()[-2000:]
        wait_until(lambda: self.slots_total() == 2, 90, "the head to count the new node", interval_s=2)
        return node

    def slots_total(self) -> float:
        """The cluster's trainer slots as ``ray status`` reports them (alive nodes only)."""
        status = subprocess.run(
            [str(BIN / "ray"), "status", "--address", self.head.address],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        match = re.search(rf"/([0-9.]+) {SLOT}", status)
        return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def two_nodes(landmarkgait_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodeCluster]:
    """A head (1 CPU, one slot) and a second node (1 CPU, one slot)."""
    log_dir = tmp_path_factory.mktemp("two-nodes")
    with ray_head_node(log_dir / "head.log", num_cpus=1, resources={SLOT: 1}) as head:
        cluster = TwoNodeCluster(head, log_dir)
        try:
            cluster.add_node()
            yield cluster
        finally:
            for node in cluster.nodes:
                kill_tree(node.pid)


def two_node_config(
    tmp_path: Path, dataset: Path, tracking_uri: str, experiment: str, total_iter: int, save_iter: int
) -> tuple[Path, Path]:
    """(config, shared Ray Train storage): two workers of half a CPU and one trainer slot each."""
    storage = tmp_path / "shared-storage"
    config = write_micro_config(
        tmp_path / "c.yaml",
        dataset,
        tracking_uri,
        experiment,
        total_iter=total_iter,
        save_iter=save_iter,
        num_workers=2,
        storage_path=storage,
        resources_per_worker={SLOT: 1},
    )
    return config, storage


def stage_run(client: MlflowClient, experiment: str, stage: str):
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], f"tags.`landmarkgait.stage` = '{stage}'")
    assert len(runs) == 1, [run.info.run_id for run in runs]
    return runs[0]


def test_one_worker_per_node_and_the_next_stage_chains_through_the_server(
    two_nodes: TwoNodeCluster, micro_dataset: Path, mlflow_server: str, tmp_path: Path
) -> None:
    config, _ = two_node_config(tmp_path, micro_dataset, mlflow_server, "two-nodes", 4, 2)
    node = two_nodes.nodes[-1]
    placed: set[str] = set()

    def both_nodes_train() -> bool:
        placed.update(
            name
            for name, pid in (("head", two_nodes.head.pid), ("node", node.pid))
            if ray_train_worker_pids(pid)
        )
        return placed == {"head", "node"} or process.poll() is not None

    args = ("--ray-address", two_nodes.head.address)
    with cli_process(
        "train", str(config), "--stage", "landmark", *args, log=tmp_path / "landmark.log"
    ) as process:
        wait_until(both_nodes_train, 300, "a Ray Train worker on each node", interval_s=0.2)
        assert process.wait(timeout=600) == 0, (tmp_path / "landmark.log").read_text()[-3000:]
    assert placed == {"head", "node"}

    result = run_cli("train", str(config), "--stage", "parsing", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    landmark, parsing = (stage_run(client, "two-nodes", stage) for stage in ("landmark", "parsing"))
    assert landmark.info.status == parsing.info.status == "FINISHED"
    assert parsing.data.tags["landmarkgait.upstream_run_id"] == landmark.info.run_id
    assert parsing.info.artifact_uri.startswith("mlflow-artifacts:")


def test_losing_a_node_mid_stage_resumes_on_a_replacement_node(
    two_nodes: TwoNodeCluster, micro_dataset: Path, mlflow_server: str, tmp_path: Path
) -> None:
    save_iter = 4
    config, storage = two_node_config(tmp_path, micro_dataset, mlflow_server, "node-loss", 24, save_iter)
    client = MlflowClient(mlflow_server)
    log = tmp_path / "train.log"
    args = ("train", str(config), "--stage", "landmark", "--ray-address", two_nodes.head.address)
    with cli_process(*args, log=log) as process:
        wait_until(
            lambda: any(storage.glob("*/landmark-000008")) or process.poll() is not None, 400, "a checkpoint"
        )
        assert process.poll() is None, log.read_text()[-3000:]
        run_id = stage_run(client, "node-loss", "landmark").info.run_id
        reached = max(logged_steps(client, run_id))
        lost = two_nodes.nodes[-1]
        kill_tree(lost.pid)
        two_nodes.add_node()
        assert process.wait(timeout=900) == 0, log.read_text()[-3000:]
    run = stage_run(client, "node-loss", "landmark")
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert run.data.tags["landmarkgait.iteration"] == "24"
    (resumed,) = client.get_metric_history(run_id, "resume/from_iteration")
    # At most one save interval is trained again.
    assert reached - save_iter <= resumed.value <= reached
    # One continuous history in one run: every logged step from the first to the last.
    assert logged_steps(client, run_id) == list(range(save_iter, 25, save_iter))


def test_tracking_server_restart_mid_stage_loses_nothing(
    two_nodes: TwoNodeCluster, micro_dataset: Path, tmp_path: Path
) -> None:
    (tmp_path / "server").mkdir()
    with mlflow_server_at(tmp_path / "server") as server:
        config, _ = two_node_config(tmp_path, micro_dataset, server.uri, "server-restart", 20, 4)
        client = MlflowClient(server.uri)
        log = tmp_path / "train.log"
        args = ("train", str(config), "--stage", "landmark", "--ray-address", two_nodes.head.address)
        with cli_process(*args, log=log) as process:
            wait_until(
                lambda: "landmark (1/3) [" in log.read_text() or process.poll() is not None, 400, "training"
            )
            assert process.poll() is None, log.read_text()[-3000:]
            restart(server, down_s=10)
            assert process.wait(timeout=900) == 0, log.read_text()[-3000:]
        run = stage_run(client, "server-restart", "landmark")
        assert run.info.status == "FINISHED"
        assert logged_steps(client, run.info.run_id) == list(range(4, 21, 4))
        artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "checkpoints")}
        assert artifacts, "no checkpoint logged"


def restart(server: MlflowServer, down_s: float) -> None:
    server.stop()
    time.sleep(down_s)
    server.start()


def test_tracking_server_gone_for_longer_ends_in_one_line(
    two_nodes: TwoNodeCluster, micro_dataset: Path, tmp_path: Path
) -> None:
    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server")
    server.start()
    try:
        config, _ = two_node_config(tmp_path, micro_dataset, server.uri, "server-gone", 400, 4)
        log = tmp_path / "train.log"
        args = ("train", str(config), "--stage", "landmark", "--ray-address", two_nodes.head.address)
        # Each MLflow request retried twice (about 4 s), and no Ray Train retry of the stage.
        args += ("--set", "tracking.http_retries=2", "--set", "scaling.max_failures=0")
        with cli_process(*args, log=log) as process:
            wait_until(
                lambda: "landmark (1/3) [" in log.read_text() or process.poll() is not None, 400, "training"
            )
            assert process.poll() is None, log.read_text()[-3000:]
            server.stop()
            exit_code = process.wait(timeout=400)  # a hang fails here
    finally:
        server.stop()
    output = log.read_text()
    assert exit_code == 2, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"landmarkgait: error: MLflow tracking server {server.uri} unreachable"), last
    # Nothing before it reads as a crash: no worker traceback, no retry warnings, no Ray notice.
    for noise in ("Traceback", "Retrying (Retry", "PreemptionWatcher"):
        assert noise not in output, output[-3000:]
