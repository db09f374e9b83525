"""LandmarkGait networks (LandmarkNet, ParsingNet, PMBC-Net), their losses, checkpoints and helpers.

``build_model(stage, preset, **overrides)`` is the entry point; configs are typed dataclasses
(``models.config``), presets are named data (``models.presets``).
"""

from models.build import build_from_config, build_model
from models.config import STAGES, LandmarkConfig, ModelConfig, ParsingConfig, RecognitionConfig
from models.errors import ModelConfigError
from models.presets import list_presets, resolve_config

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
