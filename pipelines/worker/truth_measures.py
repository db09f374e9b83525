"""A network's landmarks and part masks on clips of a synthetic dataset with ground truth.

Shared by the stage runs' ground-truth quality (``worker.stage_quality``) and by
``benchmarks/parsing_quality.py``: which sequences to measure, how a clip of one is cut together
with its labels and joints, how part masks become a label map, and the landmarks of every
frame. The scores themselves are ``data.evaluation.parsing_quality``'s. This module must not log
to MLflow or decide when to measure.

A label map from masks: a foreground pixel (of the ground truth) claimed by exactly one of the
head / upper / lower masks takes that part; one claimed by two or three (the masks overlap where
no part is confident) or by none stays unassigned and counts as a miss of its true part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from landmarkgait.data.evaluation.parsing_quality import PARTS, PartIoU
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.sampling import fixed_ordered
from landmarkgait.data.synth.truth_files import GroundTruth
from landmarkgait.data.transforms import cut_width, silhouette_transform

CONDITIONS = ("NM", "BG", "CL")


def condition_of(sequence_type: str) -> str:
    """``nm-01`` -> ``NM``: the walking condition of a CASIA-B-style sequence type."""
    return sequence_type[:2].upper()


@dataclass
class Clip:
    """One clip of a sequence with its ground truth, cut like the network's input (64 x 44)."""

    condition: str
    sils: np.ndarray  # float32 [F, H, W] in [0, 1]
    labels: np.ndarray  # uint8 [F, H, W]
    joints: np.ndarray  # float32 [F, J, 2], stored-frame pixels


@dataclass
class MaskStats:
    """Part IoU and mask coverage summed over clips: pixels of the foreground each mask claims."""

    iou: PartIoU = field(default_factory=PartIoU)
    claimed: np.ndarray = field(default_factory=lambda: np.zeros(len(PARTS), dtype=np.int64))
    exclusive: int = 0
    foreground: int = 0


def pick_sequences(
    dataset: SilhouetteDataset,
    subjects: Iterable[str],
    count: int,
    seed: int,
    truth: GroundTruth | None = None,
) -> list[int]:
    """Up to ``count`` sequences of each condition among ``subjects`` (with ground truth in
    ``truth``, when given), drawn with ``seed``; dataset indices, sorted within a condition."""
    rng = np.random.default_rng(seed)
    chosen, wanted = [], set(subjects)
    for condition in CONDITIONS:
        indices = [
            i
            for i, e in enumerate(dataset.entries)
            if e.subject in wanted
            and condition_of(e.type) == condition
            and (truth is None or (e.subject, e.type, e.view) in truth)
        ]
        if indices:
            chosen += sorted(rng.choice(indices, size=min(count, len(indices)), replace=False).tolist())
    return chosen


def cut_clips(
    dataset: SilhouetteDataset, truth: GroundTruth, indices: Sequence[int], frames: int, seed: int | None
) -> list[Clip]:
    """A clip of ``frames`` frames of each sequence with its labels and joints.

    ``seed`` None: the first ``frames`` frames (fewer if the sequence is shorter), as evaluation
    embeds a sequence's first ``evaluation.max_frames``. Otherwise a contiguous window drawn like a
    training sample (wrapped when the sequence is shorter), the same for the same seed.
    """
    clips = []
    for index, record in zip(indices, dataset.read_many(list(indices)), strict=True):
        length = len(record.frames)
        if seed is None:
            picked = np.arange(min(length, frames))
        else:
            picked = fixed_ordered(length, frames, np.random.default_rng([seed, index, frames]))
        sequence = truth.read(record.subject, record.type, record.view)
        width = record.frames.shape[-1]
        cut = cut_width(width)
        clips.append(
            Clip(
                condition=condition_of(record.type),
                sils=silhouette_transform(record.frames[picked]),
                labels=sequence.labels[picked][..., cut : width - cut],
                joints=sequence.joints[picked],
            )
        )
    return clips


def measure_masks(
    network: nn.Module, clips: Sequence[Clip], batch: int, training: bool, seed: int
) -> dict[str, MaskStats]:
    """``MaskStats`` per condition of the network's part masks (``network.parse``).

    ``training`` True: as the training forward computes them, batches of ``batch`` clips (mixed
    conditions, equal lengths) coupled by one landmark grouping and one mask peak. False: as
    evaluation computes them, in eval mode, where every clip is parsed as if alone, so clips are
    batched only with clips of their own length. Either way under ``torch.no_grad``, with torch's
    RNG seeded by ``seed`` and restored after (a measurement mid-training leaves the training's
    random stream as it was); the network is left in eval mode.
    """
    stats: dict[str, MaskStats] = defaultdict(MaskStats)
    order = np.random.default_rng(seed).permutation(len(clips))  # training batches mix conditions
    device = _device_of(network)
    network.train(training)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed)  # the official grouping draws its frame from torch's RNG
            for chunk in _batches([clips[i] for i in order], batch):
                sils = torch.from_numpy(np.stack([c.sils for c in chunk])).to(device)
                _, _, _, masks = network.parse(sils)
                claimed = torch.stack([masks.head, masks.up, masks.low]).gt(0).cpu().numpy()
                for position, clip in enumerate(chunk):
                    # Clips of 1-2 frames are repeated to 3-4 by the network: the first are theirs.
                    account(stats[clip.condition], claimed[:, position, : len(clip.labels)], clip.labels)
    finally:
        network.eval()
    return stats


def account(stats: MaskStats, claimed: np.ndarray, labels: np.ndarray) -> None:
    """Add one clip: ``claimed`` bool ``[3, T, H, W]``, true ``labels`` ``[T, H, W]``."""
    foreground = labels > 0
    count = claimed.sum(0)
    predicted = np.where(foreground & (count == 1), claimed.argmax(0) + 1, 0)
    stats.iou.add(predicted, labels)
    stats.claimed += (claimed & foreground).sum(axis=(1, 2, 3))
    stats.exclusive += int((foreground & (count == 1)).sum())
    stats.foreground += int(foreground.sum())


def landmarks_of(network: nn.Module, clips: Sequence[Clip], batch_frames: int) -> np.ndarray:
    """Landmarks ``[frames, L, 2]`` of every frame of ``clips`` in order, in [-1, 1].

    LandmarkNet locates each frame alone (``Backbone.encode``), so neither the clip, the batch
    nor the mode changes them; frames go through in batches of ``batch_frames``.
    """
    frames = np.concatenate([c.sils for c in clips])
    device = _device_of(network)
    was_training = network.training
    network.eval()
    found = []
    try:
        with torch.no_grad():
            for start in range(0, len(frames), batch_frames):
                sils = torch.from_numpy(frames[start : start + batch_frames, None]).to(device)
                found.append(network.Backbone.encode(sils)[1][:, 0].cpu().numpy())
    finally:
        network.train(was_training)
    return np.concatenate(found)


def _batches(clips: list[Clip], batch: int) -> list[list[Clip]]:
    """``clips`` in order, cut into batches of at most ``batch`` clips of one length each."""
    by_length: dict[int, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_length[len(clip.sils)].append(clip)
    return [group[i : i + batch] for group in by_length.values() for i in range(0, len(group), batch)]


def _device_of(network: nn.Module) -> torch.device:
    return next(network.parameters()).device
