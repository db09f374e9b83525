"""Part masks and landmarks of a trained ParsingNet (stage 2) or recognition network (stage 3),
measured against the synthetic benchmark's ground truth.

For test sequences of each condition (NM, BG, CL) cut into clips of ``--frames`` frames, the
network's head / upper / lower body masks are computed as the training forward computes them
(training mode, batches of ``--batch-size`` clips coupled by one landmark grouping and one mask
peak, under ``torch.no_grad``) and as evaluation computes them (eval mode: every clip alone).
Masks become a label map on the ground truth's foreground: a pixel claimed by exactly one mask
takes that part; one claimed by two or three (the masks overlap where no part is confident) or
by none is unassigned and counts as a miss. Printed per clip length, mode and condition: part
IoU and mIoU (``data.evaluation.parsing_quality``), how much of the foreground each mask claims,
and the share claimed by exactly one. Then the landmarks' regressed keypoint error (fitted on
training-subject frames, torso-normalised). The point: with ``transport_shift`` 8 an 8-frame clip
makes every frame its own transport source, and the masks degenerate (near-whole silhouettes,
which overlap: low exclusive share and mIoU); from 12 frames on they do not.

    landmarkgait data synth-ground-truth DATASET        # once per dataset
    python benchmarks/parsing_quality.py --run RUN_ID [--frames 8 12 20]
    python benchmarks/parsing_quality.py --checkpoint FILE.pt --config ray_configs/benchmark.yaml
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from landmarkgait.data.evaluation.parsing_quality import PARTS, PartIoU, regressed_keypoint_error
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.sampling import fixed_ordered
from landmarkgait.data.synth.truth_files import GroundTruth
from landmarkgait.data.transforms import cut_width, silhouette_transform
from landmarkgait.models.checkpoint import model_state, read_checkpoint
from landmarkgait.models.config import transport_distance
from landmarkgait.models.recognition import classifier_classes
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.deploy.trained_run import build_trained_network, open_trained_run

REPO = Path(__file__).resolve().parents[1]
CONDITIONS = ("NM", "BG", "CL")
MODES = ("train", "eval")


@dataclass
class Clip:
    """One clip of a sequence with its ground truth, cut like the network's input (64 x 44)."""

    condition: str
    sils: np.ndarray  # float32 [F, H, W] in [0, 1]
    labels: np.ndarray  # uint8 [F, H, W]
    joints: np.ndarray  # float32 [F, J, 2], stored-frame pixels


@dataclass
class MaskStats:
    """Part IoU and mask coverage summed over clips: pixels of the foreground each mask claims."""

    iou: PartIoU = field(default_factory=PartIoU)
    claimed: np.ndarray = field(default_factory=lambda: np.zeros(len(PARTS), dtype=np.int64))
    exclusive: int = 0
    foreground: int = 0


def open_network(args: argparse.Namespace) -> tuple[torch.nn.Module, str, Path, str]:
    """The network, its stage, the dataset to measure it on and a description of where it came from."""
    if args.run:
        trained = open_trained_run(args.run, args.tracking_uri, stages=("parsing", "recognition"))
        dataset = args.dataset or trained.config.data.resolved_path()
        return trained.network(), trained.stage, dataset, f"run {trained.run_id}"
    config = load_config(args.config)
    checkpoint = read_checkpoint(args.checkpoint)
    stage = "recognition" if classifier_classes(model_state(checkpoint)) is not None else "parsing"
    network = build_trained_network(checkpoint, stage, config.model)
    return network, stage, args.dataset or config.data.resolved_path(), str(args.checkpoint)


def pick_sequences(dataset: SilhouetteDataset, subjects: tuple[str, ...], count: int, seed: int) -> list[int]:
    """Up to ``count`` sequences of each condition among ``subjects``, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen, wanted = [], set(subjects)
    for condition in CONDITIONS:
        indices = [
            i
            for i, e in enumerate(dataset.entries)
            if e.subject in wanted and e.type[:2].upper() == condition
        ]
        chosen += sorted(rng.choice(indices, size=min(count, len(indices)), replace=False).tolist())
    return chosen


def cut_clips(
    dataset: SilhouetteDataset, truth: GroundTruth, indices: list[int], frames: int, seed: int
) -> list[Clip]:
    """A contiguous clip (wrapped when the sequence is shorter) of each sequence, as training samples."""
    clips = []
    for index, record in zip(indices, dataset.read_many(indices), strict=True):
        picked = fixed_ordered(len(record.frames), frames, np.random.default_rng([seed, index, frames]))
        sequence = truth.read(record.subject, record.type, record.view)
        cut = cut_width(record.frames.shape[-1])
        clips.append(
            Clip(
                condition=record.type[:2].upper(),
                sils=silhouette_transform(record.frames[picked]),
                labels=sequence.labels[picked][..., cut : record.frames.shape[-1] - cut],
                joints=sequence.joints[picked],
            )
        )
    return clips


def measure_masks(network: torch.nn.Module, clips: list[Clip], batch: int, training: bool, seed: int) -> dict:
    """``MaskStats`` per condition of the network's part masks in training or eval mode."""
    stats: dict[str, MaskStats] = defaultdict(MaskStats)
    order = np.random.default_rng(seed).permutation(len(clips))  # training batches mix conditions
    torch.manual_seed(seed)  # the official grouping draws its frame from torch's RNG
    network.train(training)
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch):
                chunk = [clips[i] for i in order[start : start + batch]]
                _, _, _, masks = network.parse(torch.from_numpy(np.stack([c.sils for c in chunk])))
                claimed = torch.stack([masks.head, masks.up, masks.low]).gt(0).numpy()  # [3, N, T, H, W]
                for position, clip in enumerate(chunk):
                    account(stats[clip.condition], claimed[:, position], clip.labels)
    finally:
        network.eval()
    return stats


def account(stats: MaskStats, claimed: np.ndarray, labels: np.ndarray) -> None:
    """Add one clip: ``claimed`` bool ``[3, T, H, W]``, true ``labels`` ``[T, H, W]``."""
    foreground = labels > 0
    count = claimed.sum(0)
    predicted = np.where(foreground & (count == 1), claimed.argmax(0) + 1, 0)
    stats.iou.add(predicted, labels)
    stats.claimed += (claimed & foreground).sum(axis=(1, 2, 3))
    stats.exclusive += int((foreground & (count == 1)).sum())
    stats.foreground += int(foreground.sum())


def landmarks_of(network: torch.nn.Module, clips: list[Clip], batch: int) -> np.ndarray:
    """Landmarks ``[frames, L, 2]`` of every frame of ``clips`` (per frame: mode and batch do not matter)."""
    found = []
    with torch.no_grad():
        for start in range(0, len(clips), batch):
            sils = torch.from_numpy(np.stack([c.sils for c in clips[start : start + batch]]))
            found.append(network.Backbone.encode(sils)[1].flatten(0, 1).numpy())
    return np.concatenate(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="MLflow run id of a finished parsing or recognition stage run")
    source.add_argument("--checkpoint", type=Path, help="OpenGait-format checkpoint of stage 2 or 3")
    parser.add_argument("--config", type=Path, default=REPO / "ray_configs" / "benchmark.yaml",
                        help="with --checkpoint: the pipeline config whose model section built it")  # fmt: skip
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--dataset", type=Path, default=None, help="default: the config's dataset")
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 12, 20], help="clip lengths")
    parser.add_argument("--sequences-per-condition", type=int, default=20)
    parser.add_argument(
        "--batch-size", type=int, default=16, help="clips per forward (training couples them)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    network, stage, dataset_path, origin = open_network(args)
    dataset, truth = SilhouetteDataset(dataset_path), GroundTruth(dataset_path)
    partition = resolve_partition(dataset)
    test = pick_sequences(dataset, partition.test_set, args.sequences_per_condition, args.seed)
    shift = network.config.transport_shift
    print(
        f"{stage} network from {origin}: {network.config.num_landmark} landmarks, transport_shift {shift}; "
        f"{dataset_path}: {len(test)} test sequences ({args.sequences_per_condition} per condition)"
    )
    print(f"{'frames':>6} {'dist':>4} {'mode':>5} {'cond':>4} " + " ".join(f"{p:>6}" for p in PARTS)
          + f" {'mIoU':>6}   claimed head/up/low  exclusive")  # fmt: skip
    for frames in args.frames:
        clips = cut_clips(dataset, truth, test, frames, args.seed)
        for mode in MODES:
            stats = measure_masks(network, clips, args.batch_size, mode == "train", args.seed)
            for condition in CONDITIONS:
                if condition not in stats:
                    continue
                s = stats[condition]
                iou = s.iou.as_dict()
                claimed = "/".join(f"{100 * c / max(s.foreground, 1):3.0f}" for c in s.claimed)
                print(
                    f"{frames:>6} {transport_distance(shift, frames):>4} {mode:>5} {condition:>4} "
                    + " ".join(f"{100 * iou[p]:6.1f}" for p in PARTS)
                    + f" {100 * iou['mean']:6.1f}   {claimed:>17} %  {100 * s.exclusive / max(s.foreground, 1):6.1f} %"
                )  # fmt: skip

    longest = max(args.frames)
    train = pick_sequences(dataset, partition.train_set, args.sequences_per_condition, args.seed)
    train_clips = cut_clips(dataset, truth, train, longest, args.seed)
    test_clips = cut_clips(dataset, truth, test, longest, args.seed)
    train_landmarks = landmarks_of(network, train_clips, args.batch_size)
    train_joints = np.concatenate([c.joints for c in train_clips])
    test_landmarks = landmarks_of(network, test_clips, args.batch_size)
    test_joints = np.concatenate([c.joints for c in test_clips])
    frame_conditions = np.concatenate([[c.condition] * len(c.joints) for c in test_clips])
    errors = []
    for condition in ("all", *CONDITIONS):
        chosen = (frame_conditions == condition) | (condition == "all")
        if chosen.any():
            result = regressed_keypoint_error(
                train_landmarks, train_joints, test_landmarks[chosen], test_joints[chosen], truth.joint_names
            )
            errors.append(f"{condition} {100 * result.error:.1f} % ({result.pixel_error:.2f} px)")
    print(
        f"keypoint error, linear regression from landmarks fitted on {len(train_joints)} training-subject "
        f"frames, on test frames ({longest}-frame clips), % of the torso length: " + ", ".join(errors)
    )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
