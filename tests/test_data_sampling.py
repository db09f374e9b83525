"""Sampler invariants: P x K composition, disjoint rank shares, determinism, short sequences."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from landmarkgait.data.errors import DataError
from landmarkgait.data.sampling import (
    TripletBatchSampler,
    all_ordered,
    fixed_ordered,
    fixed_unordered,
    frame_rng,
    sample_frame_indices,
)
from landmarkgait.data.transforms import silhouette_transform

# 6 subjects with 5..10 sequences each; indices are unique across subjects.
SEQUENCES = {f"{s:03d}": list(range(100 * s, 100 * s + 5 + s)) for s in range(6)}
OWNER = {index: subject for subject, indices in SEQUENCES.items() for index in indices}


def test_global_batch_is_p_subjects_times_k_sequences() -> None:
    sampler = TripletBatchSampler(SEQUENCES, P=4, K=3, seed=7)
    for step in range(20):
        batch = sampler.global_batch(step)
        assert len(batch) == 12
        subjects = [OWNER[index] for index in batch]
        groups = [subjects[i : i + 3] for i in range(0, 12, 3)]
        assert all(len(set(group)) == 1 for group in groups)  # K consecutive sequences per subject
        assert len({group[0] for group in groups}) == 4  # P distinct subjects
        assert all(len(set(batch[i : i + 3])) == 3 for i in range(0, 12, 3))  # K distinct sequences


def test_batches_are_deterministic_and_vary() -> None:
    first = TripletBatchSampler(SEQUENCES, P=4, K=3, seed=7)
    same = TripletBatchSampler(SEQUENCES, P=4, K=3, seed=7)
    other = TripletBatchSampler(SEQUENCES, P=4, K=3, seed=8)
    steps = range(10)
    assert [first.global_batch(s) for s in steps] == [same.global_batch(s) for s in steps]
    assert [first.global_batch(s) for s in steps] != [other.global_batch(s) for s in steps]
    assert len({tuple(first.global_batch(s)) for s in steps}) == 10
    iterator = iter(first)
    assert [next(iterator) for _ in steps] == [first.rank_batch(s) for s in steps]


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 6])
def test_rank_shares_are_disjoint_and_cover_the_same_global_batch(world_size: int) -> None:
    reference = TripletBatchSampler(SEQUENCES, P=4, K=3, seed=1, batch_shuffle=True)
    ranks = [
        TripletBatchSampler(SEQUENCES, P=4, K=3, seed=1, rank=r, world_size=world_size, batch_shuffle=True)
        for r in range(world_size)
    ]
    for step in range(5):
        global_batch = reference.global_batch(step)
        shares = [sampler.rank_batch(step) for sampler in ranks]
        assert all(len(share) == 12 // world_size for share in shares)
        positions = [list(sampler.positions) for sampler in ranks]
        assert sorted(p for share in positions for p in share) == list(range(12))  # disjoint, complete
        for share, owned in zip(shares, positions, strict=True):
            assert share == [global_batch[p] for p in owned]


def test_small_populations_are_drawn_with_replacement() -> None:
    few = {"a": [0, 1], "b": [2]}
    sampler = TripletBatchSampler(few, P=3, K=4, seed=0)
    batch = sampler.global_batch(0)
    assert len(batch) == 12
    subjects = [("a" if i < 2 else "b") for i in batch]
    for i in range(0, 12, 4):
        assert len(set(subjects[i : i + 4])) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"P": 4, "K": 3, "seed": 0, "world_size": 5}, r"P\*K = 4\*3 = 12 must be divisible by world_size 5"),
        ({"P": 4, "K": 3, "seed": 0, "rank": 2, "world_size": 2}, "rank must be < world_size"),
        ({"P": 0, "K": 3, "seed": 0}, "P must be an integer >= 1"),
        ({"P": 2, "K": 3, "seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_sampler_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        TripletBatchSampler(SEQUENCES, **kwargs)
    with pytest.raises(DataError, match="subjects without sequences cannot be sampled: x"):
        TripletBatchSampler({"x": [], "y": [1]}, P=1, K=1, seed=0)


def test_fixed_ordered_takes_a_contiguous_window() -> None:
    starts = Counter()
    for seed in range(200):
        indices = fixed_ordered(20, 6, np.random.default_rng(seed))
        assert list(indices) == list(range(indices[0], indices[0] + 6))
        starts[int(indices[0])] += 1
    assert set(starts) == set(range(15))  # every start 0..L-T is possible


def test_fixed_ordered_repeats_short_sequences() -> None:
    for seed in range(50):
        indices = fixed_ordered(3, 8, np.random.default_rng(seed))
        # The sequence is tiled 0,1,2,0,1,2,... and a window of 8 taken from the tiling.
        assert list(indices) == [(indices[0] + i) % 3 for i in range(8)]
        assert indices[0] in (0, 1)  # tiling has 9 positions, so the window starts at 0 or 1
    assert list(fixed_ordered(1, 4, np.random.default_rng(0))) == [0, 0, 0, 0]


def test_fixed_ordered_with_skip_draws_sorted_frames_from_a_wider_window() -> None:
    for seed in range(50):
        indices = fixed_ordered(40, 10, np.random.default_rng(seed), skip=4)
        assert len(indices) == 10 and list(indices) == sorted(set(indices))
        assert indices[-1] - indices[0] <= 13


def test_fixed_unordered_and_all_ordered() -> None:
    rng = np.random.default_rng(0)
    long = fixed_unordered(30, 10, rng)
    assert len(set(long)) == 10 and list(long) != sorted(long)
    short = fixed_unordered(3, 10, rng)
    assert len(short) == 10 and set(short) <= {0, 1, 2}
    assert list(all_ordered(5)) == [0, 1, 2, 3, 4]
    assert list(sample_frame_indices("all_ordered", 3, 30, rng)) == [0, 1, 2]
    with pytest.raises(
        DataError, match="sample_type must be one of fixed_ordered, fixed_unordered, all_ordered"
    ):
        sample_frame_indices("unfixed_ordered", 3, 30, rng)


def test_frame_streams_depend_on_seed_step_and_position() -> None:
    draws = {
        key: fixed_ordered(100, 5, frame_rng(*key))[0] for key in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)]
    }
    assert len(set(draws.values())) > 1
    assert fixed_ordered(100, 5, frame_rng(3, 4, 5))[0] == fixed_ordered(100, 5, frame_rng(3, 4, 5))[0]


def test_silhouette_transform_scales_and_cuts_like_opengait() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    out = silhouette_transform(frames)
    assert out.dtype == np.float32 and out.shape == (3, 64, 44)
    np.testing.assert_array_equal(out, (frames[..., 10:-10] / 255.0).astype(np.float32))
    assert silhouette_transform(np.zeros((2, 128, 128), np.uint8)).shape == (2, 128, 88)
    assert silhouette_transform(np.full((1, 32, 32), 255, np.uint8)).shape == (1, 32, 32)  # < 64: no cut
    with pytest.raises(DataError, match="expects uint8 frames"):
        silhouette_transform(np.zeros((2, 64, 64), np.float32))
