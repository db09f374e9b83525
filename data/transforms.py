"""Model-input transform of silhouettes: OpenGait's ``BaseSilCuttingTransform``.

Scales uint8 pixels to [0, 1] and cuts ``W // 64 * 10`` columns from each side (64 -> 44 wide),
removing the empty margins that pretreatment's centring leaves. It must not sample frames or
touch labels.
"""

from __future__ import annotations

import numpy as np

from landmarkgait.data.errors import DataError


def cut_width(width: int) -> int:
    """Columns removed from each side of a ``width``-wide frame (10 per 64 columns)."""
    return width // 64 * 10


def silhouette_transform(frames: np.ndarray) -> np.ndarray:
    """uint8 ``[..., H, W]`` -> float32 ``[..., H, W - 2 * cut_width(W)]`` in [0, 1].

    Divides in float64 and then rounds to float32, as OpenGait does, so values match bit for bit.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim < 2:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise DataError(f"silhouette_transform expects uint8 frames [..., H, W], got {got}")
    cut = cut_width(frames.shape[-1])
    if cut:
        frames = frames[..., cut:-cut]
    return (frames / 255.0).astype(np.float32)
