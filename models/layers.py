"""Small OpenGait building blocks whose parameter names checkpoints depend on.

Each class reproduces one OpenGait module's computation and its ``state_dict`` names
(``conv``, ``conv3d``, ``forward_block``, ``fc_bin``, ``p``, ``bn1d``), so official checkpoints
load with strict matching. Two are faster than OpenGait's by their own definition:
``BoxMean3x3`` (for its ``AvgPool3d``, on every device) and ``FrameStack`` (for its
``SetBlockWrapper``; frames go in chunks on CPU). The faster CPU convolution kernels are not
chosen here: ``cpu_dispatch`` installs them on a built network. This module must not hold
LandmarkGait logic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicConv2d(nn.Module):
    """Bias-free 2D convolution; the child is called ``conv`` as in OpenGait."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class BasicConv3d(nn.Module):
    """Bias-free 3D convolution; the child is called ``conv3d`` as in OpenGait."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        padding: tuple[int, int, int] = (1, 1, 1),
    ):
        super().__init__()
        self.conv3d = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3d(x)


class BoxMean3x3(nn.Module):
    """3x3 mean over the last two dimensions, zero padding counted: OpenGait's
    ``AvgPool3d((1, 3, 3), stride=1, padding=(0, 1, 1))`` as two 3-tap sums, about 3x faster
    on CPU (forward + backward), equal up to float rounding. No parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1))
        rows = padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]
        return (rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]) / 9


def tracing_graph() -> bool:
    """True while ``torch.jit.trace`` or ``torch.export`` records the network (``landmarkgait export``).

    The CPU speed-ups that depend on a tensor's size or content take PyTorch's plain path then, so
    that the recorded graph holds for any sequence length and input.
    """
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


class FrameStack(nn.Module):
    """Layers applied to every frame independently, frames flattened into the batch.

    Input and output are ``[B, C, H, W]`` with ``B = N * T``. OpenGait's ``SetBlockWrapper``
    transposes ``[N, C, T, H, W]`` in and out around the same layers; we keep frames flat
    instead (no copies) and only keep its ``forward_block`` name for checkpoints. On CPU,
    frames go through the whole stack ``FRAME_CHUNK`` at a time, which keeps a chunk's
    activations in cache: large batches run up to 25 % slower per frame in one piece.
    """

    FRAME_CHUNK = 24

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.forward_block = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.device.type != "cpu" or frames.shape[0] <= self.FRAME_CHUNK or tracing_graph():
            return self.forward_block(frames)
        return torch.cat([self.forward_block(chunk) for chunk in frames.split(self.FRAME_CHUNK)])


class SeparateFCs(nn.Module):
    """One linear map per horizontal part: ``[N, C_in, P] -> [N, C_out, P]``."""

    def __init__(self, parts_num: int, in_channels: int, out_channels: int):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, out_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(2, 0, 1).contiguous().matmul(self.fc_bin).permute(1, 2, 0).contiguous()


class SeparateBNNecks(nn.Module):
    """BNNeck head (OpenGait ``SeparateBNNecks`` with ``norm=True, parallel_BN1d=True``).

    Returns the normalised features ``[N, C, P]`` and cosine logits ``[N, classes, P]``.
    """

    def __init__(self, parts_num: int, in_channels: int, class_num: int):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, class_num)))
        self.bn1d = nn.BatchNorm1d(in_channels * parts_num)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c, p = x.shape
        features = self.bn1d(x.reshape(n, c * p)).view(n, c, p).permute(2, 0, 1)
        features = F.normalize(features, dim=-1)
        logits = features.matmul(F.normalize(self.fc_bin, dim=1))
        return features.permute(1, 2, 0).contiguous(), logits.permute(1, 2, 0).contiguous()


class GeMHPP(nn.Module):
    """Generalised-mean horizontal pooling: ``[N, C, H, W] -> [N, C, P]`` with a learnt ``p``."""

    def __init__(self, num_parts: int, p: float, eps: float = 1.0e-6):
        super().__init__()
        self.num_parts = num_parts
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        bins = x.reshape(n, c, self.num_parts, -1).clamp(min=self.eps).pow(self.p)
        return F.avg_pool2d(bins, (1, bins.size(-1))).pow(1.0 / self.p).squeeze(-1)


def init_parameters(model: nn.Module) -> None:
    """OpenGait ``BaseModel.init_parameters``: Xavier convs and linears, N(1, 0.02) BN scales.

    Transposed convolutions are not ``nn.Conv*`` instances there and keep PyTorch's default
    initialisation; so do they here.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d | nn.Conv2d | nn.Conv1d | nn.Linear):
            nn.init.xavier_uniform_(module.weight.data)
            if module.bias is not None:
                nn.init.constant_(module.bias.data, 0.0)
        elif isinstance(module, nn.BatchNorm3d | nn.BatchNorm2d | nn.BatchNorm1d) and module.affine:
            nn.init.normal_(module.weight.data, 1.0, 0.02)
            nn.init.constant_(module.bias.data, 0.0)
