"""Ground truth of stages 1-2 for a synthetic sequence: per-frame body-part labels and 2D joints.

The generator knows every joint and every capsule's body part; this module turns one camera's
view of a walk into what the stored frames show: a label map per stored frame (0 background,
1 head, 2 upper body, 3 lower body) and the joints' positions in stored-frame pixels. It must not
render, pretreat or store anything itself: it reads the raw frames, their pretreatment geometry
(``landmarkgait.data.pretreatment.FrameGeometry``) and the projected capsules and joints.

Part rule. Head = the head and neck capsules; upper body = torso, shoulder bar, upper arms and
forearms; lower body = pelvis bar, thighs, shanks and feet. Every foreground pixel of the raw
frame (after segmentation artefacts) takes the part of the nearest *body* capsule, nearness
being the distance to the capsule's projected axis divided by its projected radius (smallest
wins): pixels inside a body capsule take its part, and clothing, bags, shadows and artefact
blobs take the part they cover or touch (a coat hem over the thighs is mostly lower body, a
backpack upper body). The label map is then pretreated like the silhouette: each part's
indicator is resized as a float image and every stored pixel >= ``FOREGROUND_LEVEL`` takes the
part whose indicator is largest; frames the pretreatment drops are dropped, so label frame i
and joint frame i belong to stored frame i.

Joints are ``JOINT_NAMES`` (points of the walker's skeleton, ``motion.walk``), x right and y
down in stored-frame pixels with pixel (row r, column c) centred at (c, r), mapped through each
frame's pretreatment geometry; they may lie outside the frame (an arm cut off by the centring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from landmarkgait.data.pretreatment import PretreatResult, align_labels
from landmarkgait.data.synth.body import BODY_CAPSULE_NAMES
from landmarkgait.data.synth.render import ProjectedCapsules, nearest_capsules, rasterise_capsules

# Label values: index in this tuple.
PART_NAMES: tuple[str, ...] = ("background", "head", "up", "low")
HEAD, UP, LOW = 1, 2, 3
# A stored (anti-aliased) pixel is foreground from half intensity: the silhouette's outline.
FOREGROUND_LEVEL = 128

_CAPSULE_PART = {"head": HEAD, "neck": HEAD, "torso": UP, "shoulders": UP, "upper_arm": UP, "forearm": UP}
_CAPSULE_PART |= {"pelvis": LOW, "thigh": LOW, "shank": LOW, "foot": LOW}
# The part of each body capsule, in ``body.BODY_CAPSULE_NAMES`` order.
BODY_CAPSULE_PARTS = np.array(
    [_CAPSULE_PART[name.removesuffix("_l").removesuffix("_r")] for name in BODY_CAPSULE_NAMES], dtype=np.uint8
)

JOINT_NAMES: tuple[str, ...] = (
    "head_high",
    "head_low",
    "head_base",
    "neck_base",
    "shoulder_l",
    "shoulder_r",
    "elbow_l",
    "elbow_r",
    "hand_l",
    "hand_r",
    "pelvis",
    "hip_l",
    "hip_r",
    "knee_l",
    "knee_r",
    "ankle_l",
    "ankle_r",
    "heel_l",
    "heel_r",
    "toe_l",
    "toe_r",
)


@dataclass(frozen=True)
class SequenceGroundTruth:
    """One stored sequence's ground truth: ``labels`` uint8 ``[T, S, S]`` (values index
    ``PART_NAMES``) and ``joints`` float32 ``[T, J, 2]`` (x, y pixels, ``joint_names`` order)."""

    labels: np.ndarray
    joints: np.ndarray
    joint_names: tuple[str, ...] = JOINT_NAMES


def raw_part_labels(
    frames: np.ndarray, body: ProjectedCapsules, part_masks: np.ndarray | None = None
) -> np.ndarray:
    """Part of every foreground pixel of raw frames ``[T, H, W]`` (nonzero = foreground): uint8
    ``[T, H, W]``, from the body capsules in pixels (``BODY_CAPSULE_NAMES`` order).

    A pixel inside the capsules of one part only takes that part (its nearest capsule, whose
    ratio is <= 1, is one of them): the three parts' masks (bool ``[3, T, H, W]``, rasterised here
    unless given) settle about 80 % of the pixels at a fraction of the cost of
    ``nearest_capsules``, which decides the rest (overlaps of two parts, clothing, bags, artefacts).
    """
    if body.start.shape[1] != len(BODY_CAPSULE_NAMES):
        raise ValueError(f"expected the {len(BODY_CAPSULE_NAMES)} body capsules, got {body.start.shape[1]}")
    # Work in the box that holds every frame's foreground: the window leaves most of it empty.
    rows, columns = np.flatnonzero(frames.any(axis=(0, 2))), np.flatnonzero(frames.any(axis=(0, 1)))
    labels = np.zeros(frames.shape, dtype=np.uint8)
    if rows.size == 0:
        return labels
    box = (slice(None), slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
    origin = np.array([columns[0], rows[0]], dtype=np.float64)
    body = ProjectedCapsules(body.start - origin, body.end - origin, body.start_radius, body.end_radius)
    foreground = frames[box] != 0
    owner = np.zeros(foreground.shape, dtype=np.uint8)  # sum of the parts a pixel is inside
    count = np.zeros(foreground.shape, dtype=np.uint8)  # how many parts it is inside
    for part in (HEAD, UP, LOW):
        if part_masks is not None:
            inside = part_masks[part - 1][box].view(np.uint8)
        else:
            mine = np.equal(BODY_CAPSULE_PARTS, part)
            inside = rasterise_capsules(
                body.start[:, mine],
                body.end[:, mine],
                body.start_radius[:, mine],
                body.end_radius[:, mine],
                *foreground.shape[1:],
            ).view(np.uint8)
        count += inside
        owner += inside * np.uint8(part)
    settled = np.where(foreground & (count == 1), owner, np.uint8(0))
    frame, row, column = np.nonzero(foreground & (count != 1))
    centres = np.stack([column + 0.5, row + 0.5], axis=-1)  # the rasteriser's pixel centres
    settled[frame, row, column] = BODY_CAPSULE_PARTS[nearest_capsules(centres, frame, body)]
    labels[box] = settled
    return labels


def sequence_ground_truth(
    frames: np.ndarray,
    pretreated: PretreatResult,
    body: ProjectedCapsules,
    joints: Mapping[str, np.ndarray],
    part_masks: np.ndarray | None = None,
) -> SequenceGroundTruth:
    """Ground truth of the stored frames ``pretreated`` made from raw ``frames`` ``[T, H, W]``.

    ``body``, ``joints`` (name -> ``[T, 2]`` raw-frame pixels, as the rasteriser places them:
    pixel (r, c) spans [c, c + 1) x [r, r + 1)) and ``part_masks`` (see ``raw_part_labels``) are
    those of the raw frames.
    """
    kept = list(pretreated.kept)
    size = pretreated.frames.shape[1]
    labels = np.zeros((len(kept), size, size), dtype=np.uint8)
    positions = np.zeros((len(kept), len(JOINT_NAMES), 2), dtype=np.float32)
    if not kept:
        return SequenceGroundTruth(labels, positions)
    masks = part_masks[:, kept] if part_masks is not None else None
    raw = raw_part_labels(frames[kept], _frames(body, kept), masks)
    # Rasteriser pixel (r, c) spans [c, c + 1): its centre c + 0.5 is column c in pixel-centre terms.
    points = np.stack([joints[name][kept] for name in JOINT_NAMES], axis=1) - 0.5  # [T, J, 2]
    foreground = pretreated.frames >= FOREGROUND_LEVEL
    labels = align_labels(raw, len(PART_NAMES) - 1, pretreated.geometries, foreground)
    for index, geometry in enumerate(pretreated.geometries):
        positions[index] = geometry.map_points(points[index])
    return SequenceGroundTruth(labels, positions)


def _frames(capsules: ProjectedCapsules, kept: list[int]) -> ProjectedCapsules:
    return ProjectedCapsules(
        capsules.start[kept], capsules.end[kept], capsules.start_radius[kept], capsules.end_radius[kept]
    )
