"""Distances between part-based embeddings and the ranking statistics of each probe.

The arithmetic every protocol shares, as OpenGait computes it: Euclidean (or cosine) distance per
horizontal part averaged over parts, then rank-1, average precision and inverse negative penalty
per probe. Device-agnostic torch, run where the embeddings live; protocols work through the probes
in ``probe_chunks`` so that memory stays bounded for large galleries. It must not know protocols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.names import METRICS

# Elements of the probe-chunk x gallery x parts distance block computed at once (~64 MB float32).
_CHUNK_ELEMENTS = 1 << 24


def pairwise_distance(probe: torch.Tensor, gallery: torch.Tensor, metric: str = "euc") -> torch.Tensor:
    """Distance ``[n, m]`` between embeddings ``[n, C, P]`` and ``[m, C, P]``, averaged over parts.

    ``euc``: Euclidean distance of each part's C-dim feature, averaged over the P parts.
    ``cos``: 1 - cosine similarity per part, averaged over parts.
    """
    if metric not in METRICS:
        raise DataError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "cos":
        probe = F.normalize(probe, p=2, dim=1)
        gallery = F.normalize(gallery, p=2, dim=1)
    probe_parts = probe.permute(2, 0, 1)  # [P, n, C]
    gallery_parts = gallery.permute(2, 1, 0)  # [P, C, m]
    inner = torch.bmm(probe_parts, gallery_parts)  # [P, n, m]
    if metric == "cos":
        return 1.0 - inner.mean(0)
    squared = (
        probe_parts.square().sum(-1, keepdim=True) + gallery_parts.square().sum(1, keepdim=True) - 2.0 * inner
    )
    return squared.clamp_min(0.0).sqrt().mean(0)


@dataclass(frozen=True)
class RankStatistics:
    """Per-probe ranking results ``[n]``: first correct rank, AP and INP (NaN when no match exists)."""

    first_hit: torch.Tensor  # 0-based rank of the first correct gallery entry; m if none
    average_precision: torch.Tensor
    inverse_negative_penalty: torch.Tensor
    has_match: torch.Tensor  # bool


def rank_statistics(
    distance: torch.Tensor, matches: torch.Tensor, excluded: torch.Tensor | None = None
) -> RankStatistics:
    """Rank gallery entries by ``distance`` ``[n, m]`` (m >= 1) and score where ``matches`` ``[n, m]`` land.

    ``excluded`` ``[n, m]`` removes gallery entries from a probe's ranking (they sort last and never
    count as matches). Ties keep gallery order (stable sort), so results are reproducible.
    AP is the mean of precision at each correct entry; INP = number of correct entries divided by
    the rank of the hardest (last) correct entry.
    """
    if excluded is not None:
        distance = distance.masked_fill(excluded, math.inf)
        matches = matches & ~excluded
    order = torch.sort(distance, dim=1, stable=True).indices
    ranked = torch.gather(matches, 1, order)
    cumulative = ranked.cumsum(1)
    num_relevant = cumulative[:, -1]
    has_match = num_relevant > 0
    positions = torch.arange(1, ranked.shape[1] + 1, device=distance.device, dtype=distance.dtype)
    precision = (cumulative.to(distance.dtype) / positions) * ranked
    nan = torch.full_like(num_relevant, math.nan, dtype=distance.dtype)
    average_precision = torch.where(has_match, precision.sum(1) / num_relevant.clamp_min(1), nan)
    first_hit = torch.where(has_match, ranked.to(torch.int8).argmax(1), ranked.shape[1])
    last_hit = ranked.shape[1] - 1 - ranked.flip(1).to(torch.int8).argmax(1)
    inverse_negative_penalty = torch.where(has_match, num_relevant / (last_hit + 1).to(distance.dtype), nan)
    return RankStatistics(first_hit, average_precision, inverse_negative_penalty, has_match)


def probe_chunks(num_probes: int, num_gallery: int, num_parts: int) -> list[slice]:
    """Consecutive probe slices whose distance blocks to the whole gallery stay within the memory bound."""
    step = max(1, _CHUNK_ELEMENTS // max(1, num_gallery * num_parts))
    return [slice(start, min(start + step, num_probes)) for start in range(0, num_probes, step)]
