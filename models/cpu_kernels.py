"""Faster CPU kernels for the 2D convolutions that dominate LandmarkGait's per-frame networks.

Same sums of products as ``F.conv2d`` (results differ only by float rounding), chosen by
measurement on CPU with PyTorch's oneDNN build:

- ``fft_conv2d``: stride-1 "same" convolutions with kernels of 5 and more. NNPACK's FFT
  kernel runs them about 2x faster than oneDNN, and more accurately (it is exact up to float
  rounding, not an approximation); the input gradient is the same kind of convolution with
  flipped weights; the weight gradient stays with oneDNN, the fastest for it. (NNPACK's 3x3
  kernel is Winograd, 10x less accurate: 3x3 layers keep oneDNN.)
- ``channel_sum_conv2d``: a single output channel, as a depthwise convolution followed by a
  channel sum; oneDNN vectorises over output channels and runs one several times slower.

This module must not know about networks; ``models.layers`` decides where each kernel is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_FFT_KERNEL = 5


def fft_available(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``fft_conv2d`` applies: float32 on CPU with NNPACK, square kernel >= 5."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.shape[2] == weight.shape[3] >= MIN_FFT_KERNEL
        and torch._nnpack_available()
    )


def _nnpack(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    return torch.ops.aten._nnpack_spatial_convolution(x, weight, None, [padding, padding], [1, 1])


class _FFTConv2d(torch.autograd.Function):
    """Stride-1, bias-free, ungrouped convolution with symmetric padding."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return _nnpack(x, weight, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        padding = ctx.padding
        grad = grad.contiguous()
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            flipped = weight.transpose(0, 1).flip(2, 3).contiguous()
            grad_x = _nnpack(grad, flipped, weight.shape[2] - 1 - padding)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                None,
                [1, 1],
                [padding, padding],
                [1, 1],
                False,
                [0, 0],
                1,
                [False, True, False],
            )[1]
        return grad_x, grad_weight, None


def fft_conv2d(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv2d(x, weight, padding=padding)`` (stride 1), forward and input gradient by NNPACK FFT."""
    if not fft_available(x, weight):
        return F.conv2d(x, weight, padding=padding)
    return _FFTConv2d.apply(x.contiguous(), weight, padding)


def channel_sum_conv2d(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv2d(x, weight, padding=padding)`` for a weight ``[1, C, k, k]`` on CPU.

    With gradients, channels-last input keeps the depthwise backward fast.
    """
    channels = weight.shape[1]
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        x = x.contiguous(memory_format=torch.channels_last)
    per_channel = F.conv2d(x, weight.view(channels, 1, *weight.shape[2:]), padding=padding, groups=channels)
    return per_channel.sum(1, keepdim=True)
