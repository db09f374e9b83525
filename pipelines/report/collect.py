"""The runs of a results table, read from finished runs in MLflow: one row per run.

A sweep's trials or an experiment's pipeline runs each name the stage run that was evaluated; a
row takes that run's logged ``eval/rank1/<condition>`` and ``eval/mAP/<condition>`` metrics as
they are (the table must equal what MLflow shows), names its method from the run's config params
and keeps its seed, and on a synthetic dataset with ground truth the keypoint error and part mIoU
its stages logged (``QUALITY_COLUMNS``). Runs of one method are made one line of the table by
``repeats.py`` (a seed keeps its newest run, seeds aggregate). Every run of a table must have
been evaluated on one dataset with one protocol. This module reads; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from landmarkgait.data.evaluation.names import CONDITIONS_BY_PROTOCOL
from landmarkgait.models.presets import resolve_config
from landmarkgait.models.registry import STAGE_SPECS
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.metric_names import KEYPOINT_ERROR, PART_MIOU
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_STAGE, TAG_SWEPT, TAG_TRIAL
from landmarkgait.pipelines.tracking.tracker import Tracker

CONDITIONS: dict[str, tuple[str, ...]] = CONDITIONS_BY_PROTOCOL
# Ground-truth quality shown next to rank-1 (percent): column -> the metric stage runs log as a
# fraction (``worker.stage_quality``): keypoint error in % of the torso length, part mIoU in %.
QUALITY_COLUMNS: dict[str, str] = {"keypoint error": KEYPOINT_ERROR, "part mIoU": PART_MIOU}


@dataclass(frozen=True)
class MethodRow:
    """One method's rank-1 and mAP per condition (percent), and the runs they come from."""

    method: str
    run_id: str  # the run whose logged metrics these are
    rank1: Mapping[str, float]
    mean_ap: Mapping[str, float]
    curve_run_id: str | None = None  # the evaluated stage run, whose history draws learning curves
    start_time: int = 0
    seed: int | None = None  # the pipeline seed (None: not known, e.g. a row of an old report CSV)
    quality: Mapping[str, float] = field(default_factory=dict)  # percent, by ``QUALITY_COLUMNS`` name
    stage_run_ids: Mapping[str, str] = field(default_factory=dict)  # stage -> run id, for stage curves


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
        """``casia_b/euc`` or ``casia_b/euc/first-30-frames``: what a baseline run is looked up by
        (only ``casia_b`` when the distance is not known: an old report CSV's title)."""
        if not self.metric:
            return self.protocol
        tag = f"{self.protocol}/{self.metric}"
        return tag if self.max_frames is None else f"{tag}/first-{self.max_frames}-frames"

    @classmethod
    def from_protocol_tag(cls, fingerprint: str, tag: str) -> Evaluated:
        """What a report CSV records of an evaluation: the fingerprint and ``protocol_tag``."""
        protocol, _, rest = tag.partition("/")
        metric, _, frames = rest.partition("/")
        max_frames = frames.removeprefix("first-").removesuffix("-frames")
        return cls(
            fingerprint=fingerprint,
            dataset_path="",
            partition=None,
            protocol=protocol,
            metric=metric,
            max_frames=int(max_frames) if max_frames.isdigit() else None,
        )

    def agrees_with(self, other: Evaluated) -> bool:
        """Same dataset and evaluation, as far as both know them (an old report's title names the
        fingerprint's first 12 digits and the protocol only)."""
        if not self.fingerprint or not other.fingerprint:
            return False
        if not (
            self.fingerprint.startswith(other.fingerprint) or other.fingerprint.startswith(self.fingerprint)
        ):
            return False
        if not self.metric or not other.metric:
            return self.protocol == other.protocol
        return self.protocol_tag == other.protocol_tag

    def describe(self) -> str:
        return f"dataset {self.fingerprint[:19] or '(unknown)'} with {self.protocol_tag}"


def check_same_evaluation(reference: Evaluated | None, evaluated: Evaluated, what: str) -> Evaluated:
    """The table's evaluation (``reference``, the first seen), or one line naming both if ``what``
    (a run, a CSV row) was evaluated otherwise."""
    if reference is None:
        return evaluated
    if not evaluated.agrees_with(reference):
        raise PipelineError(
            f"{what} was evaluated on {evaluated.describe()}, others on {reference.describe()}: "
            "one table compares one dataset and evaluation"
        )
    return reference


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


# Swept keys the method label already says, and the seed (the seeds of a method are its repeats).
LABELLED_KEYS = ("model.num_landmark", "model.recognition_branches", "seed")


def trial_label(method: str, swept: Mapping[str, str]) -> str:
    """``method [triplet=0.5]``: a sweep trial's method with the swept values it does not already
    name; never the seed, so the repeats of a point share their label."""
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


def ground_truth_quality(tracker: Tracker, pipeline_run: RunRecord, stage_run: RunRecord) -> dict[str, float]:
    """``{column: percent}`` of ``QUALITY_COLUMNS``: each from the evaluated ``stage_run`` if it
    logged it, else from the nearest upstream stage run the pipeline links (parsing, then
    landmark); none for a dataset without ground truth or the holistic baseline."""
    found: dict[str, float] = {}
    links = [run_id for run_id in reversed(pipeline_run.stage_links().values()) if run_id != stage_run.run_id]
    for index, run_id in enumerate([stage_run.run_id, *links]):
        run = stage_run if index == 0 else tracker.get_run(run_id)
        for column, name in QUALITY_COLUMNS.items():
            if column not in found and name in run.metrics:
                found[column] = 100.0 * run.metrics[name]
        if len(found) == len(QUALITY_COLUMNS):
            break
    return found


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


def run_seed(params: Mapping[str, str]) -> int | None:
    """The pipeline seed a stage run logged (its config's top-level ``seed``)."""
    seed = params.get("seed", "")
    return int(seed) if seed.lstrip("-").isdigit() else None


def collect_rows(
    tracker: Tracker,
    pipeline_runs: Sequence[RunRecord],
    trials: bool = False,
    evaluated: Evaluated | None = None,
) -> Collected:
    """One row per run among ``pipeline_runs`` (finished ones with an evaluated stage); sweep
    ``trials`` add their swept values other than the seed to the method, so each point keeps its
    row. ``evaluated``: the evaluation every run must agree with (that of rows collected before)."""
    collected = Collected(evaluated=evaluated)
    for pipeline_run in pipeline_runs:
        if pipeline_run.status != "FINISHED":
            continue
        stage_run = evaluated_run(tracker, pipeline_run)
        if stage_run is None:
            continue
        evaluated = evaluation_of(stage_run)
        collected.evaluated = check_same_evaluation(
            collected.evaluated, evaluated, f"run {pipeline_run.run_id}"
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
            seed=run_seed(stage_run.params),
            quality=ground_truth_quality(tracker, pipeline_run, stage_run),
            stage_run_ids=pipeline_run.stage_links(),
        )
        collected.rows.append(row)
    return collected
