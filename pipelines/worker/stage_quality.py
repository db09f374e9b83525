"""A stage's network against the ground truth of its synthetic dataset: keypoint error, part mIoU.

The stage trainer measures on rank 0, in every stage whose spec lists ground truth
(``StageSpec.ground_truth``), at each ``eval_iter`` and at the end, and logs what this returns
at that iteration (names in ``pipelines.metric_names``):

- ``quality/keypoint_error`` (landmark, parsing, recognition): a linear regressor from the
  discovered landmarks of a frame to its ground-truth joints, fitted on frames of training
  subjects and applied to frames of test subjects; mean joint distance over the torso length
  (``data.evaluation.parsing_quality``). ``quality/keypoint_error_px``: the same in pixels.
- ``quality/part_miou`` (parsing, recognition): head / upper / lower body IoU of ParsingNet's
  refined masks against the ground-truth parts on test-subject frames, pixels summed over frames,
  overall, per condition (``quality/part_miou/NM``) and per part (``quality/part_iou/head``). The
  masks are the *eval-mode* ones, as evaluation computes them: every sequence parsed alone from
  its first frames (not the batch-coupled training masks, which ``benchmarks/parsing_quality.py``
  also measures).

Bounded and deterministic: a fixed draw of sequences (``QUALITY_SEED``, not the pipeline's seed,
so runs of different seeds and methods are scored on the same frames), their first frames only.
A dataset without ground truth beside it: nothing is measured (one debug line). Ground truth that
does not belong to the dataset or cannot be read: a warning, nothing measured, the stage goes on.
This module must not log to MLflow or train.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.parsing_quality import PARTS, PartIoU, regressed_keypoint_error
from landmarkgait.data.format import METADATA_FILE
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.truth_files import GroundTruth, ground_truth_path
from landmarkgait.models.checkpoint import unwrap
from landmarkgait.models.registry import KEYPOINT_TRUTH, PART_TRUTH, stage_spec
from landmarkgait.pipelines.metric_names import (
    KEYPOINT_ERROR,
    KEYPOINT_ERROR_PX,
    PART_MIOU,
    part_iou_of,
    part_miou_of,
)
from landmarkgait.pipelines.worker.truth_measures import (
    CONDITIONS,
    Clip,
    cut_clips,
    landmarks_of,
    measure_masks,
    pick_sequences,
)

log = logging.getLogger(__name__)

# The first 20 frames of each sequence: the benchmark's evaluation.max_frames (about three
# quarters of a gait cycle), so the masks scored are those its evaluation embeds; fewer when
# evaluation.max_frames is smaller.
QUALITY_FRAMES = 20
# Test-subject sequences per condition (NM, BG, CL) for part mIoU and the keypoint error's test
# frames: 3 x 40 x 20 = 2,400 frames. With the training frames below, one measurement took 1 s
# (landmark), 5 s (parsing) and 8 s (recognition) with the small preset on the 2-core VM: cheap
# next to a stage, so the recognition stage measures at every evaluation too.
TEST_SEQUENCES_PER_CONDITION = 40
# Training-subject sequences per condition for fitting the regressor: 2,400 frames for at most
# 2 x 30 + 1 = 61 coefficients per joint coordinate; only LandmarkNet's encoder runs on them.
TRAIN_SEQUENCES_PER_CONDITION = 40
QUALITY_SEED = 0
CLIPS_PER_BATCH = 16  # sequences per eval-mode ParsingNet forward
FRAMES_PER_BATCH = 256  # frames per LandmarkNet encoder forward


def open_ground_truth(dataset_path: Path | str) -> GroundTruth | None:
    """The ground truth beside the dataset, or None: absent (debug line), or not this dataset's
    or unreadable (warning naming why)."""
    folder = ground_truth_path(Path(dataset_path))
    if not (folder / METADATA_FILE).is_file():
        log.debug("no ground truth at %s: no keypoint error or part mIoU is measured", folder)
        return None
    try:
        return GroundTruth(dataset_path)
    except DataError as error:
        log.warning("ground truth not used, no keypoint error or part mIoU is measured: %s", error)
        return None


@dataclass
class StageQuality:
    """Measures one stage's network on a fixed set of clips, cut once and kept for every call."""

    stage: str
    kinds: tuple[str, ...]
    dataset: SilhouetteDataset
    truth: GroundTruth
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    frames: int = QUALITY_FRAMES
    _clips: dict[str, list[Clip]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls,
        stage: str,
        dataset: SilhouetteDataset,
        train_subjects: tuple[str, ...],
        test_subjects: tuple[str, ...],
        max_frames: int | None = None,
    ) -> StageQuality | None:
        """None when the stage measures nothing against ground truth or the dataset has none."""
        kinds = stage_spec(stage).ground_truth
        if not kinds:
            return None
        truth = open_ground_truth(dataset.path)
        if truth is None:
            return None
        frames = min(QUALITY_FRAMES, max_frames) if max_frames else QUALITY_FRAMES
        return cls(stage, kinds, dataset, truth, tuple(train_subjects), tuple(test_subjects), frames)

    def clips(self, split: str) -> list[Clip]:
        """The first frames of the drawn sequences of ``split`` (``train`` or ``test``)."""
        if split not in self._clips:
            subjects, count = (
                (self.train_subjects, TRAIN_SEQUENCES_PER_CONDITION)
                if split == "train"
                else (self.test_subjects, TEST_SEQUENCES_PER_CONDITION)
            )
            indices = pick_sequences(self.dataset, subjects, count, QUALITY_SEED, self.truth)
            self._clips[split] = cut_clips(self.dataset, self.truth, indices, self.frames, seed=None)
        return self._clips[split]

    def measure(self, model: nn.Module, iteration: int) -> dict[str, float]:
        """The metrics of the module docstring for ``model`` (DDP-wrapped or not), finite ones only;
        the model's training mode is restored."""
        started = time.perf_counter()
        network = unwrap(model)
        was_training = network.training
        try:
            metrics = self._measure(network)
        except DataError as error:  # a ground-truth shard that cannot be read
            log.warning("ground truth: %s stage not measured: %s", self.stage, error)
            return {}
        finally:
            network.train(was_training)
        metrics = {name: value for name, value in metrics.items() if math.isfinite(value)}
        if metrics:
            log.info(
                "ground truth at iteration %d of the %s stage: %s (%d test, %d training sequences, "
                "first %d frames; %.1f s)",
                iteration,
                self.stage,
                describe(metrics),
                len(self.clips("test")),
                len(self.clips("train")) if KEYPOINT_TRUTH in self.kinds else 0,
                self.frames,
                time.perf_counter() - started,
            )
        return metrics

    def _measure(self, network: nn.Module) -> dict[str, float]:
        test = self.clips("test")
        if not test:
            log.warning("ground truth: no test sequence of the %s stage has ground truth", self.stage)
            return {}
        metrics: dict[str, float] = {}
        train = self.clips("train") if KEYPOINT_TRUTH in self.kinds else []
        if train:
            result = regressed_keypoint_error(
                landmarks_of(network, train, FRAMES_PER_BATCH),
                np.concatenate([clip.joints for clip in train]),
                landmarks_of(network, test, FRAMES_PER_BATCH),
                np.concatenate([clip.joints for clip in test]),
                self.truth.joint_names,
            )
            metrics[KEYPOINT_ERROR], metrics[KEYPOINT_ERROR_PX] = result.error, result.pixel_error
        if PART_TRUTH in self.kinds:
            stats = measure_masks(network, test, CLIPS_PER_BATCH, training=False, seed=QUALITY_SEED)
            total = PartIoU()
            for condition in CONDITIONS:
                if condition in stats:
                    total += stats[condition].iou
                    metrics[part_miou_of(condition)] = stats[condition].iou.miou
            metrics[PART_MIOU] = total.miou
            metrics.update(
                {part_iou_of(part): float(iou) for part, iou in zip(PARTS, total.iou, strict=True)}
            )
        return metrics


def describe(metrics: dict[str, float]) -> str:
    """One phrase for the log line: keypoint error and part mIoU, as logged ones are present."""
    said = []
    if KEYPOINT_ERROR in metrics:
        said.append(
            f"keypoint error {100 * metrics[KEYPOINT_ERROR]:.1f} % of the torso "
            f"({metrics.get(KEYPOINT_ERROR_PX, math.nan):.2f} px)"
        )
    if PART_MIOU in metrics:
        conditions = [
            f"{c} {100 * metrics[part_miou_of(c)]:.1f}" for c in CONDITIONS if part_miou_of(c) in metrics
        ]
        parts = [f"{p} {100 * metrics[part_iou_of(p)]:.1f}" for p in PARTS if part_iou_of(p) in metrics]
        said.append(
            f"part mIoU {100 * metrics[PART_MIOU]:.1f} % ({', '.join(conditions)}; IoU {', '.join(parts)})"
        )
    return "; ".join(said)
