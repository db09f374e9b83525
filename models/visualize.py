"""PNG summaries of a batch: what each stage sees and produces, for MLflow artifacts.

``render_summary(outputs, sils)`` returns ``{name: PNG bytes}``: a grid per quantity with one
row per sequence and one column per frame. Plain NumPy + OpenCV; no training logic here.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from landmarkgait.models.stages import repeat_short_sequences

# RGB colours of the head, upper and lower body masks.
PART_COLOURS = np.array([[230, 60, 60], [60, 200, 60], [60, 110, 240]], dtype=np.float32)


def _frames(tensor: torch.Tensor, sequences: int, frames: int) -> np.ndarray:
    """``[N, T, h, w]`` -> float32 NumPy ``[n, t, h, w]`` of the first sequences / frames."""
    return tensor.detach()[:sequences, :frames].float().cpu().numpy()


def _grid(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """``[n, t, H, W, 3]`` uint8 -> one image with the sequences as rows and frames as columns."""
    n, t, h, w, _ = images.shape
    canvas = np.full((n * (h + gap) - gap, t * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for row in range(n):
        for column in range(t):
            top, left = row * (h + gap), column * (w + gap)
            canvas[top : top + h, left : left + w] = images[row, column]
    return canvas


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat((np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)[..., None], 3, axis=-1)


def _heat_overlay(sils: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Landmark heatmaps (upsampled, JET colours) blended over the silhouettes."""
    n, t, h, w = sils.shape
    rendered = np.empty((n, t, h, w, 3), dtype=np.uint8)
    for i in range(n):
        for j in range(t):
            heat = cv2.resize(heatmap[i, j], (w, h), interpolation=cv2.INTER_LINEAR)
            colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
            colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB).astype(np.float32)
            base = _grey(sils[i, j]).astype(np.float32)
            alpha = np.clip(heat, 0, 1)[..., None] * 0.7
            rendered[i, j] = (base * (1 - alpha) + colour * alpha).astype(np.uint8)
    return rendered


def _parts(head: np.ndarray, up: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Head / upper / lower body masks in colour (later parts drawn over earlier ones)."""
    image = np.zeros((*head.shape, 3), dtype=np.float32)
    for mask, colour in zip((head, up, low), PART_COLOURS, strict=True):
        image = np.where(mask[..., None] > 0, colour * np.clip(mask[..., None], 0, 1), image)
    return image.astype(np.uint8)


def to_png(image: np.ndarray) -> bytes:
    """RGB uint8 ``[H, W, 3]`` -> PNG bytes."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return encoded.tobytes()


def render_summary(
    outputs: dict[str, torch.Tensor], sils: torch.Tensor, max_sequences: int = 4, max_frames: int = 8
) -> dict[str, bytes]:
    """PNGs of a batch: ``silhouettes``, ``landmarks`` (heatmaps over the silhouettes),
    ``reconstruction``, and when present ``part_reconstruction``, ``parts`` (head red, upper
    green, lower blue) and ``mixed_parts``.

    ``outputs`` is a model's output for ``sils`` ``[N, T, H, W]``.
    """
    n = min(max_sequences, sils.shape[0])
    repeated = repeat_short_sequences(sils)
    t = min(max_frames, repeated.shape[1])
    frames = _frames(repeated, n, t)
    images = {"silhouettes": _grid(_grey(frames))}
    if "heatmap" in outputs:  # the holistic baseline has no landmarks
        images["landmarks"] = _grid(_heat_overlay(frames, _frames(outputs["heatmap"], n, t)))
        images["reconstruction"] = _grid(_grey(_frames(outputs["reconstruction"], n, t)))
    if "part_reconstruction" in outputs:
        images["part_reconstruction"] = _grid(_grey(_frames(outputs["part_reconstruction"], n, t)))
        images["parts"] = _grid(_parts(*(_frames(outputs[key], n, t) for key in ("head", "up", "low"))))
    if "mixed_parts" in outputs:
        images["mixed_parts"] = _grid(_grey(_frames(outputs["mixed_parts"], n, t)))
    return {name: to_png(image) for name, image in images.items()}
