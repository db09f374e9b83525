"""Embeddings of whole sequences for evaluation and identification.

Each sequence gets the embedding it gets alone (the official evaluation runs one sequence per
GPU), whatever the batch size and the other sequences' lengths: sequences are batched only
with sequences of the same length (temporal convolutions and pooling see no padding) and the
model runs in eval mode, where nothing couples the samples of a batch (per-sample grouping
and mask peaks, parts mixup within the sample, BatchNorm running statistics). This module
must not train or evaluate protocols.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
from torch import nn

from landmarkgait.models.checkpoint import unwrap
from landmarkgait.models.errors import ModelConfigError


def embed(model: nn.Module, sequences: Sequence[torch.Tensor], batch_size: int = 8) -> torch.Tensor:
    """Embeddings ``[N, C, P]`` of ``sequences`` (float ``[T_i, H, W]`` in [0, 1]), in input order.

    ``model`` is a recognition model; its mode is restored afterwards. With
    ``eval_grouping="mean"`` (the default) the result is deterministic.
    """
    network = unwrap(model)
    if not hasattr(network, "embed_features"):
        raise ModelConfigError(f"embed: expected a recognition model, got {type(network).__name__}")
    if batch_size < 1:
        raise ModelConfigError(f"embed 'batch_size': expected >= 1, got {batch_size}")
    by_length: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, sequence in enumerate(sequences):
        if sequence.dim() != 3 or sequence.shape[0] < 1:
            raise ModelConfigError(f"embed sequence {index}: expected [T, H, W], got {tuple(sequence.shape)}")
        by_length[tuple(sequence.shape)].append(index)
    if not by_length:
        raise ModelConfigError("embed: expected at least one sequence")

    was_training = network.training
    network.eval()
    results: dict[int, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for indices in by_length.values():
                for start in range(0, len(indices), batch_size):
                    chunk = indices[start : start + batch_size]
                    batch = torch.stack([sequences[i] for i in chunk]).float()
                    embeddings = network(batch)["embeddings"]
                    results.update(zip(chunk, embeddings, strict=True))
    finally:
        network.train(was_training)
    return torch.stack([results[index] for index in range(len(sequences))])
