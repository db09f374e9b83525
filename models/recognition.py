"""Stage 3 (official ``LandmarkGait_Recognition``): PMBC-Net on silhouettes, parts and mixed parts.

Landmarks -> parts (stage 2) -> parts mixup -> per-clip appearance features of the whole
silhouette, each part and the mixed parts -> concatenated on height -> GeM horizontal pooling
-> SeparateFCs -> BatchNorm1d + SeparateFCs (or BNNeck). Attribute names equal the official
model's. This module must not compute losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgait.models.config import RecognitionConfig
from landmarkgait.models.layers import BasicConv3d, BoxMean3x3, GeMHPP, SeparateBNNecks, SeparateFCs
from landmarkgait.models.parsing import PartMasks
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


def conv3d_block(
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int] = (1, 1, 1),
    padding: tuple[int, int, int] | None = None,
) -> nn.Sequential:
    """BasicConv3d + LeakyReLU; "same" padding unless given."""
    if padding is None:
        padding = (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)
    return nn.Sequential(
        BasicConv3d(in_channels, out_channels, kernel, stride=stride, padding=padding),
        nn.LeakyReLU(inplace=True),
    )


class PMBConv(nn.Module):
    """Parallel multi-branch 3D convolution: 3x3x3 + 1x3x3 + (1x1x1 -> 3x3 avg) + (1x1x1 -> 3x3x3)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.PMBConv_3x3x3 = conv3d_block(in_channels, out_channels, (3, 3, 3))
        self.PMBConv_1x3x3 = conv3d_block(in_channels, out_channels, (1, 3, 3))
        self.PMBConv_1x1x1_A = conv3d_block(in_channels, out_channels, (1, 1, 1))
        self.PMBConv_1x1x1_B = conv3d_block(in_channels, out_channels, (1, 1, 1))
        self.PMBConv_3x3x3_B = conv3d_block(out_channels, out_channels, (3, 3, 3))
        self.AvgPooling = BoxMean3x3()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, H, W]`` -> ``[B, C_out, T, H, W]``."""
        return (
            self.PMBConv_3x3x3(x)
            + self.PMBConv_1x3x3(x)
            + self.AvgPooling(self.PMBConv_1x1x1_A(x))
            + self.PMBConv_3x3x3_B(self.PMBConv_1x1x1_B(x))
        )


# PMBC-Net is bias-free, its activations are LeakyReLU and its pooling counts padding, so
# zeros map to zeros and a clip only needs computing where its receptive field reaches. Before
# the 2x2 max pooling, conv3d and PMBConvA each reach 1 pixel; after it, PMBConvB and PMBConvC
# each reach one half-resolution pixel. Windows start and end on even pixels (pooling grid).
REACH_BEFORE_POOL = 2
REACH_AFTER_POOL = 2


def _window(nonzero: torch.Tensor) -> tuple[int, int]:
    """[start, stop) along one axis of the pixels that can become non-zero, even-aligned."""
    indices = nonzero.nonzero().flatten()
    first, last = int(indices[0]), int(indices[-1])
    start = 2 * ((first - REACH_BEFORE_POOL) // 2 - REACH_AFTER_POOL)
    stop = 2 * ((last + REACH_BEFORE_POOL) // 2 + REACH_AFTER_POOL + 1)
    return max(0, start), min(nonzero.numel(), stop)


def support_window(clips: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Rows and columns ``[start, stop)`` of ``clips`` ``[B, T, H, W]`` outside which PMBC-Net's
    output is exactly zero for every clip and frame; None if all clips are empty."""
    occupied = clips.detach() != 0
    rows = occupied.any(dim=3).any(dim=(0, 1))
    if not bool(rows.any()):
        return None
    return _window(rows), _window(occupied.any(dim=2).any(dim=(0, 1)))


class RecognitionModel(ParsingModel):
    """LandmarkGait recognition network; embeddings are the BN features, as the official."""

    def __init__(self, config: RecognitionConfig):
        super().__init__(config)
        self.config: RecognitionConfig = config
        if config.freeze_parsing:
            self.refine.requires_grad_(False)
        c0, c1, c2 = config.pmbconv_channels
        self.conv3d = conv3d_block(1, c0, (3, 3, 3))
        self.LTA = conv3d_block(c0, c0, (3, 1, 1), stride=(3, 1, 1), padding=(0, 0, 0))
        self.PMBConvA = PMBConv(c0, c1)
        self.MaxPool0 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.PMBConvB = PMBConv(c1, c2)
        self.PMBConvC = PMBConv(c2, c2)
        self.HPP = GeMHPP(config.num_parts, config.gem_p)
        self.Head0 = SeparateFCs(config.num_parts, c2, c2)
        if config.head == "bnneck":
            self.BNNecks = SeparateBNNecks(config.num_parts, c2, config.num_classes)
        else:
            self.Bn = nn.BatchNorm1d(c2)
            self.Head1 = SeparateFCs(config.num_parts, c2, config.num_classes)

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

    def appearance(self, clips: torch.Tensor) -> torch.Tensor:
        """PMBC-Net features with temporal max pooling: ``[B, T, H, W]`` -> ``[B, C2, H/2, W/2]``.

        Only the window that can be non-zero is computed (see ``support_window``); the rest
        of the map is exactly zero and padded back.
        """
        b, _, h, w = clips.shape
        window = support_window(clips)
        if window is None:
            return clips.new_zeros(b, self.config.pmbconv_channels[2], h // 2, w // 2)
        (top, bottom), (left, right) = window
        x = self.LTA(self.conv3d(clips[:, None, :, top:bottom, left:right]))
        x = self.PMBConvC(self.PMBConvB(self.MaxPool0(self.PMBConvA(x))))
        pooled = x.max(dim=2).values
        return F.pad(pooled, (left // 2, (w - right) // 2, top // 2, (h - bottom) // 2))

    def embed_features(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled maps ``[N, C, 3H/2, W/2]`` -> (embeddings, logits), ``[N, C, P]`` / ``[N, classes, P]``."""
        gait = self.Head0(self.HPP(maps))
        if self.config.head == "bnneck":
            return self.BNNecks(gait)
        embeddings = self.Bn(gait)
        return embeddings, self.Head1(embeddings)

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
