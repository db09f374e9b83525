"""ParsingNet's refinement: coarse part reconstructions -> head / upper / lower body masks.

Threshold each part at a fraction of its peak, cut the head and lower body where the upper
body is, dilate, and carve each part out of the input silhouette by removing the other two
parts' dilated areas (official "mask threshold / shear / dilate / union"). The result is
detached: it feeds recognition, it is not trained through. This module must not run networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PartMasks:
    """Body-part silhouettes ``[N, T, H, W]``: the input's values inside the part, 0 elsewhere."""

    head: torch.Tensor
    up: torch.Tensor
    low: torch.Tensor


def dilate(mask: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Binary dilation with a square kernel of ones, ``[..., H, W]`` bool -> bool.

    Equals kornia's ``morphology.dilation`` with a ones kernel (geodesic border) on a
    non-negative map followed by ``> 0.5`` as the official code does, at a max-pool's cost.
    """
    shape = mask.shape
    flat = mask.reshape(-1, 1, *shape[-2:]).to(torch.float32)
    return (F.max_pool2d(flat, kernel_size, stride=1, padding=kernel_size // 2) > 0).view(shape)


def part_masks(
    parts: torch.Tensor, sils: torch.Tensor, threshold: float, kernel_size: int, per_sample: bool
) -> PartMasks:
    """Masks from the part reconstructions ``parts`` ``[3, N, T, H, W]`` (head, up, low; in [0, 1]).

    The peak a part is thresholded against is the maximum over the whole batch (official
    training) or over each sample's frames (``per_sample``; what the official evaluation, one
    sequence per GPU, computes).
    """
    with torch.no_grad():
        if per_sample:
            peak = parts.amax(dim=(2, 3, 4), keepdim=True)
        else:
            peak = parts.amax(dim=(1, 2, 3, 4), keepdim=True)
        above = parts > threshold * peak
        # The official dilates ``above * part`` (the part's value or 0) and keeps values > 0.5.
        confident = above & (parts > 0.5)
        not_up = ~above[1]
        grown_head = dilate(confident[0] & not_up, kernel_size)
        grown_up = dilate(confident[1], kernel_size)
        grown_low = dilate(confident[2] & not_up, kernel_size)
        return PartMasks(
            head=sils * (~grown_up & ~grown_low),
            up=sils * (~grown_head & ~grown_low),
            low=sils * (~grown_head & ~grown_up),
        )
