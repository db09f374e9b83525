"""The network values every stage config asks for, as our ``model`` section: the ``paper``
preset plus the overrides that differ from it.

Why a module of its own: the official configs repeat LandmarkNet's values in each stage and
set some per stage (``freeze_half`` is false in stage 1, true after); ours has one ``model``
section whose ``overrides`` apply to every stage. Values equal to the preset's (per stage) need
nothing; one value that differs becomes an override; stages asking for different values that an
override cannot give are refused. This module must not build networks.
"""

from __future__ import annotations

from typing import Any

from landmarkgait.models.presets import resolve_config
from landmarkgait.pipelines.opengait_import.commented_yaml import Section
from landmarkgait.pipelines.opengait_import.source import REFUSED, OpenGaitSource
from landmarkgait.pipelines.opengait_import.stage_mapping import ModelValue, StageImport


def map_model(imports: list[StageImport], sources: list[OpenGaitSource]) -> Section:
    """The network values of every stage as the ``paper`` preset plus the overrides they need.

    ``model.overrides`` sets one value for every stage, so values that differ between stages
    (other than as the preset's own defaults differ) cannot be honoured.
    """
    section = Section(comment="the network values of model_cfg in every stage config")
    section.set("preset", "paper", "the official LandmarkGait networks (models/presets.py)")
    section.set("recognition_branches", "all", "LandmarkGait's three stages")
    overrides = Section()
    by_name: dict[str, list[ModelValue]] = {}
    for stage_import in imports:
        for value in stage_import.model_values:
            by_name.setdefault(value.name, []).append(value)
    everywhere = len(sources)
    for name, values in by_name.items():
        wanted = {_comparable(value.value) for value in values}
        origins = _origins(values, everywhere)
        differ = [value for value in values if _comparable(value.value) != _preset_value(value.stage, name)]
        if len(wanted) > 1 and (differ or name == "num_landmark"):
            for value in differ or values:
                value.source.add(
                    REFUSED,
                    value.key,
                    value.value,
                    f"the stages ask for {name} {' and '.join(sorted(map(str, wanted)))}; the "
                    "model section sets one value for every stage",
                )
        elif name == "num_landmark":
            section.set("num_landmark", values[0].value, origins)
        elif differ:
            overrides.set(name, values[0].value, origins)
        else:
            section.notes.append(f"{name} {_shown(values)}: the paper preset's; {origins}")
    if not overrides.entries:
        overrides.comment = "no model_cfg value differs from the paper preset"
    section.entries["overrides"] = overrides
    return section


def _comparable(value: Any) -> Any:
    """``value`` in a form that compares and hashes by content (lists as tuples, mappings sorted)."""
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(key), _comparable(item)) for key, item in value.items()))
    return value


def _preset_value(stage: str, name: str) -> Any:
    return _comparable(getattr(resolve_config(stage, "paper"), name))


def _shown(values: list[ModelValue]) -> str:
    shown = dict.fromkeys(
        str(list(value.value) if isinstance(value.value, tuple) else value.value) for value in values
    )
    return " / ".join(shown)


def _origins(values: list[ModelValue], everywhere: int) -> str:
    """Where values came from, grouped by key: ``key (A.yaml, B.yaml)`` or ``key (all 3 configs)``."""
    by_key: dict[str, list[str]] = {}
    for value in values:
        by_key.setdefault(value.key, []).append(value.source.label)
    parts = []
    for key, labels in by_key.items():
        where = f"all {everywhere} configs" if len(labels) == everywhere > 1 else ", ".join(labels)
        parts.append(f"{key} ({where})")
    return "; ".join(parts)
