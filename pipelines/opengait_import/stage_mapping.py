"""One OpenGait stage config onto our stage section: schedule, sampler, optimiser and LR
schedule, losses, and the network values it asks for.

Why: this is where the keys of an official LandmarkGait stage config get their meaning in our
terms. Every key read is taken from the ``OpenGaitSource`` ledger into a commented value or a
finding, so nothing is dropped silently. Losses (``loss_mapping``), where the stage starts
(``restore_mapping``) and evaluation (``evaluation_mapping``) have their own modules; what the
stages share (dataset, model section, scaling) is put together by ``assemble``. This module must
not read or write files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from landmarkgait.data.sampler_config import TRAIN_SAMPLE_TYPES
from landmarkgait.models.registry import StageSpec
from landmarkgait.pipelines.opengait_import.commented_yaml import Section
from landmarkgait.pipelines.opengait_import.defaults import CUTTING_TRANSFORM, CUTTING_TRANSFORM_DEFAULTS
from landmarkgait.pipelines.opengait_import.loss_mapping import map_losses
from landmarkgait.pipelines.opengait_import.official import MODEL_KEYS
from landmarkgait.pipelines.opengait_import.restore_mapping import ImportStep, training_start
from landmarkgait.pipelines.opengait_import.source import BUILT_IN, IGNORED, REFUSED, OpenGaitSource


@dataclass(frozen=True)
class ModelValue:
    """A network value one stage config asks for: our model field, the value, and its key."""

    stage: str
    name: str
    value: Any
    key: str
    source: OpenGaitSource = field(compare=False, repr=False)

    @property
    def origin(self) -> str:
        return self.source.origin(self.key)


@dataclass
class StageImport:
    """What one OpenGait stage config gives our pipeline config."""

    spec: StageSpec
    source: OpenGaitSource
    schedule: Section = field(default_factory=Section)
    model_values: list[ModelValue] = field(default_factory=list)
    steps: list[ImportStep] = field(default_factory=list)


def map_stage(source: OpenGaitSource, spec: StageSpec, given: dict[str, OpenGaitSource]) -> StageImport:
    """Map ``source`` (a config of stage ``spec``) onto our stage section; ``given`` holds the
    configs of every stage imported together (by stage), to tell chaining from importing."""
    result = StageImport(spec, source)
    schedule = result.schedule
    schedule.comment = f"{source.label}: model_cfg.model {spec.save_name}"
    for name in ("total_iter", "save_iter", "log_iter"):
        key = f"trainer_cfg.{name}"
        schedule.set(name, source.take(key), source.origin(key))
    _eval_interval(source, spec, schedule)
    schedule.entries["sampler"] = _sampler(source)
    schedule.entries["optimizer"] = _optimizer(source, spec)
    schedule.entries["loss"] = map_losses(source, spec)
    result.model_values = _model_values(source, spec)
    result.steps = training_start(source, spec, given)
    _training_switches(source)
    return result


def _eval_interval(source: OpenGaitSource, spec: StageSpec, schedule: Section) -> None:
    """The evaluated stage is evaluated at every checkpoint OpenGait saves (``save_iter``): with
    ``with_test`` OpenGait does so too, without it one evaluates a saved checkpoint by hand."""
    if spec.evaluates:
        with_test = source.take("trainer_cfg.with_test")
        how = "OpenGait too" if with_test is True else "OpenGait evaluates a saved one by hand"
        schedule.set(
            "eval_iter",
            source.value("trainer_cfg.save_iter"),
            f"{source.origin('trainer_cfg.save_iter')}: every checkpoint is evaluated "
            f"({source.keyed('trainer_cfg.with_test')} {with_test!r}: {how})",
        )
        return
    schedule.set("eval_iter", 0, f"stage {spec.name} is not evaluated with a gait protocol")
    source.note(
        BUILT_IN if source.value("trainer_cfg.with_test") is False else IGNORED,
        "trainer_cfg.with_test",
        f"stage {spec.name} is not evaluated with a gait protocol here",
    )


def _sampler(source: OpenGaitSource) -> Section:
    key = "trainer_cfg.sampler"
    section = Section()
    if source.value(f"{key}.type") == "TripletSampler":
        source.note(BUILT_IN, f"{key}.type", "P x K triplet batches (data/sampling.py)")
    else:
        source.note(
            REFUSED, f"{key}.type", "landmarkgait trains on P x K triplet batches only (TripletSampler)"
        )
    batch = source.value(f"{key}.batch_size")
    if isinstance(batch, list) and len(batch) == 2:
        origin = source.origin(f"{key}.batch_size")
        source.take(f"{key}.batch_size")
        section.set("subjects_per_batch", batch[0], f"{origin}[0] (P)")
        section.set("sequences_per_subject", batch[1], f"{origin}[1] (K)")
    else:
        source.note(REFUSED, f"{key}.batch_size", "expected [P, K]: P subjects, K sequences of each")
    sample_type = source.value(f"{key}.sample_type")
    if sample_type in TRAIN_SAMPLE_TYPES:
        section.set(
            "frames", source.take(f"{key}.frames_num_fixed"), source.origin(f"{key}.frames_num_fixed")
        )
        section.set("sample_type", source.take(f"{key}.sample_type"), source.origin(f"{key}.sample_type"))
    else:
        why = (
            "clip lengths drawn between frames_num_min and frames_num_max; landmarkgait's clips "
            "have one length"
            if str(sample_type).startswith("unfixed")
            else f"landmarkgait trains on clips drawn as one of {', '.join(TRAIN_SAMPLE_TYPES)}"
        )
        source.note(REFUSED, f"{key}.sample_type", why)
        source.note(IGNORED, f"{key}.frames_num_fixed", "goes with the refused sample_type")
    for bound in ("frames_num_max", "frames_num_min"):
        if source.has(f"{key}.{bound}"):
            source.note(IGNORED, f"{key}.{bound}", "used by unfixed_* sample types only")
    if source.has(f"{key}.frames_skip_num"):
        skip = source.value(f"{key}.frames_skip_num")
        if skip == 0 and not isinstance(skip, bool):
            source.note(BUILT_IN, f"{key}.frames_skip_num", "clips of consecutive frames")
        else:
            source.note(REFUSED, f"{key}.frames_skip_num", "landmarkgait's clips are consecutive frames")
    if source.value(f"{key}.batch_shuffle") is True:
        source.note(BUILT_IN, f"{key}.batch_shuffle", "sequences are shuffled inside every batch")
    else:
        source.note(
            REFUSED,
            f"{key}.batch_shuffle",
            "landmarkgait always shuffles the sequences inside a batch (as the official configs); "
            "parts mixup pairs neighbouring sequences, so the order is trained",
        )
    note_transform(source, "trainer_cfg.transform")
    return section


def note_transform(source: OpenGaitSource, key: str) -> None:
    """The one transform landmarkgait applies is OpenGait's ``BaseSilCuttingTransform`` with its defaults."""
    transforms = source.value(key)
    items = transforms if isinstance(transforms, list) else [transforms]
    if len(items) == 1 and isinstance(items[0], dict) and items[0].get("type") == CUTTING_TRANSFORM:
        arguments = {name: value for name, value in items[0].items() if name != "type"}
        changed = [
            name
            for name, default in CUTTING_TRANSFORM_DEFAULTS.items()
            if name in arguments and arguments[name] != default
        ]
        if not changed:
            extra = sorted(set(arguments) - set(CUTTING_TRANSFORM_DEFAULTS))
            dropped = f"; OpenGait drops {', '.join(extra)} (not its arguments)" if extra else ""
            source.note(
                BUILT_IN,
                key,
                f"landmarkgait's one transform (data/transforms.py): width // 64 * 10 columns cut "
                f"from each side, pixels / 255{dropped}",
            )
            return
    source.note(
        REFUSED,
        key,
        f"landmarkgait applies {CUTTING_TRANSFORM} with its defaults (divsor 255, cutting from the width) only",
    )


def _optimizer(source: OpenGaitSource, spec: StageSpec) -> Section:
    section = Section()
    solver = source.value("optimizer_cfg.solver")
    if solver == "Adam":
        source.note(BUILT_IN, "optimizer_cfg.solver", "Adam with L2 weight decay (models/optim.py)")
    else:
        source.note(REFUSED, "optimizer_cfg.solver", "landmarkgait trains with Adam only (models/optim.py)")
    for ours, key in (("lr", "optimizer_cfg.lr"), ("weight_decay", "optimizer_cfg.weight_decay")):
        section.set(ours, source.take(key), source.origin(key))
    if source.has("optimizer_cfg.momentum"):
        why = (
            "Adam takes no momentum; OpenGait drops arguments its optimiser does not take"
            if solver == "Adam"
            else "goes with the refused solver"
        )
        source.note(IGNORED, "optimizer_cfg.momentum", why)
    if source.has("model_cfg.landmark_lr"):
        if spec.backbone_group:
            section.set(
                "landmark_lr", source.take("model_cfg.landmark_lr"), source.origin("model_cfg.landmark_lr")
            )
        else:
            source.note(
                IGNORED, "model_cfg.landmark_lr", f"stage {spec.name} trains every layer at optimizer_cfg.lr"
            )
    for ours in ("milestones", "gamma"):
        key = f"scheduler_cfg.{ours}"
        section.set(ours, source.take(key), source.origin(key))
    if source.value("scheduler_cfg.scheduler") == "MultiStepLR":
        source.note(BUILT_IN, "scheduler_cfg.scheduler", "MultiStepLR over iterations (models/optim.py)")
    else:
        source.note(
            REFUSED, "scheduler_cfg.scheduler", "landmarkgait's learning-rate schedule is MultiStepLR only"
        )
    return section


def _model_values(source: OpenGaitSource, spec: StageSpec) -> list[ModelValue]:
    """The network values the stage config asks for; ``assemble`` checks them against the preset."""
    fields = spec.config_class.field_names()
    values = []
    for official, name in MODEL_KEYS.items():
        key = f"model_cfg.{official}"
        if not source.has(key):
            continue
        if name in fields:
            values.append(ModelValue(spec.name, name, source.take(key), key, source))
        else:
            source.note(IGNORED, key, f"stage {spec.name}'s network has no {name} (models/config.py)")
    if source.has("model_cfg.landmarknet_cfg.type"):
        landmarknet = source.value("model_cfg.landmarknet_cfg.type") == "landmarknet"
        source.note(
            BUILT_IN if landmarknet else REFUSED,
            "model_cfg.landmarknet_cfg.type",
            "LandmarkNet is the landmark network of every LandmarkGait stage",
        )
    return values


def _training_switches(source: OpenGaitSource) -> None:
    """Trainer keys that are either what landmarkgait always does or change nothing it trains."""
    for key, honoured, why_built_in, why_refused in (
        (
            "trainer_cfg.enable_float16",
            False,
            "trains in float32",
            "mixed precision (AMP); landmarkgait trains in float32",
        ),
        (
            "trainer_cfg.fix_BN",
            False,
            "BatchNorm layers train",
            "landmarkgait does not freeze BatchNorm statistics",
        ),
    ):
        if source.has(key):
            value = source.value(key)
            source.note(
                BUILT_IN if value is honoured else REFUSED,
                key,
                why_built_in if value is honoured else why_refused,
            )
    for key, why in (
        ("trainer_cfg.find_unused_parameters", "a DistributedDataParallel setting; changes nothing trained"),
        (
            "trainer_cfg.enable_distributed",
            "Ray Train runs scaling.num_workers workers (OpenGait: the launch command)",
        ),
        (
            "trainer_cfg.save_name",
            "names OpenGait's output folder; runs here are named by the config name and stage",
        ),
    ):
        if source.has(key):
            source.note(IGNORED, key, why)
