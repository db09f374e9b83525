"""Which stages a pipeline must train and which finished MLflow runs it can reuse.

A stage's key hashes everything that determines its result: the dataset fingerprint and
partition, the model section, the stage's own schedule/sampler/optimiser/loss section, the
seed, and the key of the stage it starts from. So a changed landmark count changes all three
keys, while a changed triplet weight changes only the recognition key, and a re-run or a sweep
trial reuses every finished stage whose key matches. Nothing here trains or logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from landmarkgait.models.registry import stage_spec
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.config_schema import to_mapping
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.plan_types import DataIdentity, StageTask
from landmarkgait.pipelines.redaction import redact_uri
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import TAG_STAGE, TAG_STAGE_KEY
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

KEY_VERSION = 1


def pipeline_run_name(config: PipelineConfig, plan: Sequence[StageTask]) -> str:
    """``quickstart · 25 landmarks · 3f2a9c`` (the last stage's key, which fixes all before it)."""
    return " · ".join([config.name, config.model.variant, plan[-1].stage_key[:6]])


def stage_key(config: PipelineConfig, stage: str, data: DataIdentity, upstream_key: str | None) -> str:
    payload = {
        "version": KEY_VERSION,
        "stage": stage,
        "data": data.fingerprint,
        "partition": data.partition_digest(),
        "model": config.model.network_config(stage),
        "schedule": to_mapping(config.stages.of(stage)),
        "seed": config.seed,
        "upstream": upstream_key,
    }
    if stage_spec(stage).evaluates:  # its runs carry evaluation metrics: another evaluation is another run
        payload["evaluation"] = to_mapping(config.evaluation)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def stage_keys(config: PipelineConfig, data: DataIdentity) -> dict[str, str]:
    """Keys of the config's stages when each starts from the previous one of the same config."""
    keys: dict[str, str] = {}
    upstream: str | None = None
    for stage in config.model.stages:
        upstream = keys[stage] = stage_key(config, stage, data, upstream)
    return keys


def previous_stage(stage: str) -> str | None:
    """The stage whose checkpoint initialises ``stage`` (its registry spec's ``upstream``)."""
    return stage_spec(stage).upstream


def plan_pipeline(
    config: PipelineConfig,
    data: DataIdentity,
    tracker: Tracker,
    stages: tuple[str, ...] | None = None,
    force: bool = False,
    upstream_run_id: str | None = None,
) -> list[StageTask]:
    """Plan ``stages`` (a contiguous run of the config's stages, default all) reusing finished
    runs unless ``force``.

    The first planned stage starts from ``upstream_run_id`` when given, else from the newest
    finished run of its upstream stage whose key matches this config (found in MLflow).
    """
    chain = config.model.stages
    stages = stages or chain
    if stages[0] not in chain or list(stages) != list(
        chain[chain.index(stages[0]) : chain.index(stages[0]) + len(stages)]
    ):
        raise PipelineError(
            f"stages must be a contiguous part of {', '.join(chain)} "
            f"(model.recognition_branches={config.model.recognition_branches}), got {', '.join(stages)}"
        )
    first = stages[0]
    upstream_stage = previous_stage(first)
    upstream_key: str | None = None
    if upstream_stage is not None:
        upstream_run_id, upstream_key = resolve_upstream(config, data, tracker, first, upstream_run_id)
    elif upstream_run_id is not None:
        raise PipelineError(f"stage '{first}' is the first stage and takes no --upstream run")

    plan: list[StageTask] = []
    may_reuse = not force
    for stage in stages:
        key = stage_key(config, stage, data, upstream_key)
        reuse = tracker.find_finished_stage_run(stage, key) if may_reuse else None
        if reuse is None:
            may_reuse = False  # everything after a retrained stage must be retrained too
        reuse_run_id = reuse.run_id if reuse else None
        if plan:
            plan.append(plan[-1].followed_by(stage, key, reuse_run_id))
        else:
            plan.append(StageTask(stage, key, upstream_run_id, reuse_run_id))
        upstream_key = key
    return plan


def resolve_upstream(
    config: PipelineConfig, data: DataIdentity, tracker: Tracker, stage: str, explicit: str | None
) -> tuple[str, str]:
    """Run id and stage key of the run ``stage`` starts from (explicit reference or implicit match)."""
    upstream_stage = previous_stage(stage)
    assert upstream_stage is not None
    if explicit is not None:
        run = tracker.get_run(explicit)
        tags = run.tags
        if tags.get(TAG_STAGE) != upstream_stage:
            raise PipelineError(
                f"--upstream run {run.run_id} is a {tags.get(TAG_STAGE, 'non-landmarkgait')!r} run; "
                f"stage {stage!r} needs a finished {upstream_stage!r} stage run"
            )
        if run.status != "FINISHED":
            raise PipelineError(f"--upstream run {run.run_id} has status {run.status}, not FINISHED")
        return run.run_id, tags[TAG_STAGE_KEY]
    expected = stage_keys(config, data)[upstream_stage]
    found = tracker.find_finished_stage_run(upstream_stage, expected)
    if found is not None:
        log.info("stage %s starts from %s run %s (key %s)", stage, upstream_stage, found.run_id, expected)
        return found.run_id, expected
    candidates: list[RunRecord] = tracker.stage_runs(upstream_stage, max_results=10)
    listing = "\n".join(f"  - {info.describe()}" for info in candidates) or "  (none)"
    raise PipelineError(
        f"no finished {upstream_stage!r} stage run matches this config and dataset (key {expected}) in "
        f"experiment {tracker.experiment_name!r} at {redact_uri(tracker.tracking_uri)}. Candidate {upstream_stage} runs:\n"
        f"{listing}\nPass one with --upstream RUN_ID, or run the earlier stages first (landmarkgait run CONFIG)."
    )
