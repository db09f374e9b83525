"""Losses of the three stages with OpenGait semantics, selected by stage and weighted by config.

``compute_losses(stage, outputs, sils, labels, weights)`` returns the total to backpropagate and
detached named terms to log, so a training loop needs no knowledge of the stages:

- landmark:    reconstruction
- parsing:     reconstruction + part_reconstruction
- recognition: triplet + cross_entropy + reconstruction + part_reconstruction

Reconstruction is MSE x 10; the triplet loss uses every valid triplet per part and averages the
non-zero terms; under torch.distributed it sees every worker's embeddings (local ones keep their
gradient) and is scaled by the world size, as OpenGait's ``gather_and_scale_wrapper``.
This module must not run networks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from landmarkgait.models.config import check_stage
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.stages import repeat_short_sequences

RECONSTRUCTION_SCALE = 10.0


@dataclass(frozen=True)
class LossWeights:
    """Term weights (official: all 1.0) and loss settings (official: margin 0.2, CE scale 1, no smoothing)."""

    reconstruction: float = 1.0
    triplet: float = 1.0
    cross_entropy: float = 1.0
    triplet_margin: float = 0.2
    label_smoothing: float = 0.0
    part_reconstruction: float = 1.0
    cross_entropy_scale: float = 1.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ModelConfigError(f"loss weight '{field.name}': expected a number >= 0, got {value!r}")
        if self.label_smoothing >= 1:
            raise ModelConfigError(
                f"loss weight 'label_smoothing': expected a value in [0, 1), got {self.label_smoothing!r}"
            )


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


def compute_losses(
    stage: str,
    outputs: dict[str, torch.Tensor],
    sils: torch.Tensor,
    labels: torch.Tensor | None,
    weights: LossWeights,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss to backpropagate, named detached terms) for one batch of ``stage``.

    ``sils`` ``[N, T, H, W]`` are the model's input (the reconstruction target); ``labels``
    ``[N]`` are needed by the recognition stage. A term with weight 0 is not computed.
    """
    check_stage(stage, "loss")
    target = repeat_short_sequences(sils)
    total = torch.zeros((), device=sils.device)
    terms: dict[str, torch.Tensor] = {}

    def add(name: str, weight: float, value: torch.Tensor) -> None:
        nonlocal total
        total = total + weight * value
        terms[name] = value.detach()

    if weights.reconstruction:
        add(
            "reconstruction",
            weights.reconstruction,
            reconstruction_loss(_output(outputs, "reconstruction", stage), target),
        )
    if stage != "landmark" and weights.part_reconstruction:
        prediction = _output(outputs, "part_reconstruction", stage)
        add("part_reconstruction", weights.part_reconstruction, reconstruction_loss(prediction, target))
    if stage == "recognition":
        if labels is None:
            raise ModelConfigError("loss labels: the recognition stage needs labels [N], got None")
        if weights.triplet:
            embeddings = all_gather_with_grad(_output(outputs, "embeddings", stage))
            per_part, info = triplet_loss(embeddings, all_gather_with_grad(labels), weights.triplet_margin)
            total = total + weights.triplet * per_part.mean() * world_size()
            terms["triplet"] = per_part.detach().mean()
            terms.update(info)
        if weights.cross_entropy:
            loss, accuracy = cross_entropy_loss(
                _output(outputs, "logits", stage),
                labels,
                weights.cross_entropy_scale,
                weights.label_smoothing,
            )
            add("cross_entropy", weights.cross_entropy, loss)
            terms["accuracy"] = accuracy
    return total, terms
