"""Named model presets and the resolution of (stage, preset, overrides) into a stage config.

Presets are data (field values over the stage defaults, which are the paper's), never code
forks: "paper" is exactly the official configs, "small" keeps the 64 x 44 input with narrow
channels for CPU runs, "micro" is the tiniest network that still runs on 64 x 44 inputs (tests,
smoke runs). This module must not build networks.
"""

from __future__ import annotations

from typing import Any

from landmarkgait.data.quoting import quote_value
from landmarkgait.models.config import ModelConfig
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.registry import model_config_fields, stage_spec

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {
        "channels": (8, 16, 32),
        "pmbconv_channels": (8, 16, 32),
        "num_parts": 32,
    },
    "micro": {
        "channels": (4, 4, 8),
        "pmbconv_channels": (4, 8, 8),
        "num_landmark": 6,
        "num_parts": 8,
        "num_classes": 8,
        # Test clips are 8 frames: the official shift of 8 would make every frame its own
        # transport source there (pipelines.config refuses that), 3 keeps it 3 frames away.
        "transport_shift": 3,
    },
}


def list_presets() -> list[str]:
    """Preset names accepted by ``build_model`` and ``resolve_config``."""
    return sorted(PRESETS)


def resolve_config(stage: str, preset: str = "paper", **overrides: Any) -> ModelConfig:
    """The stage's config: its defaults, then the preset's values, then ``overrides``.

    A pipeline passes the same overrides to every stage, so values for fields that only later
    stages have (e.g. ``num_classes`` when building stage 1) are skipped, like the preset's; a
    key that no stage has is an error naming it.
    """
    config_class = stage_spec(stage, "model").config_class
    if preset not in PRESETS:
        raise ModelConfigError(
            f"model preset {quote_value(preset)}: expected one of {', '.join(list_presets())}"
        )
    known = set(model_config_fields())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ModelConfigError(
            f"model override {quote_value(unknown[0])} is not a model config field (expected one of {', '.join(sorted(known))})"
        )
    fields = set(config_class.field_names())
    values = {key: value for key, value in {**PRESETS[preset], **overrides}.items() if key in fields}
    return config_class(**values)
