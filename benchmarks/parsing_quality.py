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
Clips, masks and landmarks come from ``pipelines.worker.truth_measures``, which the stage runs'
``quality/part_miou`` and ``quality/keypoint_error`` use too.

    landmarkgait data synth-ground-truth DATASET        # once per dataset
    python benchmarks/parsing_quality.py --run RUN_ID [--frames 8 12 20]
    python benchmarks/parsing_quality.py --checkpoint FILE.pt --config ray_configs/benchmark.yaml
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from landmarkgait.data.evaluation.parsing_quality import PARTS, regressed_keypoint_error
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.truth_files import GroundTruth
from landmarkgait.models.checkpoint import model_state, read_checkpoint
from landmarkgait.models.config import transport_distance
from landmarkgait.models.recognition import classifier_classes
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.deploy.trained_run import build_trained_network, open_trained_run
from landmarkgait.pipelines.worker.truth_measures import (
    CONDITIONS,
    cut_clips,
    landmarks_of,
    measure_masks,
    pick_sequences,
)

REPO = Path(__file__).resolve().parents[1]
MODES = ("train", "eval")
FRAMES_PER_BATCH = 256  # frames per LandmarkNet encoder forward for the keypoint error


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
    train_landmarks = landmarks_of(network, train_clips, FRAMES_PER_BATCH)
    train_joints = np.concatenate([c.joints for c in train_clips])
    test_landmarks = landmarks_of(network, test_clips, FRAMES_PER_BATCH)
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
