"""The one facade over MLflow: write runs, find them, fetch their artifacts, log the final model.

Everything addresses runs by id through ``MlflowClient`` (no fluent active-run state, except
around ``mlflow.pytorch.log_model``), so the same calls work in the driver and inside Ray Train
workers on other nodes. Callers get ``RunRecord`` snapshots, never MLflow entities, and name
what they look for (``trial_runs``, ``stage_runs_of_pipeline``); the filter strings live in
``filters``. It knows nothing about training; it stores and finds runs, metrics and artifacts.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.artifacts import download_artifacts
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from landmarkgait.data.format import INDEX_COLUMNS
from landmarkgait.pipelines.config import TrackingSection
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.redaction import redact_uri
from landmarkgait.pipelines.tracking import filters
from landmarkgait.pipelines.tracking.credentials import use_credentials
from landmarkgait.pipelines.tracking.experiment_kind import mark_as_training
from landmarkgait.pipelines.tracking.location import (
    is_server,
    new_experiment_artifact_root,
    resolve_tracking_uri,
)
from landmarkgait.pipelines.tracking.reachability import ReachableClient, set_http_retries
from landmarkgait.pipelines.tracking.records import RunRecord, parse_run_reference
from landmarkgait.pipelines.tracking.tags import EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND, TAG_PARENT

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
# The columns of a landmarkgait Parquet dataset, as its MLflow dataset inputs describe them.
DATASET_COLUMNS = [*INDEX_COLUMNS, "frames"]
MAX_PARAM_LENGTH = 6000


class Tracker:
    """MLflow access for one experiment at one tracking URI.

    ``tracking_uri`` is the URI as configured, credentials included (what Ray workers are sent);
    MLflow itself is given ``client_uri``, without them (``credentials.use_credentials``).
    """

    def __init__(self, tracking_uri: str, experiment_id: str, experiment_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.client_uri = use_credentials(tracking_uri)
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self._client = ReachableClient(MlflowClient(tracking_uri=self.client_uri), tracking_uri)

    # -- connection ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, section: TrackingSection) -> Tracker:
        """Resolve the URI, fail fast if a server is unreachable, get or create the experiment
        (as a model-training one: ``TAG_EXPERIMENT_KIND``)."""
        uri = resolve_tracking_uri(section)
        set_http_retries(section.http_retries)
        client = MlflowClient(tracking_uri=use_credentials(uri))
        try:
            experiment = client.get_experiment_by_name(section.experiment)
            if experiment is None:
                experiment_id = client.create_experiment(
                    section.experiment,
                    artifact_location=new_experiment_artifact_root(uri),
                    tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND_TRAINING},
                )
            else:
                experiment_id = experiment.experiment_id
                mark_as_training(client, experiment)
        except MlflowException as error:
            raise PipelineError(
                f"MLflow tracking store {redact_uri(uri)} cannot be used: {str(error).replace(uri, redact_uri(uri))}"
            ) from None
        return cls(uri, experiment_id, section.experiment)

    @classmethod
    def of_experiment(cls, tracking_uri: str, experiment: str) -> Tracker:
        """The tracker of an existing experiment (reading results; nothing is created)."""
        client = MlflowClient(tracking_uri=use_credentials(tracking_uri))
        try:
            found = client.get_experiment_by_name(experiment)
        except MlflowException as error:
            raise PipelineError(
                f"MLflow tracking store {redact_uri(tracking_uri)} cannot be used: {error}"
            ) from None
        if found is None:
            raise PipelineError(f"MLflow experiment {experiment!r} not found at {redact_uri(tracking_uri)}")
        return cls(tracking_uri, found.experiment_id, experiment)

    @classmethod
    def of_run(cls, tracking_uri: str, run_ref: str) -> Tracker:
        """The tracker of the experiment that holds run ``run_ref``."""
        client = MlflowClient(tracking_uri=use_credentials(tracking_uri))
        try:
            experiment_id = client.get_run(parse_run_reference(run_ref)).info.experiment_id
            name = client.get_experiment(experiment_id).name
        except MlflowException:
            raise PipelineError(f"MLflow run {run_ref!r} not found at {redact_uri(tracking_uri)}") from None
        return cls(tracking_uri, experiment_id, name)

    def run_link(self, run_id: str, text: str | None = None) -> str:
        """A Markdown link to a run's page, for run descriptions (relative to the MLflow UI)."""
        return f"[{text or run_id}](#/experiments/{self.experiment_id}/runs/{run_id})"

    def ui_command(self) -> str:
        """How to see this experiment's runs: the command serving the UI (for a local store) and
        the page of the experiment's runs table.

        MLflow 3.18's UI shows an experiment in the view its GenAI / Model training switch holds (a
        browser setting, GenAI until changed; the experiment's kind tag does not move it), so the
        page asks for the Model training view (``workflowType=machine_learning``)."""
        page = f"/#/experiments/{self.experiment_id}/runs?workflowType=machine_learning"
        if is_server(self.tracking_uri):
            return f"open {redact_uri(self.client_uri).rstrip('/')}{page}"
        return (
            f"mlflow ui --backend-store-uri {redact_uri(self.tracking_uri)} --host 127.0.0.1 --port 5000, "
            f"then open http://127.0.0.1:5000{page}"
        )

    # -- writing runs -----------------------------------------------------------------------------
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
        run = self._client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        if params:
            self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        entries = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in sorted(params.items())]
        for start in range(0, len(entries), 100):
            self._client.log_batch(run_id, params=entries[start : start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        entries = [Metric(_metric_key(key), float(value), timestamp, step) for key, value in metrics.items()]
        for start in range(0, len(entries), 500):
            self._client.log_batch(run_id, metrics=entries[start : start + 500])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self._client.set_tag(run_id, key, str(value))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._client.delete_tag(run_id, key)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._client.log_artifact(run_id, str(path), artifact_path)

    def log_dataset(
        self, run_id: str, source: str, fingerprint: str, splits: Mapping[str, Sequence[str]]
    ) -> None:
        """The Parquet dataset at ``source`` as the run's MLflow dataset inputs: one per split
        (``{context: subjects}``, e.g. train and test), so the UI's Dataset column and filters show
        what it used.

        MLflow keeps one input per (name, digest) and run, so each split is its own dataset
        ``<folder name>:context``; the digest is the content fingerprint (its first 12 hex digits;
        the profile holds it whole)."""
        name = Path(source).name
        digest = fingerprint.removeprefix("sha256:")[:12]
        inputs = [
            DatasetInput(
                Dataset(
                    name=f"{name}:{context}",
                    digest=digest,
                    source_type="local",
                    source=json.dumps({"uri": source}),
                    schema=json.dumps({"columns": DATASET_COLUMNS}),
                    profile=json.dumps({"fingerprint": fingerprint, "subjects": len(subjects)}),
                ),
                tags=[InputTag("mlflow.data.context", context)],
            )
            for context, subjects in splits.items()
        ]
        self._client.log_inputs(run_id, datasets=inputs)

    def model_version(self, run_id: str) -> tuple[str, str] | None:
        """(registered model name, version) of the model ``run_id`` logged, if it was registered."""
        try:
            versions = self._client.search_model_versions(filters.model_versions_of(run_id))
        except MlflowException:  # no model registry behind this tracking URI
            return None
        if not versions:
            return None
        newest = max(versions, key=lambda version: int(version.version))
        return newest.name, str(newest.version)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self._client.set_terminated(run_id, status=status)

    def finish_if_running(self, run_id: str, status: str) -> None:
        """End a run unless something else ended it first (a sweep closes the runs of trials it stops)."""
        if self._client.get_run(run_id).info.status == "RUNNING":
            self.finish(run_id, status)

    def reopen(self, run_id: str) -> None:
        """Mark an ended run RUNNING again: a resumed sweep or a restarted trial continues its run."""
        self._client.update_run(run_id, status="RUNNING")

    # -- reading runs -----------------------------------------------------------------------------
    def get_run(self, run_ref: str) -> RunRecord:
        """The run of a bare id or a ``runs:/<run_id>[/path]`` URI; a clear error when there is none."""
        run_id = parse_run_reference(run_ref)
        try:
            return RunRecord.from_mlflow(self._client.get_run(run_id))
        except MlflowException:
            raise PipelineError(
                f"MLflow run {run_ref!r} not found at {redact_uri(self.tracking_uri)}"
            ) from None

    def run_finished(self, run_id: str) -> bool:
        """True for a run that exists, finished and was not deleted."""
        run = self._active_run(run_id)
        return run is not None and run.info.status == "FINISHED"

    def run_exists(self, run_id: str) -> bool:
        """True for a run that exists in this store and was not deleted."""
        return self._active_run(run_id) is not None

    def _active_run(self, run_id: str) -> Run | None:
        try:
            run = self._client.get_run(run_id)
        except MlflowException:
            return None
        return run if run.info.lifecycle_stage == "active" else None

    def _search(self, filter_string: str, **options: Any) -> list[RunRecord]:
        runs = self._client.search_runs([self.experiment_id], filter_string=filter_string, **options)
        return [RunRecord.from_mlflow(run) for run in runs]

    def stage_runs(self, stage: str, stage_key: str | None = None, max_results: int = 20) -> list[RunRecord]:
        """Stage runs of this experiment, newest first, optionally only those with ``stage_key``."""
        return self._search(
            filters.stage_runs(stage, stage_key),
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )

    def find_finished_stage_run(self, stage: str, stage_key: str) -> RunRecord | None:
        """The newest finished run of ``stage`` with ``stage_key``: a stage a plan can reuse."""
        for run in self.stage_runs(stage, stage_key):
            if run.status == "FINISHED":
                return run
        return None

    def imported_run(self, stage: str, stage_key: str, sha256: str) -> str | None:
        """A finished run that imported the checkpoint file with ``sha256`` as ``stage`` under ``stage_key``."""
        runs = self._search(filters.imported_checkpoint(stage, stage_key, sha256), max_results=1)
        return runs[0].run_id if runs else None

    def stage_runs_of_pipeline(self, pipeline_run_id: str, finished_only: bool = False) -> list[RunRecord]:
        """Stage runs trained under a pipeline (or sweep trial) run; reused stages are not among them."""
        return self._search(filters.stage_runs_of_pipeline(pipeline_run_id, finished_only))

    def trial_runs(self, sweep_run_id: str) -> list[RunRecord]:
        """Every trial run of a sweep, oldest first."""
        return self._search(
            filters.trial_runs(sweep_run_id), order_by=["attributes.start_time ASC"], max_results=10000
        )

    def trial_run(self, sweep_run_id: str, trial_id: str) -> RunRecord | None:
        """The run of one sweep trial, if it was opened before (a restarted trial continues it)."""
        runs = self._search(filters.trial_runs(sweep_run_id, trial_id), max_results=1)
        return runs[0] if runs else None

    def running_pipeline_runs(self, train_run: str) -> list[RunRecord]:
        """Pipeline runs still marked running that train as Ray Train run ``train_run``."""
        return self._search(filters.running_pipeline_runs(train_run))

    def pipeline_runs(self) -> list[RunRecord]:
        """Finished pipeline runs (``run`` and sweep trials) of this experiment, oldest first."""
        return self._search(
            filters.pipeline_runs(), order_by=["attributes.start_time ASC"], max_results=10000
        )

    def baseline_run(self, name: str, fingerprint: str, protocol_tag: str) -> RunRecord | None:
        """The newest finished run of baseline ``name`` on dataset ``fingerprint`` evaluated as
        ``protocol_tag`` (see ``filters.baseline_runs``)."""
        runs = self._search(
            filters.baseline_runs(name, fingerprint, protocol_tag),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def finished_runs(self, kind: str) -> list[RunRecord]:
        """Finished runs of one kind (``stage``, ``evaluation``, ...) of this experiment, oldest first."""
        return self._search(
            filters.finished_runs(kind), order_by=["attributes.start_time ASC"], max_results=10000
        )

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """``(step, value)`` of every logged value of one metric, by step."""
        return sorted((entry.step, entry.value) for entry in self._client.get_metric_history(run_id, key))

    # -- artifacts --------------------------------------------------------------------------------
    def log_checkpoint(self, run_id: str, path: Path) -> None:
        """Store a stage run's final OpenGait-format checkpoint, where ``checkpoint_path`` finds it."""
        self.log_artifact(run_id, path, CHECKPOINT_DIR)

    def checkpoint_path(self, run_id: str, destination: Path | None = None) -> Path:
        """Download the final OpenGait-format checkpoint of a finished stage run."""
        artifacts = [
            item.path for item in self._client.list_artifacts(run_id, CHECKPOINT_DIR) if not item.is_dir
        ]
        if not artifacts:
            raise PipelineError(f"MLflow run {run_id} has no checkpoint artifact under '{CHECKPOINT_DIR}/'")
        destination = destination or Path(tempfile.mkdtemp(prefix="landmarkgait-ckpt-"))
        local = download_artifacts(
            run_id=run_id,
            artifact_path=sorted(artifacts)[-1],
            dst_path=str(destination),
            tracking_uri=self.client_uri,
        )
        return Path(local)

    def read_text_artifact(self, run_id: str, artifact_path: str) -> str | None:
        """The text of one artifact file of a run, or None when the run has no such artifact."""
        try:
            local = download_artifacts(
                run_id=run_id, artifact_path=artifact_path, tracking_uri=self.client_uri
            )
        except MlflowException:
            return None
        return Path(local).read_text()

    # -- models -----------------------------------------------------------------------------------
    def log_pytorch_model(
        self, run_id: str, model: nn.Module, registered: str | None, also_output_of: str | None = None
    ) -> None:
        """``mlflow.pytorch.log_model`` of a network (moved to the CPU) as the run's ``model``,
        registered as ``registered`` when the tracking backend has a model registry (``None``: not
        registered), and shown as an output of run ``also_output_of`` too (the pipeline run, whose
        page then lists the model). The fluent API is the only way to log a model; it points at
        this run only here."""
        import mlflow
        import mlflow.pytorch

        mlflow.set_tracking_uri(self.client_uri)
        # MLflow warns at every pickle save that unpickling runs code. The model artifact is a
        # pickle for MLflow's loaders; landmarkgait itself reads only the weights-only checkpoints.
        pytorch_log = logging.getLogger("mlflow.pytorch")
        level = pytorch_log.level
        pytorch_log.setLevel(logging.ERROR)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pytorch.log_model(
                model.cpu(),
                name="model",
                serialization_format="pickle",  # pt2 would trace forward, which groups landmarks at random
                pip_requirements=["torch", "landmarkgait"],
            )
        pytorch_log.setLevel(level)
        if also_output_of is not None and info.model_id:
            self._client.log_outputs(also_output_of, [LoggedModelOutput(info.model_id, step=0)])
        if registered is None:
            return
        try:
            mlflow.register_model(info.model_uri, registered)
        except MlflowException as error:
            log.warning(
                "model not registered as %r: the tracking backend has no model registry (%s)",
                registered,
                error,
            )


def _metric_key(key: str) -> str:
    """MLflow metric names allow ``/``, ``-``, ``.``, ``_``, spaces and alphanumerics only."""
    return "".join(ch if ch.isalnum() or ch in "/_-. " else "_" for ch in key)
