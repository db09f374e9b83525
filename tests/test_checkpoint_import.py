"""``landmarkgait import``: an OpenGait-format checkpoint becomes a finished stage run.

Real CLI subprocesses against the session's real MLflow server and micro Parquet dataset; the
checkpoints are written the way OpenGait writes them (``{'model', 'optimizer', 'scheduler',
'iteration'}``), here under a ``module.`` prefix as a DistributedDataParallel save leaves them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from cluster_helpers import run_cli, write_micro_config
from mlflow.tracking import MlflowClient

from landmarkgait.models import build_model
from landmarkgait.models.checkpoint import load_opengait_checkpoint
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint
from landmarkgait.pipelines.driver.datasets import describe_dataset
from landmarkgait.pipelines.driver.planning import plan_pipeline, stage_keys
from landmarkgait.pipelines.tracking.tracker import Tracker

ITERATION = 123


@pytest.fixture(scope="module")
def import_config(tmp_path_factory: pytest.TempPathFactory, micro_dataset: Path, mlflow_server: str) -> Path:
    return write_micro_config(
        tmp_path_factory.mktemp("import") / "micro.yaml", micro_dataset, mlflow_server, "import"
    )


@pytest.fixture(scope="module")
def landmark_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A stage-1 checkpoint as OpenGait saves it from a DDP-wrapped model, with its training state."""
    torch.manual_seed(7)
    model = build_model("landmark", "micro")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))  # not what a fresh model starts from
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0e-4, weight_decay=5.0e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[20000], gamma=0.1)
    state = {f"module.{key}": value for key, value in model.state_dict().items()}
    path = tmp_path_factory.mktemp("official") / "LandmarkGait_Silh_to_Landmark-30000.pt"
    torch.save(
        {
            "model": state,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "iteration": ITERATION,
        },
        path,
    )
    return path, model.state_dict()


def run_import(config: Path, stage: str, checkpoint: Path, *options: str):
    return run_cli("import", str(config), "--stage", stage, str(checkpoint), *options)


def test_an_imported_checkpoint_is_the_configs_finished_stage_run_that_the_pipeline_reuses(
    import_config: Path,
    landmark_checkpoint: tuple[Path, dict[str, torch.Tensor]],
    mlflow_server: str,
    tmp_path: Path,
) -> None:
    path, weights = landmark_checkpoint
    result = run_import(import_config, "landmark", path, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    assert outcome["stage"] == "landmark" and outcome["iteration"] == ITERATION and not outcome["reused"]

    client = MlflowClient(mlflow_server)
    run = client.get_run(outcome["run_id"])
    config = load_config(import_config)
    data = describe_dataset(Path(config.data.path), config.data.partition)
    tags = run.data.tags
    assert run.info.status == "FINISHED"
    assert tags["landmarkgait.kind"] == "stage" and tags["landmarkgait.stage"] == "landmark"
    assert tags["landmarkgait.stage_key"] == stage_keys(config, data)["landmark"] == outcome["stage_key"]
    assert tags["landmarkgait.imported_from"] == str(path)
    assert tags["landmarkgait.checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tags["landmarkgait.iteration"] == str(ITERATION)
    assert run.data.params["model.preset"] == "micro"

    # The artifact is the file itself, under the name a trained stage's checkpoint has.
    tracker = Tracker(mlflow_server, run.info.experiment_id, "import")
    stored = tracker.checkpoint_path(run.info.run_id, tmp_path)
    assert stored.name == f"LandmarkGait_Silh_to_Landmark-{ITERATION:05d}.pt"
    assert stored.read_bytes() == path.read_bytes()
    restored = build_model("landmark", "micro")
    load_opengait_checkpoint(restored, stored, strict=True)
    for key, value in restored.state_dict().items():
        assert torch.equal(value, weights[key]), key
    listed = {item.path for item in client.list_artifacts(run.info.run_id, "summary")}
    assert "summary/silhouettes.png" in listed and "summary/reconstruction.png" in listed

    # Planning the config finds it: stage 1 is reused, stage 2 starts from it.
    plan = plan_pipeline(config, data, tracker)
    assert plan[0].reuse_run_id == run.info.run_id
    assert plan[1].trains and plan[1].upstream_run_id == run.info.run_id

    # The same file again: the same run, and the command that continues from it.
    again = run_import(import_config, "landmark", path, "--set", "seed=0")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"already imported as landmark MLflow run {run.info.run_id}" in again.stdout
    assert f"Next: landmarkgait run {import_config} --set seed=0" in again.stdout


def test_a_checkpoint_of_another_stage_is_refused_in_one_line_naming_file_and_keys(
    import_config: Path, landmark_checkpoint: tuple[Path, dict[str, torch.Tensor]], mlflow_server: str
) -> None:
    path, _ = landmark_checkpoint
    result = run_import(import_config, "parsing", path)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("landmarkgait: error: checkpoint ") and str(path) in message
    assert "'parsing'" in message and "refine." in message
    assert "Traceback" not in result.stderr
    experiment = MlflowClient(mlflow_server).get_experiment_by_name("import")
    parsing_runs = MlflowClient(mlflow_server).search_runs(
        [experiment.experiment_id], "tags.`landmarkgait.stage` = 'parsing'"
    )
    assert parsing_runs == []


def test_an_unreadable_file_is_refused_in_one_line_naming_it(import_config: Path, tmp_path: Path) -> None:
    path = tmp_path / "official.pt"
    path.write_bytes(b"not a checkpoint")
    result = run_import(import_config, "landmark", path)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"landmarkgait: error: checkpoint {path}: cannot be read safely"), message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file does not exist"),
        ({"model": {}, "iteration": "30000"}, "key 'iteration' must be a non-negative integer"),
    ],
)
def test_missing_files_and_bad_iterations_are_refused_naming_the_file(
    import_config: Path, tmp_path: Path, content: object, expected: str
) -> None:
    path = tmp_path / "official.pt"
    if content is not None:
        torch.save(content, path)
    with pytest.raises(ModelConfigError) as refused:
        import_stage_checkpoint(load_config(import_config), "landmark", path)
    assert str(path) in str(refused.value) and expected in str(refused.value)
