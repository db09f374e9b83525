"""Faster CPU kernels for the convolutions that dominate LandmarkGait's networks.

Same sums of products as ``F.conv2d`` / ``F.conv3d`` (results differ only by float rounding),
chosen by measurement on CPU with PyTorch's oneDNN build:

- ``fft_conv2d``: stride-1 "same" convolutions with kernels of 5 and more on one thread.
  NNPACK's FFT kernel runs them about 1.3-2x faster than oneDNN there (oneDNN wins from two
  threads on), and more accurately (it is exact up to float rounding, not an approximation);
  the input gradient is the same kind of convolution with flipped weights; the weight
  gradient stays with oneDNN, the fastest for it. (NNPACK's 3x3 kernel is Winograd, 10x less
  accurate: 3x3 layers keep oneDNN.)
- ``single_output_conv2d``: a single output channel (the refiners' last layer); oneDNN
  vectorises over output channels and runs one several times slower. Forward as a depthwise
  convolution and a channel sum, gradients as a one-to-many convolution and a matrix product.
- ``onednn_conv3d``: a 3D convolution of one sample without autograd (evaluation embeds one
  sequence at a time), where PyTorch would pick its slower native kernel.

This module must not know about networks; ``landmarkgait.models.cpu_dispatch`` decides where
each kernel is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_FFT_KERNEL = 5


def fft_available(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``fft_conv2d`` applies: float32 on CPU with NNPACK and one intra-op thread, square
    kernel >= 5.

    NNPACK gains little or nothing from more threads where oneDNN nearly doubles: on 2 threads,
    24 frames of the refiner's 5x5 layer (64 to 32 channels, 64 x 44) took 80-94 ms forward by
    NNPACK against 58-76 ms by oneDNN (82-97 against 112-120 ms on one thread).
    """
    return (
        x.device.type == "cpu"
        and torch.get_num_threads() == 1
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


class _SingleOutputConv2d(torch.autograd.Function):
    """Stride-1, bias-free convolution with one output channel: ``weight`` is ``[1, C, k, k]``.

    Forward: a depthwise convolution and a channel sum. Input gradient: the transposed
    convolution as a one-to-C convolution, which oneDNN vectorises well. Weight gradient: one
    batched matrix product of the input ``[B, C, H*W]`` with the unfolded output gradient
    ``[B, H*W, k*k]``; the output gradient has one channel, so its unfolding is small.
    Measured on one CPU thread at the refiner's last layer (24 frames of 32 x 64 x 44): about
    40 ms forward and backward, against about 65 ms for autograd through the depthwise form.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        channels = weight.shape[1]
        per_channel = F.conv2d(
            x, weight.view(channels, 1, *weight.shape[2:]), padding=padding, groups=channels
        )
        return per_channel.sum(1, keepdim=True)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        kernel = weight.shape[2]
        # Zero border that turns the gradient's unfolding into "taps reaching each input pixel".
        border = kernel - 1 - ctx.padding
        grad = grad.contiguous()
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad, weight.transpose(0, 1).flip(2, 3), padding=border)
        if ctx.needs_input_grad[1]:
            batch, channels, height, width = x.shape
            taps = F.unfold(F.pad(grad, (border, border, border, border)), kernel)  # [B, k*k, H*W]
            per_tap = torch.bmm(x.reshape(batch, channels, height * width), taps.transpose(1, 2)).sum(0)
            # Unfolded tap j reaches input pixel q from output pixel q - (k - 1 - j) + padding.
            grad_weight = per_tap.flip(1).view_as(weight)
        return grad_x, grad_weight, None


def single_output_conv2d(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv2d(x, weight, padding=padding)`` (stride 1) for a weight ``[1, C, k, k]``, on CPU.

    oneDNN vectorises over output channels and runs a single one several times slower.
    """
    return _SingleOutputConv2d.apply(x.contiguous(), weight, padding)


def onednn_conv3d(
    x: torch.Tensor,
    weight: torch.Tensor,
    padding: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
) -> torch.Tensor:
    """``F.conv3d(x, weight, ...)`` (bias-free, ungrouped) by oneDNN, without autograd.

    For one sample PyTorch picks its native ``slow_conv3d`` on CPU, about 6x slower than oneDNN
    here; this is the convolution the batched path takes. No autograd: call it under no_grad.
    """
    return torch.mkldnn_convolution(x.contiguous(), weight, None, padding, stride, dilation, 1)
