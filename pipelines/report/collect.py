"""The rows of a results table: one per method, read from finished runs in MLflow.

A sweep's trials or an experiment's pipeline runs each name the stage run that was evaluated; a
row takes that run's logged ``eval/rank1/<condition>`` and ``eval/mAP/<condition>`` metrics as
they are (the table must equal what MLflow shows) and names its method from the run's config
params. Runs of one method (same label) keep the newest. This module reads; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from landmarkgait.data.evaluation.names import CASIA_B_PROBES, OUMVLP_PROBES
from landmarkgait.models.presets import resolve_config
from landmarkgait.models.registry import STAGE_SPECS
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_STAGE, TAG_SWEPT, TAG_TRIAL
from landmarkgait.pipelines.tracking.tracker import Tracker

CONDITIONS: dict[str, tuple[str, ...]] = {"casia_b": tuple(CASIA_B_PROBES), "oumvlp": tuple(OUMVLP_PROBES)}


@dataclass(frozen=True)
class MethodRow:
    """One method's rank-1 and mAP per condition (percent), and the runs they come from."""

    method: str
    run_id: str  # the run whose logged metrics these are
    rank1: Mapping[str, float]
    mean_ap: Mapping[str, float]
    curve_run_id: str | None = None  # the evaluated stage run, whose history draws learning curves
    start_time: int = 0


@dataclass(frozen=True)
class Evaluated:
    """The dataset and protocol the collected runs were evaluated on (they must agree)."""

    fingerprint: str
    dataset_path: str
    partition: str | None
    protocol: str
    metric: str
    max_frames: int | None = None

    @property
    def protocol_tag(self) -> str:
        """``casia_b/euc`` or ``casia_b/euc/first-30-frames``: what a baseline run is looked up by."""
        tag = f"{self.protocol}/{self.metric}"
        return tag if self.max_frames is None else f"{tag}/first-{self.max_frames}-frames"


@dataclass
class Collected:
    rows: list[MethodRow] = field(default_factory=list)
    evaluated: Evaluated | None = None


def method_label(params: Mapping[str, str]) -> str:
    """``LandmarkGait (25 landmarks)`` or ``Holistic (silhouette only)`` from a stage run's config params."""
    if params.get("model.recognition_branches", "all") == "holistic":
        return "Holistic (PMBC-Net on silhouettes only)"
    landmarks = params.get("model.num_landmark", "None")
    if landmarks == "None":
        landmarks = str(resolve_config("landmark", params.get("model.preset", "paper")).num_landmark)
    return f"LandmarkGait ({landmarks} landmarks)"


# Swept keys the method label already says.
LABELLED_KEYS = ("model.num_landmark", "model.recognition_branches")


def trial_label(method: str, swept: Mapping[str, str]) -> str:
    """``method [triplet=0.5]``: a sweep trial's method with the swept values it does not already name."""
    values = [
        f"{key.rsplit('.', 1)[-1]}={value}"
        for key, value in sorted(swept.items())
        if key not in LABELLED_KEYS
    ]
    return f"{method} [{', '.join(values)}]" if values else method


def swept_values(trial_run: RunRecord) -> dict[str, str]:
    """The config values a sweep trial set (its pipeline run also logs every other key); a trial
    of an older sweep, which did not record them, is named by its trial id."""
    keys = trial_run.tags.get(TAG_SWEPT)
    if keys is None:
        return {"trial": trial_run.tags.get(TAG_TRIAL, trial_run.run_id)}
    return {key: trial_run.params.get(key, "") for key in keys.split(",") if key}


def condition_metrics(metrics: Mapping[str, float], kind: str, conditions: Sequence[str]) -> dict[str, float]:
    """``{condition: value}`` of ``eval/<kind>/<condition>`` (``kind``: rank1 or mAP), as logged."""
    return {c: metrics[f"eval/{kind}/{c}"] for c in conditions if f"eval/{kind}/{c}" in metrics}


def evaluated_run(tracker: Tracker, pipeline_run: RunRecord) -> RunRecord | None:
    """The stage run a pipeline run evaluated (the last evaluated stage it links to)."""
    for run_id in reversed(list(pipeline_run.stage_links().values())):
        run = tracker.get_run(run_id)
        spec = STAGE_SPECS.get(run.tags.get(TAG_STAGE, ""))
        if spec is not None and spec.evaluates:
            return run
    return None


def evaluation_of(run: RunRecord) -> Evaluated:
    params = run.params
    partition = params.get("data.partition", "None")
    max_frames = params.get("evaluation.max_frames", "None")
    return Evaluated(
        fingerprint=run.tags.get(TAG_DATA, ""),
        dataset_path=params.get("data.path", ""),
        partition=None if partition == "None" else partition,
        protocol=params.get("evaluation.protocol", "casia_b"),
        metric=params.get("evaluation.metric", "euc"),
        max_frames=None if max_frames in ("", "None") else int(max_frames),
    )


def collect_rows(tracker: Tracker, pipeline_runs: Sequence[RunRecord], trials: bool = False) -> Collected:
    """One row per method among ``pipeline_runs`` (finished ones with an evaluated stage); sweep
    ``trials`` add their swept values to the method, so each trial keeps its row."""
    collected = Collected()
    by_method: dict[str, MethodRow] = {}
    for pipeline_run in pipeline_runs:
        if pipeline_run.status != "FINISHED":
            continue
        stage_run = evaluated_run(tracker, pipeline_run)
        if stage_run is None:
            continue
        evaluated = evaluation_of(stage_run)
        if collected.evaluated is None:
            collected.evaluated = evaluated
        elif (evaluated.fingerprint, evaluated.protocol_tag) != (
            collected.evaluated.fingerprint,
            collected.evaluated.protocol_tag,
        ):
            raise PipelineError(
                f"run {pipeline_run.run_id} was evaluated on dataset {evaluated.fingerprint[:19]} with "
                f"{evaluated.protocol_tag}, others on {collected.evaluated.fingerprint[:19]} with "
                f"{collected.evaluated.protocol_tag}: one table compares one dataset and evaluation"
            )
        conditions = CONDITIONS.get(evaluated.protocol, ())
        row = MethodRow(
            method=trial_label(method_label(stage_run.params), swept_values(pipeline_run))
            if trials
            else method_label(stage_run.params),
            run_id=stage_run.run_id,
            rank1=condition_metrics(stage_run.metrics, "rank1", conditions),
            mean_ap=condition_metrics(stage_run.metrics, "mAP", conditions),
            curve_run_id=stage_run.run_id,
            start_time=pipeline_run.start_time,
        )
        previous = by_method.get(row.method)
        if previous is None or row.start_time >= previous.start_time:
            by_method[row.method] = row
    collected.rows = sorted(by_method.values(), key=lambda row: row.method)
    return collected
