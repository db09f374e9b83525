"""One Ray Train job: every stage the plan trains, in one ``TorchTrainer`` (one worker group).

What a worker fails on is reported the way a user should read it: a deterministic error the
workers recorded on the run, or a user error one of them raised, ends the job in one line
instead of Ray Train's chain of worker tracebacks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ray.train import FailureConfig, LoggingConfig, RunConfig, ScalingConfig, WorkerGroupError
from ray.train.torch import TorchTrainer

from landmarkgait.pipelines.errors import USER_ERRORS, PipelineError
from landmarkgait.pipelines.log_setup import ray_train_log_level
from landmarkgait.pipelines.runtime.ray_internals import wrapped_worker_exception
from landmarkgait.pipelines.runtime.rendezvous import LoopbackStoreTorchConfig
from landmarkgait.pipelines.tracking.tags import TAG_ERROR, TAG_FATAL
from landmarkgait.pipelines.tracking.tracker import Tracker
from landmarkgait.pipelines.worker.job import WorkerJob
from landmarkgait.pipelines.worker.loop import train_loop_per_worker

log = logging.getLogger(__name__)


def fit_reporting_fatal(
    tracker: Tracker, run_id: str, job: WorkerJob, name: str, callbacks: Sequence[Any] = ()
) -> None:
    """``fit``, then the deterministic error a worker recorded on ``run_id``, if any, as one line
    (the workers stopped on it instead of letting Ray Train retry)."""
    try:
        fit(job, name, callbacks)
    finally:
        fatal = tracker.get_run(run_id).tags.get(TAG_FATAL)
        if fatal:
            tracker.set_tags(run_id, {TAG_ERROR: fatal})
            tracker.delete_tag(run_id, TAG_FATAL)
            raise PipelineError(fatal) from None


def fit(job: WorkerJob, name: str, callbacks: Sequence[Any] = ()) -> None:
    scaling = job.config.scaling
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=job.to_dict(),
        scaling_config=ScalingConfig(
            num_workers=scaling.num_workers,
            use_gpu=scaling.use_gpu,
            resources_per_worker=scaling.worker_resources(),
        ),
        torch_config=LoopbackStoreTorchConfig(backend=scaling.resolved_backend),
        run_config=RunConfig(
            name=name,
            storage_path=scaling.resolved_storage_path(),
            failure_config=FailureConfig(max_failures=scaling.max_failures),
            callbacks=list(callbacks) or None,
            logging_config=LoggingConfig(log_level=ray_train_log_level()),
        ),
    )
    log.info("starting Ray Train run %s with %d worker(s)", name, scaling.num_workers)
    try:
        trainer.fit()
    except WorkerGroupError as error:
        # A user error a worker met (e.g. the tracking server gone for longer than
        # tracking.http_retries covers) is already one line: report it as it is.
        user_error = worker_user_error(error)
        if user_error is not None:
            raise user_error from None
        raise PipelineError(f"Ray Train run {name} failed: {error}") from error
    except Exception as error:  # Ray wraps worker errors; show the root cause in one message
        raise PipelineError(f"Ray Train run {name} failed: {error}") from error


def worker_user_error(error: WorkerGroupError) -> Exception | None:
    """The first worker failure that is a user error (one line by design), if any."""
    for failure in error.worker_failures.values():
        # Ray Train keeps a worker's exception inside a wrapper holding its traceback text.
        for candidate in (failure, wrapped_worker_exception(failure)):
            if isinstance(candidate, USER_ERRORS):
                return candidate
    return None
