"""Loss terms with OpenGait semantics, chosen by the stage registry and weighted by config.

``compute_losses(stage, outputs, sils, labels, weights)`` returns the total to backpropagate and
detached named terms to log, so a training loop needs no knowledge of the stages. Which terms a
stage trains on is its ``StageSpec.loss_terms`` (``models.registry``); this module holds one
function per term (reconstruction, part_reconstruction, triplet, cross_entropy).

Reconstruction is MSE x 10; the triplet loss uses every valid triplet per part and averages the
non-zero terms; under torch.distributed it sees every worker's embeddings (local ones keep their
gradient) and is scaled by the world size, as OpenGait's ``gather_and_scale_wrapper``.
This module must not run networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.registry import stage_spec
from landmarkgait.models.stages import repeat_short_sequences
from landmarkgait.models.training_config import LossWeights

RECONSTRUCTION_SCALE = 10.0


def reconstruction_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """OpenGait ``Reconstruction``: mean squared error x 10."""
    return F.mse_loss(prediction.float(), target.float()) * RECONSTRUCTION_SCALE


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0; this rank's part keeps its gradient.

    Without an initialised process group (or with one rank) it returns ``tensor``. Every rank
    must pass the same shape (OpenGait's ``ddp_all_gather``).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    parts[dist.get_rank()] = tensor
    return torch.cat(parts, dim=0)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[P, n, n]`` between the rows of ``x`` ``[P, n, C]`` (OpenGait formula)."""
    squared = torch.sum(x**2, -1)
    inner = x.matmul(x.transpose(1, 2))
    return torch.sqrt(F.relu(squared.unsqueeze(2) + squared.unsqueeze(1) - 2 * inner))


def triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Batch-all triplet loss per part: ``[n, C, P]`` -> loss ``[P]`` and detached statistics.

    For every anchor, every positive (including the anchor itself, as OpenGait) and every
    negative: ``relu(d(a, p) - d(a, n) + margin)``; each part averages its non-zero terms
    (0 when all are zero). Triplets are enumerated in OpenGait's order, so P x K batches give
    its exact values; unbalanced batches are padded and the padding masked out.
    """
    x = embeddings.permute(2, 0, 1).contiguous().float()  # [P, n, C]
    distances = pairwise_distances(x)  # [P, n, n]
    parts, n = distances.shape[:2]
    matches = labels.unsqueeze(1) == labels.unsqueeze(0)  # [n, n]
    # Per anchor: positives first, then negatives, each in index order.
    order = torch.sort((~matches).to(torch.uint8), dim=1, stable=True).indices
    positives = matches.sum(1)
    k, m = int(positives.max()), int((n - positives).max())
    slots = torch.arange(n, device=labels.device)
    positive_valid = slots[:k].unsqueeze(0) < positives.unsqueeze(1)  # [n, k]
    negative_valid = slots[:m].unsqueeze(0) < (n - positives).unsqueeze(1)  # [n, m]
    negative_index = torch.gather(order, 1, (positives.unsqueeze(1) + slots[:m]).clamp(max=n - 1))
    anchor_positive = distances.gather(2, order[:, :k].expand(parts, n, k))  # [P, n, k]
    anchor_negative = distances.gather(2, negative_index.expand(parts, n, m))  # [P, n, m]
    loss = F.relu(anchor_positive.unsqueeze(3) - anchor_negative.unsqueeze(2) + margin)
    valid = positive_valid.unsqueeze(2) & negative_valid.unsqueeze(1)  # [n, k, m]
    loss = torch.where(valid, loss, torch.zeros((), device=loss.device)).view(parts, n * k * m)
    active = (loss != 0).sum(-1).float()
    average = loss.sum(-1) / (active + 1.0e-9)
    average = torch.where(active == 0, torch.zeros_like(average), average)
    hardest = loss.amax(-1) if loss.shape[-1] else torch.zeros_like(average)
    info = {
        "triplet_hard": hardest.detach().mean(),
        "triplet_active": active.detach().mean(),
        "triplet_mean_distance": distances.detach().mean(),
    }
    return average, info


def cross_entropy_loss(
    logits: torch.Tensor, labels: torch.Tensor, scale: float, label_smoothing: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenGait ``CrossEntropyLoss`` on per-part logits ``[n, classes, P]``; returns (loss, accuracy)."""
    parts = logits.shape[2]
    logits = logits.float()
    targets = labels.unsqueeze(1).repeat(1, parts)
    loss = F.cross_entropy(logits * scale, targets, label_smoothing=label_smoothing)
    accuracy = (logits.detach().argmax(dim=1) == labels.unsqueeze(1)).float().mean()
    return loss, accuracy


def _output(outputs: dict[str, torch.Tensor], key: str, stage: str) -> torch.Tensor:
    if key not in outputs:
        raise ModelConfigError(
            f"model outputs: the {stage} stage's losses need {key!r}, got {sorted(outputs)}"
        )
    return outputs[key]


@dataclass
class LossBatch:
    """One batch as the loss terms see it: the stage's outputs, the reconstruction target
    (``[N, T, H, W]`` input, short clips repeated) and the labels ``[N]``."""

    stage: str
    outputs: dict[str, torch.Tensor]
    target: torch.Tensor
    labels: torch.Tensor | None

    def output(self, key: str) -> torch.Tensor:
        return _output(self.outputs, key, self.stage)


# A term: (batch, weights) -> (weighted value to add to the total, detached values to log).
LossTerm = Callable[[LossBatch, LossWeights], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def _reconstruction_term(batch: LossBatch, weights: LossWeights) -> tuple[torch.Tensor, dict]:
    value = reconstruction_loss(batch.output("reconstruction"), batch.target)
    return weights.reconstruction * value, {"reconstruction": value.detach()}


def _part_reconstruction_term(batch: LossBatch, weights: LossWeights) -> tuple[torch.Tensor, dict]:
    value = reconstruction_loss(batch.output("part_reconstruction"), batch.target)
    return weights.part_reconstruction * value, {"part_reconstruction": value.detach()}


def _triplet_term(batch: LossBatch, weights: LossWeights) -> tuple[torch.Tensor, dict]:
    labels = batch.labels
    assert labels is not None  # compute_losses checks
    embeddings = all_gather_with_grad(batch.output("embeddings"))
    per_part, info = triplet_loss(embeddings, all_gather_with_grad(labels), weights.triplet_margin)
    return weights.triplet * per_part.mean() * world_size(), {"triplet": per_part.detach().mean(), **info}


def _cross_entropy_term(batch: LossBatch, weights: LossWeights) -> tuple[torch.Tensor, dict]:
    labels = batch.labels
    assert labels is not None  # compute_losses checks
    loss, accuracy = cross_entropy_loss(
        batch.output("logits"), labels, weights.cross_entropy_scale, weights.label_smoothing
    )
    return weights.cross_entropy * loss, {"cross_entropy": loss.detach(), "accuracy": accuracy}


# Terms that compare identities and need the batch's labels.
LABELLED_TERMS = ("triplet", "cross_entropy")
# Every term a stage spec may name (``models.registry.LOSS_TERM_LOGS`` lists what each logs).
LOSS_TERMS: dict[str, LossTerm] = {
    "reconstruction": _reconstruction_term,
    "part_reconstruction": _part_reconstruction_term,
    "triplet": _triplet_term,
    "cross_entropy": _cross_entropy_term,
}


def compute_losses(
    stage: str,
    outputs: dict[str, torch.Tensor],
    sils: torch.Tensor,
    labels: torch.Tensor | None,
    weights: LossWeights,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss to backpropagate, named detached terms) for one batch of ``stage``.

    The terms are the stage spec's ``loss_terms``, in order. ``sils`` ``[N, T, H, W]`` are the
    model's input (the reconstruction target); ``labels`` ``[N]`` are needed by the triplet and
    cross-entropy terms. A term with weight 0 is not computed.
    """
    spec = stage_spec(stage, "loss")
    if labels is None and any(term in LABELLED_TERMS for term in spec.loss_terms):
        raise ModelConfigError(f"loss labels: the {stage} stage needs labels [N], got None")
    batch = LossBatch(stage, outputs, repeat_short_sequences(sils), labels)
    total = torch.zeros((), device=sils.device)
    terms: dict[str, torch.Tensor] = {}
    for name in spec.loss_terms:
        if not getattr(weights, name):
            continue
        weighted, logged = LOSS_TERMS[name](batch, weights)
        total = total + weighted
        terms.update(logged)
    return total, terms
