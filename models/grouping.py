"""Landmark grouping: which landmarks form the head, the upper body and the lower body.

Landmarks are sorted top to bottom by their height (y, -1 is the top row) and split into
three consecutive groups. The official code hard-codes the group sizes for 20, 25, 30 and 35
landmarks; we keep those and derive sizes for any other count >= 3 with one rule
(``part_sizes``). This module must not run networks.
"""

from __future__ import annotations

import math

import torch

# (head, upper, lower) sizes of the official ``landmark_selection``.
OFFICIAL_SPLITS: dict[int, tuple[int, int, int]] = {
    20: (1, 8, 11),
    25: (2, 10, 13),
    30: (2, 14, 14),
    35: (4, 14, 17),
}
# Shares of the general rule, close to the official splits' averages (8 % head, 42 % upper).
HEAD_SHARE = 0.08
UPPER_SHARE = 0.4


def part_sizes(num_landmark: int) -> tuple[int, int, int]:
    """(head, upper, lower) group sizes for ``num_landmark`` >= 3 landmarks.

    The official sizes for 20, 25, 30 and 35; otherwise
    ``head = max(1, round(0.08 L))``, ``upper = max(1, round(0.4 L))`` (halves round up) and
    ``lower = L - head - upper``, which is >= 1 for every L >= 3.
    """
    if num_landmark in OFFICIAL_SPLITS:
        return OFFICIAL_SPLITS[num_landmark]
    head = max(1, math.floor(HEAD_SHARE * num_landmark + 0.5))
    upper = max(1, math.floor(UPPER_SHARE * num_landmark + 0.5))
    return head, upper, num_landmark - head - upper


def height_order(landmarks: torch.Tensor, mode: str, per_sample: bool) -> torch.Tensor:
    """Landmark indices sorted top to bottom, ``[G, L]`` with G = N if ``per_sample`` else 1.

    ``landmarks`` is ``[N, T, L, 2]``. Mode "official" sorts the landmarks of one random frame
    (of one random sample of the batch, or of each sample when ``per_sample``), drawn from the
    torch RNG; mode "mean" sorts their mean height over the frames (and the batch).
    """
    heights = landmarks.detach()[..., 1]  # [N, T, L]
    n, t, _ = heights.shape
    if mode == "official":
        if per_sample:
            frames = torch.randint(t, (n,), device=heights.device)
            heights = heights[torch.arange(n, device=heights.device), frames]
        else:
            sample = int(torch.randint(n, (1,)))
            frame = int(torch.randint(t, (1,)))
            heights = heights[sample, frame].unsqueeze(0)
    elif mode == "mean":
        heights = heights.mean(dim=1) if per_sample else heights.mean(dim=(0, 1)).unsqueeze(0)
    else:
        raise ValueError(f"grouping mode {mode!r}: expected 'official' or 'mean'")
    return stable_argsort(heights)


def stable_argsort(values: torch.Tensor) -> torch.Tensor:
    """``torch.sort(values, dim=-1, stable=True).indices`` for short rows, by counting.

    Landmark rows are short (L <= a few dozen), so comparing all pairs costs nothing, and unlike a
    stable sort it exports to ONNX (``landmarkgait export``).
    """
    length = values.shape[-1]
    index = torch.arange(length, device=values.device)
    smaller = values[..., None, :] < values[..., :, None]  # [..., i, j]: value j sorts before value i
    tied_before = (values[..., None, :] == values[..., :, None]) & (index[None, :] < index[:, None])
    position = (smaller | tied_before).sum(-1)  # where each value lands
    return (position[..., None, :] == index[:, None]).to(torch.int8).argmax(-1)


def part_heatmaps(heatmaps: torch.Tensor, order: torch.Tensor, sizes: tuple[int, int, int]) -> torch.Tensor:
    """Sum the heatmaps of each group: ``[N, T, L, h, w]`` -> ``[N, T, 3, h, w]`` (head, up, low).

    ``order`` ``[G, L]`` is shared by the batch (G = 1) or given per sample (G = N). The
    landmarks are summed in sorted order, as the official index-then-sum does.
    """
    if order.shape[0] == 1:
        ordered = heatmaps.index_select(2, order[0])
    else:
        ordered = torch.take_along_dim(heatmaps, order[:, None, :, None, None], dim=2)
    return torch.cat([group.sum(2, keepdim=True) for group in ordered.split(sizes, dim=2)], dim=2)
