"""What a stage leaves in MLflow besides its losses and the final model: quality metrics, pictures.

Called by the stage trainer on rank 0 and by checkpoint import; each function does one thing
and logs through the tracking facade.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models.registry import RECONSTRUCTION_QUALITY, stage_spec
from landmarkgait.models.stages import repeat_short_sequences
from landmarkgait.models.visualize import render_summary
from landmarkgait.pipelines.metric_names import LANDMARK_SPREAD, RECON_IOU, RECON_MSE
from landmarkgait.pipelines.tracking.tracker import Tracker

SUMMARY_SEQUENCES = 4
SUMMARY_FRAMES = 6  # six frames of 64 x 44 upscaled 3x keep a panel about 1000 pixels wide


def quality_metrics(stage: str, outputs: dict[str, torch.Tensor], sils: torch.Tensor) -> dict[str, float]:
    """Reconstruction quality (stages whose spec reports it): MSE and IoU of the thresholded
    reconstruction, and the landmarks' spread, which falls towards 0 when they collapse into one blob.

    ``outputs["reconstruction"]`` ``[N, T, H, W]`` holds the frames each stage rebuilds: the input
    silhouettes (very short clips repeated, as the losses do).
    """
    if stage_spec(stage).quality != RECONSTRUCTION_QUALITY or "reconstruction" not in outputs:
        return {}
    with torch.no_grad():
        reconstruction = outputs["reconstruction"].detach().float()
        target = repeat_short_sequences(sils.detach().float())
        if reconstruction.shape != target.shape:
            return {}
        predicted, actual = reconstruction > 0.5, target > 0.5
        union = (predicted | actual).sum().clamp(min=1)
        metrics = {
            RECON_MSE: float(torch.mean((reconstruction - target) ** 2)),
            RECON_IOU: float((predicted & actual).sum() / union),
        }
        if "landmarks" in outputs:
            metrics[LANDMARK_SPREAD] = landmark_spread(outputs["landmarks"].detach().float())
        return metrics


def landmark_spread(landmarks: torch.Tensor) -> float:
    """Mean distance of each frame's landmarks ``[N, L, T, 2]`` (coordinates in [-1, 1]) to their centroid."""
    centroid = landmarks.mean(dim=1, keepdim=True)
    return float((landmarks - centroid).norm(dim=-1).mean())


def summary_batch(dataset: SilhouetteDataset, device: torch.device) -> torch.Tensor:
    """A few sequences' first frames ``[N, T, H, W]`` for the visual summary."""
    clips = []
    for index in range(min(SUMMARY_SEQUENCES, len(dataset))):
        frames = silhouette_transform(dataset[index].frames)
        repeats = -(-SUMMARY_FRAMES // frames.shape[0])
        clips.append(np.concatenate([frames] * repeats)[:SUMMARY_FRAMES])
    return torch.from_numpy(np.stack(clips)).to(device)


def log_visual_summary(tracker: Tracker, run_id: str, model: nn.Module, dataset: SilhouetteDataset) -> None:
    """PNGs of the stage's outputs on a few sequences of ``dataset``, under ``summary/``."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        sils = summary_batch(dataset, device)
        images = render_summary(model(sils), sils, SUMMARY_SEQUENCES, SUMMARY_FRAMES)
    model.train(was_training)
    with tempfile.TemporaryDirectory(prefix="landmarkgait-summary-") as scratch:
        for name, png in images.items():
            path = Path(scratch) / f"{name}.png"
            path.write_bytes(png)
            tracker.log_artifact(run_id, path, "summary")
