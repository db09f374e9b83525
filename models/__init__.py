"""LandmarkGait networks (LandmarkNet, ParsingNet, PMBC-Net), their losses, checkpoints and helpers.

``build_model(stage, preset, **overrides)`` is the entry point; configs are typed dataclasses
(``landmarkgait.models.config``), presets are named data (``landmarkgait.models.presets``).

Names are imported on first use (PEP 562), so that importing ``landmarkgait.models.errors`` — as every CLI
command does — does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landmarkgait.models.build import build_from_config, build_model
    from landmarkgait.models.config import (
        STAGES,
        LandmarkConfig,
        ModelConfig,
        ParsingConfig,
        RecognitionConfig,
    )
    from landmarkgait.models.errors import ModelConfigError
    from landmarkgait.models.presets import list_presets, resolve_config

_HOMES = {
    "build_from_config": "landmarkgait.models.build",
    "build_model": "landmarkgait.models.build",
    "STAGES": "landmarkgait.models.config",
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
    "LandmarkConfig",
    "ModelConfig",
    "ModelConfigError",
    "ParsingConfig",
    "RecognitionConfig",
    "build_from_config",
    "build_model",
    "list_presets",
    "resolve_config",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
