"""Embedding a rank's test sequences: coverage of the shard and progress lines for long runs."""

from __future__ import annotations

import logging
import re

import pytest
import torch
from data_helpers import make_records

from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.writer import write_dataset
from landmarkgait.models import build_model
from landmarkgait.pipelines.worker.distributed import WorkerContext
from landmarkgait.pipelines.worker.evaluation import embed_shard

TEST_SUBJECTS = ("004", "005")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SilhouetteDataset:
    records = make_records(("001", "002", "003", *TEST_SUBJECTS), min_frames=3, max_frames=5, seed=5)
    out = tmp_path_factory.mktemp("evaluation-step") / "ds"
    write_dataset(records, out, name="evaluation-step", source="test")
    return SilhouetteDataset(out)


def test_each_rank_embeds_its_share_and_reports_progress(
    dataset: SilhouetteDataset, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    model = build_model("recognition", "micro", num_classes=3)
    test_indices = [i for i, entry in enumerate(dataset.entries) if entry.subject in TEST_SUBJECTS]
    shares = []
    with caplog.at_level(logging.INFO, logger="landmarkgait.pipelines.worker.progress"):
        for rank in range(2):
            context = WorkerContext(rank, 2, torch.device("cpu"))
            indices, embeddings = embed_shard(
                model, dataset, TEST_SUBJECTS, context, batch_size=2, progress_interval_s=0.0
            )
            assert embeddings is not None and embeddings.shape[0] == len(indices)
            shares.append(indices)
    assert sorted(shares[0] + shares[1]) == test_indices
    assert not set(shares[0]) & set(shares[1])
    # A line after every batch but the last (interval 0): a bar, done / total of that rank's share,
    # the rate and the time left.
    for rank, share in enumerate(shares):
        prefix = f"evaluation: rank {rank} embedded ["
        lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith(prefix)]
        counts = [line.split("] ", 1)[1].split(" ")[0] for line in lines]
        assert counts == [f"{done}/{len(share)}" for done in range(2, len(share), 2)]
        assert all(re.search(r" test sequences · [\d.]+/s · \d+s left$", line) for line in lines), lines
