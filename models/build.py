"""``build_model``: a stage's network from a preset and overrides, initialised as OpenGait does.

This module must not hold network code; the stage registry says which class a config builds.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from landmarkgait.models.config import ModelConfig
from landmarkgait.models.cpu_dispatch import install_cpu_kernels
from landmarkgait.models.layers import init_parameters
from landmarkgait.models.presets import resolve_config
from landmarkgait.models.registry import spec_of_config


def build_model(stage: str, preset: str = "paper", cpu_kernels: bool = True, **overrides: Any) -> nn.Module:
    """The ``stage`` network ("landmark", "parsing" or "recognition") for ``preset`` + ``overrides``.

    Raises ``ModelConfigError`` naming the stage, preset or field that is not valid.
    """
    return build_from_config(resolve_config(stage, preset, **overrides), cpu_kernels)


def build_from_config(config: ModelConfig, cpu_kernels: bool = True) -> nn.Module:
    """The network of ``config``'s stage (``models.registry``) with OpenGait's initialisation
    and, unless ``cpu_kernels`` is False, the faster CPU kernels (``models.cpu_dispatch``).

    Exported graphs (ONNX, TorchScript) are built without them: they must hold PyTorch's own
    convolutions, which every runtime has.
    """
    model = spec_of_config(config).network_class()(config)
    init_parameters(model)
    return install_cpu_kernels(model) if cpu_kernels else model
