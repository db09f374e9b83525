"""The official optimisation setup: Adam over the trainable parameters, MultiStepLR.

A stage without ``backbone_group`` in its registry spec has one parameter group (OpenGait
``BaseModel.get_optimizer``); one with it has two (the official ``finetune_parameters``): the
LandmarkNet backbone (``Backbone.*``) at ``landmark_lr``, everything else at ``lr``. Frozen
parameters (set when the model is built) are left out, as the official code does. This module
must not decide what is frozen.
"""

from __future__ import annotations

import torch
from torch import nn

from landmarkgait.models.checkpoint import unwrap
from landmarkgait.models.registry import stage_spec
from landmarkgait.models.training_config import OptimizerConfig

BACKBONE = "Backbone"


def build_optimizer(model: nn.Module, stage: str, config: OptimizerConfig | None = None) -> torch.optim.Adam:
    """Adam (L2 ``weight_decay``) over ``model``'s trainable parameters, grouped as the official stage
    (``config`` None: the official settings)."""
    spec = stage_spec(stage, "optimizer")
    config = config or OptimizerConfig()
    trainable = [(name, p) for name, p in unwrap(model).named_parameters() if p.requires_grad]
    if spec.backbone_group:
        groups: list[dict] = [
            {"params": [p for name, p in trainable if BACKBONE in name], "lr": config.landmark_lr},
            {"params": [p for name, p in trainable if BACKBONE not in name]},
        ]
    else:
        groups = [{"params": [p for _, p in trainable]}]
    return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimizerConfig
) -> torch.optim.lr_scheduler.MultiStepLR:
    """Learning rates times ``gamma`` at each milestone iteration (stepped once per iteration)."""
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=config.gamma
    )
