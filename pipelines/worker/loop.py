"""``train_loop_per_worker`` of the pipeline's single TorchTrainer: all planned stages in order.

Keeping one worker group for every stage of a ``run`` avoids paying Ray Train's start-up per
stage; each stage still gets its own MLflow run and loads its upstream checkpoint through
MLflow. After a worker failure Ray Train restarts the group and ``ray.train.get_checkpoint()``
says which stages are complete and where the current one stood.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import ray.train
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.models.checkpoint import read_checkpoint
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.log_setup import configure_worker_logging
from landmarkgait.pipelines.redaction import redact_uri
from landmarkgait.pipelines.tracking.tags import TAG_FATAL, TAG_ITERATION, TAG_STAGE
from landmarkgait.pipelines.tracking.tracker import Tracker, set_http_retries
from landmarkgait.pipelines.worker.distributed import WorkerContext
from landmarkgait.pipelines.worker.job import WorkerJob
from landmarkgait.pipelines.worker.resume import read_resume_point
from landmarkgait.pipelines.worker.stage_trainer import StageTrainer, build_stage_model

log = logging.getLogger(__name__)

# Errors that a retry would meet again: bad data, an invalid model or pipeline configuration.
DETERMINISTIC_ERRORS = (DataError, ModelConfigError, ConfigError)


def train_loop_per_worker(payload: dict[str, Any]) -> None:
    """Train the job's stages (or evaluate a run); a deterministic error ends the job, not a retry.

    Ray Train retries a failed worker group ``max_failures`` times, which helps after a lost node
    but not after a bad data row or model config: the error is recorded on the job's MLflow run
    (``TAG_FATAL``) for the driver to report in one line. A single worker then returns normally;
    several re-raise (the other ranks may wait in a collective) and the restarted group returns
    at once on seeing the record.
    """
    job = WorkerJob.from_dict(payload)
    configure_worker_logging(job.verbose)
    context = WorkerContext.current()
    set_http_retries(job.config.tracking.http_retries)
    tracker = Tracker(job.tracking_uri, job.experiment_id, job.experiment_name)
    record_run = job.evaluation_run_id or job.pipeline_run_id
    if record_run and TAG_FATAL in tracker.get_run(record_run).tags:
        return
    try:
        run_job(job, context, tracker)
    except DETERMINISTIC_ERRORS as error:
        if record_run is None:
            raise
        tracker.set_tags(record_run, {TAG_FATAL: str(error)})
        log.error("stopping: %s", error)
        if context.world_size > 1:
            raise


def run_job(job: WorkerJob, context: WorkerContext, tracker: Tracker) -> None:
    # As many threads as CPUs reserved, rounded up: 1.99 CPUs (leaving a sweep trial its 0.01) = 2 threads.
    torch.set_num_threads(max(1, math.ceil(job.config.scaling.cpus_per_worker)))
    torch.manual_seed(job.config.seed + context.rank)
    if job.evaluate_run_id is not None:
        evaluate_run(job, context, tracker)
        return
    completed, resume = read_resume_point(job.config.scaling.resolved_storage_path(), job.config.model.stages)
    # A Ray Train run of the same name may be restored after its MLflow runs were deleted: trust
    # only stages whose MLflow run still exists and finished.
    completed = {stage: run_id for stage, run_id in completed.items() if tracker.run_finished(run_id)}
    if resume is not None and resume.state.stage_run_id and not tracker.run_exists(resume.state.stage_run_id):
        log.warning(
            "a checkpoint of stage %s at iteration %d belongs to MLflow run %s, which is not in %s "
            "(deleted, or another tracking store): the stage starts over in a new run",
            resume.state.stage, resume.state.iteration, resume.state.stage_run_id,
            redact_uri(tracker.tracking_uri),
        )  # fmt: skip
        resume = None
    previous_run: str | None = None  # the run the plan's previous stage reused or trained
    for task in job.plan:
        if not task.trains:
            previous_run = task.reuse_run_id
            continue
        if task.stage in completed:
            previous_run = completed[task.stage]
            continue
        stage_resume = resume if resume is not None and resume.state.stage == task.stage else None
        trainer = StageTrainer(
            job,
            task,
            upstream_run_id=task.upstream_run(previous_run),
            completed=completed,
            resume=stage_resume,
            context=context,
            tracker=tracker,
        )
        previous_run = completed[task.stage] = trainer.run()


def evaluate_run(job: WorkerJob, context: WorkerContext, tracker: Tracker) -> None:
    """Evaluate the checkpoint of a finished recognition run on this job's dataset.

    The network gets the class count of its checkpoint, so a run trained on another dataset
    (with other training subjects) evaluates here too; results go to ``job.evaluation_run_id``.
    """
    import tempfile

    from landmarkgait.models.checkpoint import load_opengait_checkpoint, model_state
    from landmarkgait.models.recognition import classifier_classes
    from landmarkgait.pipelines.worker.evaluation import evaluate_on_workers

    assert job.evaluate_run_id is not None and job.evaluation_run_id is not None
    with tempfile.TemporaryDirectory(prefix="landmarkgait-eval-ckpt-") as scratch:
        checkpoint = read_checkpoint(tracker.checkpoint_path(job.evaluate_run_id, Path(scratch)))
    classes = classifier_classes(model_state(checkpoint))
    stage = tracker.get_run(job.evaluate_run_id).tags[TAG_STAGE]
    model = build_stage_model(job.config, job.data, stage, num_classes=classes)
    load_opengait_checkpoint(model, checkpoint, strict=True)
    model = model.to(context.device)
    dataset = job.open_dataset()
    run = tracker.get_run(job.evaluate_run_id)
    iteration = int(run.tags.get(TAG_ITERATION, "0"))
    summary = evaluate_on_workers(model, dataset, job, context, tracker, job.evaluation_run_id, iteration)
    ray.train.report({"stage": "evaluation", **summary})
