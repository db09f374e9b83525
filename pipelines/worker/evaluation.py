"""Evaluation of a recognition model on the workers: embed in parallel, apply the protocol once.

Each rank embeds its share of the test sequences (all frames, one sequence's embedding
independent of its batch-mates); rank 0 gathers them, runs the protocol of ``landmarkgait.data.evaluation``
and logs metrics, the per-view CSV and heatmap to the stage's MLflow run.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from landmarkgait.data.evaluation.protocols import evaluate_protocol, protocol_probe_keys
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.evaluation.submission import SUBMISSION_FILE
from landmarkgait.data.loader import iter_test_sequences
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models.config import transport_distance
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.metric_names import SEQUENCES_WITHOUT_SOURCE
from landmarkgait.pipelines.tracking.tracker import Tracker
from landmarkgait.pipelines.worker.distributed import WorkerContext, broadcast_from_main, gather_to_main
from landmarkgait.pipelines.worker.job import WorkerJob
from landmarkgait.pipelines.worker.progress import ProgressLog

log = logging.getLogger(__name__)

# Seconds between progress lines while a rank embeds its test sequences.
EMBED_PROGRESS_INTERVAL_S = 30.0


def embed_shard(
    model: nn.Module,
    dataset: SilhouetteDataset,
    subjects: tuple[str, ...],
    context: WorkerContext,
    batch_size: int,
    max_frames: int | None = None,
    progress_interval_s: float = EMBED_PROGRESS_INTERVAL_S,
) -> tuple[list[int], np.ndarray | None]:
    """This rank's test sequences as (dataset indices, embeddings ``[n, C, P]``)."""
    model.eval()
    sequences = iter_test_sequences(dataset, subjects, context.rank, context.world_size, max_frames)
    progress = ProgressLog(
        f"evaluation: rank {context.rank} embedded", len(sequences), progress_interval_s, " test sequences"
    )
    indices: list[int] = []
    chunks: list[np.ndarray] = []
    pending: list[tuple[int, torch.Tensor]] = []

    def flush() -> None:
        if pending:
            embeddings = embed(model, [sequence for _, sequence in pending])
            indices.extend(index for index, _ in pending)
            chunks.append(embeddings.detach().cpu().float().numpy())
            progress.advance(len(pending))
            pending.clear()

    with torch.no_grad():
        for index, record in sequences:
            pending.append((index, torch.from_numpy(silhouette_transform(record.frames)).to(context.device)))
            if len(pending) >= batch_size:
                flush()
        flush()
    return indices, (np.concatenate(chunks) if chunks else None)


def sequences_without_transport_source(
    dataset: SilhouetteDataset, subjects: tuple[str, ...], transport_shift: int, max_frames: int | None
) -> int:
    """How many test sequences are embedded from so few frames that LandmarkNet's transport roll
    is the identity (every frame its own source, see
    ``PipelineConfig._check_transport_clips``). Their embeddings are still computed and scored."""
    wanted = set(subjects)
    count = 0
    for entry in dataset.entries:
        if entry.subject in wanted:
            frames = entry.num_frames if max_frames is None else min(entry.num_frames, max_frames)
            count += frames > 0 and transport_distance(transport_shift, frames) == 0
    return count


def evaluate_embeddings(
    dataset: SilhouetteDataset,
    indices: list[int],
    embeddings: np.ndarray,
    protocol: str,
    metric: str,
    partition: str | None = None,
) -> GaitEvaluation:
    keys = [dataset.entries[index] for index in indices]
    return evaluate_protocol(
        protocol,
        torch.from_numpy(embeddings),
        subjects=[key.subject for key in keys],
        types=[key.type for key in keys],
        views=[key.view for key in keys],
        metric=metric,
        probe_keys=protocol_probe_keys(protocol, dataset, partition),
    )


def evaluate_on_workers(
    model: nn.Module,
    dataset: SilhouetteDataset,
    job: WorkerJob,
    context: WorkerContext,
    tracker: Tracker,
    run_id: str,
    iteration: int,
) -> dict[str, float]:
    """Evaluate on all ranks; rank 0 logs. Returns the summary metrics on every rank."""
    indices, embeddings = embed_shard(
        model,
        dataset,
        job.data.test_subjects,
        context,
        job.config.scaling.embed_batch_size,
        job.config.evaluation.max_frames,
    )
    gathered = gather_to_main((indices, embeddings))
    summary: dict[str, float] | None = None
    if context.is_main:
        assert gathered is not None
        all_indices = [index for shard_indices, _ in gathered for index in shard_indices]
        all_embeddings = np.concatenate([shard for _, shard in gathered if shard is not None])
        order = np.argsort(all_indices)
        evaluation = evaluate_embeddings(
            dataset,
            [all_indices[i] for i in order],
            all_embeddings[order],
            job.config.evaluation.protocol,
            job.config.evaluation.metric,
            job.config.data.partition,
        )
        summary = {f"eval/{key}": value for key, value in evaluation.summary().items()}
        summary.update(_transport_source_check(model, dataset, job))
        tracker.log_metrics(run_id, summary, step=iteration)
        log_evaluation_artifacts(tracker, run_id, evaluation, iteration)
        # The full tables are artifacts, and the pipeline driver prints the final one.
        log.info(
            "evaluation at iteration %d (%s): %s; tables in MLflow run %s, artifacts evaluation/",
            iteration,
            evaluation.protocol,
            evaluation.headline(),
            run_id,
        )
    return broadcast_from_main(summary)


def _transport_source_check(model: nn.Module, dataset: SilhouetteDataset, job: WorkerJob) -> dict[str, float]:
    """``evaluation/sequences_without_transport_source`` for networks with a transport (logged, and
    warned about when > 0); nothing for the holistic baseline."""
    shift = getattr(getattr(model, "config", None), "transport_shift", None)
    if shift is None:
        return {}
    max_frames = job.config.evaluation.max_frames
    count = sequences_without_transport_source(dataset, job.data.test_subjects, shift, max_frames)
    if count:
        log.warning(
            "evaluation: %d test sequence(s) have too few frames (%s) for a transport source distinct "
            "from each frame (transport_shift %d): each part is transported from the frame itself",
            count,
            "all frames" if max_frames is None else f"at most {max_frames}",
            shift,
        )
    return {SEQUENCES_WITHOUT_SOURCE: float(count)}


def log_evaluation_artifacts(
    tracker: Tracker, run_id: str, evaluation: GaitEvaluation, iteration: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="landmarkgait-eval-") as scratch:
        directory = Path(scratch)
        evaluation.to_csv(directory / "per_view.csv")
        evaluation.heatmap_png(directory / "per_view_heatmap.png")
        (directory / "rank1_table.txt").write_text(evaluation.format_table())
        if evaluation.submission is not None:
            evaluation.submission.to_csv(directory / SUBMISSION_FILE)
        for path in sorted(directory.iterdir()):
            tracker.log_artifact(run_id, path, f"evaluation/iter-{iteration:06d}")
            tracker.log_artifact(run_id, path, "evaluation/latest")
