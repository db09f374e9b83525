"""Faults and bad input around the pipeline: killed workers and drivers, ray job submit, errors.

Every run uses real processes: the ``landmarkgait`` CLI in a subprocess joined to the session's
Ray head, real ``SIGKILL``s, and MLflow stores whose runs are then inspected.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cluster_helpers import (
    BIN,
    REPO,
    RayHead,
    cli_process,
    logged_steps,
    ray_train_worker_pids,
    run_cli,
    wait_until,
    write_micro_config,
)
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.runtime.ports import free_loopback_port

pytestmark = pytest.mark.slow


def stage_runs(client: MlflowClient, experiment: str, stage: str) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`landmarkgait.stage` = '{stage}'",
        order_by=["attributes.start_time DESC"],
    )


def fault_config(
    tmp_path: Path, dataset: Path, experiment: str, total_iter: int, save_iter: int
) -> tuple[str, Path, Path]:
    """A micro config with its own sqlite store and Ray Train storage: (tracking URI, storage, config)."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = tmp_path / "ray_results"
    config = write_micro_config(
        tmp_path / "c.yaml",
        dataset,
        tracking,
        experiment,
        total_iter=total_iter,
        save_iter=save_iter,
        storage_path=storage,
    )
    return tracking, storage, config


def test_killed_worker_resumes_with_iteration_count_continuing(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    tracking, storage, config = fault_config(
        tmp_path, micro_dataset, "worker-kill", total_iter=30, save_iter=5
    )
    with cli_process(
        "train",
        str(config),
        "--stage",
        "landmark",
        "--ray-address",
        ray_cluster.address,
        log=tmp_path / "log",
    ) as process:
        wait_until(
            lambda: any(storage.glob("*/landmark-000010")) or process.poll() is not None, 300, "a checkpoint"
        )
        assert process.poll() is None, (tmp_path / "log").read_text()[-3000:]
        victims = ray_train_worker_pids(ray_cluster.pid)
        assert victims, "no Ray Train worker process found"
        os.kill(victims[-1], signal.SIGKILL)
        assert process.wait(timeout=600) == 0, (tmp_path / "log").read_text()[-3000:]
    client = MlflowClient(tracking)
    (run,) = stage_runs(client, "worker-kill", "landmark")
    assert run.info.status == "FINISHED"
    resumed = client.get_metric_history(run.info.run_id, "resume/from_iteration")
    # The kill came after the iteration-10 checkpoint started; resuming from 5 or 10 both continue.
    assert resumed and all(metric.value >= 5 for metric in resumed)
    assert run.data.tags["landmarkgait.iteration"] == "30"
    steps = [metric.step for metric in client.get_metric_history(run.info.run_id, "loss/total")]
    assert max(steps) == 30 and min(steps) == 5


def kill_driver_at_checkpoint(
    args: tuple[str, ...], storage: Path, checkpoint: str, log: Path, head: RayHead
) -> None:
    """Run the CLI, SIGKILL it once Ray Train storage holds ``checkpoint``, wait for its workers
    to go (they die with the driver's Ray Train controller)."""
    with cli_process(*args, log=log) as process:
        wait_until(
            lambda: any(storage.glob(f"*/{checkpoint}")) or process.poll() is not None, 400, checkpoint
        )
        assert process.poll() is None, log.read_text()[-3000:]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    wait_until(lambda: not ray_train_worker_pids(head.pid), 60, "the orphaned workers to exit")


def test_killed_driver_rerun_continues_in_stage_two(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    tracking, storage, config = fault_config(
        tmp_path, micro_dataset, "driver-kill", total_iter=24, save_iter=4
    )
    # Stage 3 only has to finish the re-run: a few iterations keep the test short.
    args = ("run", str(config), "--json", "--ray-address", ray_cluster.address)
    args += ("--set", "stages.recognition.total_iter=4")
    kill_driver_at_checkpoint(args, storage, "parsing-000008", tmp_path / "first.log", ray_cluster)
    client = MlflowClient(tracking)
    (interrupted,) = stage_runs(client, "driver-kill", "parsing")
    assert interrupted.info.status == "RUNNING"

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    assert outcome["reused"] == ["landmark"]
    assert outcome["stage_runs"]["parsing"] == interrupted.info.run_id
    resumed = client.get_metric_history(interrupted.info.run_id, "resume/from_iteration")
    assert resumed and resumed[0].value >= 4
    assert client.get_run(interrupted.info.run_id).info.status == "FINISHED"
    assert len(stage_runs(client, "driver-kill", "landmark")) == 1
    # The killed driver's pipeline run is closed, not left RUNNING forever.
    experiment = client.get_experiment_by_name("driver-kill").experiment_id
    pipelines = client.search_runs(
        [experiment], "tags.`landmarkgait.kind` = 'pipeline'", order_by=["attributes.start_time ASC"]
    )
    assert [run.info.status for run in pipelines] == ["KILLED", "FINISHED"]


def test_a_second_driver_on_a_live_run_refuses_naming_its_owner(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    """Two drivers on one config: the second refuses in one line naming the first's pid and host,
    before opening any MLflow run, and leaves the first's runs alone (it used to close them as
    orphans and resume into them): the first's stage run is still running, unresumed, when the
    second has given up. The first is then killed (its own recovery is the driver-kill test's)."""
    tracking, storage, config = fault_config(
        tmp_path, micro_dataset, "two-drivers", total_iter=400, save_iter=4
    )
    args = ("train", str(config), "--stage", "landmark", "--ray-address", ray_cluster.address)
    with cli_process(*args, log=tmp_path / "first.log") as first:
        wait_until(
            lambda: any(storage.glob("*/landmark-000004")) or first.poll() is not None, 300, "a checkpoint"
        )
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        second = run_cli(*args)
        assert first.poll() is None, "the first driver ended before the second tried: raise total_iter"
        client = MlflowClient(tracking)
        experiment = client.get_experiment_by_name("two-drivers").experiment_id
        (pipeline,) = client.search_runs([experiment], "tags.`landmarkgait.kind` = 'pipeline'")
        (run,) = stage_runs(client, "two-drivers", "landmark")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    wait_until(lambda: not ray_train_worker_pids(ray_cluster.pid), 60, "the orphaned workers to exit")
    assert second.returncode == 2, second.stderr[-3000:]
    last_line = second.stderr.strip().splitlines()[-1]
    assert "Traceback" not in second.stderr
    assert "being trained by another landmarkgait process" in last_line, last_line
    assert f"pid {first.pid} on " in last_line, last_line
    assert pipeline.info.status == "RUNNING"
    assert run.info.status == "RUNNING"
    assert not client.get_metric_history(run.info.run_id, "resume/from_iteration")


def test_a_bad_data_row_met_on_the_worker_is_one_line_without_retries(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    """A row whose bytes disagree with its frame count passes the open-time checks and is found
    when a worker reads it: one line naming shard, row and field, no Ray Train retries, and no
    MLflow run left RUNNING."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from landmarkgait.data.format import list_shards

    dataset = tmp_path / "damaged"
    shutil.copytree(micro_dataset, dataset)
    for shard in list_shards(dataset):  # every row: whichever a batch samples is damaged
        table = pq.read_table(shard)
        frames = pa.array([value[:-7] for value in table["frames"].to_pylist()], pa.binary())
        table = table.set_column(table.schema.get_field_index("frames"), "frames", frames)
        pq.write_table(table, shard, row_group_size=1)
    tracking, _, config = fault_config(tmp_path, dataset, "bad-row", total_iter=4, save_iter=2)
    result = run_cli(
        "train", str(config), "--stage", "landmark", "--set", "scaling.num_workers=1", "--set", "scaling.max_failures=2",
        "--ray-address", ray_cluster.address,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert re.search(r"\.parquet: row \d+: field 'frames' holds \d+ bytes, expected", last_line), last_line
    assert "Traceback" not in result.stderr
    assert "PreemptionWatcher" not in result.stderr  # Ray's internal notice stays in its logs
    client = MlflowClient(tracking)
    (run,) = stage_runs(client, "bad-row", "landmark")  # one attempt: no retries
    assert run.info.status == "FAILED"
    experiment = client.get_experiment_by_name("bad-row").experiment_id
    (pipeline,) = client.search_runs([experiment], "tags.`landmarkgait.kind` = 'pipeline'")
    assert pipeline.info.status == "FAILED"
    assert "field 'frames'" in pipeline.data.tags["landmarkgait.error"]


def test_ray_job_submit_runs_a_stage(
    ray_head: RayHead, micro_dataset: Path, mlflow_server: str, tmp_path: Path
) -> None:
    config = write_micro_config(
        tmp_path / "c.yaml", micro_dataset, mlflow_server, "job-submit", num_workers=1
    )
    result = subprocess.run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            ray_head.dashboard_url,
            "--working-dir",
            str(REPO),
            "--runtime-env",
            str(REPO / "ray_configs" / "runtime_env.yaml"),
            "--",
            str(BIN / "landmarkgait"),
            "train",
            str(config),
            "--stage",
            "landmark",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "succeeded" in result.stdout + result.stderr
    (run,) = stage_runs(MlflowClient(mlflow_server), "job-submit", "landmark")
    assert run.info.status == "FINISHED"


def test_a_checkpoint_saved_but_never_registered_is_resumed(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    """A kill between writing a checkpoint to storage and Ray Train registering it: the state on
    disk is checkpoint folders that Ray Train's snapshot does not list (here: no snapshot, as
    when the kill comes before the first registration)."""
    tracking, storage, config = fault_config(
        tmp_path, micro_dataset, "unregistered", total_iter=24, save_iter=4
    )
    args = ("train", str(config), "--stage", "landmark", "--ray-address", ray_cluster.address)
    kill_driver_at_checkpoint(args, storage, "landmark-000012", tmp_path / "first.log", ray_cluster)
    (run_dir,) = {path.parent for path in storage.glob("*/landmark-000012")}
    (run_dir / "checkpoint_manager_snapshot.json").unlink(missing_ok=True)
    client = MlflowClient(tracking)
    (interrupted,) = stage_runs(client, "unregistered", "landmark")

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = stage_runs(client, "unregistered", "landmark")
    assert run.info.run_id == interrupted.info.run_id and run.info.status == "FINISHED"
    (resumed,) = client.get_metric_history(run.info.run_id, "resume/from_iteration")
    assert resumed.value >= 12
    assert "saved but not registered by Ray Train" in result.stdout + result.stderr


def test_a_checkpoint_whose_run_is_not_in_the_tracking_store_is_not_resumed(
    ray_cluster: RayHead, micro_dataset: Path, tmp_path: Path
) -> None:
    """Ray Train storage holds a checkpoint of the stage, but its MLflow run is in another store
    (the store was replaced, or the run deleted): the stage starts over in a new run, with a
    warning naming the missing run, instead of failing on the run it cannot reopen."""
    _, storage, config = fault_config(tmp_path, micro_dataset, "other-store", total_iter=8, save_iter=4)
    args = ("train", str(config), "--stage", "landmark", "--ray-address", ray_cluster.address)
    kill_driver_at_checkpoint(args, storage, "landmark-000004", tmp_path / "first.log", ray_cluster)
    other_store = f"sqlite:///{tmp_path / 'other.db'}"

    result = run_cli(*args, "--tracking-uri", other_store)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert re.search(r"belongs to MLflow run \w+, which is not in sqlite:///\S+other\.db", output), output[
        -3000:
    ]
    client = MlflowClient(other_store)
    (run,) = stage_runs(client, "other-store", "landmark")
    assert run.info.status == "FINISHED"
    assert not client.get_metric_history(run.info.run_id, "resume/from_iteration")
    assert logged_steps(client, run.info.run_id) == [4, 8]


# -- bad input: each error is one clear line, before any training starts -------------------------


@pytest.fixture
def quick_config(tmp_path: Path, micro_dataset: Path) -> Path:
    return write_micro_config(
        tmp_path / "c.yaml", micro_dataset, f"sqlite:///{tmp_path / 'm.db'}", "bad-input"
    )


def assert_user_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_missing_upstream_run_lists_candidates(quick_config: Path) -> None:
    result = run_cli("train", str(quick_config), "--stage", "recognition")
    assert_user_error(
        result, "no finished 'parsing' stage run matches", "Candidate parsing runs", "--upstream"
    )


def test_unknown_upstream_run(quick_config: Path) -> None:
    result = run_cli(
        "train", str(quick_config), "--stage", "parsing", "--upstream", "runs:/0123456789abcdef/model"
    )
    assert_user_error(result, "0123456789abcdef", "not found")


def test_unreachable_tracking_server(quick_config: Path) -> None:
    uri = f"http://127.0.0.1:{free_loopback_port()}"
    started = time.monotonic()
    result = run_cli("run", str(quick_config), "--tracking-uri", uri)
    assert_user_error(result, f"MLflow tracking server {uri} is unreachable")
    assert time.monotonic() - started < 120


def test_mistyped_config_key(quick_config: Path) -> None:
    result = run_cli("run", str(quick_config), "--set", "stages.parsing.total_iters=3")
    assert_user_error(result, "stages.parsing.total_iters", "total_iter")


def test_missing_dataset(quick_config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dataset"
    result = run_cli("run", str(quick_config), "--set", f"data.path={missing}")
    assert_user_error(result, str(missing), "landmarkgait data synth", "convert-pkl")
