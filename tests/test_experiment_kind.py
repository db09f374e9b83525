"""The experiments landmarkgait writes to are model-training experiments in MLflow's UI, and the
printed hint opens their runs table (not the GenAI "Send your first trace" page)."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from landmarkgait.pipelines.config import TrackingSection
from landmarkgait.pipelines.tracking.tracker import Tracker

# Spelled out rather than imported: these are the names MLflow's UI reads, not ours to rename.
KIND = "mlflow.experimentKind"
TRAINING = "custom_model_development"


def kind_of(client: MlflowClient, experiment_id: str) -> str | None:
    return client.get_experiment(experiment_id).tags.get(KIND)


def test_an_experiment_the_tracker_creates_is_a_model_training_one(mlflow_server: str) -> None:
    tracker = Tracker.connect(TrackingSection(tracking_uri=mlflow_server, experiment="kind-new"))
    assert kind_of(MlflowClient(mlflow_server), tracker.experiment_id) == TRAINING
    assert tracker.ui_command() == (
        f"open {mlflow_server}/#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning"
    )


def test_only_our_experiments_without_a_kind_are_marked(mlflow_server: str) -> None:
    client = MlflowClient(mlflow_server)
    ours = client.create_experiment("kind-older-landmarkgait")
    client.create_run(ours, tags={"landmarkgait.kind": "pipeline"})
    foreign = client.create_experiment("kind-someone-elses")
    client.create_run(foreign, tags={"team": "other"})
    chosen = client.create_experiment("kind-chosen", tags={KIND: "genai_development"})
    client.create_run(chosen, tags={"landmarkgait.kind": "pipeline"})
    for name in ("kind-older-landmarkgait", "kind-someone-elses", "kind-chosen"):
        Tracker.connect(TrackingSection(tracking_uri=mlflow_server, experiment=name))
    assert kind_of(client, ours) == TRAINING
    assert kind_of(client, foreign) is None
    assert kind_of(client, chosen) == "genai_development"


def test_the_installed_mlflow_ui_reads_the_kind_tag_and_the_view_parameter() -> None:
    """The tag and the ``workflowType`` URL parameter are read by MLflow's own UI bundle; a new
    MLflow that renamed either would make this fail rather than silently open the GenAI page."""
    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    text = "".join(path.read_text(errors="replace") for path in bundle.glob("main.*.js"))
    assert f'"{KIND}"' in text
    assert f'CUSTOM_MODEL_DEVELOPMENT="{TRAINING}"' in text
    assert 'get("workflowType")' in text and 'MACHINE_LEARNING="machine_learning"' in text
