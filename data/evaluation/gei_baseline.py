"""Gait-energy-image (GEI) + nearest-neighbour baseline.

A GEI is a sequence's mean silhouette; matching GEIs by Euclidean distance is the classic
training-free gait recogniser. It calibrates a benchmark's difficulty: whatever a learnt model
reports should be read against it. It must not train anything or define its own protocol (it uses
``landmarkgait.data.evaluation.protocols``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.protocols import evaluate_casia_b
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.loader import iter_test_sequences
from landmarkgait.data.reader import SilhouetteDataset

log = logging.getLogger(__name__)


def gait_energy_image(frames: np.ndarray) -> np.ndarray:
    """Mean silhouette of uint8 frames ``[T, H, W]`` → float32 ``[H, W]`` in [0, 1]."""
    if frames.ndim != 3 or frames.shape[0] == 0:
        raise DataError(f"a GEI needs frames [T, H, W] with T >= 1, got shape {frames.shape}")
    return (frames.mean(axis=0, dtype=np.float64) / 255.0).astype(np.float32)


def gei_embeddings(
    dataset: SilhouetteDataset, subjects: Sequence[str], max_frames: int | None = None
) -> tuple[torch.Tensor, list[str], list[str], list[str]]:
    """GEIs of every sequence of ``subjects`` (of its first ``max_frames`` frames when given) as
    embeddings ``[N, H*W, 1]`` plus their keys.

    One part (P = 1), so the protocol's per-part distance is the plain Euclidean distance.
    """
    keys: tuple[list[str], list[str], list[str]] = ([], [], [])
    images = []
    wanted = set(subjects)
    total = sum(1 for entry in dataset.entries if entry.subject in wanted)
    for _, record in tqdm(
        iter_test_sequences(dataset, subjects, max_frames=max_frames),
        total=total,
        desc="GEI",
        unit="seq",
        disable=None,
    ):
        images.append(gait_energy_image(record.frames).reshape(-1))
        for column, value in zip(keys, (record.subject, record.type, record.view), strict=True):
            column.append(value)
    if not images:
        raise DataError(f"{dataset.path}: no sequences of the test subjects")
    return torch.from_numpy(np.stack(images))[:, :, None], *keys


def evaluate_gei_baseline(
    dataset: SilhouetteDataset,
    test_subjects: Sequence[str],
    *,
    metric: str = "euc",
    max_frames: int | None = None,
) -> GaitEvaluation:
    """GEI + nearest neighbour on ``test_subjects`` with the CASIA-B protocol (identical views excluded)."""
    embeddings, subjects, types, views = gei_embeddings(dataset, test_subjects, max_frames)
    log.info("GEI baseline: %d sequences of %d test subjects", len(subjects), len(set(subjects)))
    return evaluate_casia_b(embeddings, subjects, types, views, metric=metric)
