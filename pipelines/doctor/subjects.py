"""What the doctor compares, read from where it lives: a config file, an MLflow run, a preset.

A run is named by its id (or ``runs:/ID``) or by the name the MLflow UI shows; its resolved config
is the ``config/resolved.yaml`` every pipeline, stage and import run logs. A cross-dataset
evaluation run (``evaluate --run``) logs no such file: it is the config of the run it evaluated,
with its own dataset and evaluation. The reference is a preset of ``ray_configs/`` by name (by
default the paper preset of the run's protocol, else ``casia_b``) or any pipeline config file. The
dataset a config names is read only if it is on this machine and, for a run, still holds the data
the run used (same fingerprint). Nothing is generated, trained or written.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import landmarkgait
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import read_metadata
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.pipelines.bounded_yaml import load_bounded
from landmarkgait.pipelines.config import (
    EvaluationSection,
    PipelineConfig,
    TrackingSection,
    load_config,
)
from landmarkgait.pipelines.doctor.checks import diagnose
from landmarkgait.pipelines.doctor.diagnosis import Diagnosis, Subject
from landmarkgait.pipelines.doctor.facts import read_dataset_facts
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.redaction import redact_uri

if TYPE_CHECKING:  # MLflow loads only for runs, after a config file's errors are answered
    from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

# The presets ``--against`` names, and the paper preset of each protocol (the default reference).
PRESETS_DIR = Path(landmarkgait.__file__).resolve().parent / "ray_configs"
PAPER_PRESETS = {"casia_b": "casia_b", "oumvlp": "oumvlp"}
DEFAULT_PRESET = "casia_b"
# What every pipeline, stage and import run logs of its config (``PipelineConfig.to_yaml``).
RESOLVED_CONFIG = "config/resolved.yaml"
RUN_ID = re.compile(r"[0-9a-f]{32}")


def config_subject(path: Path, overrides: tuple[str, ...] = ()) -> Subject:
    """A pipeline config file, with ``--set`` overrides."""
    return Subject(str(path), load_config(path, overrides))


def reference_subject(against: str | None, config: PipelineConfig) -> Subject:
    """``--against``: a preset name of ``ray_configs/`` or a config file; by default the paper
    preset of ``config``'s protocol. Its data expectations come from its config; no dataset is read."""
    name = against or PAPER_PRESETS.get(config.evaluation.protocol, DEFAULT_PRESET)
    if name.endswith((".yaml", ".yml")) or "/" in name or Path(name).is_file():
        return Subject(name, load_config(Path(name)))
    problem = key_problem(name)
    if problem is not None:
        raise PipelineError(f"--against {quote_value(name)}: {problem}")
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml") if not p.stem.startswith("sweep_"))
        raise PipelineError(
            f"--against {quote_value(name)}: no preset {path.name} in {PRESETS_DIR} "
            f"(presets: {', '.join(known) or 'none'}; or give a config file)"
        )
    return Subject(f"ray_configs/{path.name}", load_config(path))


def run_subject(reference: str, tracking_uri: str | None) -> Subject:
    """The MLflow run ``reference`` (id, ``runs:/ID`` or name) at ``tracking_uri`` (None:
    ``$MLFLOW_TRACKING_URI``, else the local store)."""
    from landmarkgait.pipelines.tracking.location import resolve_tracking_uri
    from landmarkgait.pipelines.tracking.records import parse_run_reference
    from landmarkgait.pipelines.tracking.run_names import runs_named
    from landmarkgait.pipelines.tracking.tracker import Tracker

    uri = resolve_tracking_uri(
        TrackingSection(tracking_uri=tracking_uri), reading=f"run {quote_value(reference)}"
    )
    if reference.startswith("runs:/") or RUN_ID.fullmatch(reference.strip()):
        tracker = Tracker.of_run(uri, reference)
        return subject_of_run(tracker, parse_run_reference(reference))
    named = runs_named(uri, reference)
    if not named:
        raise PipelineError(
            f"no MLflow run is named {quote_value(reference)} at {redact_uri(uri)} "
            "(give a run id, a run name or a pipeline config file)"
        )
    tracker, run = next(((t, r) for t, r in named if r.status == "FINISHED"), named[0])
    if len(named) > 1:
        log.info(
            "%d runs are named %s; the newest finished one is read: %s", len(named), reference, run.run_id
        )
    return subject_of_run(tracker, run.run_id)


def subject_of_run(tracker: Tracker, run_id: str) -> Subject:
    """The run ``run_id`` of ``tracker``: its resolved config, and the data it used."""
    from landmarkgait.pipelines.report.collect import evaluation_of
    from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_EVALUATED_RUN, TAG_KIND

    run = tracker.get_run(run_id)
    name = f"run {run.run_id} ({run.tags.get('mlflow.runName', 'unnamed')})"
    config = _logged_config(tracker, run.run_id)
    notes: tuple[str, ...] = ()
    source = run.tags.get(TAG_EVALUATED_RUN)
    if config is None and run.tags.get(TAG_KIND) == "evaluation" and source:
        trained = _logged_config(tracker, source)
        if trained is not None:
            evaluated = evaluation_of(run)  # this run's own dataset and evaluation, from its params
            config = dataclasses.replace(
                trained,
                data=dataclasses.replace(
                    trained.data, path=evaluated.dataset_path, partition=evaluated.partition, synthetic=None
                ),
                evaluation=EvaluationSection(evaluated.protocol, evaluated.metric, evaluated.max_frames),
            )
            notes = (f"a cross-dataset evaluation of run {source}, trained on other data",)
    if config is None:
        raise PipelineError(f"run {run.run_id} has no {RESOLVED_CONFIG} artifact to compare")
    return Subject(name, config, notes=notes, fingerprint=run.tags.get(TAG_DATA, ""))


def _logged_config(tracker: Tracker, run_id: str) -> PipelineConfig | None:
    """The config a run logged, None if it logged none; one line if it is not a valid config."""
    text = tracker.read_text_artifact(run_id, RESOLVED_CONFIG)
    if text is None:
        return None
    try:
        mapping = load_bounded(text)
        if not isinstance(mapping, dict):
            raise PipelineError(f"expected a mapping, got {type(mapping).__name__}")
        return PipelineConfig.from_dict(mapping)
    except (PipelineError, DataError, ModelConfigError, ValueError) as error:
        raise PipelineError(f"run {run_id}: {RESOLVED_CONFIG} is not a valid config ({error})") from None


def with_dataset(subject: Subject, clips: set[int]) -> Subject:
    """``subject`` with the facts of its config's dataset (the share of sequences shorter than each
    of ``clips``), or the reason they are missing: not on this machine, or holding other data now
    than the run used."""
    config, fingerprint = subject.config, subject.fingerprint
    path = config.data.resolved_path()
    if not path.is_dir():
        later = " (generated on its first run)" if config.data.synthetic is not None else ""
        return dataclasses.replace(subject, dataset_note=f"{path} is not on this machine{later}")
    partition = Path(config.data.partition) if config.data.partition else None
    try:
        found = read_metadata(path).fingerprint
        if fingerprint and found != fingerprint:
            return dataclasses.replace(
                subject,
                dataset_note=f"{path} now holds dataset {found[:19]}, the run used {fingerprint[:19]}",
            )
        if partition is not None and not partition.is_file():
            return dataclasses.replace(
                subject, dataset_note=f"partition file {partition} is not on this machine"
            )
        facts = read_dataset_facts(path, partition, clips)
    except DataError as error:
        return dataclasses.replace(subject, dataset_note=str(error))
    return dataclasses.replace(subject, dataset=facts)


def clip_lengths(config: PipelineConfig) -> set[int]:
    """The training clip lengths of ``config``'s stages."""
    return {config.stages.of(stage).sampler.frames for stage in config.model.stages}


def examine(subject: Subject, against: str | None) -> Diagnosis:
    """``subject`` (its dataset read here) against the reference ``against`` names."""
    reference = reference_subject(against, subject.config)
    return diagnose(
        with_dataset(subject, clip_lengths(subject.config) | clip_lengths(reference.config)), reference
    )
