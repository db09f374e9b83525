"""OpenGait's samplers: which sequences form a batch (P x K triplets) and which frames of each.

Everything is a pure function of ``(seed, step, position)``: every Ray Train worker computes the
same global batch, takes its own disjoint share, and draws the same frames for a sequence that any
other world size would. Resuming at a step needs no replay. This module must not read data.

Semantics follow OpenGait's ``TripletSampler`` and ``CollateFn``:

- a global batch draws P distinct subjects (with replacement only if fewer than P exist), then K
  distinct sequences of each (with replacement only if the subject has fewer than K); optionally
  shuffled; rank r of W takes positions r, r + W, r + 2W, ... (P*K must be divisible by W);
- ``fixed_ordered``: a contiguous window of ``frames + skip`` positions at a random start, from
  which ``frames`` sorted positions are drawn (all of them when ``skip`` is 0); a sequence shorter
  than the window is first tiled (0..L-1, 0..L-1, ...) so the window wraps around its end;
- ``fixed_unordered``: ``frames`` random frames in random order, with replacement only when the
  sequence is shorter than ``frames``;
- ``all_ordered``: every frame in order (evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from landmarkgait.data.errors import DataError

FRAME_SAMPLERS = ("fixed_ordered", "fixed_unordered", "all_ordered")

# Distinct first words of the seed sequences, so batch and frame draws never share a stream.
_BATCH_STREAM = 0
_FRAME_STREAM = 1


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, got {value!r}")


def fixed_ordered(num_frames: int, frames: int, rng: np.random.Generator, skip: int = 0) -> np.ndarray:
    """Frame indices (int64 ``[frames]``) of a contiguous, possibly wrapped window."""
    _check_count("num_frames", num_frames, 1)
    _check_count("frames", frames, 1)
    _check_count("frames_skip_num", skip, 0)
    window = frames + skip
    tiled_length = num_frames * math.ceil(window / num_frames) if num_frames < window else num_frames
    start = int(rng.integers(0, tiled_length - window + 1))
    positions = np.arange(start, start + window)
    if skip:
        positions = np.sort(rng.choice(positions, size=frames, replace=False))
    return positions % num_frames


def fixed_unordered(num_frames: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Frame indices (int64 ``[frames]``) drawn at random, unsorted."""
    _check_count("num_frames", num_frames, 1)
    _check_count("frames", frames, 1)
    return rng.choice(num_frames, size=frames, replace=num_frames < frames)


def all_ordered(num_frames: int) -> np.ndarray:
    """Every frame index in order."""
    _check_count("num_frames", num_frames, 1)
    return np.arange(num_frames)


def sample_frame_indices(
    sample_type: str, num_frames: int, frames: int, rng: np.random.Generator, skip: int = 0
) -> np.ndarray:
    """Dispatch to the frame sampler named ``sample_type`` (one of ``FRAME_SAMPLERS``)."""
    if sample_type == "fixed_ordered":
        return fixed_ordered(num_frames, frames, rng, skip)
    if sample_type == "fixed_unordered":
        return fixed_unordered(num_frames, frames, rng)
    if sample_type == "all_ordered":
        return all_ordered(num_frames)
    raise DataError(f"sample_type must be one of {', '.join(FRAME_SAMPLERS)}, got {sample_type!r}")


def frame_rng(seed: int, step: int, position: int) -> np.random.Generator:
    """Random stream for the frames of the sequence at ``position`` of global batch ``step``."""
    return np.random.default_rng([seed, _FRAME_STREAM, step, position])


def check_sharding(rank: int, world_size: int) -> None:
    """Raise unless ``0 <= rank < world_size``."""
    _check_count("world_size", world_size, 1)
    _check_count("rank", rank, 0)
    if rank >= world_size:
        raise DataError(f"rank must be < world_size ({world_size}), got {rank}")


class TripletBatchSampler:
    """Infinite P x K batches of dataset indices; this rank gets every ``world_size``-th position."""

    def __init__(
        self,
        sequences_by_subject: Mapping[str, Sequence[int]],
        P: int,
        K: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        batch_shuffle: bool = False,
    ) -> None:
        _check_count("P", P, 1)
        _check_count("K", K, 1)
        _check_count("seed", seed, 0)
        check_sharding(rank, world_size)
        if (P * K) % world_size:
            raise DataError(f"P*K = {P}*{K} = {P * K} must be divisible by world_size {world_size}")
        if not sequences_by_subject:
            raise DataError("the sampler needs at least one subject")
        empty = [subject for subject, indices in sequences_by_subject.items() if not indices]
        if empty:
            raise DataError(f"subjects without sequences cannot be sampled: {', '.join(sorted(empty)[:10])}")
        self.subjects = tuple(sorted(sequences_by_subject))
        self._sequences = [tuple(sequences_by_subject[s]) for s in self.subjects]
        self.P, self.K, self.seed = P, K, seed
        self.rank, self.world_size = rank, world_size
        self.batch_shuffle = batch_shuffle

    @property
    def positions(self) -> range:
        """Positions of the global batch that belong to this rank."""
        return range(self.rank, self.P * self.K, self.world_size)

    def global_batch(self, step: int) -> list[int]:
        """The ``P*K`` dataset indices of batch ``step``, subject by subject (unless shuffled)."""
        _check_count("step", step, 0)
        rng = np.random.default_rng([self.seed, _BATCH_STREAM, step])
        chosen = _draw(rng, len(self.subjects), self.P)
        batch = []
        for subject in chosen:
            sequences = self._sequences[subject]
            batch.extend(sequences[i] for i in _draw(rng, len(sequences), self.K))
        if self.batch_shuffle:
            batch = [batch[i] for i in rng.permutation(len(batch))]
        return batch

    def rank_batch(self, step: int) -> list[int]:
        """This rank's share of batch ``step``."""
        batch = self.global_batch(step)
        return [batch[position] for position in self.positions]

    def __iter__(self) -> Iterator[list[int]]:
        step = 0
        while True:
            yield self.rank_batch(step)
            step += 1


def _draw(rng: np.random.Generator, population: int, count: int) -> np.ndarray:
    """``count`` distinct draws from ``range(population)``, with replacement only if too few."""
    if population >= count:
        return rng.permutation(population)[:count]
    return rng.integers(0, population, size=count)
