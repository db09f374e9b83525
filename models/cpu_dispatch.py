"""Puts the faster CPU kernels of ``cpu_kernels`` on the eligible convolutions of a built network.

The network definitions use OpenGait's plain ``nn.Conv2d`` / ``nn.Conv3d``;
``install_cpu_kernels(model)``, called once by ``build_from_config``, turns each eligible one
into a subclass whose ``forward`` takes the faster path on CPU and PyTorch's everywhere else.
Parameters, their names (the checkpoints' ``state_dict`` keys) and the torch RNG are untouched.
The other speed-ups live with what they replace (see models/README.md). This module must not
hold kernels (``cpu_kernels``) or network code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from landmarkgait.models.cpu_kernels import (
    MIN_FFT_KERNEL,
    fft_conv2d,
    onednn_conv3d,
    single_output_conv2d,
)

Conv2dKernel = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


class CpuKernelConv2d(nn.Conv2d):
    """``nn.Conv2d`` (stride 1, bias-free, ungrouped, square, symmetric padding) whose CPU forward
    runs ``cpu_kernel`` (``fft_conv2d`` or ``single_output_conv2d``)."""

    cpu_kernel: Conv2dKernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            return self.cpu_kernel(x, self.weight, self.padding[0])
        return super().forward(x)


class SingleSampleConv3d(nn.Conv3d):
    """Bias-free, ungrouped ``nn.Conv3d`` that runs one float32 sample without autograd on CPU
    by ``onednn_conv3d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.shape[0] == 1
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and not torch.is_grad_enabled()
        ):
            return onednn_conv3d(x, self.weight, self.padding, self.stride, self.dilation)
        return super().forward(x)


def _plain(conv: nn.Conv2d | nn.Conv3d) -> bool:
    """Bias-free, ungrouped, undilated, zero-padded by numbers: what the kernels compute."""
    return (
        conv.bias is None
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and all(d == 1 for d in conv.dilation)
    )


def conv2d_kernel(conv: nn.Conv2d) -> Conv2dKernel | None:
    """The faster CPU kernel for ``conv``; None where PyTorch's is kept (strided, 3x3, 1x1 layers)."""
    square = conv.kernel_size[0] == conv.kernel_size[1] and conv.padding[0] == conv.padding[1]
    if not (_plain(conv) and square and conv.stride == (1, 1)):
        return None
    if conv.out_channels == 1:
        return single_output_conv2d
    if conv.in_channels > 1 and conv.kernel_size[0] >= MIN_FFT_KERNEL:
        return fft_conv2d
    return None


def install_cpu_kernels(model: nn.Module) -> nn.Module:
    """Give the eligible convolutions of ``model`` their CPU kernels, in place; returns ``model``.

    Each module's class is swapped in place (as ``torch.nn.utils.parametrize`` does), so its
    parameters, hooks and place in the network stay as they are. Calling it again changes nothing.
    """
    for module in model.modules():
        if type(module) is nn.Conv2d:
            kernel = conv2d_kernel(module)
            if kernel is not None:
                module.__class__ = CpuKernelConv2d
                module.cpu_kernel = kernel
        elif type(module) is nn.Conv3d and _plain(module):
            module.__class__ = SingleSampleConv3d
    return model
