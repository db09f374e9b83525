"""The one facade over MLflow: where runs live, how stage runs are tagged, found and chained.

Everything addresses runs by id through ``MlflowClient`` (no fluent active-run state), so the
same calls work in the driver and inside Ray Train workers on other nodes. It knows nothing
about training; it stores and finds runs, metrics and artifacts.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, Run, RunStatus
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.config import STAGES, TrackingSection, landmarkgait_home
from landmarkgait.pipelines.errors import PipelineError

log = logging.getLogger(__name__)

TAG_KIND = "landmarkgait.kind"
TAG_STAGE = "landmarkgait.stage"
TAG_STAGE_KEY = "landmarkgait.stage_key"
TAG_UPSTREAM = "landmarkgait.upstream_run_id"
TAG_DATA = "landmarkgait.data_fingerprint"
TAG_CODE = "landmarkgait.code_version"
TAG_PIPELINE = "landmarkgait.pipeline_run_id"
TAG_ITERATION = "landmarkgait.iteration"
TAG_SWEEP = "landmarkgait.sweep_run_id"
TAG_TRIAL = "landmarkgait.trial_id"
TAG_IMPORTED_FROM = "landmarkgait.imported_from"
TAG_EVALUATED_RUN = "landmarkgait.evaluated_run_id"
TAG_CHECKPOINT_SHA256 = "landmarkgait.checkpoint_sha256"
TAG_PARENT = "mlflow.parentRunId"
TAG_NOTE = "mlflow.note.content"
CHECKPOINT_DIR = "checkpoints"
MAX_PARAM_LENGTH = 6000


def stage_link_tag(stage: str) -> str:
    """Tag on a pipeline (or sweep trial) run naming the run of one of its stages."""
    return f"landmarkgait.run.{stage}"


def stage_links(run: Run) -> dict[str, str]:
    """``{stage: run id}`` of the stage runs a pipeline run links to, in stage order."""
    tags = run.data.tags
    return {stage: tags[stage_link_tag(stage)] for stage in STAGES if stage_link_tag(stage) in tags}


def default_tracking_uri() -> str:
    return f"sqlite:///{landmarkgait_home() / 'mlflow.db'}"


def default_artifact_root() -> str:
    return (landmarkgait_home() / "mlartifacts").as_uri()


@dataclass(frozen=True)
class StageRunInfo:
    run_id: str
    stage: str
    stage_key: str
    status: str
    start_time: int
    iteration: int | None

    @classmethod
    def from_run(cls, run: Run) -> StageRunInfo:
        tags = run.data.tags
        iteration = tags.get(TAG_ITERATION)
        return cls(
            run_id=run.info.run_id,
            stage=tags.get(TAG_STAGE, "?"),
            stage_key=tags.get(TAG_STAGE_KEY, "?"),
            status=run.info.status,
            start_time=run.info.start_time or 0,
            iteration=int(iteration) if iteration else None,
        )

    def describe(self) -> str:
        return f"{self.run_id} (stage {self.stage}, key {self.stage_key}, {self.status}, iteration {self.iteration})"


class Tracker:
    """MLflow access for one experiment at one tracking URI."""

    def __init__(self, tracking_uri: str, experiment_id: str, experiment_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self.client = MlflowClient(tracking_uri=tracking_uri)

    # -- connection ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, section: TrackingSection) -> Tracker:
        """Resolve the URI, fail fast if a server is unreachable, get or create the experiment."""
        uri = section.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        elif uri.startswith(("http://", "https://")):
            check_server_reachable(uri)
        client = MlflowClient(tracking_uri=uri)
        try:
            experiment = client.get_experiment_by_name(section.experiment)
            if experiment is None:
                artifact_root = None if uri.startswith(("http://", "https://")) else default_artifact_root()
                experiment_id = client.create_experiment(section.experiment, artifact_location=artifact_root)
            else:
                experiment_id = experiment.experiment_id
        except mlflow.exceptions.MlflowException as error:
            raise PipelineError(f"MLflow tracking store {uri} cannot be used: {error}") from None
        return cls(uri, experiment_id, section.experiment)

    def ui_command(self) -> str:
        if self.tracking_uri.startswith(("http://", "https://")):
            return f"open {self.tracking_uri}"
        return f"mlflow ui --backend-store-uri {self.tracking_uri} --host 127.0.0.1 --port 5000"

    # -- runs -------------------------------------------------------------------------------------
    def create_run(
        self,
        name: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> str:
        all_tags = {key: str(value) for key, value in tags.items()}
        if parent_run_id:
            all_tags[TAG_PARENT] = parent_run_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        if params:
            self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        entries = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in sorted(params.items())]
        for start in range(0, len(entries), 100):
            self.client.log_batch(run_id, params=entries[start : start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        entries = [Metric(_metric_key(key), float(value), timestamp, step) for key, value in metrics.items()]
        for start in range(0, len(entries), 500):
            self.client.log_batch(run_id, metrics=entries[start : start + 500])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, str(value))

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def finish_if_running(self, run_id: str, status: str) -> None:
        """End a run unless something else ended it first (a sweep closes the runs of trials it stops)."""
        if self.client.get_run(run_id).info.status == "RUNNING":
            self.finish(run_id, status)

    def get_run(self, run_ref: str) -> Run:
        run_id = parse_run_reference(run_ref)
        try:
            return self.client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            raise PipelineError(f"MLflow run {run_ref!r} not found at {self.tracking_uri}") from None

    def run_finished(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            return False
        return run.info.status == "FINISHED" and run.info.lifecycle_stage == "active"

    # -- stage runs -------------------------------------------------------------------------------
    def stage_runs(
        self, stage: str, stage_key: str | None = None, max_results: int = 20
    ) -> list[StageRunInfo]:
        """Stage runs of this experiment, newest first, optionally only those with ``stage_key``."""
        query = f"tags.`{TAG_KIND}` = 'stage' and tags.`{TAG_STAGE}` = '{stage}'"
        if stage_key:
            query += f" and tags.`{TAG_STAGE_KEY}` = '{stage_key}'"
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=query,
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
        return [StageRunInfo.from_run(run) for run in runs]

    def find_finished_stage_run(self, stage: str, stage_key: str) -> StageRunInfo | None:
        for info in self.stage_runs(stage, stage_key):
            if info.status == RunStatus.to_string(RunStatus.FINISHED):
                return info
        return None

    def checkpoint_path(self, run_id: str, destination: Path | None = None) -> Path:
        """Download the final OpenGait-format checkpoint of a finished stage run."""
        artifacts = [
            item.path for item in self.client.list_artifacts(run_id, CHECKPOINT_DIR) if not item.is_dir
        ]
        if not artifacts:
            raise PipelineError(f"MLflow run {run_id} has no checkpoint artifact under '{CHECKPOINT_DIR}/'")
        destination = destination or Path(tempfile.mkdtemp(prefix="landmarkgait-ckpt-"))
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=sorted(artifacts)[-1],
            dst_path=str(destination),
            tracking_uri=self.tracking_uri,
        )
        return Path(local)


def parse_run_reference(reference: str) -> str:
    """Accept a bare run id or a ``runs:/<run_id>[/path]`` URI and return the run id."""
    if reference.startswith("runs:/"):
        parts = [part for part in reference.removeprefix("runs:/").split("/") if part]
        if not parts:
            raise PipelineError(f"run reference {reference!r} has no run id (expected runs:/<run_id>)")
        return parts[0]
    return reference.strip()


def check_server_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail before any training starts when an MLflow server does not answer."""
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout_s) as response:
            if response.status != 200:
                raise PipelineError(f"MLflow tracking server {uri} answered {response.status} on /health")
    except (urllib.error.URLError, OSError) as error:
        raise PipelineError(
            f"MLflow tracking server {uri} is unreachable ({getattr(error, 'reason', error)}); start it "
            f"(e.g. mlflow server --host 127.0.0.1 --port 5000 --artifacts-destination DIR) or fix tracking.tracking_uri"
        ) from None


def _metric_key(key: str) -> str:
    """MLflow metric names allow ``/``, ``-``, ``.``, ``_``, spaces and alphanumerics only."""
    return "".join(ch if ch.isalnum() or ch in "/_-. " else "_" for ch in key)
