"""Losses on hand-made inputs, per-stage composition, and the distributed triplet gather."""

from __future__ import annotations

import itertools
import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from landmarkgait.models import ModelConfigError
from landmarkgait.models.losses import (
    compute_losses,
    cross_entropy_loss,
    reconstruction_loss,
    triplet_loss,
)
from landmarkgait.models.registry import stage_spec
from landmarkgait.models.training_config import LossWeights
from landmarkgait.pipelines.runtime.ports import free_loopback_port


def brute_force_triplet(embeddings: torch.Tensor, labels: list[int], margin: float) -> list[float]:
    """OpenGait's batch-all triplet loss written as loops: mean of the non-zero terms, per part."""
    losses = []
    n, _, parts = embeddings.shape
    for p in range(parts):
        x = embeddings[:, :, p].double()
        terms = []
        for a, b, c in itertools.product(range(n), repeat=3):
            if labels[a] == labels[b] and labels[a] != labels[c]:
                terms.append(max(0.0, float((x[a] - x[b]).norm() - (x[a] - x[c]).norm()) + margin))
        nonzero = [t for t in terms if t > 0]
        losses.append(sum(nonzero) / len(nonzero) if nonzero else 0.0)
    return losses


def test_triplet_loss_on_a_hand_computed_batch():
    embeddings = torch.tensor([0.0, 1.0, 3.0, 3.5]).view(4, 1, 1)
    labels = torch.tensor([0, 0, 1, 1])
    # margin 1.5: the only positive term is anchor 1, positive 0 (d=1), negative 2 (d=2): 0.5
    loss, info = triplet_loss(embeddings, labels, margin=1.5)
    assert loss.tolist() == [0.5]
    assert info["triplet_active"] == 1
    loss, info = triplet_loss(embeddings, labels, margin=0.2)
    assert loss.tolist() == [0.0] and info["triplet_active"] == 0


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0, 2], [3, 3, 3]])
def test_triplet_loss_matches_the_definition_for_balanced_and_unbalanced_batches(labels):
    torch.manual_seed(0)
    embeddings = torch.randn(len(labels), 3, 2)
    loss, _ = triplet_loss(embeddings, torch.tensor(labels), margin=0.5)
    assert loss.tolist() == pytest.approx(brute_force_triplet(embeddings, labels, 0.5), abs=1e-5)


def test_cross_entropy_and_reconstruction_on_hand_made_inputs():
    logits = torch.zeros(2, 3, 4)
    logits[0, 1] = 2.0  # sample 0 predicts class 1 in every part
    labels = torch.tensor([1, 2])
    loss, accuracy = cross_entropy_loss(logits, labels, scale=1.0, label_smoothing=0.0)
    expected = (-math.log(math.exp(2) / (math.exp(2) + 2)) + math.log(3)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert accuracy.item() == 0.5  # sample 1's logits tie; argmax picks class 0
    smoothed, _ = cross_entropy_loss(logits, labels, scale=1.0, label_smoothing=0.1)
    assert smoothed.item() > loss.item()
    assert reconstruction_loss(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)).item() == 2.5


def outputs_for(stage: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    outputs = {"reconstruction": torch.rand(4, 3, 8, 4, requires_grad=True)}
    if stage != "landmark":
        outputs["part_reconstruction"] = torch.rand(4, 3, 8, 4, requires_grad=True)
    if stage == "recognition":
        outputs["embeddings"] = torch.randn(4, 5, 2, requires_grad=True)
        outputs["logits"] = torch.randn(4, 6, 2, requires_grad=True)
    return outputs


@pytest.mark.parametrize(
    ("stage", "terms"),
    [
        ("landmark", {"reconstruction"}),
        ("parsing", {"reconstruction", "part_reconstruction"}),
        ("recognition", {"reconstruction", "part_reconstruction", "triplet", "cross_entropy"}),
    ],
)
def test_compute_losses_weights_the_stage_terms(stage, terms):
    outputs = outputs_for(stage)
    sils = (torch.rand(4, 3, 8, 4) > 0.5).float()
    labels = torch.tensor([0, 0, 1, 1])
    weights = LossWeights(reconstruction=2.0, triplet=3.0, cross_entropy=0.5, triplet_margin=0.3)
    total, logged = compute_losses(stage, outputs, sils, labels, weights)
    assert terms <= set(logged)
    assert set(logged) == set(stage_spec(stage).loss_names())  # what a sweep may name as its metric
    factors = {"reconstruction": 2.0, "part_reconstruction": 1.0, "triplet": 3.0, "cross_entropy": 0.5}
    assert total.item() == pytest.approx(sum(factors[t] * logged[t].item() for t in terms), rel=1e-6)
    assert logged["reconstruction"].item() == pytest.approx(
        10 * torch.mean((outputs["reconstruction"] - sils) ** 2).item(), rel=1e-6
    )
    total.backward()
    assert all(value.grad is not None for value in outputs.values())
    _, logged = compute_losses(stage, outputs, sils, labels, LossWeights(reconstruction=0.0))
    assert "reconstruction" not in logged


def test_bad_loss_arguments_are_clear_errors():
    with pytest.raises(ModelConfigError, match="triplet_margin"):
        LossWeights(triplet_margin=-1.0)
    with pytest.raises(ModelConfigError, match="label_smoothing"):
        LossWeights(label_smoothing=1.0)
    with pytest.raises(ModelConfigError, match="embeddings"):
        compute_losses(
            "recognition", outputs_for("parsing"), torch.zeros(4, 3, 8, 4), torch.zeros(4), LossWeights()
        )
    with pytest.raises(ModelConfigError, match="stage"):
        compute_losses("gait", outputs_for("parsing"), torch.zeros(4, 3, 8, 4), None, LossWeights())


# -- the triplet loss under torch.distributed (two real gloo processes) ---------------------------
EMBEDDINGS = torch.tensor([[0.0, 1.0], [0.3, 0.2], [2.0, 1.0], [1.5, 1.2], [0.1, 0.8], [2.5, 0.2]]).view(
    6, 2, 1
)
LABELS = torch.tensor([0, 0, 1, 1, 0, 1])
WEIGHTS = LossWeights(reconstruction=0.0, part_reconstruction=0.0, cross_entropy=0.0, triplet_margin=1.0)


def _distributed_worker(rank: int, world_size: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        share = slice(rank * 3, rank * 3 + 3)
        local = EMBEDDINGS[share].clone().requires_grad_()
        total, _ = compute_losses(
            "recognition", {"embeddings": local}, torch.zeros(3, 3, 4, 4), LABELS[share], WEIGHTS
        )
        total.backward()
        results[rank] = (total.detach(), local.grad)
    finally:
        dist.destroy_process_group()


def test_distributed_triplet_sees_every_rank_and_keeps_the_local_gradient():
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_distributed_worker, args=(2, free_loopback_port(), results), nprocs=2, join=True)
        results = dict(results)
    full = EMBEDDINGS.clone().requires_grad_()
    single, _ = compute_losses("recognition", {"embeddings": full}, torch.zeros(6, 3, 4, 4), LABELS, WEIGHTS)
    single.backward()
    for rank in (0, 1):
        total, grad = results[rank]
        # every rank computes the whole batch's loss, scaled by the world size (OpenGait)
        assert total.item() == pytest.approx(2 * single.item(), rel=1e-6)
        # DDP averages gradients over ranks: each local share gets the full-batch gradient
        torch.testing.assert_close(grad / 2, full.grad[rank * 3 : rank * 3 + 3])


def test_the_holistic_baseline_trains_on_triplet_and_cross_entropy_only():
    outputs = {
        key: value for key, value in outputs_for("recognition").items() if key in ("embeddings", "logits")
    }
    sils = (torch.rand(4, 3, 8, 4) > 0.5).float()
    total, logged = compute_losses("holistic", outputs, sils, torch.tensor([0, 0, 1, 1]), LossWeights())
    assert set(logged) == set(stage_spec("holistic").loss_names())
    assert total.item() == pytest.approx(logged["triplet"].item() + logged["cross_entropy"].item(), rel=1e-6)
