"""Walking conditions of CASIA-B: carried bags (``bg``) and coats (``cl``).

An outfit changes the silhouette (extra capsules, thicker body parts) and, for a hand-carried
bag, the motion (that arm hardly swings). It must not know about cameras or pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from landmarkgait.data.synth.body import BodyShape
from landmarkgait.data.synth.capsules import Capsules, Part, stack_capsules
from landmarkgait.data.synth.motion import Skeleton

BAG_KINDS = ("backpack", "shoulder", "hand")
_DOWN = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class Coat:
    """A coat over the body, in metres: added thickness and how far and wide the hem reaches."""

    thickness: float  # added to the torso radius; arms and thighs get a share
    hem_length: float  # below the hip joints
    hem_flare: float  # hem radius
    leg_follow: float  # 0: the hem hangs straight down, 1: it follows the thighs completely


@dataclass(frozen=True)
class Bag:
    """A carried bag: kind, the side it hangs on (+1 right, -1 left), size and hanging height."""

    kind: str
    side: float
    size: float  # metres, characteristic half-size
    drop: float  # metres below the attachment point (hand, hip or shoulder blades)


@dataclass(frozen=True)
class Outfit:
    """What the walker wears in one sequence: nothing extra (nm), a bag (bg) or a coat (cl)."""

    coat: Coat | None = None
    bag: Bag | None = None

    def arm_gains(self) -> tuple[float, float]:
        """Arm-swing gains (right, left): the arm carrying a hand bag barely swings."""
        if self.bag is None or self.bag.kind != "hand":
            return 1.0, 1.0
        return (0.25, 1.0) if self.bag.side > 0 else (1.0, 0.25)

    def dressed_shape(self, shape: BodyShape) -> BodyShape:
        """Body radii as seen from outside: a coat thickens torso, arms and thighs."""
        if self.coat is None:
            return shape
        thickness = self.coat.thickness
        return replace(
            shape,
            torso_depth=shape.torso_depth + 2.0 * thickness,
            neck_radius=shape.neck_radius + 0.5 * thickness,
            upper_arm_radius=shape.upper_arm_radius + 0.6 * thickness,
            forearm_radius=shape.forearm_radius + 0.45 * thickness,
            thigh_radius=shape.thigh_radius + 0.5 * thickness,
        )

    def capsules(self, skeleton: Skeleton, shape: BodyShape) -> Capsules | None:
        """Extra capsules of the coat hem and the bag, or None for plain clothes."""
        parts: list[Part] = []
        if self.coat is not None:
            parts += _coat_hem(self.coat, skeleton, shape)
        if self.bag is not None:
            parts += _bag_parts(self.bag, skeleton, shape)
        return stack_capsules(parts) if parts else None


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _coat_hem(coat: Coat, skeleton: Skeleton, shape: BodyShape) -> list[Part]:
    """The coat below the waist: a skirt per leg that partly follows the thigh, plus a closing panel."""
    top_radius = shape.torso_depth / 2.0 + coat.thickness
    parts: list[Part] = []
    for side in ("l", "r"):
        thigh = _unit(skeleton[f"knee_{side}"] - skeleton[f"hip_{side}"])
        direction = _unit(coat.leg_follow * thigh + (1.0 - coat.leg_follow) * _DOWN)
        start = skeleton[f"pelvis_{side}"]
        parts.append(
            (start, skeleton[f"hip_{side}"] + direction * coat.hem_length, top_radius, coat.hem_flare)
        )
    centre = (skeleton["pelvis_l"] + skeleton["pelvis_r"]) / 2.0
    middle = _unit(
        coat.leg_follow
        * 0.5
        * (_unit(skeleton["knee_l"] - skeleton["hip_l"]) + _unit(skeleton["knee_r"] - skeleton["hip_r"]))
        + (1.0 - coat.leg_follow) * _DOWN
    )
    parts.append((centre, centre + middle * coat.hem_length * 0.9, top_radius, coat.hem_flare * 0.9))
    return parts


def _bag_parts(bag: Bag, skeleton: Skeleton, shape: BodyShape) -> list[Part]:
    side = "r" if bag.side > 0 else "l"
    lateral, forward, trunk = skeleton.lateral, skeleton.forward, skeleton.trunk
    if bag.kind == "backpack":
        chest = (skeleton["chest_l"] + skeleton["chest_r"]) / 2.0
        centre = chest - forward * (shape.torso_depth / 2.0 + bag.size * 0.55) - trunk * bag.drop
        half_height = trunk * bag.size * 0.9
        offset = lateral * bag.size * 0.5
        radius = bag.size * 0.6
        return [
            (centre - offset - half_height, centre - offset + half_height, radius, radius * 0.9),
            (centre + offset - half_height, centre + offset + half_height, radius, radius * 0.9),
        ]
    if bag.kind == "shoulder":
        # Cross-body strap from the opposite shoulder to a bag hanging at this side's hip.
        strap_from = skeleton[f"shoulder_{'l' if side == 'r' else 'r'}"]
        hip = skeleton[f"hip_{side}"]
        centre = (
            hip + lateral * bag.side * (shape.pelvis_width / 2.0 + bag.size * 0.7) + _DOWN * (bag.drop - 0.05)
        )
        half_length = forward * bag.size
        return [
            (strap_from, centre, 0.02, 0.02),
            (centre - half_length, centre + half_length, bag.size * 0.75, bag.size * 0.75),
        ]
    hand = skeleton[f"hand_{side}"]
    bottom = hand + _DOWN * (bag.drop + bag.size)
    return [(hand + _DOWN * bag.size * 0.6, bottom, bag.size * 0.8, bag.size)]


def sample_coat(rng: np.random.Generator) -> Coat:
    """A subject's coat: drawn once per subject so both ``cl`` walks wear (nearly) the same coat."""
    return Coat(
        thickness=float(rng.uniform(0.015, 0.045)),
        hem_length=float(rng.uniform(0.1, 0.45)),
        hem_flare=float(rng.uniform(0.09, 0.14)),
        leg_follow=float(rng.uniform(0.3, 0.7)),
    )


def vary_coat(coat: Coat, rng: np.random.Generator) -> Coat:
    """The same coat in another walk: it hangs and sits a little differently."""
    return replace(
        coat,
        thickness=coat.thickness * float(rng.uniform(0.9, 1.1)),
        hem_length=coat.hem_length * float(rng.uniform(0.95, 1.05)),
        leg_follow=float(np.clip(coat.leg_follow + rng.normal(0.0, 0.05), 0.1, 0.9)),
    )


def sample_bag(rng: np.random.Generator) -> Bag:
    """A bag for one walk: kind, side, size and where it hangs vary per sequence."""
    kind = BAG_KINDS[int(rng.integers(len(BAG_KINDS)))]
    size = {"backpack": (0.11, 0.15), "shoulder": (0.08, 0.12), "hand": (0.07, 0.11)}[kind]
    drop = {"backpack": (0.0, 0.12), "shoulder": (0.0, 0.15), "hand": (0.0, 0.1)}[kind]
    return Bag(
        kind=kind,
        side=1.0 if rng.random() < 0.5 else -1.0,
        size=float(rng.uniform(*size)),
        drop=float(rng.uniform(*drop)),
    )
