"""The synthetic CASIA-B-like dataset: one sequence, and the whole dataset via Ray.

It composes body, motion, clothing, rendering and artefacts into sequences with CASIA-B's
structure (subjects x types x views), pretreats them with the same code as ``convert-frames`` and
writes them through the Parquet format layer, one Ray task per subject shard; on request it also
labels every stored frame from the same renders (``synth.labels``, written by ``synth.truth_files``
beside the dataset). It must not write files itself or implement its own pretreatment.

Determinism: every random choice comes from a NumPy generator seeded by ``(seed, subject, stream,
type, view)`` with types and views indexed in CASIA-B's full lists, so a sequence does not depend
on which other subjects, types or views are generated, nor on the number of workers.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import SequenceRecord, ShardInfo, read_metadata, shard_file_name
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.staging import check_destination, publish_directory, staging_dir
from landmarkgait.data.synth.artefacts import (
    fail_frames,
    failed_frames,
    sample_shadow,
    segmentation_artefacts,
    shadow_capsules,
)
from landmarkgait.data.synth.body import body_capsules, sample_subject, vary_for_sequence
from landmarkgait.data.synth.capsules import Capsules, concat_capsules
from landmarkgait.data.synth.clothing import Outfit, sample_bag, sample_coat, vary_coat
from landmarkgait.data.synth.config import (
    CASIA_B_SUBJECTS,
    CASIA_B_TRAIN_SUBJECTS,
    CASIA_B_TYPES,
    CASIA_B_VIEWS,
    SynthConfig,
)
from landmarkgait.data.synth.labels import BODY_CAPSULE_PARTS, SequenceGroundTruth, sequence_ground_truth
from landmarkgait.data.synth.motion import posture_drift, walk
from landmarkgait.data.synth.render import Camera, RenderWindow, project_capsules, render_in_window
from landmarkgait.data.synth.truth_files import ground_truth_path, write_truth_metadata, write_truth_shard
from landmarkgait.data.writer import assemble_dataset, write_shard

log = logging.getLogger(__name__)

IMAGE_SIZE = 64
DATASET_NAME = "synthetic-casia-b"
_MAX_FAILED_FRAMES = 3

# Independent random streams per subject.
_IDENTITY, _COAT, _WALK, _VIEW = 0, 1, 2, 3


def default_partition(subject_names: tuple[str, ...]) -> dict[str, list[str]]:
    """CASIA-B's 74/50 split at 124 subjects, the same proportion otherwise (>= 1 train and test)."""
    count = len(subject_names)
    train = min(max(round(count * CASIA_B_TRAIN_SUBJECTS / CASIA_B_SUBJECTS), 1), count - 1)
    return {"TRAIN_SET": list(subject_names[:train]), "TEST_SET": list(subject_names[train:])}


def _rng(config: SynthConfig, subject: int, stream: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, subject, stream, *keys]))


@dataclass(frozen=True)
class _Walk:
    """One recorded walk of a subject in one condition, seen by all cameras at once (as in CASIA-B)."""

    capsules: Capsules  # body (the first num_body_capsules), clothing and shadows [T, K]
    num_body_capsules: int
    joints: dict[str, np.ndarray]  # the skeleton's joints [T, 3], for the ground truth
    pelvis: np.ndarray  # [T, 3], the point each render window follows
    stature: float
    camera_distance: float
    camera_height: float


def _record_walk(config: SynthConfig, subject: int, type_: str) -> _Walk:
    """Pose the subject for a walk long enough for every view's window of frames."""
    shape, style = sample_subject(_rng(config, subject, _IDENTITY))
    type_index = CASIA_B_TYPES.index(type_)
    rng = _rng(config, subject, _WALK, type_index)
    shape, style = vary_for_sequence(shape, style, rng)
    condition = type_[:2]
    if condition == "cl":
        outfit = Outfit(coat=vary_coat(sample_coat(_rng(config, subject, _COAT)), rng))
    elif condition == "bg":
        outfit = Outfit(bag=sample_bag(rng))
    else:
        outfit = Outfit()
    num_frames = config.max_frames + _MAX_FAILED_FRAMES
    skeleton = walk(
        shape,
        style,
        num_frames,
        centre_x=float(rng.uniform(-0.5, 0.5)),  # where the cameras look, give or take half a metre
        posture_noise=posture_drift(num_frames, rng),
        arm_gains=outfit.arm_gains(),
    )
    body = body_capsules(skeleton.joints, outfit.dressed_shape(shape))
    groups = [body]
    clothing = outfit.capsules(skeleton, shape)
    if clothing is not None:
        groups.append(clothing)
    shadow = sample_shadow(rng, config.artefacts)
    if shadow is not None:
        groups.append(shadow_capsules(shadow, skeleton))
    return _Walk(
        capsules=concat_capsules(groups),
        num_body_capsules=body.start.shape[1],
        joints=skeleton.joints,
        pelvis=skeleton["pelvis"],
        stature=shape.stature,
        camera_distance=float(rng.uniform(4.5, 6.5)),
        camera_height=float(rng.uniform(0.9, 1.3)),
    )


@dataclass(frozen=True)
class _Footage:
    """One camera's raw frames of a walk (artefacts added, not yet pretreated) and its window."""

    frames: np.ndarray  # uint8 [T, render_size, render_size]
    window: RenderWindow
    frame_range: slice  # the walk's frames this camera filmed
    part_masks: np.ndarray | None = None  # bool [3, T, S, S]: inside head / upper / lower body capsules


def _shoot(
    config: SynthConfig, subject: int, type_: str, view: str, recorded: _Walk, by_part: bool = False
) -> _Footage:
    """One camera's view of a recorded walk, with segmentation artefacts.

    ``by_part`` also keeps where each body part's capsules are: the silhouette is then drawn as
    the union of the parts and the other capsules, which is the same mask (the rasteriser fills
    each capsule on its own), so the ground truth need not draw the body twice.
    """
    rng = _rng(config, subject, _VIEW, CASIA_B_TYPES.index(type_), CASIA_B_VIEWS.index(view))
    num_frames = int(rng.integers(config.min_frames, config.max_frames + 1))
    num_failed = int(rng.binomial(_MAX_FAILED_FRAMES, min(0.2 * config.artefacts, 1.0)))
    total = num_frames + num_failed
    first = int(rng.integers(0, config.max_frames + _MAX_FAILED_FRAMES - total + 1))
    window = slice(first, first + total)
    camera = Camera.at_view(float(view), recorded.camera_distance, recorded.camera_height, np.zeros(3))
    render_window = RenderWindow.following(
        camera, recorded.pelvis[window], recorded.stature, config.render_size
    )
    capsules = recorded.capsules.frames(window)
    part_masks = None
    if by_part:
        groups = np.full(capsules.start.shape[1], -1)
        groups[: recorded.num_body_capsules] = BODY_CAPSULE_PARTS - 1
        drawn = [
            render_in_window(_select(capsules, groups == group), render_window, config.render_size)
            for group in (0, 1, 2, -1)
        ]
        part_masks = np.stack(drawn[:3])
        masks = np.logical_or.reduce(drawn)
    else:
        masks = render_in_window(capsules, render_window, config.render_size)
    frames = segmentation_artefacts(masks, rng, config.artefacts)
    fail_frames(frames, failed_frames(total, num_failed, rng), rng)
    return _Footage(frames, render_window, window, part_masks)


def _select(capsules: Capsules, chosen: np.ndarray) -> Capsules:
    """The capsules where ``chosen`` ``[K]`` is True."""
    return Capsules(
        capsules.start[:, chosen],
        capsules.end[:, chosen],
        capsules.start_radius[:, chosen],
        capsules.end_radius[:, chosen],
    )


def _film(config: SynthConfig, subject: int, type_: str, view: str, recorded: _Walk) -> np.ndarray:
    """One camera's view of a recorded walk, pretreated to uint8 ``[T, 64, 64]``."""
    footage = _shoot(config, subject, type_, view, recorded)
    return pretreat_sequence(list(footage.frames), img_size=IMAGE_SIZE).frames


def _film_with_ground_truth(
    config: SynthConfig, subject: int, type_: str, view: str, recorded: _Walk
) -> tuple[np.ndarray, SequenceGroundTruth]:
    """``_film``'s frames (the same render, artefacts and pretreatment, hence the same bytes) and
    their ground truth (``synth.labels``)."""
    footage = _shoot(config, subject, type_, view, recorded, by_part=True)
    pretreated = pretreat_sequence(list(footage.frames), img_size=IMAGE_SIZE)
    capsules = recorded.capsules.frames(footage.frame_range)
    body = _select(capsules, np.arange(capsules.start.shape[1]) < recorded.num_body_capsules)
    joints = {
        name: footage.window.to_pixels(points[footage.frame_range, None])[0][:, 0]
        for name, points in recorded.joints.items()
    }
    projected = project_capsules(body, footage.window)
    truth = sequence_ground_truth(footage.frames, pretreated, projected, joints, footage.part_masks)
    return pretreated.frames, truth


def render_sequence(config: SynthConfig, subject: str, type_: str, view: str) -> np.ndarray:
    """The pretreated frames ``[T, 64, 64]`` uint8 of one sequence, exactly as ``generate_dataset`` stores them."""
    number = _subject_number(config, subject)
    if type_ not in config.types:
        raise DataError(f"type {type_!r} is not one of the configured types {', '.join(config.types)}")
    if view not in config.views:
        raise DataError(f"view {view!r} is not one of the configured views {', '.join(config.views)}")
    return _film(config, number, type_, view, _record_walk(config, number, type_))


def _subject_number(config: SynthConfig, subject: str) -> int:
    if subject not in config.subject_names:
        raise DataError(f"subject {subject!r} is not one of 001..{config.subjects:03d}")
    return int(subject)


def subject_records(config: SynthConfig, subject: str) -> list[SequenceRecord]:
    """All sequences of one subject in (type, view) order: the content of its shard."""
    number = _subject_number(config, subject)
    records = []
    for type_ in config.types:
        recorded = _record_walk(config, number, type_)
        for view in config.views:
            frames = _film(config, number, type_, view, recorded)
            records.append(SequenceRecord(subject=subject, type=type_, view=view, frames=frames))
    return records


def subject_ground_truth(
    config: SynthConfig, subject: str
) -> list[tuple[SequenceRecord, SequenceGroundTruth]]:
    """``subject_records`` (the same bytes) with each sequence's ground truth (``synth.labels``)."""
    number = _subject_number(config, subject)
    results = []
    for type_ in config.types:
        recorded = _record_walk(config, number, type_)
        for view in config.views:
            frames, truth = _film_with_ground_truth(config, number, type_, view, recorded)
            results.append((SequenceRecord(subject=subject, type=type_, view=view, frames=frames), truth))
    return results


def write_subject_shard(
    config: SynthConfig, subject: str, shard_dir: Path, truth_dir: Path | None = None
) -> ShardInfo:
    """Render one subject and write its shard (and its ground-truth shard into ``truth_dir``, if
    given); the unit of work of one Ray task."""
    import cv2

    cv2.setNumThreads(1)  # one task per core: OpenCV's own threads would only oversubscribe
    name = shard_file_name(int(subject))
    if truth_dir is None:
        return write_shard(subject_records(config, subject), Path(shard_dir) / name)
    items = subject_ground_truth(config, subject)
    write_truth_shard(items, Path(truth_dir) / name)
    return write_shard([record for record, _ in items], Path(shard_dir) / name)


def generate_dataset(
    config: SynthConfig, out: Path, *, overwrite: bool = False, ground_truth: bool = False
) -> Path:
    """Generate the dataset at ``out`` with one Ray task per subject shard, then assemble it.

    Runs in the caller's Ray session (``landmarkgait.pipelines.runtime.ray_runtime.ray_session``,
    the one way this project starts Ray, on loopback only), keeping at most ``config.workers``
    tasks in flight. The result is byte-identical for the same config whatever the number of
    workers, and with or without ``ground_truth``, which also writes ``<out>.ground_truth/``
    (``synth.truth_files``) from the same renders.
    """
    import ray
    from tqdm import tqdm

    if not ray.is_initialized():
        raise DataError("generate_dataset runs Ray tasks: call it inside a Ray session (ray_session())")
    out = Path(out)
    check_destination(out, overwrite=overwrite)
    truth_out = ground_truth_path(out)
    if ground_truth:
        check_destination(truth_out, overwrite=overwrite)
    in_flight_limit = config.workers or max(1, int(ray.available_resources().get("CPU", 1)))
    with ExitStack() as scope:
        staging = scope.enter_context(staging_dir(out))
        truth_staging = scope.enter_context(staging_dir(truth_out)) if ground_truth else None
        task = ray.remote(num_cpus=1, max_retries=0)(write_subject_shard)
        pending_subjects = list(config.subject_names)
        running: list[Any] = []
        with tqdm(
            total=config.subjects, desc="Generating subjects", unit="subject", disable=None
        ) as progress:
            while pending_subjects or running:
                while pending_subjects and len(running) < in_flight_limit:
                    running.append(task.remote(config, pending_subjects.pop(0), staging, truth_staging))
                done, running = ray.wait(running, num_returns=1)
                for info in ray.get(done):
                    progress.update(1)
                    log.debug("wrote %s: %d sequences", info.path.name, info.num_sequences)
        assemble_dataset(
            staging,
            out,
            name=DATASET_NAME,
            source=f"landmarkgait data synth (seed {config.seed})",
            extra_metadata={
                "partition": default_partition(config.subject_names),
                "synth": config.to_metadata(),
            },
            overwrite=overwrite,
        )
        if truth_staging is not None:
            write_truth_metadata(truth_staging, read_metadata(out).fingerprint, IMAGE_SIZE)
            publish_directory(truth_staging, truth_out, overwrite=overwrite)
    return out
