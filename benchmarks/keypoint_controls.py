"""Keypoint error of two landmark-free controls, on the frames the stage runs are scored on.

    python benchmarks/keypoint_controls.py --dataset ~/.landmarkgait/datasets/synth-casia-b

A trained LandmarkNet's ``quality/keypoint_error`` (``pipelines/worker/stage_quality.py``) means
little alone: this prints what the same protocol (a ridge-regularised linear map fitted on the
same training-subject frames, scored on the same test-subject frames, error over the torso
length) gives without any learnt landmark:

- **mean pose**: constant features, so the regressor predicts the training frames' mean joints;
- **silhouette outline**: for each band of ``--band-rows`` rows of the 64 x 44 network input,
  the leftmost and rightmost foreground column (the band's centre column when it is empty), as
  points at the band's centre row: what the binary silhouette's outline alone tells about the
  joints.

Landmarks that carry pose should beat the outline; a value near the mean pose's says they
carry none.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from landmarkgait.data.evaluation.parsing_quality import regressed_keypoint_error
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.truth_files import GroundTruth
from landmarkgait.pipelines.worker.stage_quality import (
    QUALITY_FRAMES,
    QUALITY_SEED,
    TEST_SEQUENCES_PER_CONDITION,
    TRAIN_SEQUENCES_PER_CONDITION,
)
from landmarkgait.pipelines.worker.truth_measures import CONDITIONS, Clip, cut_clips, pick_sequences

DEFAULT_DATASET = Path("~/.landmarkgait/datasets/synth-casia-b").expanduser()


def mean_pose_features(clips: list[Clip]) -> np.ndarray:
    """One constant point per frame, ``[F, 1, 2]``: the regressor can only learn the mean."""
    frames = sum(len(clip.sils) for clip in clips)
    return np.zeros((frames, 1, 2))


def outline_features(clips: list[Clip], band_rows: int) -> np.ndarray:
    """Left and right foreground edge of each row band, ``[F, 2 * bands, 2]`` (x, y) in pixels."""
    sils = np.concatenate([clip.sils for clip in clips]) > 0.5  # [F, H, W]
    frames, height, width = sils.shape
    bands = height // band_rows
    occupied = sils[:, : bands * band_rows].reshape(frames, bands, band_rows, width).any(axis=2)
    columns = np.arange(width)
    left = np.where(occupied, columns, width).min(axis=2).astype(np.float64)
    right = np.where(occupied, columns, -1).max(axis=2).astype(np.float64)
    empty = ~occupied.any(axis=2)
    left[empty] = right[empty] = (width - 1) / 2
    rows = np.broadcast_to((np.arange(bands) + 0.5) * band_rows, (frames, bands))
    points = np.stack([np.concatenate([left, right], 1), np.concatenate([rows, rows], 1)], axis=-1)
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--band-rows", type=int, default=4, help="rows per outline band (64 / 4 = 16 bands)")
    args = parser.parse_args()
    started = time.perf_counter()
    dataset, truth = SilhouetteDataset(args.dataset), GroundTruth(args.dataset)
    partition = resolve_partition(dataset)
    splits = {}
    for name, subjects, count in (
        ("train", partition.train_set, TRAIN_SEQUENCES_PER_CONDITION),
        ("test", partition.test_set, TEST_SEQUENCES_PER_CONDITION),
    ):
        indices = pick_sequences(dataset, subjects, count, QUALITY_SEED, truth)
        splits[name] = cut_clips(dataset, truth, indices, QUALITY_FRAMES, seed=None)
    train, test = splits["train"], splits["test"]
    train_joints = np.concatenate([clip.joints for clip in train])
    test_joints = np.concatenate([clip.joints for clip in test])
    frame_conditions = np.concatenate([[clip.condition] * len(clip.joints) for clip in test])
    print(
        f"{args.dataset}: {len(train)} training and {len(test)} test sequences, first {QUALITY_FRAMES} "
        f"frames ({len(train_joints)} / {len(test_joints)} frames), as quality/keypoint_error"
    )
    controls = {
        "mean pose": (mean_pose_features(train), mean_pose_features(test)),
        f"silhouette outline ({64 // args.band_rows} bands)": (
            outline_features(train, args.band_rows),
            outline_features(test, args.band_rows),
        ),
    }
    for name, (train_features, test_features) in controls.items():
        cells = []
        for condition in ("all", *CONDITIONS):
            chosen = (frame_conditions == condition) | (condition == "all")
            result = regressed_keypoint_error(
                train_features, train_joints, test_features[chosen], test_joints[chosen], truth.joint_names
            )
            cells.append(f"{condition} {100 * result.error:.1f} % ({result.pixel_error:.2f} px)")
        print(f"keypoint error, {name}: " + ", ".join(cells))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
