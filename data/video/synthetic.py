"""Synthetic gait videos with ground truth: the benchmark's walkers filmed in colour by a still camera.

Why: background subtraction can only be measured against known masks, and no real video dataset
can be downloaded here. A video of ``<subject>/<type>/<view>`` shows the walk that
``landmarkgait.data.synth`` records for that subject and type (same seed, same body, gait,
clothing, camera distance, height and view angle); the dataset's sequence of the same key is a
window of these frames. The camera stands still and is zoomed so that the whole walk stays in the
picture; the video starts with ``lead_in`` frames of the empty room, as a camera started before the
subject walks in. ``scene`` paints the frames; each video's masks (``bool [T, H, W]``, the person
only, never the shadow) are stored beside it as ``<view>.masks.npz``. The tree
``OUT/<subject>/<type>/<view>.mp4`` is what ``convert-video`` reads.

It must not change the walker (``landmarkgait.data.synth``) or pretreat anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from landmarkgait.data.errors import DataError
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir
from landmarkgait.data.synth.capsules import Capsules
from landmarkgait.data.synth.config import CASIA_B_TYPES, CASIA_B_VIEWS, SynthConfig
from landmarkgait.data.synth.generator import _record_walk
from landmarkgait.data.synth.render import Camera, rasterise_capsules
from landmarkgait.data.video.scene import paint_frame, sample_look
from landmarkgait.data.video.tasks import run_ray_tasks, task_limit

CODECS = {"mp4": "mp4v", "avi": "MJPG"}  # both ship with opencv-python-headless
MASKS_SUFFIX = ".masks.npz"
# Random streams of their own (the dataset generator uses 0-3 per subject), so painting a video
# never changes the walk it films.
_LOOK_STREAM, _ROOM_STREAM = 10, 11
_SUPERSAMPLING = 2  # the walker is rasterised at twice the size: soft, anti-aliased edges
_FRAMES_PER_BATCH = 32  # frames rasterised at once (bounds memory for long walks)


@dataclass(frozen=True)
class VideoSettings:
    """Frame size, rate, container and framing of synthetic videos; invalid values raise ``DataError``.

    ``fill`` is the fraction of the frame's width or height (whichever binds) that the whole walk
    spans; ``lead_in`` frames of the empty room come first.
    """

    width: int = 320
    height: int = 240
    fps: int = 25
    lead_in: int = 25
    container: str = "mp4"
    fill: float = 0.9

    def __post_init__(self) -> None:
        for name, low, high in (
            ("width", 64, 4096),
            ("height", 64, 4096),
            ("fps", 1, 240),
            ("lead_in", 0, 10_000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise DataError(
                    f"--{name.replace('_', '-')} must be an integer in [{low}, {high}], got {value!r}"
                )
        if self.container not in CODECS:
            raise DataError(f"--container must be one of {', '.join(CODECS)}, got {self.container!r}")
        if (
            isinstance(self.fill, bool)
            or not isinstance(self.fill, (int, float))
            or not 0.2 <= self.fill <= 1.0
        ):
            raise DataError(f"--fill must be a number in [0.2, 1], got {self.fill!r}")


def ground_truth_path(video: Path) -> Path:
    """Where the masks of ``video`` are stored: ``<view>.masks.npz`` beside ``<view>.mp4``."""
    return Path(video).with_suffix(MASKS_SUFFIX)


def load_ground_truth(video: Path) -> np.ndarray:
    """The true person masks of a synthetic video, ``bool [T, H, W]``, one per video frame."""
    path = ground_truth_path(video)
    try:
        with np.load(path) as stored:
            return stored["masks"]
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{path}: cannot read ground-truth masks ({error})") from None


def _walker_capsules(capsules: Capsules) -> Capsules:
    """The walker without the generator's foot shadows: those are segmentation artefacts of the
    silhouette dataset (``synth.artefacts.shadow_capsules``), the only capsules that lie on the
    ground at a constant height for the whole walk. A video casts a real shadow instead."""
    heights = np.concatenate([capsules.start[..., 1], capsules.end[..., 1]], axis=0)  # [2T, K]
    on_ground = np.ptp(heights, axis=0) < 1e-9
    keep = ~on_ground
    return Capsules(
        capsules.start[:, keep],
        capsules.end[:, keep],
        capsules.start_radius[:, keep],
        capsules.end_radius[:, keep],
    )


def _cast_shadow(capsules: Capsules, elevation: float, azimuth: float) -> Capsules:
    """The capsules flattened onto the ground along light falling at ``elevation`` from ``azimuth``."""
    light = np.array(
        [np.cos(elevation) * np.cos(azimuth), -np.sin(elevation), np.cos(elevation) * np.sin(azimuth)]
    )

    def onto_ground(points: np.ndarray) -> np.ndarray:
        return points + (points[..., 1:2] / np.sin(elevation)) * light

    return Capsules(
        onto_ground(capsules.start), onto_ground(capsules.end), capsules.start_radius, capsules.end_radius
    )


@dataclass(frozen=True)
class _Framing:
    """Pinhole intrinsics that keep the walk in the picture: pixels = image * focal + centre."""

    camera: Camera
    focal: float
    centre: np.ndarray  # [2] pixels

    @classmethod
    def fit(cls, camera: Camera, walker: Capsules, settings: VideoSettings) -> _Framing:
        low, high = np.full(2, np.inf), np.full(2, -np.inf)
        for points, radii in ((walker.start, walker.start_radius), (walker.end, walker.end_radius)):
            image, depth = camera.project(points)
            reach = (radii / depth)[..., None]
            low, high = (
                np.minimum(low, (image - reach).min((0, 1))),
                np.maximum(high, (image + reach).max((0, 1))),
            )
        size = np.array([settings.width, settings.height], float)
        focal = settings.fill * float((size / (high - low)).min())
        return cls(camera, focal, size / 2.0 - focal * (low + high) / 2.0)

    def coverage(self, capsules: Capsules, settings: VideoSettings) -> np.ndarray:
        """Soft coverage in [0, 1] of ``capsules`` over the frame, float32 ``[T, H, W]``."""
        scale = float(_SUPERSAMPLING)
        start, start_depth = self.camera.project(capsules.start)
        end, end_depth = self.camera.project(capsules.end)
        masks = rasterise_capsules(
            (start * self.focal + self.centre) * scale,
            (end * self.focal + self.centre) * scale,
            capsules.start_radius * self.focal * scale / start_depth,
            capsules.end_radius * self.focal * scale / end_depth,
            settings.height * _SUPERSAMPLING,
            settings.width * _SUPERSAMPLING,
        )
        size = (settings.width, settings.height)
        # The mean of each 2x2 block of the bool raster: the fraction of the pixel the walker covers.
        coverage = [
            cv2.resize(m.view(np.uint8).astype(np.float32), size, interpolation=cv2.INTER_AREA) for m in masks
        ]
        return np.stack(coverage)


def film_walk(
    config: SynthConfig, subject: str, type_: str, view: str, settings: VideoSettings
) -> tuple[list[np.ndarray], np.ndarray]:
    """The BGR uint8 frames of one synthetic video and its true person masks ``bool [T, H, W]``."""
    if subject not in config.subject_names:
        raise DataError(f"subject {subject!r} is not one of 001..{config.subjects:03d}")
    for name, value, allowed in (("type", type_, config.types), ("view", view, config.views)):
        if value not in allowed:
            raise DataError(f"{name} {value!r} is not one of the configured {name}s {', '.join(allowed)}")
    recorded = _record_walk(config, int(subject), type_)
    walker = _walker_capsules(recorded.capsules)
    camera = Camera.at_view(float(view), recorded.camera_distance, recorded.camera_height, np.zeros(3))
    framing = _Framing.fit(camera, walker, settings)
    keys = [config.seed, int(subject), _LOOK_STREAM, CASIA_B_TYPES.index(type_), CASIA_B_VIEWS.index(view)]
    rng = np.random.default_rng(np.random.SeedSequence(keys))
    room_rng = np.random.default_rng(
        np.random.SeedSequence([config.seed, _ROOM_STREAM, CASIA_B_VIEWS.index(view)])
    )
    walk_frames = walker.start.shape[0]
    look = sample_look(
        room_rng, rng, settings.height, settings.width, framing.centre[1], settings.lead_in + walk_frames
    )
    shadow = _cast_shadow(walker, np.radians(rng.uniform(35.0, 65.0)), rng.uniform(0.0, 2.0 * np.pi))
    frames = [paint_frame(look, number, None, None, rng) for number in range(settings.lead_in)]
    masks = [np.zeros((settings.lead_in, settings.height, settings.width), bool)]
    for first in range(0, walk_frames, _FRAMES_PER_BATCH):
        window = slice(first, min(first + _FRAMES_PER_BATCH, walk_frames))
        people = framing.coverage(walker.frames(window), settings)
        shadows = framing.coverage(shadow.frames(window), settings) if look.shadow_darkness < 1.0 else None
        for offset, person in enumerate(people):
            number = settings.lead_in + first + offset
            frames.append(
                paint_frame(look, number, person, None if shadows is None else shadows[offset], rng)
            )
        masks.append(people >= 0.5)
    return frames, np.concatenate(masks)


def write_synthetic_video(
    config: SynthConfig, subject: str, type_: str, view: str, directory: Path, settings: VideoSettings
) -> Path:
    """Write ``directory/<view>.<container>`` and its masks beside it; return the video's path.

    ``directory`` must exist (a task writing into a discarded staging directory fails).
    """
    import cv2

    cv2.setNumThreads(1)  # one task per core
    frames, masks = film_walk(config, subject, type_, view, settings)
    path = Path(directory) / f"{view}.{settings.container}"
    writer = cv2.VideoWriter(
        str(path),
        cv2.VideoWriter_fourcc(*CODECS[settings.container]),
        settings.fps,
        (settings.width, settings.height),
    )
    if not writer.isOpened():
        raise DataError(
            f"{path}: OpenCV cannot write {settings.container} video with codec {CODECS[settings.container]}"
        )
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    np.savez_compressed(ground_truth_path(path), masks=masks)
    return path


def generate_videos(
    config: SynthConfig,
    out: Path,
    settings: VideoSettings,
    *,
    subjects: tuple[str, ...] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``out/<subject>/<type>/<view>.<container>`` (+ masks) for every configured key, as Ray tasks.

    ``subjects`` picks some of the config's subjects (default: all). Runs in the caller's Ray
    session with at most ``config.workers`` tasks at a time; the tree is staged beside ``out`` and
    published by one rename.
    """
    out = Path(out)
    check_destination(out, overwrite=overwrite)
    for subject in subjects or ():
        if subject not in config.subject_names:
            raise DataError(f"--subject-ids: {subject!r} is not one of 001..{config.subjects:03d}")
    limit = task_limit(config.workers)
    chosen = subjects or config.subject_names
    keys = [(s, t, v) for s in chosen for t in config.types for v in config.views]
    with staging_dir(out) as staging:
        arguments = []
        for subject, type_, view in keys:
            directory = staging / subject / type_
            directory.mkdir(parents=True, exist_ok=True)
            arguments.append((config, subject, type_, view, directory, settings))
        run_ray_tasks(
            write_synthetic_video,
            arguments,
            sizes=[1] * len(keys),
            limit=limit,
            desc="Filming walks",
            unit="video",
        )
        return publish_directory(staging, out, overwrite=overwrite)
