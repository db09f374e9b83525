"""Names of the metrics every stage reports while training, importable without torch.

The stage trainer reports them, MLflow stores them and a sweep optimises them; a sweep file is
checked against these names before Ray, torch or MLflow are loaded.
"""

from __future__ import annotations

ITERATION = "iteration"
LOSS_TOTAL = "loss/total"
FRAMES_PER_S = "frames_per_s"
STAGE_METRICS_ALWAYS = (LOSS_TOTAL, FRAMES_PER_S, ITERATION)
# Reconstruction quality that stages 1-2 report next to their losses, and how far their landmarks
# spread (mean distance to their centroid, in half frame widths/heights: 0 = collapsed to a point).
RECON_MSE, RECON_IOU = "quality/recon_mse", "quality/recon_iou"
LANDMARK_SPREAD = "quality/landmark_spread"
QUALITY_METRICS = (RECON_MSE, RECON_IOU, LANDMARK_SPREAD)
