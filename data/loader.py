"""Batches for training and sequences for evaluation, as each Ray Train worker consumes them.

Composes the reader, the samplers and the transform: a ``TrainBatchLoader`` on rank r of W yields
its share of each global P x K batch as tensors; ``iter_test_sequences`` gives each rank a disjoint
slice of the test sequences with all their frames. It must not know about models or Ray itself
(rank and world size are plain arguments).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import count

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.sampler_config import TRAIN_SAMPLE_TYPES
from landmarkgait.data.sampling import TripletBatchSampler, check_sharding, frame_rng, sample_frame_indices
from landmarkgait.data.transforms import silhouette_transform

_TEST_READ_CHUNK = 16


@dataclass(frozen=True)
class TrainBatch:
    """This rank's share of one global batch.

    ``sils`` float32 ``[N, T, H, W']`` in [0, 1]; ``labels`` int64 ``[N]``, the index of each
    subject in the loader's sorted ``subjects``; N = P*K / world_size.
    """

    sils: torch.Tensor
    labels: torch.Tensor
    subjects: tuple[str, ...]
    types: tuple[str, ...]
    views: tuple[str, ...]
    step: int


class TrainBatchLoader:
    """Infinite iterator of ``TrainBatch``, deterministic in ``seed`` and independent of world size.

    The global batch at each step (and the frames drawn for each of its sequences) is the same for
    any ``world_size``; rank r receives positions r, r + W, ... of it. ``start_step`` resumes.
    """

    def __init__(
        self,
        dataset: SilhouetteDataset,
        partition_subjects: Iterable[str],
        P: int,
        K: int,
        frames: int,
        sample_type: str = "fixed_ordered",
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        *,
        frames_skip_num: int = 0,
        batch_shuffle: bool = False,
        start_step: int = 0,
    ) -> None:
        if sample_type not in TRAIN_SAMPLE_TYPES:
            raise DataError(
                f"sample_type for training must be one of {', '.join(TRAIN_SAMPLE_TYPES)}, got {sample_type!r}"
            )
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise DataError(f"frames must be an integer >= 1, got {frames!r}")
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise DataError(f"start_step must be an integer >= 0, got {start_step!r}")
        self.subjects = tuple(sorted(set(partition_subjects)))
        by_subject = dataset.indices_by_subject()
        missing = [subject for subject in self.subjects if subject not in by_subject]
        if missing:
            raise DataError(
                f"{dataset.path}: training subjects not in the dataset: {', '.join(missing[:10])}"
            )
        self.sampler = TripletBatchSampler(
            {subject: by_subject[subject] for subject in self.subjects},
            P,
            K,
            seed=seed,
            rank=rank,
            world_size=world_size,
            batch_shuffle=batch_shuffle,
        )
        self.dataset = dataset
        self.frames = frames
        self.sample_type = sample_type
        self.frames_skip_num = frames_skip_num
        self.start_step = start_step
        self._labels = {subject: label for label, subject in enumerate(self.subjects)}

    @property
    def num_classes(self) -> int:
        """Number of training subjects (the classifier's output size)."""
        return len(self.subjects)

    def batch(self, step: int) -> TrainBatch:
        """This rank's share of global batch ``step``."""
        global_batch = self.sampler.global_batch(step)
        positions = self.sampler.positions
        records = self.dataset.read_many([global_batch[position] for position in positions])
        clips = []
        for position, record in zip(positions, records, strict=True):
            rng = frame_rng(self.sampler.seed, step, position)
            chosen = sample_frame_indices(
                self.sample_type, record.frames.shape[0], self.frames, rng, self.frames_skip_num
            )
            clips.append(record.frames[chosen])
        sils = torch.from_numpy(silhouette_transform(np.stack(clips)))
        labels = torch.tensor([self._labels[r.subject] for r in records], dtype=torch.int64)
        return TrainBatch(
            sils=sils,
            labels=labels,
            subjects=tuple(r.subject for r in records),
            types=tuple(r.type for r in records),
            views=tuple(r.view for r in records),
            step=step,
        )

    def __iter__(self) -> Iterator[TrainBatch]:
        for step in count(self.start_step):
            yield self.batch(step)


@dataclass(frozen=True)
class TestSequences:
    """A rank's test sequences: their dataset indices, read with all frames when iterated.

    Iterating yields ``(dataset index, record)`` with raw uint8 frames, in row order; ``len``
    is known before reading, for progress reports. ``max_frames`` keeps each sequence's first
    frames only (None: all of them, as OpenGait evaluates).
    """

    dataset: SilhouetteDataset
    indices: tuple[int, ...]
    max_frames: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[tuple[int, SequenceRecord]]:
        for start in range(0, len(self.indices), _TEST_READ_CHUNK):
            chunk = list(self.indices[start : start + _TEST_READ_CHUNK])
            for index, record in zip(chunk, self.dataset.read_many(chunk), strict=True):
                if self.max_frames is not None:
                    record = dataclasses.replace(record, frames=record.frames[: self.max_frames])
                yield index, record


def iter_test_sequences(
    dataset: SilhouetteDataset,
    subjects: Iterable[str],
    rank: int = 0,
    world_size: int = 1,
    max_frames: int | None = None,
) -> TestSequences:
    """This rank's test sequences of ``subjects`` with all frames (``all_ordered``; the first
    ``max_frames`` when given), in row order.

    Rank r takes every ``world_size``-th of the matching rows starting at r, so the ranks together
    cover each sequence exactly once.
    """
    check_sharding(rank, world_size)
    wanted = set(subjects)
    missing = wanted - set(dataset.subjects)
    if missing:
        raise DataError(
            f"{dataset.path}: test subjects not in the dataset: {', '.join(sorted(missing)[:10])}"
        )
    indices = [i for i, entry in enumerate(dataset.entries) if entry.subject in wanted][rank::world_size]
    return TestSequences(dataset, tuple(indices), max_frames)
