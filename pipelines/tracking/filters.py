"""Every MLflow search filter string landmarkgait uses, built in one place.

Values enter a filter only through ``quoted``, so an id or key cannot change what a query means.
Nothing here talks to MLflow; the tracker runs the searches.
"""

from __future__ import annotations

from landmarkgait.pipelines.tracking.tags import (
    TAG_BASELINE,
    TAG_CHECKPOINT_SHA256,
    TAG_DATA,
    TAG_KIND,
    TAG_PIPELINE,
    TAG_PROTOCOL,
    TAG_STAGE,
    TAG_STAGE_KEY,
    TAG_SWEEP,
    TAG_TRAIN_RUN,
    TAG_TRIAL,
)

FINISHED = "attributes.status = 'FINISHED'"
RUNNING = "attributes.status = 'RUNNING'"


def quoted(value: str) -> str:
    """``value`` as an MLflow filter literal.

    MLflow's parser strips one pair of quotes and knows no escapes, so the value goes in single
    quotes, or in double quotes when it holds a single quote; one holding both cannot be matched.
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"an MLflow filter value cannot hold both quote characters: {value!r}")


def tag_is(tag: str, value: str) -> str:
    return f"tags.`{tag}` = {quoted(value)}"


def all_of(*clauses: str) -> str:
    return " and ".join(clauses)


def stage_runs(stage: str, stage_key: str | None = None) -> str:
    """Stage runs of ``stage`` (only those with ``stage_key`` when given)."""
    clauses = [tag_is(TAG_KIND, "stage"), tag_is(TAG_STAGE, stage)]
    if stage_key:
        clauses.append(tag_is(TAG_STAGE_KEY, stage_key))
    return all_of(*clauses)


def imported_checkpoint(stage: str, stage_key: str, sha256: str) -> str:
    """Finished runs that imported the file with ``sha256`` as ``stage`` under ``stage_key``."""
    return all_of(
        tag_is(TAG_STAGE, stage),
        tag_is(TAG_STAGE_KEY, stage_key),
        tag_is(TAG_CHECKPOINT_SHA256, sha256),
        FINISHED,
    )


def stage_runs_of_pipeline(pipeline_run_id: str, finished_only: bool = False) -> str:
    """Stage runs trained under a pipeline (or sweep trial) run."""
    clause = tag_is(TAG_PIPELINE, pipeline_run_id)
    return all_of(clause, FINISHED) if finished_only else clause


def trial_runs(sweep_run_id: str, trial_id: str | None = None) -> str:
    """Trial runs of a sweep (only the one of ``trial_id`` when given)."""
    clause = tag_is(TAG_SWEEP, sweep_run_id)
    return all_of(clause, tag_is(TAG_TRIAL, trial_id)) if trial_id is not None else clause


def running_pipeline_runs(train_run: str) -> str:
    """Pipeline runs still marked running that trained as Ray Train run ``train_run``."""
    return all_of(tag_is(TAG_KIND, "pipeline"), tag_is(TAG_TRAIN_RUN, train_run), RUNNING)


def pipeline_runs() -> str:
    """Finished pipeline runs (``landmarkgait run`` or a sweep trial)."""
    return all_of(tag_is(TAG_KIND, "pipeline"), FINISHED)


def baseline_runs(name: str, fingerprint: str, protocol_tag: str) -> str:
    """Finished runs of the training-free baseline ``name`` on one dataset and evaluation
    (``protocol_tag``: protocol, distance and frames, e.g. ``casia_b/euc``)."""
    return all_of(
        tag_is(TAG_KIND, "baseline"),
        tag_is(TAG_BASELINE, name),
        tag_is(TAG_DATA, fingerprint),
        tag_is(TAG_PROTOCOL, protocol_tag),
        FINISHED,
    )


def finished_runs(kind: str) -> str:
    """Finished runs of one kind (``stage``, ``evaluation``, ...; ``tags.TAG_KIND``)."""
    return all_of(tag_is(TAG_KIND, kind), FINISHED)


def landmarkgait_runs() -> str:
    """Runs of any kind that landmarkgait wrote (each carries ``tags.TAG_KIND``)."""
    return f"tags.`{TAG_KIND}` LIKE '%'"


def named(run_name: str) -> str:
    """Runs named ``run_name`` (the name the MLflow UI shows)."""
    return f"attributes.run_name = {quoted(run_name)}"


def model_versions_of(run_id: str) -> str:
    """Model versions registered from one run's logged model."""
    return f"run_id = {quoted(run_id)}"
