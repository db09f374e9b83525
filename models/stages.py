"""Stage 1 and 2 networks: LandmarkNet alone, and LandmarkNet + ParsingNet.

``model(sils)`` takes silhouettes ``[N, T, H, W]`` in [0, 1] and returns named tensors (see
``LandmarkModel.forward`` and ``ParsingModel.forward``). Attribute names equal the official
models' (``Backbone``, ``refine``) so state_dicts match. Batch coupling follows the official
code in training mode; in eval mode every sample is processed as if it were alone in the
batch (grouping and mask peaks per sample), as the official one-sequence-per-GPU evaluation.
This module must not compute losses.
"""

from __future__ import annotations

import torch
from torch import nn

from landmarkgait.models.config import LandmarkConfig, ParsingConfig
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.grouping import height_order, part_heatmaps, part_sizes
from landmarkgait.models.landmarknet import LandmarkCodes, LandmarkNet, Refiner
from landmarkgait.models.parsing import PartMasks, part_masks

MIN_FRAMES = 3


def repeat_short_sequences(sils: torch.Tensor) -> torch.Tensor:
    """Sequences of 1 or 2 frames repeated to 3 or 4 frames (``[N, T, H, W]``), as the official code.

    The temporal convolutions of stage 3 need 3 frames; every stage repeats, so that the
    reconstruction targets match.
    """
    t = sils.shape[1]
    if t >= MIN_FRAMES:
        return sils
    return sils.repeat(1, 3 if t == 1 else 2, 1, 1)


def check_input(sils: torch.Tensor, height: int, width: int) -> None:
    """Raise ``ModelConfigError`` unless ``sils`` is ``[N, T, height, width]``."""
    if sils.dim() != 4 or tuple(sils.shape[2:]) != (height, width) or sils.shape[1] < 1:
        raise ModelConfigError(
            f"model input 'sils': expected a float tensor [N, T, {height}, {width}], got {tuple(sils.shape)}"
        )


class LandmarkModel(nn.Module):
    """Stage 1 (official ``LandmarkGait_Silh_to_Landmark``): silhouettes -> landmarks -> silhouettes."""

    def __init__(self, config: LandmarkConfig):
        super().__init__()
        self.config = config
        self.Backbone = LandmarkNet(config)

    def locate(self, sils: torch.Tensor) -> tuple[torch.Tensor, LandmarkCodes]:
        """Frames (short sequences repeated) and LandmarkNet's codes of them."""
        check_input(sils, self.config.height, self.config.width)
        frames = repeat_short_sequences(sils)
        return frames, self.Backbone(frames)

    @staticmethod
    def landmark_outputs(codes: LandmarkCodes) -> dict[str, torch.Tensor]:
        return {
            "reconstruction": codes.reconstruction,
            "landmarks": codes.landmarks.permute(0, 2, 1, 3).contiguous(),
            "heatmap": codes.heatmaps.detach().amax(dim=2),
        }

    def forward(self, sils: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[N, T, H, W]`` -> ``reconstruction`` ``[N, T', H, W]``, ``landmarks`` ``[N, L, T', 2]``,
        ``heatmap`` ``[N, T', H/4, W/4]`` (max over landmarks); T' = max(T, 3) for T < 3 else T."""
        _, codes = self.locate(sils)
        return self.landmark_outputs(codes)


class ParsingModel(LandmarkModel):
    """Stage 2 (official ``LandmarkGait_Landmark_to_Parsing``): landmarks -> head / up / low masks."""

    def __init__(self, config: ParsingConfig):
        super().__init__(config)
        self.config: ParsingConfig = config
        self.refine = Refiner(config.channels, sigmoid=True)
        self.sizes = part_sizes(config.num_landmark)

    @property
    def parsing_frozen(self) -> bool:
        return not any(parameter.requires_grad for parameter in self.refine.parameters())

    def reconstruct_parts(self, codes: LandmarkCodes) -> torch.Tensor:
        """Coarse parts ``[3, N, T, H, W]`` (head, up, low): each part's landmarks transported alone."""
        per_sample = not self.training
        mode = self.config.grouping if self.training else self.config.eval_grouping
        order = height_order(codes.landmarks, mode, per_sample)
        kept = part_heatmaps(codes.heatmaps, order, self.sizes).permute(2, 0, 1, 3, 4).unsqueeze(3)
        mixed = codes.digged_source + kept * codes.features  # [3, N, T, C2, h, w]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.parsing_frozen):
            return self.Backbone.decode(mixed, self.refine)

    def parse(self, sils: torch.Tensor) -> tuple[torch.Tensor, LandmarkCodes, torch.Tensor, PartMasks]:
        """Frames, landmark codes, coarse parts ``[3, N, T, H, W]`` and the refined part masks."""
        frames, codes = self.locate(sils)
        parts = self.reconstruct_parts(codes)
        masks = part_masks(
            parts,
            frames,
            self.config.mask_threshold,
            self.config.dilation_kernel,
            per_sample=not self.training,
        )
        return frames, codes, parts, masks

    @staticmethod
    def parsing_outputs(parts: torch.Tensor, masks: PartMasks) -> dict[str, torch.Tensor]:
        return {
            "part_reconstruction": parts.amax(dim=0),
            "head": masks.head,
            "up": masks.up,
            "low": masks.low,
        }

    def forward(self, sils: torch.Tensor) -> dict[str, torch.Tensor]:
        """Stage 1's outputs plus ``part_reconstruction`` (max of the three coarse parts) and
        the masks ``head``, ``up``, ``low``, all ``[N, T', H, W]``."""
        _, codes, parts, masks = self.parse(sils)
        return {**self.landmark_outputs(codes), **self.parsing_outputs(parts, masks)}
