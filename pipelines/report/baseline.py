"""The GEI baseline's row: computed once per dataset, protocol and distance, kept as an MLflow run.

A learnt model's rank-1 means little without the training-free baseline on the same data: the
GEI row of a report is its own MLflow run (kind ``baseline``), so the MLflow UI compares it with
the trained runs, and a second report on the same dataset reuses it instead of recomputing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from landmarkgait.pipelines.config import landmarkgait_home
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.collect import CONDITIONS, Evaluated, MethodRow, condition_metrics
from landmarkgait.pipelines.tracking.tags import TAG_BASELINE, TAG_DATA, TAG_KIND, TAG_PROTOCOL
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

GEI = "gei"
GEI_METHOD = "GEI + nearest neighbour (no training)"


def dataset_path(evaluated: Evaluated) -> Path:
    """The dataset directory a run's ``data.path`` param names (``${LANDMARKGAIT_HOME}`` expanded)."""
    return Path(evaluated.dataset_path.replace("${LANDMARKGAIT_HOME}", str(landmarkgait_home()))).expanduser()


def gei_metrics(evaluated: Evaluated) -> dict[str, float]:
    """The GEI baseline's summary metrics on the evaluated dataset, test subjects and protocol."""
    from landmarkgait.data.evaluation.gei_baseline import evaluate_gei_baseline
    from landmarkgait.data.partition import resolve_partition
    from landmarkgait.data.reader import SilhouetteDataset

    path = dataset_path(evaluated)
    if not path.is_dir():
        raise PipelineError(
            f"dataset {path} (the runs' data.path) does not exist here: the GEI row is computed on it"
        )
    dataset = SilhouetteDataset(path)
    if dataset.metadata.fingerprint != evaluated.fingerprint:
        raise PipelineError(
            f"dataset {path} has fingerprint {dataset.metadata.fingerprint[:19]}, the runs were evaluated on "
            f"{evaluated.fingerprint[:19]}: it changed since, so the GEI row would not be comparable"
        )
    partition = resolve_partition(dataset, Path(evaluated.partition) if evaluated.partition else None)
    evaluation = evaluate_gei_baseline(
        dataset, partition.test_set, metric=evaluated.metric, max_frames=evaluated.max_frames
    )
    return {f"eval/{name}": value for name, value in evaluation.summary().items()}


def gei_row(tracker: Tracker, evaluated: Evaluated, parent_run_id: str | None) -> MethodRow | None:
    """The GEI row, from its MLflow run (created now if this dataset has none); None for protocols
    the GEI baseline does not implement."""
    if evaluated.protocol != "casia_b":
        log.info("no GEI row: the GEI baseline implements the casia_b protocol, not %s", evaluated.protocol)
        return None
    run = tracker.baseline_run(GEI, evaluated.fingerprint, evaluated.protocol_tag)
    if run is None:
        log.info("computing the GEI baseline on %s", dataset_path(evaluated))
        metrics = gei_metrics(evaluated)
        run_id = tracker.create_run(
            name="GEI baseline",
            tags={
                TAG_KIND: "baseline",
                TAG_BASELINE: GEI,
                TAG_DATA: evaluated.fingerprint,
                TAG_PROTOCOL: evaluated.protocol_tag,
            },
            params={
                "data.path": evaluated.dataset_path,
                "data.partition": evaluated.partition,
                "evaluation.protocol": evaluated.protocol,
                "evaluation.metric": evaluated.metric,
                "evaluation.max_frames": evaluated.max_frames,
            },
            parent_run_id=parent_run_id,
        )
        tracker.log_metrics(run_id, metrics, step=0)
        tracker.finish(run_id)
        run = tracker.get_run(run_id)
    conditions = CONDITIONS[evaluated.protocol]
    return MethodRow(
        method=GEI_METHOD,
        run_id=run.run_id,
        rank1=condition_metrics(run.metrics, "rank1", conditions),
        mean_ap=condition_metrics(run.metrics, "mAP", conditions),
        start_time=run.start_time,
    )
