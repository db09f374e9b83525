"""Part mIoU and the regressed keypoint error on small arrays whose answers are worked out by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_helpers import write_synthetic_with_truth

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.parsing_quality import (
    KeypointRegressor,
    PartIoU,
    keypoint_error,
    part_miou,
    regressed_keypoint_error,
    torso_length,
)

REPO = Path(__file__).resolve().parents[1]


def test_part_iou_of_one_frame() -> None:
    true = np.array([[1, 1, 2, 2], [3, 3, 3, 0]])
    predicted = np.array([[1, 2, 2, 2], [3, 3, 0, 1]])
    # head: {00, 01} vs {00, 13}: 1 / 3; up: {02, 03} vs {01, 02, 03}: 2 / 3; low: {10, 11, 12} vs {10, 11}: 2 / 3
    result = part_miou(predicted, true)
    assert result["head"] == pytest.approx(1 / 3)
    assert result["up"] == pytest.approx(2 / 3)
    assert result["low"] == pytest.approx(2 / 3)
    assert result["mean"] == pytest.approx(5 / 9)


def test_part_iou_sums_pixels_over_frames_before_dividing() -> None:
    # Frame 1: head 1 of 1 pixel right (IoU 1); frame 2: head 1 right of 3 in the union (IoU 1/3).
    # Summed: 2 / 4 = 0.5, not the mean of per-frame IoUs (2/3).
    true = np.array([[[1, 0, 0]], [[1, 1, 0]]])
    predicted = np.array([[[1, 0, 0]], [[1, 0, 1]]])
    assert part_miou(predicted, true)["head"] == pytest.approx(0.5)
    accumulated = PartIoU().add(predicted[:1], true[:1]).add(predicted[1:], true[1:])
    assert accumulated.as_dict()["head"] == pytest.approx(0.5)
    total = PartIoU()
    total += accumulated
    assert total.intersection.tolist() == [2, 0, 0] and total.union.tolist() == [4, 0, 0]


def test_absent_parts_are_left_out_of_the_mean_and_unassigned_pixels_are_misses() -> None:
    true = np.array([[1, 1, 0]])
    predicted = np.array([[1, 0, 0]])  # the second head pixel is unassigned (0): a miss
    result = part_miou(predicted, true)
    assert result["head"] == pytest.approx(0.5)
    assert np.isnan(result["up"]) and np.isnan(result["low"])
    assert result["mean"] == pytest.approx(0.5)
    with pytest.raises(DataError, match="differ"):
        part_miou(predicted, true[:, :2])


def test_torso_length_is_between_mid_shoulder_and_mid_hip() -> None:
    names = ("shoulder_l", "shoulder_r", "hip_l", "hip_r")
    joints = np.array([[[0.0, 0.0], [4.0, 0.0], [1.0, 6.0], [3.0, 10.0]]])  # mid (2, 0) and (2, 8)
    np.testing.assert_allclose(torso_length(joints, names), [8.0])
    with pytest.raises(DataError, match="shoulder_l/r and hip_l/r"):
        torso_length(joints, ("a", "b", "c", "d"))


def test_regressor_recovers_an_affine_map_and_generalises() -> None:
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(-1, 1, (200, 3, 2))
    mixing = rng.normal(size=(6, 4))
    joints = (landmarks.reshape(200, 6) @ mixing + np.array([5.0, -2.0, 1.0, 3.0])).reshape(200, 2, 2)
    regressor = KeypointRegressor.fit(landmarks[:150], joints[:150], ridge=0.0)
    np.testing.assert_allclose(regressor.predict(landmarks[150:]), joints[150:], atol=1e-9)
    # The ridge shrinks the weights, not the bias: a constant target is still met exactly.
    constant = np.broadcast_to(np.array([[7.0, 9.0]]), (150, 1, 2))
    shrunk = KeypointRegressor.fit(landmarks[:150], constant, ridge=1.0)
    np.testing.assert_allclose(shrunk.predict(landmarks[150:]), np.broadcast_to([[7.0, 9.0]], (50, 1, 2)))


def test_keypoint_error_is_the_mean_normalised_distance() -> None:
    true = np.zeros((2, 2, 2))
    predicted = np.array([[[3.0, 4.0], [0.0, 0.0]], [[0.0, 2.0], [0.0, 2.0]]])  # distances 5, 0 | 2, 2
    # frame means 2.5 and 2, normalised by 5 and 1: (0.5 + 2) / 2
    assert keypoint_error(predicted, true, np.array([5.0, 1.0])) == pytest.approx(1.25)


def test_regressed_keypoint_error_on_noiseless_and_uninformative_landmarks() -> None:
    rng = np.random.default_rng(1)
    names = ("shoulder_l", "shoulder_r", "hip_l", "hip_r")
    base = np.array([[20.0, 10.0], [30.0, 10.0], [22.0, 30.0], [28.0, 30.0]])
    joints = base + rng.normal(0.0, 2.0, (120, 4, 2))
    informative = (joints - 25.0) / 25.0  # landmarks that are the joints, rescaled
    exact = regressed_keypoint_error(informative[:80], joints[:80], informative[80:], joints[80:], names, 0.0)
    assert exact.error == pytest.approx(0.0, abs=1e-9) and (exact.train_frames, exact.test_frames) == (80, 40)
    noise = rng.uniform(-1, 1, (120, 4, 2))
    blind = regressed_keypoint_error(noise[:80], joints[:80], noise[80:], joints[80:], names)
    # Uninformative landmarks predict about the mean pose: error near the joints' spread (2 * sqrt(pi/2)).
    assert 1.5 < blind.pixel_error < 4.0
    assert blind.error == pytest.approx(blind.pixel_error / 20.0, rel=0.1)
    with pytest.raises(DataError, match="same number"):
        KeypointRegressor.fit(noise[:10], joints[:9])


def test_benchmark_script_measures_a_checkpoint(tmp_path) -> None:
    """``benchmarks/parsing_quality.py`` end to end on a tiny dataset with ground truth (written
    in-process, without Ray) and an untrained small ParsingNet."""
    import torch

    from landmarkgait.data.synth.config import SynthConfig
    from landmarkgait.models import build_model

    config = SynthConfig(
        subjects=2, types=("nm-01", "bg-01", "cl-01"), views=("090",), min_frames=10, max_frames=12
    )
    dataset = write_synthetic_with_truth(tmp_path / "synthetic", config)
    checkpoint = tmp_path / "parsing.pt"
    torch.save({"model": build_model("parsing", "small", num_landmark=25).state_dict()}, checkpoint)
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "parsing_quality.py"), "--checkpoint", str(checkpoint),
         "--config", str(REPO / "ray_configs" / "benchmark.yaml"), "--dataset", str(dataset),
         "--frames", "8", "12", "--sequences-per-condition", "1", "--threads", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["8"], ["12"])]
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        (frames, distance, mode, condition)
        for frames, distance in (("8", "0"), ("12", "4"))
        for mode in ("train", "eval")
        for condition in ("NM", "BG", "CL")
    ]
    assert "keypoint error" in result.stdout and "% of the torso length: all" in result.stdout
