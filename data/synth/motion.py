"""Periodic gait model: joint-angle curves over the gait cycle and forward kinematics to 3D joints.

It turns a ``BodyShape`` and a ``GaitStyle`` into world-space joint positions per frame; it must not
know about clothing, cameras or rasterisation.

World frame: x is the walking direction, y points up, z points to the walker's right; the ground is
y = 0. Sagittal angles are measured from the downward vertical, positive forward (flexion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landmarkgait.data.synth.body import BodyShape, GaitStyle

FRAMES_PER_SECOND = 25.0  # CASIA-B's frame rate


@dataclass(frozen=True)
class Skeleton:
    """World positions of the walker's joints, each ``[T, 3]`` in metres.

    ``lateral`` is the unit vector to the walker's right across the shoulders ``[T, 3]``; ``trunk`` the
    unit vector up the spine ``[T, 3]``; clothing attaches to these.
    """

    joints: dict[str, np.ndarray]
    lateral: np.ndarray
    trunk: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return self.joints[name]

    @property
    def forward(self) -> np.ndarray:
        """Unit vector the chest faces ``[T, 3]``."""
        forward = np.cross(self.trunk, self.lateral)
        return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def _bump(phase: np.ndarray, centre: float, concentration: float) -> np.ndarray:
    """A periodic bump peaking at 1 when ``phase`` (radians) equals ``centre`` (fraction of cycle)."""
    return np.exp(concentration * (np.cos(phase - 2.0 * np.pi * centre) - 1.0))


@dataclass(frozen=True)
class LimbAngles:
    """Joint angles of one body side over time, degrees ``[T]``."""

    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray
    shoulder: np.ndarray
    elbow: np.ndarray


def limb_angles(style: GaitStyle, phase: np.ndarray, gain: float = 1.0) -> LimbAngles:
    """Hip, knee, ankle, shoulder and elbow curves of one side; ``phase`` 0 is its heel strike.

    Shapes follow normative sagittal gait: hip flexed at heel strike and extended at toe-off, a small
    knee flexion in loading response and a large one in swing, plantarflexion push-off at ~60 % of the
    cycle, and the arm swinging in antiphase with the leg on the same side.
    """
    hip = style.hip_mean + gain * style.hip_amplitude * (np.cos(phase) + 0.12 * np.cos(2.0 * phase - 0.6))
    knee = (
        4.0
        + gain * style.knee_loading * _bump(phase, 0.13, 14.0)
        + gain * style.knee_swing * _bump(phase, 0.72, 9.0)
    )
    ankle = (
        style.ankle_dorsiflexion * _bump(phase, 0.42, 10.0)
        - gain * style.ankle_plantarflexion * _bump(phase, 0.62, 22.0)
        + 4.0 * _bump(phase, 0.85, 8.0)
        - 3.0 * _bump(phase, 0.05, 20.0)
    )
    swing = -np.cos(phase - 0.15)
    shoulder = style.arm_mean + gain * style.arm_swing * swing
    elbow = style.elbow_mean + gain * style.elbow_swing * np.clip(swing, 0.0, None) * 1.6
    return LimbAngles(hip=hip, knee=knee, ankle=ankle, shoulder=shoulder, elbow=elbow)


def _sagittal(angle_deg: np.ndarray, side: float, abduction_deg: float) -> np.ndarray:
    """Unit vectors ``[T, 3]`` pointing down, rotated forward by ``angle`` and outward by abduction."""
    angle = np.radians(angle_deg)
    abduction = np.radians(abduction_deg)
    return np.stack(
        [
            np.sin(angle) * np.cos(abduction),
            -np.cos(angle) * np.cos(abduction),
            side * np.full_like(angle, np.sin(abduction)),
        ],
        axis=-1,
    )


def _yaw(vectors: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    """Rotate ``[T, 3]`` vectors about the vertical axis by ``angle`` ``[T]`` degrees."""
    angle = np.radians(angle_deg)[:, None]
    x, y, z = vectors[:, 0:1], vectors[:, 1:2], vectors[:, 2:3]
    return np.concatenate(
        [x * np.cos(angle) + z * np.sin(angle), y, -x * np.sin(angle) + z * np.cos(angle)], 1
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def posture_drift(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Slow random deviations ``[T, 2]`` (degrees) of trunk lean and arm carriage for one walk."""
    time = np.arange(num_frames) / FRAMES_PER_SECOND
    return np.stack(
        [
            amplitude * np.sin(2.0 * np.pi * rng.uniform(0.1, 0.4) * time + rng.uniform(0.0, 2.0 * np.pi))
            for amplitude in (1.0, 3.0)
        ],
        -1,
    )


def walk(
    shape: BodyShape,
    style: GaitStyle,
    num_frames: int,
    centre_x: float = 0.0,
    posture_noise: np.ndarray | None = None,
    arm_gains: tuple[float, float] = (1.0, 1.0),
) -> Skeleton:
    """Forward kinematics of ``num_frames`` frames of straight walking along +x.

    The pelvis passes ``centre_x`` halfway through the walk. ``posture_noise`` ``[T, 2]`` (see
    ``posture_drift``) adds trunk-lean and arm deviations so that no two walks are exact copies;
    ``arm_gains`` (right, left) damp an arm's swing, e.g. when it carries a bag.
    """
    frames = np.arange(num_frames, dtype=np.float64)
    frames_per_stride = FRAMES_PER_SECOND * 120.0 / style.cadence
    phase = style.start_phase + 2.0 * np.pi * frames / frames_per_stride
    noise = np.zeros((num_frames, 2)) if posture_noise is None else posture_noise
    right = limb_angles(style, phase, 1.0 + style.asymmetry / 2.0)
    left = limb_angles(style, phase + np.pi, 1.0 - style.asymmetry / 2.0)

    stride_length = 2.0 * 2.0 * (shape.thigh + shape.shank) * np.sin(np.radians(style.hip_amplitude)) * 0.9
    speed = stride_length / frames_per_stride  # metres per frame
    pelvis_yaw = style.pelvic_rotation * np.cos(phase)  # right hip forward at right heel strike
    obliquity = np.radians(style.pelvic_obliquity * np.sin(phase))
    sway = style.lateral_sway * np.sin(phase)
    forward = centre_x + speed * (frames - (num_frames - 1) / 2.0)
    pelvis = np.stack([forward, np.zeros(num_frames), sway], axis=-1)
    pelvis_lateral = _yaw(
        np.stack([np.zeros(num_frames), np.sin(obliquity), np.cos(obliquity)], -1), pelvis_yaw
    )

    joints = _legs(shape, style, pelvis, pelvis_lateral, right, left)
    trunk, lateral, upper_body = _upper_body(
        shape, style, phase, pelvis, pelvis_lateral, pelvis_yaw, noise[:, 0]
    )
    joints |= upper_body
    joints |= _arms(
        shape, style, upper_body["neck_base"], trunk, lateral, (right, left), arm_gains, noise[:, 1]
    )

    # Stand on the ground: the lowest point of either foot touches y = 0 in every frame; this also
    # produces the body's vertical oscillation.
    lowest = np.minimum.reduce([joints[name][:, 1] for name in ("heel_r", "toe_r", "heel_l", "toe_l")])
    lift = np.stack([np.zeros(num_frames), shape.foot_radius - lowest, np.zeros(num_frames)], -1)
    return Skeleton(
        joints={name: point + lift for name, point in joints.items()}, lateral=lateral, trunk=trunk
    )


def _legs(
    shape: BodyShape,
    style: GaitStyle,
    pelvis: np.ndarray,
    pelvis_lateral: np.ndarray,
    right: LimbAngles,
    left: LimbAngles,
) -> dict[str, np.ndarray]:
    """Hips, knees, ankles, heels, toes and the pelvis' outer points ``[T, 3]`` of both sides."""
    num_frames = pelvis.shape[0]
    joints: dict[str, np.ndarray] = {}
    for side, sign, angles in (("r", 1.0, right), ("l", -1.0, left)):
        hip = pelvis + sign * pelvis_lateral * shape.hip_joint_width / 2.0
        knee = hip + shape.thigh * _sagittal(angles.hip, sign, style.leg_abduction)
        shank_angle = angles.hip - angles.knee
        ankle = knee + shape.shank * _sagittal(shank_angle, sign, style.leg_abduction)
        foot_angle = np.radians(shank_angle + angles.ankle)
        toe_out = np.full(num_frames, sign * style.toe_out)
        zeros = np.zeros(num_frames)
        foot_forward = _yaw(np.stack([np.cos(foot_angle), np.sin(foot_angle), zeros], -1), toe_out)
        foot_up = _yaw(np.stack([-np.sin(foot_angle), np.cos(foot_angle), zeros], -1), toe_out)
        sole = ankle - foot_up * (shape.ankle_height - shape.foot_radius)
        joints |= {
            f"hip_{side}": hip,
            f"knee_{side}": knee,
            f"ankle_{side}": ankle,
            f"heel_{side}": sole - foot_forward * 0.2 * shape.foot,
            f"toe_{side}": sole + foot_forward * 0.78 * shape.foot,
            f"pelvis_{side}": pelvis
            + sign * pelvis_lateral * (shape.pelvis_width / 2.0 - shape.torso_depth / 2.0)
            + np.array([0.0, 0.3 * shape.torso_depth, 0.0]),
        }
    return joints


def _upper_body(
    shape: BodyShape,
    style: GaitStyle,
    phase: np.ndarray,
    pelvis: np.ndarray,
    pelvis_lateral: np.ndarray,
    pelvis_yaw: np.ndarray,
    lean_noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Trunk axis, shoulder axis and the torso, neck and head points, all ``[T, 3]``.

    The trunk leans forward, oscillates at step frequency, rolls with the pelvis and counter-rotates
    against it.
    """
    num_frames = phase.shape[0]
    lean = np.radians(style.trunk_lean + 1.5 * np.cos(2.0 * phase) + lean_noise)
    roll = np.radians(-0.75 * style.pelvic_obliquity * np.sin(phase))
    trunk = _unit(np.stack([np.sin(lean), np.cos(lean) * np.cos(roll), np.sin(roll)], -1))
    lateral = _yaw(np.tile([0.0, 0.0, 1.0], (num_frames, 1)), -0.8 * pelvis_yaw)
    spine_base = pelvis + np.array([0.0, 0.05 * shape.stature, 0.0])
    neck_base = spine_base + trunk * (shape.trunk - 0.05 * shape.stature)
    waist = pelvis + np.array([0.0, 0.1 * shape.stature, 0.0])
    chest = neck_base - trunk * (0.07 * shape.stature)
    torso_half = shape.chest_width / 2.0 - shape.torso_depth / 2.0
    waist_half = shape.pelvis_width / 2.0 - shape.torso_depth / 2.0
    head_pitch = np.radians(style.trunk_lean + style.head_pitch)
    head_axis = _unit(trunk + np.array([np.sin(head_pitch), 0.0, 0.0]))
    head_base = neck_base + head_axis * shape.neck
    head_half = max(shape.head_height / 2.0 - shape.head_radius, 0.0)
    head_centre = head_base + head_axis * shape.head_height / 2.0
    return (
        trunk,
        lateral,
        {
            "pelvis": pelvis,
            "waist_l": waist - pelvis_lateral * waist_half,
            "waist_r": waist + pelvis_lateral * waist_half,
            "chest_l": chest - lateral * torso_half,
            "chest_r": chest + lateral * torso_half,
            "neck_base": neck_base,
            "head_base": head_base,
            "head_low": head_centre - head_axis * head_half,
            "head_high": head_centre + head_axis * head_half,
        },
    )


def _arms(
    shape: BodyShape,
    style: GaitStyle,
    neck_base: np.ndarray,
    trunk: np.ndarray,
    lateral: np.ndarray,
    angles: tuple[LimbAngles, LimbAngles],
    gains: tuple[float, float],
    swing_noise: np.ndarray,
) -> dict[str, np.ndarray]:
    """Shoulders, elbows and hands ``[T, 3]``; (right, left) angles and swing gains."""
    joints: dict[str, np.ndarray] = {}
    for side, sign, side_angles, gain in (("r", 1.0, angles[0], gains[0]), ("l", -1.0, angles[1], gains[1])):
        shoulder = neck_base - trunk * 0.03 * shape.stature + sign * lateral * shape.shoulder_width / 2.0
        swing = style.arm_mean + gain * (side_angles.shoulder - style.arm_mean) + swing_noise
        elbow_flexion = style.elbow_mean + gain * (side_angles.elbow - style.elbow_mean)
        elbow = shoulder + shape.upper_arm * _sagittal(swing, sign, style.arm_abduction)
        hand = elbow + shape.forearm * _sagittal(swing + elbow_flexion, sign, style.arm_abduction * 0.6)
        joints |= {f"shoulder_{side}": shoulder, f"elbow_{side}": elbow, f"hand_{side}": hand}
    return joints
