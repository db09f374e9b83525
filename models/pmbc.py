"""PMBC-Net: the 3D-convolution feature extractor and heads shared by the recognition networks.

``PMBCNet`` adds PMBC-Net's modules to a network under the official names (``conv3d``, ``LTA``,
``PMBConvA``-``C``, ``HPP``, ``Head0``, ``Bn`` / ``Head1`` or ``BNNecks``) and provides its two
computations: ``appearance`` (clips -> temporally pooled feature map) and ``embed_features``
(stacked maps -> embeddings and logits). LandmarkGait's recognition network applies it to the
silhouette, the parsed parts and the mixed parts; the holistic baseline to the silhouette alone.
This module must not compute losses or know about landmarks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgait.models.config import PMBCConfig
from landmarkgait.models.layers import (
    BasicConv3d,
    BoxMean3x3,
    GeMHPP,
    SeparateBNNecks,
    SeparateFCs,
    tracing_graph,
)


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
    output is exactly zero for every clip and frame; None if all clips are empty.

    Data-dependent, so a traced or exported graph (``landmarkgait export``) computes the whole map:
    the window is the full frame there.
    """
    if tracing_graph():
        return (0, clips.shape[2]), (0, clips.shape[3])
    occupied = clips.detach() != 0
    rows = occupied.any(dim=3).any(dim=(0, 1))
    if not bool(rows.any()):
        return None
    return _window(rows), _window(occupied.any(dim=2).any(dim=(0, 1)))


class PMBCNet(nn.Module):
    """Mixin: PMBC-Net's modules on ``self`` (official names) and its two computations."""

    pmbc_config: PMBCConfig

    def build_pmbc(self, config: PMBCConfig) -> None:
        """Add the modules, in the official order (it fixes the initialisation's random draws)."""
        self.pmbc_config = config
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

    def appearance(self, clips: torch.Tensor) -> torch.Tensor:
        """PMBC-Net features with temporal max pooling: ``[B, T, H, W]`` -> ``[B, C2, H/2, W/2]``.

        Only the window that can be non-zero is computed (see ``support_window``); the rest
        of the map is exactly zero and padded back.
        """
        b, _, h, w = clips.shape
        window = support_window(clips)
        if window is None:
            return clips.new_zeros(b, self.pmbc_config.pmbconv_channels[2], h // 2, w // 2)
        (top, bottom), (left, right) = window
        x = self.LTA(self.conv3d(clips[:, None, :, top:bottom, left:right]))
        x = self.PMBConvC(self.PMBConvB(self.MaxPool0(self.PMBConvA(x))))
        pooled = x.max(dim=2).values
        return F.pad(pooled, (left // 2, (w - right) // 2, top // 2, (h - bottom) // 2))

    def embed_features(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled maps ``[N, C, rows, W/2]`` -> (embeddings, logits), ``[N, C, P]`` / ``[N, classes, P]``."""
        gait = self.Head0(self.HPP(maps))
        if self.pmbc_config.head == "bnneck":
            return self.BNNecks(gait)
        embeddings = self.Bn(gait)
        return embeddings, self.Head1(embeddings)
