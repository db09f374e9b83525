"""Perspective projection of 3D capsules and their rasterisation into binary silhouettes.

Bodies, clothing and shadows are all unions of tapered capsules (a segment with a radius at each
end); this module projects them through a pinhole camera and fills them, vectorised over frames
and limited to each capsule's bounding box. It must not know what the capsules represent.

Silhouettes have no depth, so the union needs no depth ordering. A capsule's radius is scaled by
the perspective factor at each of its endpoints, which approximates the projection of a 3D capsule
well while radii are small compared with the camera distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmarkgait.data.synth.capsules import Capsules

_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """A level pinhole camera; ``project`` gives normalised image coordinates (focal length 1)."""

    position: np.ndarray  # [3]
    forward: np.ndarray  # unit optical axis [3]
    right: np.ndarray  # unit image x axis [3]

    @classmethod
    def at_view(cls, view_deg: float, distance: float, height: float, target: np.ndarray) -> Camera:
        """Camera at yaw ``view_deg`` relative to the walking direction (+x), aimed at ``target``.

        0° faces the walker's front (the walker approaches), 90° sees the right side, 180° the back.
        """
        yaw = np.radians(view_deg)
        position = np.array([target[0] + distance * np.cos(yaw), height, target[2] + distance * np.sin(yaw)])
        forward = np.array([target[0] - position[0], 0.0, target[2] - position[2]])
        forward /= np.linalg.norm(forward)
        return cls(position=position, forward=forward, right=np.cross(forward, _UP))

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``[..., 3]`` → image coordinates ``[..., 2]`` (x right, y down) and depth ``[...]``."""
        relative = points - self.position
        depth = relative @ self.forward
        image = np.stack([relative @ self.right, -(relative @ _UP)], -1) / depth[..., None]
        return image, depth


def render_silhouettes(
    capsules: Capsules,
    camera: Camera,
    anchor: np.ndarray,
    stature: float,
    canvas_size: int,
) -> np.ndarray:
    """Rasterise ``capsules`` seen by ``camera`` into ``[T, canvas_size, canvas_size]`` bool masks.

    Each frame is a window that follows ``anchor`` ``[T, 3]`` (the pelvis) and is zoomed so that the
    walker is about three quarters of the window tall: pretreatment crops and rescales every frame
    anyway, so this only fixes the render resolution while keeping the perspective shape (the
    relative foreshortening of near and far body parts) of the fixed camera.
    """
    start, start_depth = camera.project(capsules.start)
    end, end_depth = camera.project(capsules.end)
    anchor_image, anchor_depth = camera.project(anchor)
    scale = 0.75 * canvas_size * anchor_depth / stature  # pixels per normalised image unit [T]
    offset = np.array([canvas_size / 2.0, 0.45 * canvas_size])
    to_pixels = scale[:, None, None]
    start_px = (start - anchor_image[:, None, :]) * to_pixels + offset
    end_px = (end - anchor_image[:, None, :]) * to_pixels + offset
    start_radius = capsules.start_radius * scale[:, None] / start_depth
    end_radius = capsules.end_radius * scale[:, None] / end_depth
    return rasterise_capsules(start_px, end_px, start_radius, end_radius, canvas_size, canvas_size)


def rasterise_capsules(
    start: np.ndarray,
    end: np.ndarray,
    start_radius: np.ndarray,
    end_radius: np.ndarray,
    height: int,
    width: int,
) -> np.ndarray:
    """Fill 2D tapered capsules: endpoints ``[T, K, 2]`` (x, y pixels), radii ``[T, K]`` → ``[T, H, W]`` bool.

    A pixel centre is inside when its distance to the segment is at most the radius interpolated at
    the closest point. Work per capsule is vectorised over frames on the largest per-frame bounding
    box, so the cost follows the silhouette's area, not the canvas's; parts outside the canvas are
    clipped.
    """
    num_frames, num_capsules = start.shape[:2]
    canvas = np.zeros(num_frames * height * width, dtype=bool)
    start, end = start.astype(np.float32), end.astype(np.float32)
    start_radius, end_radius = start_radius.astype(np.float32), end_radius.astype(np.float32)
    frame_offsets = (np.arange(num_frames, dtype=np.int64) * (height * width))[:, None, None]
    for k in range(num_capsules):
        a, b = start[:, k], end[:, k]
        ra, rb = start_radius[:, k], end_radius[:, k]
        low = np.floor(np.minimum(a - ra[:, None], b - rb[:, None])).astype(np.int64)  # [T, 2]
        high = np.ceil(np.maximum(a + ra[:, None], b + rb[:, None])).astype(np.int64)
        box_w, box_h = (high - low).max(0) + 1
        columns = low[:, 0:1] + np.arange(box_w)  # [T, w]
        rows = low[:, 1:2] + np.arange(box_h)  # [T, h]
        xs = (columns + 0.5 - a[:, 0:1]).astype(np.float32)[:, None, :]  # [T, 1, w], relative to a
        ys = (rows + 0.5 - a[:, 1:2]).astype(np.float32)[:, :, None]  # [T, h, 1]
        axis = b - a
        dx, dy = axis[:, 0, None, None], axis[:, 1, None, None]
        inverse_length2 = 1.0 / (dx * dx + dy * dy + np.float32(1e-6))
        # Position of the closest point along the segment (0 at a, 1 at b), then squared distances.
        along = xs * (dx * inverse_length2) + ys * (dy * inverse_length2)  # [T, h, w]
        np.clip(along, 0.0, 1.0, out=along)
        distance2 = xs - along * dx
        distance2 *= distance2
        off_y = ys - along * dy
        off_y *= off_y
        distance2 += off_y
        reach2 = along  # reuse the buffer: radius at the closest point, squared
        reach2 *= (rb - ra)[:, None, None]
        reach2 += ra[:, None, None]
        reach2 *= reach2
        inside = distance2 <= reach2
        inside &= ((rows >= 0) & (rows < height))[:, :, None]
        inside &= ((columns >= 0) & (columns < width))[:, None, :]
        flat_index = frame_offsets + rows[:, :, None] * width + columns[:, None, :]
        canvas[flat_index[inside]] = True
    return canvas.reshape(num_frames, height, width)
