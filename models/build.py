"""``build_model``: a stage's network from a preset and overrides, initialised as OpenGait does.

This module must not hold network code; it maps a stage name to its config and class.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from landmarkgait.models.config import ModelConfig
from landmarkgait.models.layers import init_parameters
from landmarkgait.models.presets import resolve_config
from landmarkgait.models.recognition import RecognitionModel
from landmarkgait.models.stages import LandmarkModel, ParsingModel

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "landmark": LandmarkModel,
    "parsing": ParsingModel,
    "recognition": RecognitionModel,
}


def build_model(stage: str, preset: str = "paper", **overrides: Any) -> nn.Module:
    """The ``stage`` network ("landmark", "parsing" or "recognition") for ``preset`` + ``overrides``.

    Raises ``ModelConfigError`` naming the stage, preset or field that is not valid.
    """
    return build_from_config(resolve_config(stage, preset, **overrides))


def build_from_config(config: ModelConfig) -> nn.Module:
    """The network of ``config.stage`` with OpenGait's initialisation."""
    model = MODEL_CLASSES[config.stage](config)
    init_parameters(model)
    return model
