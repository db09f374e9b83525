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


@dataclass(frozen=True)
class RenderWindow:
    """Per-frame pixel mapping of a window that follows the walker (see ``render_silhouettes``).

    ``anchor_image`` ``[T, 2]`` is the followed point in normalised image coordinates, ``scale``
    ``[T]`` pixels per normalised unit; the anchor lands at ``offset`` pixels (x, y).
    """

    camera: Camera
    anchor_image: np.ndarray
    scale: np.ndarray
    offset: np.ndarray

    @classmethod
    def following(cls, camera: Camera, anchor: np.ndarray, stature: float, canvas_size: int) -> RenderWindow:
        """The window around ``anchor`` ``[T, 3]`` in which the walker is about 3/4 of the height."""
        anchor_image, anchor_depth = camera.project(anchor)
        scale = 0.75 * canvas_size * anchor_depth / stature  # pixels per normalised image unit [T]
        return cls(camera, anchor_image, scale, np.array([canvas_size / 2.0, 0.45 * canvas_size]))

    def to_pixels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``[T, K, 3]`` -> pixel positions ``[T, K, 2]`` (x, y; pixel (r, c) spans
        [c, c + 1) x [r, r + 1)) and depths ``[T, K]``."""
        image, depth = self.camera.project(points)
        return (image - self.anchor_image[:, None, :]) * self.scale[:, None, None] + self.offset, depth


@dataclass(frozen=True)
class ProjectedCapsules:
    """Capsules in pixels: endpoints ``[T, K, 2]`` (x, y) and radii ``[T, K]``."""

    start: np.ndarray
    end: np.ndarray
    start_radius: np.ndarray
    end_radius: np.ndarray


def project_capsules(capsules: Capsules, window: RenderWindow) -> ProjectedCapsules:
    """Capsules seen through ``window``: each radius scaled by the perspective at its endpoint."""
    start, start_depth = window.to_pixels(capsules.start)
    end, end_depth = window.to_pixels(capsules.end)
    return ProjectedCapsules(
        start=start,
        end=end,
        start_radius=capsules.start_radius * window.scale[:, None] / start_depth,
        end_radius=capsules.end_radius * window.scale[:, None] / end_depth,
    )


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
    return render_in_window(
        capsules, RenderWindow.following(camera, anchor, stature, canvas_size), canvas_size
    )


def render_in_window(capsules: Capsules, window: RenderWindow, canvas_size: int) -> np.ndarray:
    """``render_silhouettes`` through a given window: ``[T, canvas_size, canvas_size]`` bool."""
    projected = project_capsules(capsules, window)
    return rasterise_capsules(
        projected.start,
        projected.end,
        projected.start_radius,
        projected.end_radius,
        canvas_size,
        canvas_size,
    )


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


def nearest_capsules(points: np.ndarray, frame: np.ndarray, capsules: ProjectedCapsules) -> np.ndarray:
    """Index of the nearest capsule (int64 ``[N]``) to each pixel point ``[N, 2]`` (x, y) of frame ``frame`` ``[N]``.

    Nearness is the distance to the capsule's axis segment divided by its radius at the closest
    point (the rasteriser's inside test is this ratio <= 1), so a thick capsule reaches further
    than a thin one at the same distance. Ties go to the lower index. One pass per capsule over
    all points, comparing squared ratios, in float32: it runs on many pixels of every frame.
    """
    f32 = np.float32
    x, y = points[:, 0].astype(f32), points[:, 1].astype(f32)
    start, end = capsules.start.astype(f32), capsules.end.astype(f32)
    axis = end - start  # [T, K, 2]
    inverse_length2 = 1.0 / ((axis * axis).sum(-1) + f32(1e-6))
    start_radius = capsules.start_radius.astype(f32)
    radius_change = capsules.end_radius.astype(f32) - start_radius
    best = np.full(len(points), np.inf, dtype=f32)
    nearest = np.zeros(len(points), dtype=np.int64)
    for k in range(start.shape[1]):
        dx, dy = axis[frame, k, 0], axis[frame, k, 1]
        rx, ry = x - start[frame, k, 0], y - start[frame, k, 1]
        along = (rx * dx + ry * dy) * inverse_length2[frame, k]
        np.clip(along, 0.0, 1.0, out=along)
        rx -= along * dx
        ry -= along * dy
        reach = start_radius[frame, k] + along * radius_change[frame, k]
        ratio2 = (rx * rx + ry * ry) / np.maximum(reach * reach, f32(1e-12))
        closer = ratio2 < best
        best[closer] = ratio2[closer]
        nearest[closer] = k
    return nearest
