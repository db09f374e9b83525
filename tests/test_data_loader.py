"""Training batches and test sequences from a real dataset, per rank; partitions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import make_records

from landmarkgait.data.errors import DataError
from landmarkgait.data.loader import TrainBatchLoader, iter_test_sequences
from landmarkgait.data.partition import Partition, load_partition, resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.data.writer import write_dataset

SUBJECTS = ("001", "002", "003", "004", "005")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SilhouetteDataset:
    # Frames 1..6 long, so many sequences are shorter than the 4 sampled frames.
    records = make_records(SUBJECTS, min_frames=1, max_frames=6, seed=3)
    out = tmp_path_factory.mktemp("loader") / "ds"
    partition = {"TRAIN_SET": ["001", "002", "003"], "TEST_SET": ["004", "005"]}
    write_dataset(records, out, name="loader", source="test", extra_metadata={"partition": partition})
    return SilhouetteDataset(out)


def _loader(dataset: SilhouetteDataset, **kwargs) -> TrainBatchLoader:
    arguments = {"P": 2, "K": 4, "frames": 4, "seed": 11, **kwargs}
    return TrainBatchLoader(dataset, ["003", "001", "002"], **arguments)


def test_batch_contents_labels_and_frames(dataset: SilhouetteDataset) -> None:
    loader = _loader(dataset)
    assert loader.subjects == ("001", "002", "003") and loader.num_classes == 3
    batch = loader.batch(0)
    assert batch.sils.dtype == torch.float32 and batch.sils.shape == (8, 4, 64, 44)
    assert batch.labels.dtype == torch.int64
    assert [loader.subjects[label] for label in batch.labels.tolist()] == list(batch.subjects)
    assert len(set(batch.subjects[:4])) == 1 and len(set(batch.subjects[4:])) == 1
    for position in range(8):
        record = dataset[dataset.find(batch.subjects[position], batch.types[position], batch.views[position])]
        full = silhouette_transform(record.frames)
        clip = batch.sils[position].numpy()
        length = len(record.frames)
        # The clip is consecutive frames of the sequence, wrapping around short ones.
        start = next(s for s in range(length) if np.array_equal(full[s], clip[0]))
        np.testing.assert_array_equal(clip, full[[(start + i) % length for i in range(4)]])


def test_ranks_get_disjoint_shares_of_the_same_global_batch(dataset: SilhouetteDataset) -> None:
    whole = _loader(dataset)
    halves = [_loader(dataset, rank=r, world_size=2) for r in range(2)]
    quarters = [_loader(dataset, rank=r, world_size=4) for r in range(4)]
    for step in range(3):
        reference = whole.batch(step)
        for shards in (halves, quarters):
            world = len(shards)
            parts = [loader.batch(step) for loader in shards]
            for rank, part in enumerate(parts):
                assert part.sils.shape[0] == 8 // world
                torch.testing.assert_close(part.sils, reference.sils[rank::world], rtol=0, atol=0)
                assert part.labels.tolist() == reference.labels[rank::world].tolist()
                assert part.views == reference.views[rank::world]


def test_iteration_is_deterministic_and_resumable(dataset: SilhouetteDataset) -> None:
    first = [b.sils for _, b in zip(range(4), _loader(dataset), strict=False)]
    again = [b.sils for _, b in zip(range(4), _loader(dataset), strict=False)]
    resumed = next(iter(_loader(dataset, start_step=2)))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert resumed.step == 2 and torch.equal(resumed.sils, first[2])
    other_seed = next(iter(_loader(dataset, seed=12)))
    assert not torch.equal(other_seed.sils, first[0])
    unordered = _loader(dataset, sample_type="fixed_unordered").batch(0)
    assert unordered.sils.shape == (8, 4, 64, 44)


def test_bad_loader_arguments(dataset: SilhouetteDataset) -> None:
    with pytest.raises(
        DataError, match="sample_type for training must be one of fixed_ordered, fixed_unordered"
    ):
        _loader(dataset, sample_type="all_ordered")
    with pytest.raises(DataError, match="training subjects not in the dataset: 042"):
        TrainBatchLoader(dataset, ["001", "042"], P=2, K=2, frames=4)
    with pytest.raises(DataError, match="must be divisible by world_size 3"):
        _loader(dataset, world_size=3)


def test_test_sequences_are_split_across_ranks(dataset: SilhouetteDataset) -> None:
    everything = [i for i, _ in iter_test_sequences(dataset, ["004", "005"])]
    assert everything == [i for i, e in enumerate(dataset.entries) if e.subject in ("004", "005")]
    shares = [[i for i, _ in iter_test_sequences(dataset, ["004", "005"], r, 3)] for r in range(3)]
    assert sorted(i for share in shares for i in share) == everything
    assert all(set(a).isdisjoint(b) for a in shares for b in shares if a is not b)
    for index, record in iter_test_sequences(dataset, ["005"], 1, 2):
        np.testing.assert_array_equal(record.frames, dataset[index].frames)  # all frames, in order
    with pytest.raises(DataError, match="test subjects not in the dataset: 999"):
        list(iter_test_sequences(dataset, ["999"]))


def test_test_sequences_can_keep_only_their_first_frames(dataset: SilhouetteDataset) -> None:
    for index, record in iter_test_sequences(dataset, ["004"], max_frames=3):
        np.testing.assert_array_equal(record.frames, dataset[index].frames[:3])


def test_partition_sources(
    dataset: SilhouetteDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert resolve_partition(dataset) == Partition(("001", "002", "003"), ("004", "005"))
    path = tmp_path / "partition.json"
    path.write_text(json.dumps({"TRAIN_SET": ["002", "001", "777"], "TEST_SET": ["005"]}))
    assert load_partition(path) == Partition(("001", "002", "777"), ("005",))
    with caplog.at_level(logging.WARNING):
        assert resolve_partition(dataset, path) == Partition(("001", "002"), ("005",))
    assert "lists 1 subjects absent" in caplog.text and "777" in caplog.text


def test_default_casia_b_split(tmp_path: Path) -> None:
    subjects = [f"{s:03d}" for s in range(1, 125)]
    records = make_records(
        subjects, types=("nm-01",), views=("090",), min_frames=1, max_frames=1, size=(2, 2)
    )
    dataset = SilhouetteDataset(write_dataset(records, tmp_path / "casia", name="c", source="t"))
    partition = resolve_partition(dataset)
    assert partition.train_set == tuple(subjects[:74]) and partition.test_set == tuple(subjects[74:])
    small = SilhouetteDataset(write_dataset(records[:74], tmp_path / "small", name="s", source="t"))
    with pytest.raises(DataError, match="has 74 subjects and no partition"):
        resolve_partition(small)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "partition file is not valid JSON"),
        ('{"TRAIN_SET": ["1"]}', "key 'TEST_SET' must be a list of subject names"),
        ('{"TRAIN_SET": ["1", 2], "TEST_SET": []}', r"TRAIN_SET\[1\] must be a string, got 2"),
        ('{"TRAIN_SET": ["1", "2"], "TEST_SET": ["2"]}', "subjects in both TRAIN_SET and TEST_SET: 2"),
        ("[]", "a partition must be a JSON object"),
    ],
)
def test_bad_partition_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=f"bad.json: {message}"):
        load_partition(path)


def test_loader_shards_inside_ray_workers(dataset: SilhouetteDataset, ray_cluster) -> None:
    import ray

    @ray.remote(num_cpus=0)
    def rank_batch(shipped: SilhouetteDataset, rank: int) -> tuple[torch.Tensor, list[int]]:
        # Only the installed package is importable in Ray workers, not this test module.
        from landmarkgait.data.loader import TrainBatchLoader

        loader = TrainBatchLoader(
            shipped, ["003", "001", "002"], P=2, K=4, frames=4, seed=11, rank=rank, world_size=2
        )
        batch = loader.batch(5)
        return batch.sils, batch.labels.tolist()

    parts = ray.get([rank_batch.remote(dataset, rank) for rank in range(2)])
    reference = _loader(dataset).batch(5)
    for rank, (sils, labels) in enumerate(parts):
        torch.testing.assert_close(sils, reference.sils[rank::2], rtol=0, atol=0)
        assert labels == reference.labels[rank::2].tolist()
