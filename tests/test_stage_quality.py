"""Stage runs against a synthetic dataset's ground truth: what is measured, when it is skipped.

The library side in-process, without Ray: a 3-subject dataset with ground truth written by the
generator's own functions, untrained micro networks of each stage, small arrays for the label
map rule. The real pipeline run that logs these metrics is ``test_pipeline.py``'s.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import write_synthetic_with_truth

from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import IMAGE_SIZE
from landmarkgait.data.synth.truth_files import ground_truth_path, write_truth_metadata
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models import build_model
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.metric_names import KEYPOINT_ERROR, KEYPOINT_ERROR_PX, PART_MIOU
from landmarkgait.pipelines.sweep.metrics import check_metric
from landmarkgait.pipelines.worker.stage_quality import StageQuality, open_ground_truth
from landmarkgait.pipelines.worker.truth_measures import MaskStats, account, cut_clips, pick_sequences

CONFIG = SynthConfig(
    subjects=3, types=("nm-01", "nm-02", "bg-01", "cl-01"), views=("000", "090"), min_frames=8, max_frames=11
)
PART_NAMES = {
    PART_MIOU,
    *(f"{PART_MIOU}/{c}" for c in ("NM", "BG", "CL")),
    *(f"quality/part_iou/{p}" for p in ("head", "up", "low")),
}


def write_with_truth(path: Path, config: SynthConfig = CONFIG) -> Path:
    """A synthetic dataset of ``config`` (default: this module's 3 subjects) with ground truth."""
    return write_synthetic_with_truth(path, config)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SilhouetteDataset:
    return SilhouetteDataset(write_with_truth(tmp_path_factory.mktemp("truth") / "tiny"))


def stage_quality(
    dataset: SilhouetteDataset, stage: str, max_frames: int | None = None
) -> StageQuality | None:
    partition = resolve_partition(dataset)
    return StageQuality.open(stage, dataset, partition.train_set, partition.test_set, max_frames)


def micro_network(stage: str) -> torch.nn.Module:
    torch.manual_seed(0)
    extra = {"num_classes": 2} if stage == "recognition" else {}
    return build_model(stage, "micro", **extra)


def test_a_pixel_claimed_by_one_mask_takes_its_part_others_are_misses() -> None:
    labels = np.array([[[0, 1, 2, 3, 3]]], dtype=np.uint8)  # [T=1, H=1, W=5]
    claimed = np.zeros((3, 1, 1, 5), dtype=bool)
    claimed[0, 0, 0, [0, 1]] = True  # head claims the background and the head pixel
    claimed[1, 0, 0, [2, 3]] = True  # up claims its pixel and a low one, which low claims too
    claimed[2, 0, 0, 3] = True  # the last low pixel is claimed by none
    stats = MaskStats()
    account(stats, claimed, labels)
    assert stats.iou.intersection.tolist() == [1, 1, 0]
    assert stats.iou.union.tolist() == [1, 1, 2]  # background is never predicted: only foreground counts
    assert stats.claimed.tolist() == [1, 2, 1] and stats.exclusive == 2 and stats.foreground == 4


def test_sequences_are_drawn_per_condition_deterministically_among_those_with_truth(dataset) -> None:
    partition = resolve_partition(dataset)
    picked = pick_sequences(dataset, partition.test_set, 2, seed=0)
    assert picked == pick_sequences(dataset, partition.test_set, 2, seed=0)
    conditions = [dataset.entries[i].type[:2] for i in picked]
    assert conditions == ["nm", "nm", "bg", "bg", "cl", "cl"]
    assert {dataset.entries[i].subject for i in picked} <= set(partition.test_set)

    class Partial:
        def __contains__(self, key: tuple[str, str, str]) -> bool:
            return key[1] != "bg-01"

    assert [
        dataset.entries[i].type[:2] for i in pick_sequences(dataset, partition.test_set, 2, 0, Partial())
    ] == [
        "nm",
        "nm",
        "cl",
        "cl",
    ]


def test_clips_are_first_frames_with_labels_cut_like_the_network_input(dataset) -> None:
    quality = stage_quality(dataset, "parsing")
    index = dataset.find("003", "cl-01", "090")
    (first,) = cut_clips(dataset, quality.truth, [index], frames=5, seed=None)
    record = dataset[index]
    np.testing.assert_array_equal(first.sils, silhouette_transform(record.frames[:5]))
    truth = quality.truth.read("003", "cl-01", "090")
    np.testing.assert_array_equal(first.labels, truth.labels[:5, :, 10:-10])
    np.testing.assert_array_equal(first.joints, truth.joints[:5])
    assert first.condition == "CL" and first.labels.shape == (5, 64, 44)
    (whole,) = cut_clips(dataset, quality.truth, [index], frames=50, seed=None)
    assert len(whole.sils) == len(record.frames)  # a shorter sequence: all its frames, as evaluation


@pytest.mark.parametrize("stage", ["landmark", "parsing", "recognition"])
def test_each_stage_measures_its_landmarks_and_masks_and_leaves_the_network_as_it_was(
    dataset, stage: str, caplog
) -> None:
    quality = stage_quality(dataset, stage, max_frames=10)
    network = micro_network(stage)
    network.train()
    before = torch.get_rng_state()
    with caplog.at_level(logging.INFO, logger="landmarkgait.pipelines.worker.stage_quality"):
        metrics = quality.measure(network, iteration=7)
    assert network.training and torch.equal(torch.get_rng_state(), before)
    expected = {KEYPOINT_ERROR, KEYPOINT_ERROR_PX} | (PART_NAMES if stage != "landmark" else set())
    assert set(metrics) == expected
    assert math.isfinite(metrics[KEYPOINT_ERROR]) and metrics[KEYPOINT_ERROR] > 0
    assert metrics[KEYPOINT_ERROR_PX] > 0
    assert all(0.0 <= value <= 1.0 for name, value in metrics.items() if name in PART_NAMES)
    assert quality.measure(network, iteration=8) == metrics  # a fixed draw, cut once
    assert quality.frames == 10
    assert all(len(clip.sils) <= 10 for clip in quality.clips("test"))
    (line,) = [r.getMessage() for r in caplog.records if "iteration 7" in r.getMessage()]
    assert f"of the {stage} stage: keypoint error" in line and ("part mIoU" in line) == (stage != "landmark")


def test_nothing_is_measured_without_ground_truth_or_for_the_holistic_baseline(
    dataset, tmp_path: Path, caplog
) -> None:
    assert stage_quality(dataset, "holistic") is None
    bare = tmp_path / "bare"
    shutil.copytree(dataset.path, bare)
    with caplog.at_level(logging.DEBUG, logger="landmarkgait.pipelines.worker.stage_quality"):
        assert stage_quality(SilhouetteDataset(bare), "parsing") is None
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "no ground truth at" in caplog.records[0].getMessage()


def test_ground_truth_of_another_dataset_is_skipped_with_a_warning(dataset, tmp_path: Path, caplog) -> None:
    other = tmp_path / "other"
    shutil.copytree(dataset.path, other)
    shutil.copytree(ground_truth_path(dataset.path), ground_truth_path(other))
    write_truth_metadata(ground_truth_path(other), "sha256:" + "0" * 64, IMAGE_SIZE)
    with caplog.at_level(logging.DEBUG, logger="landmarkgait.pipelines.worker.stage_quality"):
        assert open_ground_truth(other) is None
        assert stage_quality(SilhouetteDataset(other), "recognition") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("ground truth of another dataset" in w for w in warnings)


def test_a_sweep_may_optimise_the_ground_truth_metrics_of_the_stages_that_log_them() -> None:
    for metric in (
        "landmark/quality/keypoint_error",
        "parsing/quality/part_miou",
        "parsing/quality/keypoint_error_px",
        "recognition/quality/part_miou/CL",
        "recognition/quality/part_iou/head",
    ):
        check_metric(metric, "casia_b")
    with pytest.raises(ConfigError, match="landmark/quality/keypoint_error"):
        check_metric("landmark/quality/part_miou", "casia_b")
    with pytest.raises(ConfigError, match="no trial reports it"):
        check_metric("parsing/quality/part_iou/arm", "casia_b")
