"""``landmarkgait evaluate --run RUN --embeddings EMB``: the config's protocol on embeddings made earlier.

Why: a large test set is embedded once (``embed``, a streaming Ray Data job) and can then be
evaluated under several protocols or metrics in seconds, without Ray Train or the network. The
embeddings must have been made by ``RUN`` (every row names its run); as in ``evaluate --run``,
the config's dataset (``data.path`` and its partition) says which subjects are the test set, and
embeddings of other subjects are left out. The results go to a new
``evaluation`` run nested under it, with the same metrics and artifacts as a trained evaluation,
so the MLflow UI compares them side by side. It must not embed anything.
"""

from __future__ import annotations

import logging
from pathlib import Path

from landmarkgait.data.evaluation.protocols import evaluate_protocol, protocol_probe_keys
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.deploy.gallery import read_embeddings
from landmarkgait.pipelines.driver.datasets import describe_dataset
from landmarkgait.pipelines.driver.run import PipelineOutcome, code_version, summarise
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.finished_runs import finished_recognition_run
from landmarkgait.pipelines.tracking.tags import TAG_CODE, TAG_EVALUATED_RUN, TAG_KIND, TAG_STAGE
from landmarkgait.pipelines.tracking.tracker import Tracker
from landmarkgait.pipelines.worker.evaluation import log_evaluation_artifacts

log = logging.getLogger(__name__)

TAG_EMBEDDINGS = "landmarkgait.embeddings"  # the embeddings dataset an evaluation run read


def evaluate_precomputed(
    config: PipelineConfig, run_reference: str, embeddings_path: Path
) -> PipelineOutcome:
    """Evaluate the embeddings at ``embeddings_path`` (made by ``run_reference``) with ``config``'s protocol."""
    tracker = Tracker.connect(config.tracking)
    run = finished_recognition_run(tracker, run_reference)
    stage = run.tags[TAG_STAGE]
    embeddings = read_embeddings(embeddings_path)
    if embeddings.run_ids != {run.run_id}:
        raise PipelineError(
            f"{embeddings_path}: embedded by run(s) {', '.join(sorted(embeddings.run_ids))}, not by "
            f"--run {run.run_id}; embed them with this run first (landmarkgait embed)"
        )
    dataset_path = config.data.resolved_path()
    test_subjects = set(describe_dataset(dataset_path, config.data.partition).test_subjects)
    keep = [i for i, subject in enumerate(embeddings.subjects) if subject in test_subjects]
    if not keep:
        raise PipelineError(
            f"{embeddings_path}: no embedding of a test subject of {dataset_path} (data.path); embed "
            "that dataset's test set"
        )
    evaluation = evaluate_protocol(
        config.evaluation.protocol,
        embeddings.vectors[keep],
        subjects=[embeddings.subjects[i] for i in keep],
        types=[embeddings.types[i] for i in keep],
        views=[embeddings.views[i] for i in keep],
        metric=config.evaluation.metric,
        probe_keys=protocol_probe_keys(
            config.evaluation.protocol, SilhouetteDataset(dataset_path), config.data.partition
        ),
    )
    target = tracker.create_run(
        name=f"evaluation of {Path(embeddings_path).name}",
        tags={
            TAG_KIND: "evaluation",
            TAG_EVALUATED_RUN: run.run_id,
            TAG_EMBEDDINGS: str(Path(embeddings_path).resolve()),
            TAG_CODE: code_version(),
        },
        params=config.flat_params(),
        parent_run_id=run.run_id,
    )
    try:
        summary = {f"eval/{key}": value for key, value in evaluation.summary().items()}
        tracker.log_metrics(target, summary, step=0)
        log_evaluation_artifacts(tracker, target, evaluation, 0)
    except BaseException:
        tracker.finish_if_running(target, "FAILED")
        raise
    tracker.finish(target)
    log.info(
        "evaluated %d embeddings of run %s: %s", len(embeddings.subjects), run.run_id, evaluation.headline()
    )
    return summarise(tracker, target, {stage: run.run_id}, [], evaluation_run=target)
