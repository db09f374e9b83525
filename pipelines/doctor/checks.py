"""The checks of settings: a run's config beside a reference config, one ``Finding`` per setting.

``diagnose`` walks every setting of ``effects.EFFECTS``: per training schedule both configs train
(iterations, P×K batch, clip, sampler, optimiser, loss), the networks (landmarks, input and network
size, embedding head, landmark grouping, every other field), the evaluation (protocol, identical
views, distance, frames), then the dataset (``data_checks``). It reads nothing but the configs and
facts it is handed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from landmarkgait.models.registry import stage_spec
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.doctor.data_checks import data_findings
from landmarkgait.pipelines.doctor.diagnosis import DIFFERS, SAME, Diagnosis, Finding, Subject, shown

# Network fields with a check of their own, and ``num_classes``, which the training set decides.
COMPARED_MODEL_FIELDS = frozenset(
    {"stage", "height", "width", "channels", "pmbconv_channels", "num_parts", "num_landmark", "head"}
    | {"eval_grouping", "num_classes"}
)
# How each protocol treats probe / gallery pairs of the same view (``data.evaluation``).
IDENTICAL_VIEWS = {
    "casia_b": "excluded from the means",
    "oumvlp": "excluded from the means",
    "open": "not separated (open-set ranking over every view)",
}


def diagnose(run: Subject, reference: Subject) -> Diagnosis:
    """Every known-effect setting of ``run`` beside ``reference`` (a preset: its data expectations)."""
    findings = [
        *_schedule_findings(run.config, reference.config),
        *_model_findings(run.config, reference.config),
        *_evaluation_findings(run.config, reference.config),
        *data_findings(run, reference.config),
    ]
    if run.dataset is not None:
        data = run.dataset
        dataset = (
            f"Dataset: {data.name} at {data.path} ({data.fingerprint[:19]}), {data.sequences} sequences, "
            f"{data.sampled_frames} frames sampled for the alignment."
        )
    else:
        dataset = f"Dataset: not read ({run.dataset_note})."
    return Diagnosis(run.name, reference.name, dataset, tuple(findings), run.notes)


def _finding(key: str, value: Any, reference: Any, stage: str = "") -> Finding:
    """A finding that differs when the shown values differ."""
    value, reference = shown(value), shown(reference)
    return Finding(key, value, reference, DIFFERS if value != reference else SAME, stage)


def schedules(config: PipelineConfig) -> dict[str, str]:
    """``{schedule: stage}`` of the stages ``config`` trains (the holistic baseline: recognition's)."""
    return {stage_spec(stage).schedule_name: stage for stage in config.model.stages}


def _schedule_findings(run: PipelineConfig, reference: PipelineConfig) -> Iterator[Finding]:
    """Per schedule both train: iterations, batch, clip, sampler, optimiser and loss."""
    theirs = schedules(reference)
    for schedule, stage in schedules(run).items():
        if schedule not in theirs:
            continue
        mine, ref = run.stages.of(stage), reference.stages.of(theirs[schedule])
        backbone = stage_spec(stage).backbone_group
        pairs = {
            "iterations": (mine.total_iter, ref.total_iter),
            "batch": (_batch(mine.sampler), _batch(ref.sampler)),
            "frames": (mine.sampler.frames, ref.sampler.frames),
            "sampler": (mine.sampler.sample_type, ref.sampler.sample_type),
            "weight_decay": (mine.optimizer.weight_decay, ref.optimizer.weight_decay),
            "learning_rate": (_rates(mine.optimizer, backbone), _rates(ref.optimizer, backbone)),
            "lr_steps": (_steps(mine.optimizer, mine.total_iter), _steps(ref.optimizer, ref.total_iter)),
        }
        for key, (value, reference_value) in pairs.items():
            yield _finding(key, value, reference_value, schedule)
        yield _differing_fields("loss", dataclasses.asdict(mine.loss), dataclasses.asdict(ref.loss), schedule)


def _batch(sampler: Any) -> str:
    return f"{sampler.subjects_per_batch}×{sampler.sequences_per_subject}"


def _rates(optimizer: Any, backbone: bool) -> str:
    return f"{optimizer.lr:g}, LandmarkNet {optimizer.landmark_lr:g}" if backbone else f"{optimizer.lr:g}"


def _steps(optimizer: Any, total: int) -> str:
    if not optimizer.milestones:
        return f"none in {total}"
    steps = f"×{optimizer.gamma:g} at {', '.join(map(str, optimizer.milestones))} of {total}"
    return f"{steps} (never reached)" if max(optimizer.milestones) >= total else steps


def _differing_fields(
    key: str, mine: Mapping[str, Any], theirs: Mapping[str, Any], stage: str = ""
) -> Finding:
    """One finding for a group of fields: those whose values differ, or SAME."""
    names = [name for name in mine if name in theirs and mine[name] != theirs[name]]
    if not names:
        return Finding(key, "as the reference", "-", SAME, stage)
    return Finding(
        key,
        ", ".join(f"{name} {shown(mine[name])}" for name in names),
        ", ".join(f"{name} {shown(theirs[name])}" for name in names),
        DIFFERS,
        stage,
    )


def _model_findings(run: PipelineConfig, reference: PipelineConfig) -> Iterator[Finding]:
    """The networks: landmarks, input and network size, head, grouping, every other field."""
    mine, ref = run.model, reference.model
    net, ref_net = mine.network_config(mine.stages[-1]), ref.network_config(ref.stages[-1])
    yield _finding("landmarks", _landmarks(run), _landmarks(reference))
    yield _finding("input_size", f"{net['height']}×{net['width']}", f"{ref_net['height']}×{ref_net['width']}")
    yield _finding("network_size", _size(mine.preset, net), _size(ref.preset, ref_net))
    yield _finding(
        "head",
        f"{net.get('head', '-')} on {_branches(mine.recognition_branches)}",
        f"{ref_net.get('head', '-')} on {_branches(ref.recognition_branches)}",
    )
    no_landmarks = "- (no landmarks)"
    yield _finding(
        "eval_grouping", net.get("eval_grouping", no_landmarks), ref_net.get("eval_grouping", no_landmarks)
    )
    shared = [stage for stage in mine.stages if stage in ref.stages]
    yield _differing_fields("other_model", _other_fields(mine, shared), _other_fields(ref, shared))


def _other_fields(model: Any, stages: list[str]) -> dict[str, Any]:
    """``{stage.field: value}`` of the network fields no other check compares."""
    return {
        f"{stage}.{name}": value
        for stage in stages
        for name, value in model.network_config(stage).items()
        if name not in COMPARED_MODEL_FIELDS
    }


def _landmarks(config: PipelineConfig) -> str:
    if config.model.recognition_branches == "holistic":
        return "- (holistic)"
    return str(config.model.network_config("landmark")["num_landmark"])


def _size(preset: str, network: Mapping[str, Any]) -> str:
    channels = network.get("pmbconv_channels", network.get("channels"))
    return f"preset {preset}: channels {shown(channels)}, {network.get('num_parts', '-')} parts"


def _branches(branches: str) -> str:
    return "the silhouette alone (holistic)" if branches == "holistic" else "all branches"


def _evaluation_findings(run: PipelineConfig, reference: PipelineConfig) -> Iterator[Finding]:
    """How the run is tested: protocol, identical views, distance, frames."""
    mine, ref = run.evaluation, reference.evaluation
    yield _finding("protocol", _protocol(mine), _protocol(ref))
    yield _finding("identical_views", _identical_views(mine.protocol), _identical_views(ref.protocol))
    yield _finding("metric", mine.metric, ref.metric)
    yield _finding("max_frames", _frames(mine.max_frames), _frames(ref.max_frames))


def _protocol(section: Any) -> str:
    """The protocol, with its cross-view-gallery variant when the config has and sets one."""
    cross_view = getattr(section, "cross_view_gallery", False)
    return f"{section.protocol} (cross-view gallery)" if cross_view else section.protocol


def _identical_views(protocol: str) -> str:
    return IDENTICAL_VIEWS.get(protocol, f"as protocol {protocol} defines")


def _frames(max_frames: int | None) -> str:
    return "every frame" if max_frames is None else f"the first {max_frames} frames"
