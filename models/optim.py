"""The official optimisation setup: Adam over the trainable parameters, MultiStepLR.

Stage 1 has one parameter group (OpenGait ``BaseModel.get_optimizer``). Stages 2 and 3 have
two (their ``finetune_parameters``): the LandmarkNet backbone (``Backbone.*``) at
``landmark_lr``, everything else at ``lr``. Frozen parameters (set when the model is built)
are left out, as the official code does. This module must not decide what is frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from landmarkgait.models.checkpoint import unwrap
from landmarkgait.models.config import check_stage
from landmarkgait.models.errors import ModelConfigError

BACKBONE = "Backbone"


def build_optimizer(
    model: nn.Module,
    stage: str,
    lr: float = 1e-4,
    weight_decay: float = 5e-4,
    landmark_lr: float = 1e-4,
) -> torch.optim.Adam:
    """Adam (L2 ``weight_decay``) over ``model``'s trainable parameters, grouped as the official stage."""
    check_stage(stage, "optimizer")
    for key, value in (("lr", lr), ("weight_decay", weight_decay), ("landmark_lr", landmark_lr)):
        if not isinstance(value, int | float) or value < 0:
            raise ModelConfigError(f"optimizer '{key}': expected a number >= 0, got {value!r}")
    trainable = [(name, p) for name, p in unwrap(model).named_parameters() if p.requires_grad]
    if stage == "landmark":
        groups: list[dict] = [{"params": [p for _, p in trainable]}]
    else:
        groups = [
            {"params": [p for name, p in trainable if BACKBONE in name], "lr": landmark_lr},
            {"params": [p for name, p in trainable if BACKBONE not in name]},
        ]
    return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, milestones: Sequence[int], gamma: float = 0.1
) -> torch.optim.lr_scheduler.MultiStepLR:
    """Learning rates times ``gamma`` at each milestone iteration (stepped once per iteration)."""
    if any(not isinstance(m, int) or m < 0 for m in milestones):
        raise ModelConfigError(f"scheduler 'milestones': expected iterations >= 0, got {list(milestones)!r}")
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
