"""One sweep trial: the pipeline with one point of the search space, reporting to Ray Tune.

The trial is a Tune function trainable with a small CPU share; its stages train in their own
``TorchTrainer`` (which queues for worker resources), exactly as ``landmarkgait run`` would, so
stages whose stage keys match a finished run are reused. Its MLflow run is the pipeline run,
nested under the sweep run and tagged with its method and seed; a restarted trial (``--resume``)
continues the same MLflow run. The seeds of ``search.repeats`` are in every stage key, so a
repeat trains its own stages and reuses only a finished run of the same seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.driver.planning import plan_pipeline
from landmarkgait.pipelines.driver.run import execute, prepare
from landmarkgait.pipelines.log_setup import configure_worker_logging, verbose
from landmarkgait.pipelines.metric_names import ITERATION
from landmarkgait.pipelines.plan_types import StageTask
from landmarkgait.pipelines.report.collect import method_label
from landmarkgait.pipelines.sweep.config import LoadedSweep
from landmarkgait.pipelines.sweep.leases import lease_plan, release_stage_keys
from landmarkgait.pipelines.sweep.metrics import qualified, stage_result
from landmarkgait.pipelines.tracking.tags import (
    TAG_ITERATION,
    TAG_KIND,
    TAG_METHOD,
    TAG_SEED,
    TAG_SWEEP,
    TAG_SWEPT,
    TAG_TRIAL,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepContext:
    """What every trial needs from the driver (locations are already resolved there)."""

    loaded: LoadedSweep
    sweep_run_id: str
    tracking_uri: str
    experiment_id: str
    experiment_name: str

    def tracker(self) -> Tracker:
        return Tracker(self.tracking_uri, self.experiment_id, self.experiment_name)


class SweepReportCallback(TuneReportCallback):
    """Forwards the stage reports that carry the swept metric to Tune, stage-qualified.

    Runs in the Ray Train controller. Only reports with the metric reach Tune (searchers such as
    Optuna require it in every result; the other reports are in the stage runs' MLflow metrics).
    The metric also lands on the trial's MLflow run, stepped by its time attribute, so the
    MLflow UI shows each trial's curve and where ASHA stopped it.
    """

    def __init__(self, metric: str, time_attr: str, context: SweepContext, trial_run_id: str) -> None:
        super().__init__()
        self.metric, self.time_attr = metric, time_attr
        self.context, self.trial_run_id = context, trial_run_id
        self.logged_steps: set[int] = set()

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        result = stage_result(metrics[0])
        if self.metric not in result:
            return
        # MLflow first: Tune may stop the trial (and this controller) on the result it receives.
        if self.time_attr in result:
            step = int(result[self.time_attr])
            if step not in self.logged_steps:
                self.logged_steps.add(step)
                self.context.tracker().log_metrics(
                    self.trial_run_id, {self.metric: result[self.metric]}, step
                )
        super().after_report(run_context, [result], None)  # checkpoints stay Ray Train's


def trial_run_name(trial_id: str, params: dict[str, Any]) -> str:
    """``trial-003 num_landmark=20 triplet=0.5``: the MLflow run list reads like the sweep."""
    index = trial_id.rsplit("_", 1)[-1]
    values = " ".join(
        f"{key.rsplit('.', 1)[-1]}={value:.4g}"
        if isinstance(value, float)
        else f"{key.rsplit('.', 1)[-1]}={value}"
        for key, value in params.items()
    )
    return f"trial-{index} {values}"


def identity_tags(config: PipelineConfig) -> dict[str, str]:
    """The method (as ``report`` labels it) and seed of a trial: the seeds of one method share
    the method tag, so the MLflow UI can group a method's repeats."""
    params = {key: str(value) for key, value in config.flat_params().items()}
    return {TAG_METHOD: method_label(params), TAG_SEED: str(config.seed)}


def open_trial_run(
    tracker: Tracker,
    context: SweepContext,
    trial_id: str,
    params: dict[str, Any],
    config: PipelineConfig,
) -> tuple[str, str]:
    """(run id, status) of this trial's MLflow run: the existing one of a restarted trial, or a new one."""
    existing = tracker.trial_run(context.sweep_run_id, trial_id)
    if existing is not None:
        if existing.status != "FINISHED":
            tracker.reopen(existing.run_id)
        return existing.run_id, existing.status
    run_id = tracker.create_run(
        name=trial_run_name(trial_id, params),
        tags={
            TAG_KIND: "pipeline",
            TAG_SWEEP: context.sweep_run_id,
            TAG_TRIAL: trial_id,
            TAG_SWEPT: ",".join(params),
            **identity_tags(config),
        },
        params=params,
        parent_run_id=context.sweep_run_id,
    )
    return run_id, "RUNNING"


def final_result(tracker: Tracker, stage_runs: dict[str, str]) -> dict[str, float]:
    """Every stage run's last metrics, stage-qualified, plus each stage's final iteration."""
    result: dict[str, float] = {}
    for stage, run_id in stage_runs.items():
        run = tracker.get_run(run_id)
        result.update({qualified(stage, name): value for name, value in run.metrics.items()})
        if TAG_ITERATION in run.tags:
            result[qualified(stage, ITERATION)] = float(run.tags[TAG_ITERATION])
    return result


def run_trial(tune_params: dict[str, Any], context: SweepContext) -> None:
    """Tune function trainable: plan (leasing stage keys), train what is missing, report."""
    configure_worker_logging(verbose())
    trial_id = tune.get_context().get_trial_id()
    loaded = context.loaded
    params = loaded.sweep.search.trial_params(tune_params)
    config = loaded.trial_config(params)
    prepared = prepare(config)
    tracker = prepared.tracker
    run_id, status = open_trial_run(tracker, context, trial_id, params, config)
    if status == "FINISHED":  # a resumed sweep restarted a trial that had already finished
        log.info("trial %s finished earlier in MLflow run %s; reporting its results", trial_id, run_id)
        report_final(tracker, loaded, run_id, tracker.get_run(run_id).stage_links())
        return

    def make_plan() -> tuple[StageTask, ...]:
        return plan_pipeline(config, prepared.data, tracker)

    try:
        plan = lease_plan(
            context.sweep_run_id,
            trial_id,
            make_plan,
            lambda tasks: [task.stage_key for task in tasks if task.trains],
        )
        tracker.set_tags(
            run_id,
            {stage_link_tag(task.stage): task.reuse_run_id for task in plan if task.reuse_run_id},
        )
        callback = SweepReportCallback(loaded.sweep.search.metric, loaded.time_attr, context, run_id)
        outcome = execute(prepared, plan, callbacks=[callback], pipeline_run_id=run_id)
    finally:
        release_stage_keys(context.sweep_run_id, trial_id)
    report_final(tracker, loaded, run_id, outcome.stage_runs)


def report_final(tracker: Tracker, loaded: LoadedSweep, run_id: str, stage_runs: dict[str, str]) -> None:
    result = final_result(tracker, stage_runs)
    metric, time_attr = loaded.sweep.search.metric, loaded.time_attr
    if metric in result:
        tracker.log_metrics(run_id, {metric: result[metric]}, step=int(result.get(time_attr, 0)))
    tune.report(result)
