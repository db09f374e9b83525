"""OpenGait stage configs (one, or the three of LandmarkGait) -> one commented pipeline config.

Why: a researcher's LandmarkGait run is three OpenGait configs run by hand; ours is one pipeline
config. This module reads the files, maps each (``stage_mapping``), puts together what they
share (the dataset and protocol, the network values as the ``paper`` preset plus overrides,
SyncBatchNorm), takes what no OpenGait key says (scaling, tracking, stages not given) from an
optional base pipeline config, and renders the result with the OpenGait key of every value
beside it. A key that cannot be honoured is a finding, never dropped; the caller refuses to
write when any is refused. The config is validated like any other (``PipelineConfig``) before it
is returned; a value we cannot take names the OpenGait file and key it came from. Writing the
file is ``output``'s job; this module must not write.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from landmarkgait.data.quoting import quote_value
from landmarkgait.models.registry import pipeline_stages, stage_spec
from landmarkgait.pipelines.config import PipelineConfig, load_config
from landmarkgait.pipelines.config_schema import read_yaml_mapping
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.opengait_import.commented_yaml import Section, from_plain, plain, render
from landmarkgait.pipelines.opengait_import.dataset_mapping import DatasetImport, map_dataset
from landmarkgait.pipelines.opengait_import.evaluation_mapping import map_evaluation
from landmarkgait.pipelines.opengait_import.model_mapping import map_model
from landmarkgait.pipelines.opengait_import.official import official_stage
from landmarkgait.pipelines.opengait_import.restore_mapping import ImportStep
from landmarkgait.pipelines.opengait_import.source import (
    BUILT_IN,
    IGNORED,
    REFUSED,
    Finding,
    OpenGaitSource,
    grouped_lines,
)
from landmarkgait.pipelines.opengait_import.stage_mapping import map_stage

log = logging.getLogger(__name__)

# The first line of every imported config: ``--overwrite`` replaces only files that start with it.
MARKER_LINE = "landmarkgait config import: written by landmarkgait; --overwrite may replace this file"
# LandmarkGait's stages, first to last; the last is the one evaluated with a gait protocol.
LANDMARKGAIT_STAGES = pipeline_stages("all")


@dataclass(frozen=True)
class ImportResult:
    """The imported config as text, what it was built from, and every key it could not honour.

    ``config`` is None when a key was refused (the text is then not to be written).
    """

    text: str
    config: PipelineConfig | None
    stages: dict[str, str]
    findings: list[Finding]
    steps: list[str]

    def lines(self, kind: str) -> list[str]:
        """The findings of ``kind``, one line per key, value and reason (files grouped)."""
        return grouped_lines(self.findings, kind, list(self.stages.values()))

    @property
    def refused(self) -> list[str]:
        return self.lines(REFUSED)


def import_opengait_configs(paths: Sequence[Path], out: str, base: Path | None = None) -> ImportResult:
    """Map the OpenGait configs ``paths`` onto one pipeline config (``out`` names it in the steps).

    ``base`` is a pipeline config whose values stand where no OpenGait key speaks: the stages
    whose configs are not given, scaling, tracking, and the dataset when ``dataset_root`` is a
    placeholder. Without it a stage not given is refused in one line.
    """
    given = _stages_of(_read_sources(paths))
    sources = list(given.values())  # in stage order: the first stage's file speaks for shared keys
    base_raw = _read_base(base)
    base_label = f"--base {PurePath(base).name}" if base is not None else ""
    _check_stages_covered(given, base_raw)
    imports = {stage: map_stage(source, stage_spec(stage), given) for stage, source in given.items()}

    root = Section()
    dataset = map_dataset(sources, base_raw, base_label)
    root.set("name", dataset.name.value, dataset.name.comment)
    if base_raw is not None and "seed" in base_raw:
        root.set("seed", base_raw["seed"], base_label)
    else:
        root.set("seed", 0, "OpenGait seeds each process with its rank; one seed here")
    root.entries["data"] = dataset.data
    root.entries["model"] = map_model(list(imports.values()), sources)
    stages = root.section("stages")
    for schedule in _schedules():
        if schedule in imports:
            stages.entries[schedule] = imports[schedule].schedule
        else:
            stages.entries[schedule] = from_plain(base_raw["stages"][schedule], base_label)
            stages.entries[
                schedule
            ].comment = f"{base_label} (no OpenGait config of stage {schedule} was given)"
    root.entries["scaling"] = _scaling(sources, base_raw, base_label)
    if base_raw is not None and isinstance(base_raw.get("tracking"), dict):
        root.entries["tracking"] = from_plain(base_raw["tracking"], base_label)
    evaluation, evaluated_steps = _evaluation(given, dataset, base_raw, base_label)
    root.entries["evaluation"] = evaluation

    for source in sources:
        source.refuse_untaken()
    findings = [finding for source in sources for finding in source.findings]
    import_steps = sorted(
        [step for stage_import in imports.values() for step in stage_import.steps] + evaluated_steps,
        key=lambda step: LANDMARKGAIT_STAGES.index(step.stage),
    )
    steps = _steps(dataset.convert, import_steps, out)
    stage_labels = {stage: source.label for stage, source in given.items()}
    header = _header(stage_labels, findings, steps)
    text = render(root, header)
    refused = sum(finding.kind == REFUSED for finding in findings)
    log.debug("config import: stages %s, %d findings, %d refused", ", ".join(given), len(findings), refused)
    config = None if refused else _validated(root, text)
    return ImportResult(text, config, stage_labels, findings, steps)


def _read_sources(paths: Sequence[Path]) -> list[OpenGaitSource]:
    if not paths:
        raise ConfigError("config import: expected one OpenGait config or more")
    names = Counter(Path(path).name for path in paths)
    return [
        OpenGaitSource.read(Path(path), Path(path).name if names[Path(path).name] == 1 else str(path))
        for path in paths
    ]


def _stages_of(sources: list[OpenGaitSource]) -> dict[str, OpenGaitSource]:
    """Each config's stage, from its ``model_cfg.model`` (the official model names)."""
    given: dict[str, OpenGaitSource] = {}
    official = ", ".join(stage_spec(stage).save_name for stage in LANDMARKGAIT_STAGES)
    for source in sources:
        model = source.value("model_cfg.model")
        spec = official_stage(model)
        if spec is None or spec.name not in LANDMARKGAIT_STAGES:
            raise ConfigError(
                f"{source.path}: model_cfg.model {quote_value(model)}: not a LandmarkGait stage "
                f"({official}); landmarkgait trains those only"
            )
        if spec.name in given:
            raise ConfigError(
                f"{source.path}: model_cfg.model {model}: stage {spec.name} is already given by "
                f"{given[spec.name].path}"
            )
        source.take("model_cfg.model")
        given[spec.name] = source
    return {stage: given[stage] for stage in LANDMARKGAIT_STAGES if stage in given}


def _read_base(base: Path | None) -> dict[str, Any] | None:
    if base is None:
        return None
    load_config(base)  # every value checked, errors naming the base file
    return read_yaml_mapping(Path(base), "config file", "ray_configs/")


def _schedules() -> list[str]:
    """The ``stages.<schedule>`` sections of LandmarkGait's pipeline, in order."""
    return list(dict.fromkeys(stage_spec(stage).schedule_name for stage in LANDMARKGAIT_STAGES))


def _check_stages_covered(given: dict[str, OpenGaitSource], base_raw: dict[str, Any] | None) -> None:
    """Every stage section needs a config of that stage or a base config that has it."""
    base_stages = (base_raw or {}).get("stages") or {}
    for schedule in _schedules():
        if schedule not in given and schedule not in base_stages:
            labels = ", ".join(source.label for source in given.values())
            raise ConfigError(
                f"stages.{schedule}: no OpenGait config of stage {schedule} ({stage_spec(schedule).save_name}) "
                f"among {labels}; give it too, or --base PIPELINE_CONFIG to take that stage from "
                "(e.g. ray_configs/casia_b.yaml)"
            )


def _scaling(sources: list[OpenGaitSource], base_raw: dict[str, Any] | None, base_label: str) -> Section:
    """SyncBatchNorm from ``trainer_cfg.sync_BN``; workers and GPUs from the base config, or one worker."""
    if base_raw is not None and isinstance(base_raw.get("scaling"), dict):
        section = from_plain(base_raw["scaling"], base_label)
    else:
        section = Section()
        launch = (
            "OpenGait sets its GPUs on the launch command line (nproc_per_node): set num_workers and use_gpu"
        )
        section.set("num_workers", 1, launch)
        section.set("use_gpu", False, launch)
    key = "trainer_cfg.sync_BN"
    first = sources[0]
    for other in sources[1:]:
        if other.value(key) == first.value(key):
            other.take(key)
        else:
            other.note(
                REFUSED,
                key,
                f"differs from {first.label}'s {quote_value(first.value(key))}; one setting here",
            )
    origin = first.origin(key) if len(sources) == 1 else f"trainer_cfg.sync_BN (all {len(sources)} configs)"
    section.set("sync_bn", first.take(key), origin)
    return section


def _evaluation(
    given: dict[str, OpenGaitSource], dataset: DatasetImport, base_raw: dict[str, Any] | None, base_label: str
) -> tuple[Section, list[ImportStep]]:
    """The protocol from the test dataset; the rest from the evaluated stage's ``evaluator_cfg``."""
    evaluated = LANDMARKGAIT_STAGES[-1]
    if base_raw is not None and isinstance(base_raw.get("evaluation"), dict):
        section = from_plain(base_raw["evaluation"], base_label)
    else:
        section = Section()
    if dataset.protocol is not None:
        section.set("protocol", dataset.protocol[0], dataset.protocol_origin)
    steps: list[ImportStep] = []
    for stage, source in given.items():
        if stage == evaluated:
            mapped, steps = map_evaluation(source, stage_spec(stage), dataset.protocol)
            section.entries.update(mapped.entries)
        else:
            source.note_section(
                IGNORED,
                "evaluator_cfg",
                f"stage {stage} is not evaluated with a gait protocol (only {evaluated} is)",
            )
    if "metric" not in section.entries:
        section.set("metric", "euc", f"no config of stage {evaluated}: OpenGait's default metric")
    return section, steps


def _steps(convert: list[str], imports: list[ImportStep], out: str) -> list[str]:
    """What to run after writing: convert the pickles, import checkpoints, then train or evaluate."""
    steps = [shlex.join(convert)] if convert else []
    steps += [step.line(out) for step in dict.fromkeys(imports)]
    if imports:
        words = [word.format(run_id="RUN_ID") for word in stage_spec(imports[-1].stage).after_import]
        follow = shlex.join(["landmarkgait", *words, out])
        steps.append(f"{follow}   # RUN_ID: the run the import prints" if "RUN_ID" in words else follow)
    else:
        steps.append(shlex.join(["landmarkgait", "run", out]))
    return steps


def _header(stages: dict[str, str], findings: list[Finding], steps: list[str]) -> list[str]:
    lines = [
        MARKER_LINE,
        "From OpenGait configs, each merged over OpenGait's defaults as its config_loader does:",
        *(f"  {label} -> stages.{stage}" for stage, label in stages.items()),
        "Beside each value: the OpenGait key it came from ('OpenGait default': configs/default.yaml).",
    ]
    for kind, title in (
        (IGNORED, "Not honoured, as they change nothing trained or evaluated here (key = value: why):"),
        (BUILT_IN, "Honoured by what landmarkgait always does (key = value: how):"),
        (REFUSED, "Cannot be honoured (key = value: why):"),
    ):
        chosen = grouped_lines(findings, kind, list(stages.values()))
        if chosen:
            lines.append(title)
            lines.extend(f"  {line}" for line in chosen)
    lines.append("Next steps:")
    lines.extend(f"  {step}" for step in steps)
    return lines


def _validated(root: Section, text: str) -> PipelineConfig:
    """The written text, read back and checked like any pipeline config; an error names the
    OpenGait key of the value at fault."""
    from landmarkgait.pipelines.bounded_yaml import load_bounded

    data = plain(root)
    if load_bounded(text) != data:  # the writer's own check: comments must never change a value
        raise ConfigError("config import: the written YAML does not read back to the mapped values")
    try:
        return PipelineConfig.from_dict(data)
    except ConfigError as error:
        origin = _origin_of(str(error), _comments(root))
        raise ConfigError(f"{origin}: {error}" if origin else str(error)) from None


def _comments(node: Section, prefix: str = "") -> dict[str, str]:
    """Every value's dotted key and comment (its OpenGait origin)."""
    found: dict[str, str] = {}
    for name, child in node.entries.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(child, Section):
            found.update(_comments(child, key))
        elif child.comment:
            found[key] = child.comment
    return found


def _origin_of(message: str, comments: dict[str, str]) -> str | None:
    """The origin of the value a validation error is about: its key quoted in the message, or
    its section quoted and its field named."""
    ordered = sorted(comments, key=lambda key: -key.count("."))
    for key in ordered:
        if f"'{key}'" in message:
            return comments[key]
    for key in ordered:
        parts = key.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            section = ".".join(parts[:depth])
            if f"'{section}'" in message and re.search(rf"\b{re.escape(parts[-1])}\b", message):
                return comments[key]
    return None
