"""Who a synthetic subject is: body shape (anthropometrics) and gait style.

Identity lives here and only here: every parameter that distinguishes one walker from another is
drawn once per subject, and a sequence only perturbs it slightly. The body's volumes (capsules
between joints) are laid out here too. This module must not know about cameras, clothing or pixels.

Segment proportions follow Drillis & Contini's fractions of stature (as tabulated by Winter,
*Biomechanics and Motor Control of Human Movement*); angles are in degrees, lengths in metres.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from landmarkgait.data.synth.capsules import Capsules, Part, stack_capsules


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and capsule radii of one walker, in metres."""

    stature: float
    ankle_height: float
    thigh: float
    shank: float
    foot: float
    trunk: float  # hip-joint level to the base of the neck
    neck: float
    head_height: float
    upper_arm: float
    forearm: float  # elbow to fingertips of a relaxed hand
    shoulder_width: float  # between the shoulder joints
    hip_joint_width: float  # between the hip joints
    pelvis_width: float  # outer width of the hips
    chest_width: float
    torso_depth: float
    head_radius: float
    neck_radius: float
    upper_arm_radius: float
    forearm_radius: float
    thigh_radius: float
    shank_radius: float
    foot_radius: float


@dataclass(frozen=True)
class GaitStyle:
    """How one walker moves: the parameters of the periodic gait model in ``motion``."""

    cadence: float  # steps per minute
    hip_mean: float  # mean hip flexion over the cycle
    hip_amplitude: float
    knee_loading: float  # knee flexion peak during loading response
    knee_swing: float  # knee flexion peak during swing
    ankle_dorsiflexion: float
    ankle_plantarflexion: float
    arm_swing: float  # shoulder flexion amplitude
    arm_mean: float
    elbow_mean: float
    elbow_swing: float
    arm_abduction: float
    pelvic_rotation: float
    pelvic_obliquity: float
    lateral_sway: float  # metres
    trunk_lean: float  # forward pitch of the trunk
    head_pitch: float  # forward pitch of the neck and head relative to the trunk
    leg_abduction: float
    toe_out: float
    asymmetry: float  # relative amplitude difference of the left side (hip, knee, arm)
    start_phase: float  # radians; 0 = right heel strike


def sample_subject(rng: np.random.Generator) -> tuple[BodyShape, GaitStyle]:
    """Draw one subject's body shape and gait style; ``rng`` must be seeded by the subject only."""
    return _sample_shape(rng), _sample_style(rng)


def _sample_shape(rng: np.random.Generator) -> BodyShape:
    stature = float(np.clip(rng.normal(1.70, 0.085), 1.50, 1.95))

    def length(fraction: float, spread: float = 0.05) -> float:
        return stature * fraction * float(1.0 + np.clip(rng.normal(0.0, spread), -2.5 * spread, 2.5 * spread))

    # Girth scales with build (slim ... heavy) and, weakly, with stature.
    build = float(np.clip(rng.normal(1.0, 0.14), 0.72, 1.4))
    girth = build * (stature / 1.70) ** 0.5

    def radius(base: float, spread: float = 0.08, build_power: float = 1.0) -> float:
        factor = build**build_power * (stature / 1.70) ** 0.5
        return base * factor * float(1.0 + np.clip(rng.normal(0.0, spread), -2.5 * spread, 2.5 * spread))

    thigh = length(0.245)
    shank = length(0.246)
    return BodyShape(
        stature=stature,
        ankle_height=length(0.039),
        thigh=thigh,
        shank=shank,
        foot=length(0.152),
        trunk=length(0.288, 0.04),
        neck=length(0.052, 0.12),
        head_height=length(0.13, 0.05),
        upper_arm=length(0.186),
        forearm=length(0.146 + 0.07),
        shoulder_width=length(0.245, 0.07),
        hip_joint_width=length(0.10, 0.08) * girth**0.3,
        pelvis_width=length(0.191, 0.07) * girth**0.6,
        chest_width=length(0.20, 0.07) * girth**0.7,
        torso_depth=radius(0.21, 0.1),
        head_radius=radius(0.085, 0.06, build_power=0.2),
        neck_radius=radius(0.06, 0.1, build_power=0.6),
        upper_arm_radius=radius(0.054, 0.1),
        forearm_radius=radius(0.044, 0.1, build_power=0.8),
        thigh_radius=radius(0.085, 0.1),
        shank_radius=radius(0.058, 0.1, build_power=0.8),
        foot_radius=radius(0.04, 0.08, build_power=0.3),
    )


@dataclass(frozen=True)
class _StyleDistribution:
    """How one ``GaitStyle`` parameter varies, in its units.

    Across subjects: normal(``mean``, ``std``) clipped to [``low``, ``high``]. Across one subject's
    walks: a change of standard deviation ``walk_spread``, multiplicative when ``relative``, added
    otherwise (angles that may be near zero); 0 keeps the subject's value. Posture and speed change
    a little between walks.
    """

    mean: float
    std: float
    low: float
    high: float
    walk_spread: float = 0.0
    relative: bool = False


# In ``GaitStyle`` field order, which is the order of the random draws.
_STYLE_DISTRIBUTIONS: dict[str, _StyleDistribution] = {
    "cadence": _StyleDistribution(112.0, 7.0, 92.0, 132.0, walk_spread=0.03, relative=True),
    "hip_mean": _StyleDistribution(9.0, 3.0, 1.0, 17.0, walk_spread=1.2),
    "hip_amplitude": _StyleDistribution(21.0, 3.5, 13.0, 30.0, walk_spread=0.05, relative=True),
    "knee_loading": _StyleDistribution(15.0, 5.0, 3.0, 28.0, walk_spread=2.0),
    "knee_swing": _StyleDistribution(60.0, 6.0, 45.0, 72.0, walk_spread=0.04, relative=True),
    "ankle_dorsiflexion": _StyleDistribution(10.0, 3.0, 3.0, 18.0),
    "ankle_plantarflexion": _StyleDistribution(16.0, 5.0, 5.0, 28.0),
    "arm_swing": _StyleDistribution(17.0, 7.0, 3.0, 35.0, walk_spread=0.12, relative=True),
    "arm_mean": _StyleDistribution(-2.0, 4.0, -12.0, 8.0, walk_spread=2.0),
    "elbow_mean": _StyleDistribution(20.0, 8.0, 5.0, 45.0, walk_spread=3.0),
    "elbow_swing": _StyleDistribution(10.0, 5.0, 0.0, 25.0, walk_spread=0.15, relative=True),
    "arm_abduction": _StyleDistribution(7.0, 2.5, 2.0, 14.0, walk_spread=1.0),
    "pelvic_rotation": _StyleDistribution(5.0, 2.0, 1.0, 10.0),
    "pelvic_obliquity": _StyleDistribution(4.0, 1.5, 1.0, 8.0),
    "lateral_sway": _StyleDistribution(0.025, 0.008, 0.008, 0.045, walk_spread=0.1, relative=True),
    "trunk_lean": _StyleDistribution(4.0, 3.5, -4.0, 13.0, walk_spread=1.5),
    "head_pitch": _StyleDistribution(6.0, 6.0, -8.0, 22.0, walk_spread=2.5),
    "leg_abduction": _StyleDistribution(3.0, 1.5, 0.0, 7.0),
    "toe_out": _StyleDistribution(8.0, 5.0, -4.0, 20.0, walk_spread=1.5),
    "asymmetry": _StyleDistribution(0.0, 0.07, -0.18, 0.18),
}


def _sample_style(rng: np.random.Generator) -> GaitStyle:
    drawn = {
        name: float(np.clip(rng.normal(spread.mean, spread.std), spread.low, spread.high))
        for name, spread in _STYLE_DISTRIBUTIONS.items()
    }
    return GaitStyle(**drawn, start_phase=0.0)


def _walk_spreads(*, relative: bool) -> list[tuple[str, float]]:
    """Style parameters that change between walks, multiplicatively or additively, in table order."""
    return [
        (name, spread.walk_spread)
        for name, spread in _STYLE_DISTRIBUTIONS.items()
        if spread.walk_spread and spread.relative == relative
    ]


def vary_for_sequence(
    shape: BodyShape, style: GaitStyle, rng: np.random.Generator
) -> tuple[BodyShape, GaitStyle]:
    """Perturb a subject for one walk: speed, posture and start phase change, proportions barely.

    ``rng`` must be seeded by (subject, sequence type) so all views of one walk share the walk,
    as CASIA-B's cameras film the same walk simultaneously.
    """
    style_changes: dict[str, float] = {"start_phase": float(rng.uniform(0.0, 2.0 * np.pi))}
    for name, spread in _walk_spreads(relative=True):
        style_changes[name] = getattr(style, name) * float(1.0 + rng.normal(0.0, spread))
    for name, spread in _walk_spreads(relative=False):
        style_changes[name] = getattr(style, name) + float(rng.normal(0.0, spread))
    # Soft tissue and posture make widths wobble by a percent or two between recordings.
    shape_changes = {
        field.name: getattr(shape, field.name) * float(1.0 + rng.normal(0.0, 0.015))
        for field in fields(BodyShape)
        if field.name.endswith(("_radius", "_width", "_depth"))
    }
    return replace(shape, **shape_changes), replace(style, **style_changes)


# The capsules of ``body_capsules``, in its order (the synthetic ground truth groups them into parts).
BODY_CAPSULE_NAMES: tuple[str, ...] = (
    "head",
    "neck",
    "torso_l",
    "torso_r",
    "pelvis",
    "shoulders",
    *(f"{limb}_{side}" for side in ("l", "r") for limb in ("upper_arm", "forearm", "thigh", "shank", "foot")),
)


def body_capsules(joints: Mapping[str, np.ndarray], shape: BodyShape) -> Capsules:
    """The body's volumes: 16 capsules between ``joints`` (``[T, 3]`` each, see ``motion.walk``),
    named by ``BODY_CAPSULE_NAMES``.

    Radii come from ``shape``; clothing passes a thickened copy.
    """
    torso = shape.torso_depth / 2.0
    arm, forearm = shape.upper_arm_radius, shape.forearm_radius
    parts: list[Part] = [
        (joints["head_low"], joints["head_high"], shape.head_radius, shape.head_radius * 0.92),
        (joints["neck_base"], joints["head_base"], shape.neck_radius, shape.neck_radius * 0.9),
        (joints["waist_l"], joints["chest_l"], torso, torso * 1.02),
        (joints["waist_r"], joints["chest_r"], torso, torso * 1.02),
        (joints["pelvis_l"], joints["pelvis_r"], torso, torso),
        (joints["shoulder_l"], joints["shoulder_r"], arm * 1.1, arm * 1.1),
    ]
    for side in ("l", "r"):
        parts += [
            (joints[f"shoulder_{side}"], joints[f"elbow_{side}"], arm, forearm * 1.05),
            (joints[f"elbow_{side}"], joints[f"hand_{side}"], forearm, forearm * 0.85),
            (joints[f"hip_{side}"], joints[f"knee_{side}"], shape.thigh_radius, shape.shank_radius * 1.05),
            (joints[f"knee_{side}"], joints[f"ankle_{side}"], shape.shank_radius, shape.shank_radius * 0.72),
            (joints[f"heel_{side}"], joints[f"toe_{side}"], shape.foot_radius, shape.foot_radius * 0.75),
        ]
    return stack_capsules(parts)
