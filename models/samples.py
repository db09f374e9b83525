"""Deterministic walker-like silhouette clips for smoke tests, benchmarks and examples.

A head, a torso and two swinging legs per frame, so that landmarks, parts and masks have
something body-shaped to work on. Not a dataset (see ``landmarkgait.data.synth`` for the benchmark data).
"""

from __future__ import annotations

import torch


def walking_silhouettes(
    batch: int, frames: int, height: int = 64, width: int = 44, seed: int = 0
) -> torch.Tensor:
    """Binary float silhouettes ``[batch, frames, height, width]``; ``seed`` shifts gait phase and position."""
    generator = torch.Generator().manual_seed(seed)
    ys = torch.arange(height, dtype=torch.float32).view(height, 1) / height
    xs = torch.arange(width, dtype=torch.float32).view(1, width) / width
    clips = torch.zeros(batch, frames, height, width)
    for n in range(batch):
        phase0 = float(torch.rand((), generator=generator)) * 6.28
        centre = 0.5 + 0.06 * (float(torch.rand((), generator=generator)) - 0.5)
        for t in range(frames):
            phase = torch.tensor(phase0 + 6.28 * t / 12)
            cx = centre + 0.03 * float(torch.sin(phase))
            swing = 0.12 * torch.sin(phase) * (ys - 0.55) / 0.45
            head = ((xs - cx) / 0.09) ** 2 + ((ys - 0.1) / 0.08) ** 2 < 1
            torso = ((xs - cx).abs() < 0.13) & (ys > 0.17) & (ys < 0.58)
            legs = (ys >= 0.55) & (((xs - cx - swing).abs() < 0.06) | ((xs - cx + swing).abs() < 0.06))
            clips[n, t] = (head | torso | legs).float()
    return clips
