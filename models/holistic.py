"""The paper's baseline: PMBC-Net on the silhouette alone (no landmarks, parsing or parts mixup).

LandmarkGait's ablation compares its recognition network with this holistic branch, to show
what the parsed parts and the mixed parts add (most under clothing change). It trains from
scratch, needs no upstream stage, and its modules keep the recognition network's names, so its
PMBC-Net weights load into either. This module must not compute losses.
"""

from __future__ import annotations

import torch

from landmarkgait.models.config import HolisticConfig
from landmarkgait.models.pmbc import PMBCNet
from landmarkgait.models.stages import check_input, repeat_short_sequences


class HolisticModel(PMBCNet):
    """Silhouettes ``[N, T, H, W]`` -> ``embeddings`` ``[N, C, P]`` and ``logits`` ``[N, classes, P]``."""

    def __init__(self, config: HolisticConfig):
        super().__init__()
        self.config = config
        self.build_pmbc(config)

    def forward(self, sils: torch.Tensor) -> dict[str, torch.Tensor]:
        check_input(sils, self.config.height, self.config.width)
        frames = repeat_short_sequences(sils)
        embeddings, logits = self.embed_features(self.appearance(frames))
        return {"embeddings": embeddings, "logits": logits}
