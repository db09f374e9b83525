"""Names of the metrics every stage reports while training, importable without torch.

The stage trainer reports them, MLflow stores them and a sweep optimises them; a sweep file is
checked against these names before Ray, torch or MLflow are loaded.
"""

from __future__ import annotations

import re

ITERATION = "iteration"
LOSS_TOTAL = "loss/total"
FRAMES_PER_S = "frames_per_s"
STAGE_METRICS_ALWAYS = (LOSS_TOTAL, FRAMES_PER_S, ITERATION)
# Reconstruction quality that stages 1-2 report next to their losses, and how far their landmarks
# spread (mean distance to their centroid, in half frame widths/heights: 0 = collapsed to a point).
RECON_MSE, RECON_IOU = "quality/recon_mse", "quality/recon_iou"
LANDMARK_SPREAD = "quality/landmark_spread"
QUALITY_METRICS = (RECON_MSE, RECON_IOU, LANDMARK_SPREAD)
# Evaluated by every stage with a transport: test sequences too short for a distinct transport source.
SEQUENCES_WITHOUT_SOURCE = "evaluation/sequences_without_transport_source"
# Quality against a synthetic dataset's ground truth (``worker.stage_quality``), logged by the
# stages whose spec lists it (``StageSpec.ground_truth``) when the dataset has ground truth:
# the landmarks' regressed keypoint error (torso-normalised, and in pixels) ...
KEYPOINT_ERROR, KEYPOINT_ERROR_PX = "quality/keypoint_error", "quality/keypoint_error_px"
KEYPOINT_METRICS = (KEYPOINT_ERROR, KEYPOINT_ERROR_PX)
# ... and ParsingNet's eval-mode part masks: mIoU over head / up / low, per condition
# (``quality/part_miou/NM``) and the IoU of each part (``quality/part_iou/head``).
PART_MIOU = "quality/part_miou"
PART_METRIC = re.compile(r"quality/part_miou(/[A-Za-z]+)?|quality/part_iou/(head|up|low)")


def part_miou_of(condition: str) -> str:
    """``quality/part_miou/NM``."""
    return f"{PART_MIOU}/{condition}"


def part_iou_of(part: str) -> str:
    """``quality/part_iou/head``."""
    return f"quality/part_iou/{part}"
