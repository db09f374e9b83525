"""Stage 3 (official ``LandmarkGait_Recognition``): PMBC-Net on silhouettes, parts and mixed parts.

Landmarks -> parts (stage 2) -> parts mixup -> per-clip appearance features of the whole
silhouette, each part and the mixed parts (PMBC-Net, ``models.pmbc``) -> concatenated on height
-> GeM horizontal pooling -> SeparateFCs -> BatchNorm1d + SeparateFCs (or BNNeck). Attribute
names equal the official model's. This module must not compute losses.
"""

from __future__ import annotations

import torch

from landmarkgait.models.config import RecognitionConfig
from landmarkgait.models.parsing import PartMasks
from landmarkgait.models.pmbc import PMBCNet
from landmarkgait.models.stages import ParsingModel

# The classifier weights ``[parts, channels, classes]`` of each head, by their checkpoint names.
CLASSIFIER_WEIGHTS = ("Head1.fc_bin", "BNNecks.fc_bin")


def classifier_classes(state_dict: dict[str, torch.Tensor]) -> int | None:
    """How many classes a recognition state_dict's classifier has (``None``: not a recognition one).

    Embeddings do not depend on the classifier, so a network trained on one dataset is built
    with its own class count to be evaluated on another.
    """
    for key in CLASSIFIER_WEIGHTS:
        if key in state_dict:
            return int(state_dict[key].shape[-1])
    return None


class RecognitionModel(ParsingModel, PMBCNet):
    """LandmarkGait recognition network; embeddings are the BN features, as the official."""

    def __init__(self, config: RecognitionConfig):
        super().__init__(config)
        self.config: RecognitionConfig = config
        if config.freeze_parsing:
            self.refine.requires_grad_(False)
        self.build_pmbc(config)

    def parts_mixup(self, masks: PartMasks) -> torch.Tensor:
        """Each sample's head with the upper body of the sample ``roll_up`` before it in the batch
        and the lower body of the one ``roll_low`` before it, ``[N, T, H, W]``.

        In eval mode every sample mixes with itself (a batch of one, as the official evaluation).
        """
        if self.training:
            up = torch.roll(masks.up, self.config.roll_up, 0)
            low = torch.roll(masks.low, self.config.roll_low, 0)
        else:
            up, low = masks.up, masks.low
        return torch.max(masks.head, torch.max(up, low))

    def recognize(
        self, frames: torch.Tensor, masks: PartMasks, mixed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and logits from the silhouettes, the part masks and the mixed parts."""
        whole, head, up, low, mixed_features = (
            self.appearance(clips) for clips in (frames, masks.head, masks.up, masks.low, mixed)
        )
        parts = torch.max(torch.max(head, up), low)
        return self.embed_features(torch.cat([whole, parts, mixed_features], dim=2))

    def forward(self, sils: torch.Tensor) -> dict[str, torch.Tensor]:
        """Stage 2's outputs plus ``mixed_parts`` ``[N, T', H, W]``, ``embeddings`` ``[N, C, P]``
        and ``logits`` ``[N, num_classes, P]``."""
        frames, codes, parts, masks = self.parse(sils)
        mixed = self.parts_mixup(masks)
        embeddings, logits = self.recognize(frames, masks, mixed)
        return {
            **self.landmark_outputs(codes),
            **self.parsing_outputs(parts, masks),
            "mixed_parts": mixed,
            "embeddings": embeddings,
            "logits": logits,
        }
