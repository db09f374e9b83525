"""LandmarkGait networks (LandmarkNet, ParsingNet, PMBC-Net), their losses, checkpoints and helpers.

``build_model(stage, preset, **overrides)`` is the entry point; configs are typed dataclasses
(``models.config``), presets are named data (``models.presets``).

Names are imported on first use (PEP 562), so that importing ``models.errors`` — as every CLI
command does — does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.build import build_from_config, build_model
    from models.config import STAGES, LandmarkConfig, ModelConfig, ParsingConfig, RecognitionConfig
    from models.errors import ModelConfigError
    from models.presets import list_presets, resolve_config

_HOMES = {
    "build_from_config": "models.build",
    "build_model": "models.build",
    "STAGES": "models.config",
    "LandmarkConfig": "models.config",
    "ModelConfig": "models.config",
    "ParsingConfig": "models.config",
    "RecognitionConfig": "models.config",
    "ModelConfigError": "models.errors",
    "list_presets": "models.presets",
    "resolve_config": "models.presets",
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
