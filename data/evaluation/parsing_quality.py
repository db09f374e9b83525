"""How well stages 1-2 match the synthetic ground truth: part mIoU and regressed keypoint error.

Both measures take plain NumPy arrays (label maps, landmark and joint coordinates), so any
network's outputs can be scored once converted; the ground truth comes from
``landmarkgait.data.synth.truth_files``. This module must not run networks or read datasets.

Part mIoU. For each part (head, upper body, lower body: label values 1, 2, 3) the intersection
and the union of the predicted and true pixel sets are *summed over all frames* and only then
divided, so a frame counts by its pixels and a frame where a part is absent does not count as
IoU 0 or 1. Label 0 is no part: background, or a foreground pixel the prediction leaves
unassigned (it then joins its true part's union as a miss). The mean is over the parts whose
union is not empty.

Keypoint error, the unsupervised-landmark literature's protocol (Thewlis et al. 2017, Zhang et
al. 2018, Jakab et al. 2018): landmarks discover no named joints, so a linear map with a bias
from a frame's landmarks (flattened ``[L * 2]``) to its joints (``[J * 2]``) is fitted by ridge
least squares on frames of training subjects and applied to frames of test subjects. The error
of a frame is the mean Euclidean distance between predicted and true joints divided by the
frame's torso length: the distance between the midpoints of the shoulders and of the hips in
the ground truth. The camera is level and the trunk upright, so at every view angle (front, side,
back) the torso keeps about its full image length (~18 px of a 64 px frame); it follows the
frame's pretreatment scale, unlike the frame height, which pretreatment fixes at 64 and artefact
blobs or shadows stretch over more than the body. The reported error is the mean over frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from landmarkgait.data.errors import DataError

PARTS: tuple[str, ...] = ("head", "up", "low")
# Ridge strength per frame: small next to the landmark coordinates' variance (they lie in
# [-1, 1]); it only keeps the fit defined when landmarks are collinear or fewer frames than features.
DEFAULT_RIDGE = 1e-3


@dataclass
class PartIoU:
    """Per-part pixel counts summed over frames: ``intersection`` and ``union`` int64 ``[3]``."""

    intersection: np.ndarray = field(default_factory=lambda: np.zeros(len(PARTS), dtype=np.int64))
    union: np.ndarray = field(default_factory=lambda: np.zeros(len(PARTS), dtype=np.int64))

    def add(self, predicted: np.ndarray, true: np.ndarray) -> PartIoU:
        """Count label maps ``[..., H, W]`` (values 0..3, same shape) in; returns self."""
        predicted, true = np.asarray(predicted), np.asarray(true)
        if predicted.shape != true.shape:
            raise DataError(
                f"part IoU: predicted labels {predicted.shape} and true labels {true.shape} differ"
            )
        for index in range(len(PARTS)):
            mine, theirs = predicted == index + 1, true == index + 1
            self.intersection[index] += int(np.count_nonzero(mine & theirs))
            self.union[index] += int(np.count_nonzero(mine | theirs))
        return self

    def __iadd__(self, other: PartIoU) -> PartIoU:
        self.intersection += other.intersection
        self.union += other.union
        return self

    @property
    def iou(self) -> np.ndarray:
        """IoU of each part ``[3]`` (NaN where neither side has the part)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.union > 0, self.intersection / np.maximum(self.union, 1), np.nan)

    @property
    def miou(self) -> float:
        """Mean IoU over the parts present on either side (NaN if none is)."""
        iou = self.iou
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    def as_dict(self) -> dict[str, float]:
        """``{"head": ..., "up": ..., "low": ..., "mean": ...}``."""
        return {**dict(zip(PARTS, map(float, self.iou), strict=True)), "mean": self.miou}


def part_miou(predicted_labels: np.ndarray, true_labels: np.ndarray) -> dict[str, float]:
    """Per-part IoU and their mean over all frames of label maps ``[..., H, W]`` (see the module)."""
    return PartIoU().add(predicted_labels, true_labels).as_dict()


def torso_length(joints: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """Distance ``[...]`` between the midpoints of the shoulders and of the hips, joints ``[..., J, 2]``."""
    names = list(joint_names)
    try:
        shoulders = [names.index(f"shoulder_{side}") for side in "lr"]
        hips = [names.index(f"hip_{side}") for side in "lr"]
    except ValueError:
        raise DataError(
            f"torso length needs shoulder_l/r and hip_l/r among the joints, got {names}"
        ) from None
    middle = joints[..., shoulders, :].mean(-2) - joints[..., hips, :].mean(-2)
    return np.linalg.norm(middle, axis=-1)


@dataclass(frozen=True)
class KeypointRegressor:
    """Linear map with a bias from landmarks ``[N, L, 2]`` to joints ``[N, J, 2]``."""

    weights: np.ndarray  # [L * 2 + 1, J * 2], the last row is the bias
    num_joints: int

    @classmethod
    def fit(
        cls, landmarks: np.ndarray, joints: np.ndarray, ridge: float = DEFAULT_RIDGE
    ) -> KeypointRegressor:
        """Ridge least squares: minimise ``|X W - Y|^2 + ridge * N * |W_without_bias|^2``."""
        features, targets = _features(landmarks), _flat(joints, "joints")
        if features.shape[0] != targets.shape[0] or features.shape[0] == 0:
            raise DataError(
                f"keypoint regression: {features.shape[0]} landmark frames and {targets.shape[0]} joint "
                "frames; expected the same number, at least one"
            )
        penalty = np.full(features.shape[1], ridge * features.shape[0])
        penalty[-1] = 0.0  # the bias is not shrunk
        gram = features.T @ features + np.diag(penalty)
        weights = np.linalg.lstsq(gram, features.T @ targets, rcond=None)[0]
        return cls(weights=weights, num_joints=joints.shape[-2])

    def predict(self, landmarks: np.ndarray) -> np.ndarray:
        """Joints ``[N, J, 2]`` for landmarks ``[N, L, 2]``."""
        return (_features(landmarks) @ self.weights).reshape(-1, self.num_joints, 2)


def keypoint_error(predicted: np.ndarray, true: np.ndarray, normaliser: np.ndarray) -> float:
    """Mean over frames of (mean joint distance / ``normaliser``), joints ``[N, J, 2]``, ``normaliser`` ``[N]``."""
    distance = np.linalg.norm(np.asarray(predicted) - np.asarray(true), axis=-1).mean(-1)
    return float((distance / np.asarray(normaliser)).mean())


@dataclass(frozen=True)
class KeypointResult:
    """Test-frame keypoint error: torso-normalised (the measure) and in pixels, and frame counts."""

    error: float
    pixel_error: float
    train_frames: int
    test_frames: int


def regressed_keypoint_error(
    train_landmarks: np.ndarray,
    train_joints: np.ndarray,
    test_landmarks: np.ndarray,
    test_joints: np.ndarray,
    joint_names: Sequence[str],
    ridge: float = DEFAULT_RIDGE,
) -> KeypointResult:
    """The protocol of the module docstring: fit on training frames, score on test frames."""
    regressor = KeypointRegressor.fit(train_landmarks, train_joints, ridge)
    predicted = regressor.predict(test_landmarks)
    ones = np.ones(len(test_joints))
    return KeypointResult(
        error=keypoint_error(predicted, test_joints, torso_length(test_joints, joint_names)),
        pixel_error=keypoint_error(predicted, test_joints, ones),
        train_frames=len(train_joints),
        test_frames=len(test_joints),
    )


def _flat(values: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3 or values.shape[-1] != 2:
        raise DataError(f"keypoint regression: {what} must be [N, K, 2], got {values.shape}")
    return values.reshape(values.shape[0], values.shape[1] * 2)


def _features(landmarks: np.ndarray) -> np.ndarray:
    flat = _flat(landmarks, "landmarks")
    return np.concatenate([flat, np.ones((flat.shape[0], 1))], axis=1)
