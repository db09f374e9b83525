"""The pipeline driver: plan stages against MLflow, run them in one Ray Train job, summarise.

Order of work: connect to MLflow (fails fast when unreachable), make sure the dataset exists,
plan which stages to train and which finished runs to reuse, open the pipeline's parent run,
run every stage to train in a single ``TorchTrainer`` (one worker group), then link the stage
runs to the parent and copy the evaluation summary onto it for comparison in the MLflow UI.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import landmarkgait
from landmarkgait.data.atomic import check_writable
from landmarkgait.models.registry import STAGES, stage_spec
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.driver.cluster_fit import check_connected_cluster, checked_cluster
from landmarkgait.pipelines.driver.datasets import describe_dataset, ensure_dataset
from landmarkgait.pipelines.driver.description import pipeline_description, set_description
from landmarkgait.pipelines.driver.planning import pipeline_run_name, plan_pipeline
from landmarkgait.pipelines.driver.run_lock import exclusive_run
from landmarkgait.pipelines.driver.train_job import fit_reporting_fatal
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.log_setup import verbose
from landmarkgait.pipelines.plan_types import DataIdentity, StageTask
from landmarkgait.pipelines.report.collect import evaluation_of, method_label
from landmarkgait.pipelines.runtime.ray_runtime import ray_session
from landmarkgait.pipelines.tracking.finished_runs import finished_recognition_run
from landmarkgait.pipelines.tracking.tags import (
    TAG_CODE,
    TAG_DATA,
    TAG_EVALUATED_RUN,
    TAG_KIND,
    TAG_STAGE,
    TAG_TRAIN_RUN,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker
from landmarkgait.pipelines.worker.job import WorkerJob

log = logging.getLogger(__name__)


@dataclass
class PipelineOutcome:
    pipeline_run_id: str
    stage_runs: dict[str, str]
    reused: list[str]
    evaluation: dict[str, float] = field(default_factory=dict)
    rank1_table: str = ""
    ui_command: str = ""
    tracking_uri: str = ""
    evaluated_run_id: str | None = None  # the stage run whose evaluation this is


def code_version() -> str:
    """Package version plus the git commit of the source tree when there is one."""
    version = landmarkgait.__version__
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(landmarkgait.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{version}+git.{commit}"
    except (OSError, subprocess.SubprocessError):
        return version


@dataclass
class PreparedPipeline:
    config: PipelineConfig
    tracker: Tracker
    dataset_path: Path
    data: DataIdentity

    def worker_job(
        self,
        plan: tuple[StageTask, ...],
        version: str,
        pipeline_run_id: str | None = None,
        evaluate_run_id: str | None = None,
        evaluation_run_id: str | None = None,
    ) -> WorkerJob:
        """What every Ray Train worker receives for ``plan`` (or for evaluating one run's
        checkpoint, logging to ``evaluation_run_id``)."""
        return WorkerJob(
            config=self.config,
            plan=plan,
            tracking_uri=self.tracker.tracking_uri,
            experiment_id=self.tracker.experiment_id,
            experiment_name=self.tracker.experiment_name,
            pipeline_run_id=pipeline_run_id,
            dataset_path=str(self.dataset_path),
            data=self.data,
            code_version=version,
            evaluate_run_id=evaluate_run_id,
            evaluation_run_id=evaluation_run_id,
            verbose=verbose(),
        )


def prepare(config: PipelineConfig, ray_address: str | None = None) -> PreparedPipeline:
    """Checks that need no training: tracking reachable, storage writable, dataset present (or
    generated) and valid."""
    tracker = Tracker.connect(config.tracking)
    check_storage(config.scaling.resolved_storage_path())
    dataset_path = ensure_dataset(config.data, ray_address)
    data = describe_dataset(dataset_path, config.data.partition)
    return PreparedPipeline(config, tracker, dataset_path, data)


def check_storage(storage_path: str) -> None:
    """Ray Train's checkpoint folder must be creatable before a minute of start-up is spent."""
    if "://" in storage_path:  # s3://, gs://: the cloud filesystem answers for itself
        return
    check_writable(Path(storage_path), "scaling.storage_path")


def run_pipeline(
    config: PipelineConfig,
    stages: Sequence[str] | None = None,
    force: bool = False,
    upstream: str | None = None,
    callbacks: Sequence[Any] = (),
    ray_address: str | None = None,
) -> PipelineOutcome:
    """Plan against MLflow, train what is missing in one Ray Train job, and summarise.

    Every check that needs no training (tracking reachable, dataset valid, upstream run found)
    happens before Ray starts; a pipeline whose stages are all reusable never starts Ray. Once Ray
    is up, the cluster must be able to hold the workers before any MLflow run opens (``cluster_fit``).
    """
    prepared = prepare(config, ray_address)
    plan = plan_pipeline(
        config, prepared.data, prepared.tracker, tuple(stages or ()), force=force, upstream_run_id=upstream
    )
    with checked_cluster(config.scaling, ray_address, needed=any(task.trains for task in plan)):
        return execute(prepared, plan, force=force, callbacks=callbacks, ray_address=ray_address)


def execute(
    prepared: PreparedPipeline,
    plan: Sequence[StageTask],
    force: bool = False,
    callbacks: Sequence[Any] = (),
    ray_address: str | None = None,
    pipeline_run_id: str | None = None,
) -> PipelineOutcome:
    """Train ``plan``'s stages under a pipeline run (a new one, or ``pipeline_run_id``, e.g. a sweep trial's)."""
    config, tracker = prepared.config, prepared.tracker
    version = code_version()
    train_run = train_run_name(config, plan, force)
    tags = {
        TAG_KIND: "pipeline",
        TAG_DATA: prepared.data.fingerprint,
        TAG_CODE: version,
        TAG_TRAIN_RUN: train_run,
    }
    with exclusive_run(train_run):  # a second driver on the same run refuses here, before any run opens
        close_orphans(tracker, train_run, keep=pipeline_run_id)
        if pipeline_run_id is None:
            parent = tracker.create_run(name=pipeline_run_name(config, plan), tags=tags)
        else:  # a sweep trial's run, named after its swept values
            parent = pipeline_run_id
            tracker.set_tags(parent, tags)
        tracker.log_params(parent, config.flat_params())
        tracker.log_text(parent, config.to_yaml(), "config/resolved.yaml")
        tracker.log_dataset(
            parent,
            str(prepared.dataset_path),
            prepared.data.fingerprint,
            prepared.data.splits(with_test=any(stage_spec(task.stage).evaluates for task in plan)),
        )
        reused = [task.stage for task in plan if not task.trains]
        for task in plan:
            if not task.trains:
                log.info(
                    "stage %s: reusing finished run %s (same config and data)", task.stage, task.reuse_run_id
                )
        try:
            if any(task.trains for task in plan):
                job = prepared.worker_job(tuple(plan), version, pipeline_run_id=parent)
                with ray_session(ray_address):
                    fit_reporting_fatal(tracker, parent, job, train_run, callbacks)
            stage_runs = collect_stage_runs(tracker, parent, plan)
            outcome = summarise(tracker, parent, stage_runs, reused)
        except BaseException as error:
            close_pipeline_run(
                tracker, parent, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            )
            raise
        tracker.finish(parent)
        return outcome


def close_orphans(tracker: Tracker, train_run: str, keep: str | None) -> None:
    """Mark KILLED the pipeline runs (and their stage runs) that a killed driver left running.

    A pipeline run still RUNNING under the same Ray Train run name as this one is the earlier,
    interrupted attempt at the same stages: this driver holds the run's lock (``run_lock``), so
    no live driver owns it. The
    stage run this run resumes is reopened by its worker.
    """
    for orphan in tracker.running_pipeline_runs(train_run):
        if orphan.run_id != keep:
            close_pipeline_run(tracker, orphan.run_id, "KILLED")
            log.info("closed pipeline run %s, left running by an interrupted driver", orphan.run_id)


def close_pipeline_run(tracker: Tracker, run_id: str, status: str) -> None:
    """End a pipeline run and its stage runs that are still running with ``status``."""
    for stage_run in tracker.stage_runs_of_pipeline(run_id):
        if stage_run.status == "RUNNING":
            tracker.finish(stage_run.run_id, status)
    tracker.finish_if_running(run_id, status)


def train_run_name(config: PipelineConfig, plan: Sequence[StageTask], force: bool) -> str:
    """Ray Train run name: stable for the same target stage so a re-run resumes from Ray's checkpoints.

    The last stage's key determines every key before it, so an interrupted pipeline and its
    re-run (which now reuses the stages that had finished) share the name.
    """
    digest = plan[-1].stage_key[:12]
    suffix = f"-{int(time.time())}" if force else ""
    return f"{config.name}-{digest}{suffix}"


def collect_stage_runs(tracker: Tracker, parent: str, plan: Sequence[StageTask]) -> dict[str, str]:
    runs: dict[str, str] = {task.stage: task.reuse_run_id for task in plan if task.reuse_run_id}
    for run in tracker.stage_runs_of_pipeline(parent, finished_only=True):
        runs[run.tags[TAG_STAGE]] = run.run_id
    missing = [task.stage for task in plan if task.stage not in runs]
    if missing:
        raise PipelineError(f"stages {', '.join(missing)} did not finish; see the Ray Train logs above")
    ordered = {stage: runs[stage] for stage in STAGES if stage in runs}
    tracker.set_tags(parent, {stage_link_tag(stage): run_id for stage, run_id in ordered.items()})
    return ordered


def summarise(
    tracker: Tracker,
    parent: str,
    stage_runs: dict[str, str],
    reused: list[str],
    evaluation_run: str | None = None,
) -> PipelineOutcome:
    """The outcome, with the evaluation of ``evaluation_run`` (default: the recognition run),
    whose metrics are also logged on ``parent`` for comparing pipelines in the MLflow UI."""
    outcome = PipelineOutcome(
        parent, stage_runs, reused, ui_command=tracker.ui_command(), tracking_uri=tracker.tracking_uri
    )
    evaluated = evaluation_run or next(
        (run_id for stage, run_id in stage_runs.items() if stage_spec(stage).evaluates), None
    )
    if evaluated is None:
        return outcome
    outcome.evaluated_run_id = evaluated
    evaluated_record = tracker.get_run(evaluated)
    outcome.evaluation = {
        key: value for key, value in evaluated_record.metrics.items() if key.startswith("eval/")
    }
    if outcome.evaluation and parent != evaluated:
        tracker.log_metrics(parent, outcome.evaluation, step=0)
    rank1_table = tracker.read_text_artifact(evaluated, "evaluation/latest/rank1_table.txt")
    if rank1_table is None:
        log.warning("run %s has no rank-1 table artifact", evaluated)
    else:
        outcome.rank1_table = rank1_table
    if parent != evaluated:
        data = evaluation_of(evaluated_record)
        headline = (
            f"**{method_label(evaluated_record.params)}** on `{Path(data.dataset_path).name}` "
            f"(`{data.fingerprint[:19]}`), evaluated as `{data.protocol_tag}`"
        )
        set_description(
            tracker,
            parent,
            pipeline_description(tracker, headline, stage_runs, reused, outcome.rank1_table, evaluated),
        )
    return outcome


def evaluate_recognition_run(
    config: PipelineConfig, run_reference: str, ray_address: str | None = None
) -> PipelineOutcome:
    """Evaluate a finished recognition run's checkpoint on ``config``'s dataset, on Ray workers.

    On the dataset the run was trained on, the results are logged to the run itself. On another
    dataset (cross-dataset evaluation) they go to a new ``evaluation`` run nested under it, so
    the run keeps its own test results; ``outcome.pipeline_run_id`` names the run holding them.
    """
    prepared = prepare(config, ray_address)
    tracker = prepared.tracker
    run = finished_recognition_run(tracker, run_reference)
    source = run.run_id
    stage = run.tags[TAG_STAGE]
    version = code_version()
    target = source
    if run.tags.get(TAG_DATA) != prepared.data.fingerprint:
        target = tracker.create_run(
            name=f"evaluation on {prepared.dataset_path.name}",
            tags={
                TAG_KIND: "evaluation",
                TAG_EVALUATED_RUN: source,
                TAG_DATA: prepared.data.fingerprint,
                TAG_CODE: version,
            },
            params=config.flat_params(),
            parent_run_id=source,
        )
        tracker.log_dataset(
            target,
            str(prepared.dataset_path),
            prepared.data.fingerprint,
            {"test": prepared.data.test_subjects},
        )
        log.info(
            "run %s was trained on other data: cross-dataset results go to evaluation run %s", source, target
        )
    job = prepared.worker_job((), version, evaluate_run_id=source, evaluation_run_id=target)
    try:
        with ray_session(ray_address):
            check_connected_cluster(config.scaling, what="the evaluation")
            fit_reporting_fatal(
                tracker, target, job, f"{config.name}-evaluate-{source[:8]}-{int(time.time())}"
            )
    except BaseException as error:
        if target != source:
            tracker.finish_if_running(target, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        raise
    if target != source:
        tracker.finish(target)
    return summarise(tracker, target, {stage: source}, [], evaluation_run=target)
