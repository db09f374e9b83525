"""Typed settings of a stage's training: loss weights and the optimiser / LR schedule.

They are the pipeline config's ``stages.<stage>.loss`` and ``stages.<stage>.optimizer``
sections (one definition each) and the arguments of ``models.losses.compute_losses`` and
``models.optim.build_optimizer``. Validated when created, so a bad value is refused while the
config loads, before Ray or MLflow start; errors name the field. Importable without torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from landmarkgait.models.errors import ModelConfigError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class LossWeights:
    """Term weights (official: all 1.0) and loss settings (official: margin 0.2, CE scale 1, no
    smoothing). A term whose stage does not produce it is ignored; weight 0 skips a term."""

    reconstruction: float = 1.0
    part_reconstruction: float = 1.0
    triplet: float = 1.0
    cross_entropy: float = 1.0
    triplet_margin: float = 0.2
    label_smoothing: float = 0.0
    cross_entropy_scale: float = 1.0

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if not _is_number(value) or value < 0:
                raise ModelConfigError(f"loss weight '{item.name}': expected a number >= 0, got {value!r}")
        if self.label_smoothing >= 1:
            raise ModelConfigError(
                f"loss weight 'label_smoothing': expected a value in [0, 1), got {self.label_smoothing!r}"
            )


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam with L2 ``weight_decay`` and MultiStepLR, as the official configs. Stages whose
    registry spec has ``backbone_group`` train LandmarkNet at ``landmark_lr``, the rest at ``lr``;
    rates are multiplied by ``gamma`` at each of the ``milestones`` (iterations)."""

    lr: float = 1e-4
    weight_decay: float = 5e-4
    landmark_lr: float = 1e-4
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1

    def __post_init__(self) -> None:
        for key in ("lr", "weight_decay", "landmark_lr"):
            value = getattr(self, key)
            if not _is_number(value) or value < 0:
                raise ModelConfigError(f"optimizer '{key}': expected a number >= 0, got {value!r}")
        if not _is_number(self.gamma) or self.gamma <= 0:
            raise ModelConfigError(f"optimizer 'gamma': expected a number > 0, got {self.gamma!r}")
        milestones = list(self.milestones)
        if any(isinstance(m, bool) or not isinstance(m, int) or m < 0 for m in milestones):
            raise ModelConfigError(f"scheduler 'milestones': expected iterations >= 0, got {milestones!r}")
