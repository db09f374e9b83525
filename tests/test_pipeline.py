"""The three-stage pipeline on a real Ray cluster with real MLflow tracking.

Stages run for a few iterations of micro presets on the session's micro synthetic dataset (with
its ground truth beside it, so stage runs also measure keypoint error and part mIoU) with two Ray
Train workers; an ``mlflow server`` on 127.0.0.1 receives the runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from cluster_helpers import (
    BIN,
    LOOPBACK,
    RayHead,
    run_cli,
    run_watching_listeners,
    wait_until,
    write_micro_config,
)
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.driver.run import PipelineOutcome, run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_config(
    tmp_path_factory: pytest.TempPathFactory, micro_dataset_with_truth: Path, mlflow_server: str
) -> Path:
    path = write_micro_config(
        tmp_path_factory.mktemp("e2e") / "micro.yaml", micro_dataset_with_truth, mlflow_server, "e2e"
    )
    config = yaml.safe_load(path.read_text())
    config["stages"]["landmark"]["eval_iter"] = 2  # stage 1 measured against the ground truth at 2 and 4
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def first_run(ray_cluster: RayHead, server_config: Path) -> PipelineOutcome:
    return run_pipeline(load_config(server_config))


def artifact_paths(client: MlflowClient, run_id: str, path: str = "") -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path or None):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_three_stages_are_nested_mlflow_runs_chained_by_upstream(
    first_run: PipelineOutcome, mlflow_server: str
) -> None:
    client = MlflowClient(mlflow_server)
    assert list(first_run.stage_runs) == ["landmark", "parsing", "recognition"]
    assert first_run.reused == []
    runs = {stage: client.get_run(run_id) for stage, run_id in first_run.stage_runs.items()}
    for stage, run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == first_run.pipeline_run_id
        assert run.data.tags["landmarkgait.stage"] == stage
        assert run.data.tags["landmarkgait.data_fingerprint"]
        assert run.data.params["model.preset"] == "micro"
        assert run.data.params["stages.landmark.total_iter"] == "4"
        artifacts = artifact_paths(client, run.info.run_id)
        assert any(path.startswith("checkpoints/") and path.endswith("-00004.pt") for path in artifacts), (
            artifacts
        )
        assert "config/resolved.yaml" in artifacts
        assert "summary/silhouettes.png" in artifacts and "summary/reconstruction.png" in artifacts
    assert runs["landmark"].data.tags["landmarkgait.upstream_run_id"] == ""
    assert runs["parsing"].data.tags["landmarkgait.upstream_run_id"] == first_run.stage_runs["landmark"]
    assert runs["recognition"].data.tags["landmarkgait.upstream_run_id"] == first_run.stage_runs["parsing"]
    assert "summary/parts.png" in artifact_paths(client, first_run.stage_runs["parsing"])

    landmark_metrics = runs["landmark"].data.metrics
    assert {"loss/reconstruction", "frames_per_s", "lr/group0", "quality/recon_iou"} <= set(landmark_metrics)
    recognition = runs["recognition"]
    assert {"loss/triplet", "loss/cross_entropy", "eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"} <= set(
        recognition.data.metrics
    )
    assert "eval/rank1/NM/090" in recognition.data.metrics
    # Micro clips of 10-14 frames with the micro shift of 3: every test sequence has a distinct source.
    assert recognition.data.metrics["evaluation/sequences_without_transport_source"] == 0
    # Ground truth beside the dataset: each stage's landmarks and (parsing, recognition) part masks
    # measured at every eval_iter (stage 1 here) and at the end, logged at those iterations.
    part_names = {f"quality/part_miou/{c}" for c in ("NM", "BG", "CL")} | {
        f"quality/part_iou/{p}" for p in ("head", "up", "low")
    }
    client_history = {
        stage: client.get_metric_history(run.info.run_id, "quality/keypoint_error")
        for stage, run in runs.items()
    }
    for stage, run in runs.items():
        metrics = run.data.metrics
        assert math.isfinite(metrics["quality/keypoint_error"]) and metrics["quality/keypoint_error"] > 0
        assert [point.step for point in client_history[stage]] == ([2, 4] if stage == "landmark" else [4]), (
            stage
        )
        if stage == "landmark":
            assert "quality/part_miou" not in metrics
        else:
            assert part_names <= set(metrics), stage
            assert all(0.0 <= metrics[name] <= 1.0 for name in {"quality/part_miou", *part_names}), stage
    evaluation = artifact_paths(client, recognition.info.run_id, "evaluation/latest")
    assert {"evaluation/latest/per_view.csv", "evaluation/latest/per_view_heatmap.png"} <= evaluation
    assert "NM" in first_run.rank1_table and "CL" in first_run.rank1_table
    assert set(first_run.evaluation) >= {"eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"}
    versions = client.search_model_versions("name='landmarkgait'")
    assert any(version.run_id == recognition.info.run_id for version in versions)


def test_mlflow_ui_shows_dataset_inputs_distinct_names_and_a_described_pipeline_run(
    first_run: PipelineOutcome, server_config: Path, mlflow_server: str
) -> None:
    """What a person sees in the run list and on the pipeline run's page."""
    client = MlflowClient(mlflow_server)
    config = load_config(server_config)
    pipeline = client.get_run(first_run.pipeline_run_id)
    fingerprint = pipeline.data.tags["landmarkgait.data_fingerprint"]
    digest = fingerprint.removeprefix("sha256:")[:12]

    def inputs(run: Any) -> dict[str, tuple[str, str]]:
        return {
            item.dataset.name: (
                item.dataset.digest,
                {tag.key: tag.value for tag in item.tags}["mlflow.data.context"],
            )
            for item in run.inputs.dataset_inputs
        }

    name = Path(config.data.path).name
    both = {f"{name}:train": (digest, "train"), f"{name}:test": (digest, "test")}
    assert inputs(pipeline) == both
    assert json.loads(pipeline.inputs.dataset_inputs[0].dataset.profile)["fingerprint"] == fingerprint
    stage_runs = {stage: client.get_run(run_id) for stage, run_id in first_run.stage_runs.items()}
    assert inputs(stage_runs["landmark"]) == {f"{name}:train": (digest, "train")}
    assert inputs(stage_runs["recognition"]) == both

    landmarks = config.model.variant  # e.g. "6 landmarks"
    recognition_key = stage_runs["recognition"].data.tags["landmarkgait.stage_key"]
    assert pipeline.info.run_name == f"{config.name} · {landmarks} · {recognition_key[:6]}"
    for stage, run in stage_runs.items():
        assert run.info.run_name == f"{stage} · {landmarks} · {run.data.tags['landmarkgait.stage_key'][:6]}"

    description = pipeline.data.tags["mlflow.note.content"]
    assert description.startswith(f"**LandmarkGait ({landmarks})** on `{name}`")
    assert first_run.rank1_table.strip() in description
    (version,) = [
        v
        for v in client.search_model_versions("name='landmarkgait'")
        if v.run_id == first_run.stage_runs["recognition"]
    ]
    assert f"(#/models/landmarkgait/versions/{version.version})" in description
    for run_id in first_run.stage_runs.values():
        assert f"/runs/{run_id})" in description
    # The logged model is an output of the pipeline run too: its page lists it.
    (output,) = pipeline.outputs.model_outputs
    assert client.get_logged_model(output.model_id).source_run_id == first_run.stage_runs["recognition"]


def test_stage_in_separate_process_finds_upstream_through_server(
    first_run: PipelineOutcome, server_config: Path, ray_cluster: RayHead, mlflow_server: str
) -> None:
    # Ray's multi-node mode, as in a user's Linux shell (the suite sets single-node mode): the
    # command must still join the loopback-only head at 127.0.0.1 instead of Ray rewriting the
    # address to the machine's external one and retrying there for minutes.
    result = run_cli(
        "train",
        str(server_config),
        "--stage",
        "parsing",
        "--force",
        "--json",
        "--ray-address",
        ray_cluster.address,
        env={"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"},
        timeout_s=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    new_parsing = outcome["stage_runs"]["parsing"]
    assert new_parsing != first_run.stage_runs["parsing"]
    run = MlflowClient(mlflow_server).get_run(new_parsing)
    assert run.info.status == "FINISHED"
    assert run.data.tags["landmarkgait.upstream_run_id"] == first_run.stage_runs["landmark"]


def test_rerun_reuses_finished_stages(first_run: PipelineOutcome, server_config: Path) -> None:
    again = run_pipeline(load_config(server_config))
    assert again.reused == ["landmark", "parsing", "recognition"]
    assert again.stage_runs["landmark"] == first_run.stage_runs["landmark"]
    assert again.stage_runs["recognition"] == first_run.stage_runs["recognition"]
    assert again.evaluation == first_run.evaluation


def test_run_prints_the_gei_baseline_next_to_the_trained_model(
    first_run: PipelineOutcome, server_config: Path, mlflow_server: str
) -> None:
    """A re-run reuses every stage (no Ray) and shows whether training beat the trivial baseline."""
    result = run_cli("run", str(server_config))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Against the training-free GEI baseline" in result.stdout
    lines = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    trained = [
        cell.strip() for cell in lines[next(k for k in lines if k.startswith("LandmarkGait"))].split("|")
    ]
    assert trained[2:5] == [f"{first_run.evaluation[f'eval/rank1/{c}']:.2f}" for c in ("NM", "BG", "CL")]
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(load_config(server_config).tracking.experiment)
    (gei,) = client.search_runs([experiment.experiment_id], "tags.`landmarkgait.kind` = 'baseline'")
    gei_cells = [cell.strip() for cell in lines["GEI + nearest neighbour (no training)"].split("|")]
    assert gei_cells[2:5] == [f"{gei.data.metrics[f'eval/rank1/{c}']:.2f}" for c in ("NM", "BG", "CL")]
    (newest,) = client.search_runs(
        [experiment.experiment_id],
        "tags.`landmarkgait.kind` = 'pipeline'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    description = newest.data.tags["mlflow.note.content"]
    assert (
        "Against the training-free GEI baseline" in description
        and lines["GEI + nearest neighbour (no training)"] in description
    )


def test_report_rows_show_keypoint_error_and_part_miou_of_the_evaluated_run(
    first_run: PipelineOutcome, mlflow_server: str
) -> None:
    """The recognition run logged both: the report's row takes them, in percent."""
    from landmarkgait.pipelines.report.collect import collect_rows
    from landmarkgait.pipelines.tracking.tracker import Tracker

    client = MlflowClient(mlflow_server)
    recognition = client.get_run(first_run.stage_runs["recognition"])
    tracker = Tracker(mlflow_server, recognition.info.experiment_id, "e2e")
    (row,) = collect_rows(tracker, [tracker.get_run(first_run.pipeline_run_id)]).rows
    assert row.stage_run_ids == first_run.stage_runs  # what the report's stage curves are drawn from
    metrics = recognition.data.metrics
    assert row.quality == pytest.approx(
        {
            "keypoint error": 100 * metrics["quality/keypoint_error"],
            "part mIoU": 100 * metrics["quality/part_miou"],
        }
    )


def test_the_holistic_baseline_trains_alone_and_is_evaluated(
    server_config: Path, ray_cluster: RayHead
) -> None:
    """``model.recognition_branches: holistic``: one stage, no upstream, evaluated like stage 3."""
    outcome = run_pipeline(load_config(server_config, ["model.recognition_branches=holistic"]))
    assert list(outcome.stage_runs) == ["holistic"] and outcome.reused == []
    assert {"eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"} <= set(outcome.evaluation)
    assert outcome.evaluated_run_id == outcome.stage_runs["holistic"]
    again = run_pipeline(
        load_config(server_config, ["model.recognition_branches=holistic", "model.num_landmark=9"])
    )
    assert again.reused == ["holistic"]  # its key ignores what only LandmarkGait's networks use


def test_evaluate_command_reproduces_the_recognition_evaluation(
    first_run: PipelineOutcome, server_config: Path, ray_cluster: RayHead
) -> None:
    recognition = first_run.stage_runs["recognition"]
    result = run_cli(
        "evaluate",
        str(server_config),
        "--run",
        f"runs:/{recognition}",
        "--json",
        "--ray-address",
        ray_cluster.address,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    assert outcome["stage_runs"] == {"recognition": recognition}
    for key in ("eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"):
        assert outcome["evaluation"][key] == pytest.approx(first_run.evaluation[key])
    # The worker downloads the checkpoint, the command the rank-1 table: no progress-bar redraws
    # in the output when it is not a terminal.
    assert "Downloading artifacts" not in result.stderr


def test_an_imported_run_evaluated_on_other_data_logs_to_a_nested_run_and_leaves_the_run_alone(
    first_run: PipelineOutcome,
    server_config: Path,
    ray_cluster: RayHead,
    mlflow_server: str,
    landmarkgait_home: Path,
    tmp_path: Path,
) -> None:
    """The first run's recognition weights, re-saved as a DDP-wrapped OpenGait model saves them and
    imported into another experiment, evaluated on a second dataset with fewer training subjects
    (so another classifier size): the results land in a new evaluation run nested under it."""
    import torch

    from landmarkgait.data.format import read_metadata
    from landmarkgait.data.synth.config import SynthConfig
    from landmarkgait.data.synth.generator import generate_dataset
    from landmarkgait.models.checkpoint import read_checkpoint
    from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint
    from landmarkgait.pipelines.driver.datasets import describe_dataset
    from landmarkgait.pipelines.tracking.tracker import Tracker

    recognition = first_run.stage_runs["recognition"]
    client = MlflowClient(mlflow_server)
    tracker = Tracker(mlflow_server, client.get_run(recognition).info.experiment_id, "e2e")
    trained = read_checkpoint(tracker.checkpoint_path(recognition, tmp_path / "trained"))
    official = tmp_path / "LandmarkGait_Recognition-80000.pt"
    torch.save({**trained, "model": {f"module.{k}": v for k, v in trained["model"].items()}}, official)
    imported = import_stage_checkpoint(
        load_config(server_config, ["tracking.experiment=e2e-imported"]), "recognition", official
    ).run_id
    assert imported != recognition

    other = generate_dataset(
        SynthConfig(subjects=5, views=("000", "090"), min_frames=10, max_frames=12, seed=1),
        landmarkgait_home / "datasets" / "micro-other",
    )
    trained_on = Path(load_config(server_config).data.path)
    assert len(describe_dataset(other, None).train_subjects) != len(
        describe_dataset(trained_on, None).train_subjects
    )
    config = write_micro_config(tmp_path / "other.yaml", other, mlflow_server, "e2e-imported")
    result = run_cli(
        "evaluate", str(config), "--run", imported, "--json", "--ray-address", ray_cluster.address
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    target = outcome["pipeline_run_id"]
    assert target != imported and outcome["stage_runs"] == {"recognition": imported}
    run = client.get_run(target)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["landmarkgait.kind"] == "evaluation" and tags["mlflow.parentRunId"] == imported
    assert tags["landmarkgait.evaluated_run_id"] == imported
    assert tags["landmarkgait.data_fingerprint"] == read_metadata(other).fingerprint
    for key in ("eval/rank1/NM", "eval/rank1/BG", "eval/rank1/CL"):
        assert run.data.metrics[key] == pytest.approx(outcome["evaluation"][key])
    assert "evaluation/latest/rank1_table.txt" in artifact_paths(client, target, "evaluation/latest")
    assert not [key for key in client.get_run(imported).data.metrics if key.startswith("eval/")]


def raylet_pids() -> set[int]:
    return {process.pid for process in psutil.process_iter(["name"]) if process.info["name"] == "raylet"}


def test_without_a_cluster_a_stage_runs_on_a_private_loopback_ray_that_is_stopped_after(
    ray_head: RayHead, micro_dataset: Path, mlflow_server: str, tmp_path: Path
) -> None:
    """The README's main job starts its own Ray. Every server of it listens on loopback only,
    and it has its dashboard, so Ray Train's placement-group cleaner reaches the State API
    instead of warning all run long. The session's ``ray start`` head runs meanwhile and is the
    machine's recorded "current cluster": the cleaner must ask the private Ray, not that one
    (asked there, it finds no controller and quits, or times out on a stale record)."""
    config = write_micro_config(
        tmp_path / "local.yaml",
        micro_dataset,
        mlflow_server,
        "private-ray",
        num_workers=1,
        storage_path=tmp_path / "ray_results",
    )
    raylets_before = raylet_pids()
    returncode, seen, printed, errors = run_watching_listeners(
        [str(BIN / "landmarkgait"), "train", str(config), "--stage", "landmark", "--json"],
        tmp_path,
        timeout_s=600,
        interval_s=1,
    )
    assert returncode == 0, errors[-3000:]
    ray_servers = {name for _, _, name in seen}
    assert {"gcs_server", "raylet"} <= ray_servers, seen
    # Ray's servers and agents, the training worker and torch.distributed's rendezvous store in it
    # (pipelines/runtime/rendezvous.py): all on loopback.
    assert any(name.startswith("ray::RayTrainWorker") for _, _, name in seen), seen
    exposed = {(address, port, name) for address, port, name in seen if address not in LOOPBACK}
    assert not exposed, exposed
    assert "Failed to query Ray Train Controller actor state" not in errors
    assert "Failed to register placement group with cleaner" not in errors, errors[-3000:]
    assert "Exception in thread PlacementGroupCleanerMonitor" not in errors, errors[-3000:]
    assert "Reporting training result" not in errors  # Ray Train's per-report repr, quietened
    outcome = json.loads(printed[printed.index("{") :])
    run = MlflowClient(mlflow_server).get_run(outcome["stage_runs"]["landmark"])
    assert run.info.status == "FINISHED"
    wait_until(lambda: raylet_pids() <= raylets_before, 60, "the private Ray to stop")
