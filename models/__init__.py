"""LandmarkGait networks (LandmarkNet, ParsingNet, PMBC-Net), their losses, checkpoints and helpers.

``build_model(stage, preset, **overrides)`` is the entry point; configs are typed dataclasses
(``landmarkgait.models.config``), presets are named data (``landmarkgait.models.presets``), and
``landmarkgait.models.registry`` holds one ``StageSpec`` per stage.

Names are imported on first use (PEP 562), so that importing ``landmarkgait.models.errors`` — as every CLI
command does — does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landmarkgait.models.build import build_from_config, build_model
    from landmarkgait.models.config import (
        LandmarkConfig,
        ModelConfig,
        ParsingConfig,
        RecognitionConfig,
    )
    from landmarkgait.models.errors import ModelConfigError
    from landmarkgait.models.presets import list_presets, resolve_config
    from landmarkgait.models.registry import STAGE_SPECS, STAGES, StageSpec, stage_spec

_HOMES = {
    "build_from_config": "landmarkgait.models.build",
    "build_model": "landmarkgait.models.build",
    "STAGES": "landmarkgait.models.registry",
    "STAGE_SPECS": "landmarkgait.models.registry",
    "StageSpec": "landmarkgait.models.registry",
    "stage_spec": "landmarkgait.models.registry",
    "LandmarkConfig": "landmarkgait.models.config",
    "ModelConfig": "landmarkgait.models.config",
    "ParsingConfig": "landmarkgait.models.config",
    "RecognitionConfig": "landmarkgait.models.config",
    "ModelConfigError": "landmarkgait.models.errors",
    "list_presets": "landmarkgait.models.presets",
    "resolve_config": "landmarkgait.models.presets",
}

__all__ = [
    "STAGES",
    "STAGE_SPECS",
    "LandmarkConfig",
    "ModelConfig",
    "ModelConfigError",
    "ParsingConfig",
    "RecognitionConfig",
    "StageSpec",
    "build_from_config",
    "build_model",
    "list_presets",
    "resolve_config",
    "stage_spec",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
