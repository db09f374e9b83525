"""Training of one LandmarkGait stage on one Ray Train worker: build, resume, loop, checkpoint.

It composes the pieces without knowing their insides: ``models`` builds the network, its losses
and optimiser; ``data`` draws this rank's share of each P x K batch; ``landmarkgait.pipelines.tracking.tracker`` logs
to the stage's MLflow run (rank 0 only); ``ray.train.report`` persists checkpoints so that a
restarted worker group continues at the saved iteration.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray.train
import torch
from torch import nn

from landmarkgait.data.loader import TrainBatchLoader
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.models import build_model
from landmarkgait.models.checkpoint import (
    init_from_upstream,
    load_opengait_checkpoint,
    model_state,
    read_checkpoint,
    save_opengait_checkpoint,
    unwrap,
)
from landmarkgait.models.losses import compute_losses
from landmarkgait.models.optim import build_optimizer, build_scheduler
from landmarkgait.models.registry import stage_spec
from landmarkgait.pipelines.config import PipelineConfig, StageSection
from landmarkgait.pipelines.metric_names import FRAMES_PER_S, ITERATION, LOSS_TOTAL
from landmarkgait.pipelines.plan_types import DataIdentity, StageTask
from landmarkgait.pipelines.tracking.tags import (
    TAG_CODE,
    TAG_DATA,
    TAG_ITERATION,
    TAG_KIND,
    TAG_PARENT,
    TAG_PIPELINE,
    TAG_STAGE,
    TAG_STAGE_KEY,
    TAG_UPSTREAM,
)
from landmarkgait.pipelines.tracking.tracker import Tracker
from landmarkgait.pipelines.worker import stage_outputs
from landmarkgait.pipelines.worker.distributed import (
    WorkerContext,
    barrier,
    broadcast_from_main,
    wrap_for_training,
)
from landmarkgait.pipelines.worker.job import ResumeState, WorkerJob
from landmarkgait.pipelines.worker.progress import StageProgress
from landmarkgait.pipelines.worker.stage_quality import StageQuality

log = logging.getLogger(__name__)


@dataclass
class ResumePoint:
    """A checkpoint of this stage to continue from (weights, optimiser, scheduler, iteration)."""

    state: ResumeState
    checkpoint: dict[str, Any]


def build_stage_model(
    config: PipelineConfig, data: DataIdentity, stage: str, num_classes: int | None = None
) -> nn.Module:
    """``stage``'s network as ``config`` describes it; recognition classifies ``num_classes``
    classes, by default ``data``'s training subjects."""
    kwargs = config.model.build_kwargs()
    if "num_classes" in stage_spec(stage).config_class.field_names():
        kwargs.setdefault("num_classes", num_classes or len(data.train_subjects))
    return build_model(stage, config.model.preset, **kwargs)


class StageTrainer:
    """Trains ``task.stage`` from ``upstream_run_id`` (or ``resume``) and returns its MLflow run id."""

    def __init__(
        self,
        job: WorkerJob,
        task: StageTask,
        upstream_run_id: str | None,
        completed: dict[str, str],
        resume: ResumePoint | None,
        context: WorkerContext,
        tracker: Tracker,
    ) -> None:
        self.job = job
        self.task = task
        self.stage = task.stage
        self.spec = stage_spec(task.stage)
        self.section: StageSection = job.config.stages.of(task.stage)
        self.upstream_run_id = upstream_run_id
        self.completed = completed
        self.resume = resume
        self.context = context
        self.tracker = tracker
        self.run_id = ""
        self.started = 0.0
        self.step_seconds = 0.0  # time inside training steps (batch, forward, backward, update)
        self.origin = "from scratch"  # where the weights come from, for the stage's header line
        self.evaluation_seconds = 0.0
        self.quality: StageQuality | None = None  # rank 0, when the dataset has ground truth
        self.quality_seconds = 0.0

    # -- MLflow run -----------------------------------------------------------------------------
    def _open_run(self) -> str:
        """Rank 0 creates the stage run (or continues the one being resumed); all ranks learn its id."""
        run_id = None
        if self.context.is_main:
            if self.resume is not None and self.resume.state.stage_run_id:
                run_id = self.resume.state.stage_run_id
                self.tracker.reopen(run_id)  # the driver may have closed it with its killed pipeline run
                tags = {TAG_PIPELINE: self.job.pipeline_run_id or ""}
                if self.job.pipeline_run_id:
                    tags[TAG_PARENT] = self.job.pipeline_run_id
                self.tracker.set_tags(run_id, tags)
                log.info("stage %s resumes MLflow run %s", self.stage, run_id)
            else:
                self._close_failed_attempts()
                run_id = self.tracker.create_run(
                    name=self.task.run_name(self.job.config),
                    tags={
                        TAG_KIND: "stage",
                        TAG_STAGE: self.stage,
                        TAG_STAGE_KEY: self.task.stage_key,
                        TAG_UPSTREAM: self.upstream_run_id or "",
                        TAG_DATA: self.job.data.fingerprint,
                        TAG_CODE: self.job.code_version,
                        TAG_PIPELINE: self.job.pipeline_run_id or "",
                    },
                    params=self.job.config.flat_params(),
                    parent_run_id=self.job.pipeline_run_id,
                )
                self.tracker.log_text(run_id, self.job.config.to_yaml(), "config/resolved.yaml")
                self.tracker.log_dataset(
                    run_id,
                    self.job.dataset_path,
                    self.job.data.fingerprint,
                    self.job.data.splits(with_test=stage_spec(self.stage).evaluates),
                )
        return broadcast_from_main(run_id)

    def _close_failed_attempts(self) -> None:
        """Runs of this stage that earlier attempts of this job left RUNNING (Ray Train restarted
        the worker group before their first checkpoint): this attempt starts over in a new run."""
        if not self.job.pipeline_run_id:
            return
        for run in self.tracker.stage_runs_of_pipeline(self.job.pipeline_run_id):
            if run.status == "RUNNING" and run.tags.get(TAG_STAGE) == self.stage:
                self.tracker.finish(run.run_id, "FAILED")

    # -- model ----------------------------------------------------------------------------------
    def _prepare_model(self) -> tuple[nn.Module, torch.optim.Optimizer, Any, int]:
        model = build_stage_model(self.job.config, self.job.data, self.stage)
        start_iteration = 0
        if self.resume is None and self.upstream_run_id:
            with tempfile.TemporaryDirectory(prefix="landmarkgait-upstream-") as scratch:
                path = self.tracker.checkpoint_path(self.upstream_run_id, Path(scratch))
                report = init_from_upstream(model, model_state(read_checkpoint(path)))
            self.origin = (
                f"{len(report.loaded)} tensors from upstream run {self.upstream_run_id}, "
                f"{len(report.missing)} new to this stage"
            )
        optimizer = build_optimizer(model, self.stage, self.section.optimizer)
        scheduler = build_scheduler(optimizer, self.section.optimizer)
        if self.resume is not None:
            checkpoint = self.resume.checkpoint
            load_opengait_checkpoint(model, checkpoint, strict=True)
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            start_iteration = int(checkpoint["iteration"])
            self.origin = f"resuming at iteration {start_iteration}"
        model = model.to(self.context.device)
        return (
            wrap_for_training(model, self.job.config.scaling.sync_bn),
            optimizer,
            scheduler,
            start_iteration,
        )

    # -- loop -----------------------------------------------------------------------------------
    def run(self) -> str:
        self.started = time.perf_counter()
        self.run_id = self._open_run()
        model, optimizer, scheduler, iteration = self._prepare_model()
        chain = self.job.config.model.stages
        progress = StageProgress(
            self.stage, chain.index(self.stage) + 1, len(chain), self.section.total_iter, iteration
        )
        if self.context.is_main:
            progress.header(f"{self.origin}; MLflow run {self.run_id}")
        if self.resume is not None and self.context.is_main:
            self.tracker.log_metrics(self.run_id, {"resume/from_iteration": iteration}, step=iteration)
        sampler = self.section.sampler
        dataset = self.job.open_dataset()
        if self.context.is_main:
            data = self.job.data
            max_frames = self.job.config.evaluation.max_frames
            self.quality = StageQuality.open(
                self.stage, dataset, data.train_subjects, data.test_subjects, max_frames
            )
        loader = TrainBatchLoader(
            dataset,
            self.job.data.train_subjects,
            P=sampler.subjects_per_batch,
            K=sampler.sequences_per_subject,
            frames=sampler.frames,
            sample_type=sampler.sample_type,
            seed=self.job.config.seed,
            rank=self.context.rank,
            world_size=self.context.world_size,
            batch_shuffle=True,
            start_step=iteration,
        )
        batches = iter(loader)
        model.train()
        window_start, window_frames = time.perf_counter(), 0
        summary: dict[str, float] = {}
        while iteration < self.section.total_iter:
            step_started = time.perf_counter()
            batch = next(batches)
            sils = batch.sils.to(self.context.device, non_blocking=True)
            labels = batch.labels.to(self.context.device)
            outputs = model(sils)
            total, terms = compute_losses(self.stage, outputs, sils, labels, self.section.loss)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            scheduler.step()
            iteration += 1
            self.step_seconds += time.perf_counter() - step_started
            window_frames += sils.shape[0] * sils.shape[1] * self.context.world_size

            if iteration % self.section.log_iter == 0 or iteration == self.section.total_iter:
                elapsed = time.perf_counter() - window_start
                metrics = {f"loss/{name}": float(value) for name, value in terms.items()}
                metrics[LOSS_TOTAL] = float(total.detach())
                metrics[FRAMES_PER_S] = window_frames / max(elapsed, 1e-9)
                metrics.update(stage_outputs.quality_metrics(self.stage, outputs, sils))
                for index, group in enumerate(optimizer.param_groups):
                    metrics[f"lr/group{index}"] = group["lr"]
                summary = metrics
                window_start, window_frames = time.perf_counter(), 0
                if self.context.is_main:
                    self.tracker.log_metrics(self.run_id, metrics, step=iteration)
                    progress.update(iteration, metrics)
                ray.train.report({"stage": self.stage, ITERATION: iteration, **metrics})
            if self._measurement_due(iteration):
                evaluation = self._evaluate(model, dataset, iteration) if self.spec.evaluates else {}
                evaluation.update(self._measure_quality(model, iteration))
                summary.update(evaluation)
                if evaluation:
                    # Its own report, so a sweep's scheduler sees rank-1 at every eval_iter.
                    ray.train.report({"stage": self.stage, ITERATION: iteration, **evaluation})
            if iteration % self.section.save_iter == 0 and iteration < self.section.total_iter:
                self._report_checkpoint(model, optimizer, scheduler, iteration, summary, finished=False)

        self._finish(model, optimizer, scheduler, iteration, summary, dataset)
        return self.run_id

    def _measurement_due(self, iteration: int) -> bool:
        """At the end and every ``eval_iter``: evaluated stages are scored, and any stage with
        ground truth is measured against it (so stages 1-2 have quality curves too)."""
        if not (self.spec.evaluates or self.spec.ground_truth):
            return False
        every = self.section.eval_iter
        return iteration == self.section.total_iter or (every > 0 and iteration % every == 0)

    def _evaluate(self, model: nn.Module, dataset: SilhouetteDataset, iteration: int) -> dict[str, float]:
        from landmarkgait.pipelines.worker.evaluation import evaluate_on_workers

        started = time.perf_counter()
        summary = evaluate_on_workers(
            unwrap(model), dataset, self.job, self.context, self.tracker, self.run_id, iteration
        )
        model.train()
        self.evaluation_seconds += time.perf_counter() - started
        return summary

    def _measure_quality(self, model: nn.Module, iteration: int) -> dict[str, float]:
        """Keypoint error and part mIoU against the dataset's ground truth (``stage_quality``):
        rank 0 measures and logs them at ``iteration``; every rank returns them, for its report."""
        if not self.spec.ground_truth:
            return {}
        metrics: dict[str, float] = {}
        if self.quality is not None:
            started = time.perf_counter()
            metrics = self.quality.measure(model, iteration)
            if metrics:
                self.tracker.log_metrics(self.run_id, metrics, step=iteration)
            self.quality_seconds += time.perf_counter() - started
        return broadcast_from_main(metrics)

    # -- checkpoints and the end of the stage --------------------------------------------------
    def _report_checkpoint(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        iteration: int,
        metrics: dict[str, float],
        finished: bool,
    ) -> None:
        """Persist an OpenGait-format checkpoint through Ray Train (rank 0 writes it)."""
        completed = dict(self.completed)
        if finished:
            completed[self.stage] = self.run_id
        with tempfile.TemporaryDirectory(prefix="landmarkgait-ckpt-") as scratch:
            directory = Path(scratch)
            checkpoint = None
            file_name = self.spec.checkpoint_file(iteration)
            if self.context.is_main:
                save_opengait_checkpoint(
                    directory / file_name, unwrap(model), optimizer, scheduler, iteration
                )
                ResumeState(
                    stage=None if finished else self.stage,
                    stage_run_id=None if finished else self.run_id,
                    iteration=iteration,
                    checkpoint_file=None if finished else file_name,
                    completed=completed,
                ).write(directory)
                if finished:
                    self.tracker.log_checkpoint(self.run_id, directory / file_name)
                checkpoint = ray.train.Checkpoint.from_directory(scratch)
            ray.train.report(
                {"stage": self.stage, ITERATION: iteration, "stage_finished": finished, **metrics},
                checkpoint=checkpoint,
                checkpoint_dir_name=f"{self.stage}-{iteration:06d}",
            )

    def _finish(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        iteration: int,
        summary: dict[str, float],
        dataset: SilhouetteDataset,
    ) -> None:
        if self.context.is_main:
            stage_outputs.log_visual_summary(self.tracker, self.run_id, unwrap(model), dataset)
            if self.spec.evaluates:
                self.tracker.log_pytorch_model(
                    self.run_id,
                    unwrap(model),
                    self.job.config.tracking.registered_model,
                    also_output_of=self.job.pipeline_run_id,
                )
            self.tracker.set_tags(self.run_id, {TAG_ITERATION: iteration})
        self._report_checkpoint(model, optimizer, scheduler, iteration, summary, finished=True)
        if self.context.is_main:
            timing = {
                "time/stage_s": time.perf_counter() - self.started,
                "time/training_steps_s": self.step_seconds,
                "time/evaluation_s": self.evaluation_seconds,
            }
            if self.quality is not None:
                timing["time/ground_truth_s"] = self.quality_seconds
            self.tracker.log_metrics(self.run_id, timing, step=iteration)
            self.tracker.finish(self.run_id)
        barrier()
