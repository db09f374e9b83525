"""Where one recognition training iteration spends its time: LandmarkGait against the holistic baseline.

    python benchmarks/step_profile.py --config ray_configs/benchmark.yaml --iterations 10

Both networks are built as the config's recognition stage builds them (preset, landmark count,
class count of the training partition, optimiser groups, loss weights) and trained for
``--iterations`` steps on batches drawn from the config's dataset by the training loader (random
walking silhouettes when the dataset is not there), on ``--threads`` torch threads. Each step is
split into: data (the loader's next batch), LandmarkNet (encoders, heatmaps, transport,
reconstruction), ParsingNet (the three part reconstructions by the frozen refiner, masks, parts
mixup), each PMBC-Net appearance pass (whole silhouette, head, up, low, mixed parts), heads (part
union, GeM pooling, FCs, BN head), losses, backward and optimiser. The steps are the ones
``RecognitionModel.forward`` / ``HolisticModel.forward`` take, called one at a time so they can be
timed; the first ``--warmup`` iterations are not counted. The last line ends with
``ratio R``: LandmarkGait s/it divided by holistic s/it.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from landmarkgait.data.loader import TrainBatchLoader
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.models import build_model
from landmarkgait.models.losses import compute_losses
from landmarkgait.models.optim import build_optimizer
from landmarkgait.models.parsing import part_masks
from landmarkgait.models.samples import walking_silhouettes
from landmarkgait.pipelines.config import PipelineConfig, load_config

REPO = Path(__file__).resolve().parents[1]
APPEARANCE_PASSES = ("whole", "head", "up", "low", "mixed")


class PhaseClock:
    """Seconds per named phase, summed over the counted iterations."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counting = False
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        if self.counting:
            self.seconds[phase] += now - self._last
        self._last = now


def batches(config: PipelineConfig, frames_shape: tuple[int, int, int, int]) -> tuple[Iterator, int, str]:
    """(iterator of (sils, labels), class count, where the data comes from)."""
    sampler = config.stages.recognition.sampler
    path = config.data.resolved_path()
    if path.is_dir():
        dataset = SilhouetteDataset(path)
        train = resolve_partition(dataset).train_set
        loader = TrainBatchLoader(
            dataset, train, P=sampler.subjects_per_batch, K=sampler.sequences_per_subject,
            frames=sampler.frames, sample_type=sampler.sample_type, seed=config.seed, batch_shuffle=True,
        )  # fmt: skip
        return ((batch.sils, batch.labels) for batch in loader), len(train), str(path)
    n = frames_shape[0]
    sils = walking_silhouettes(n, frames_shape[1], frames_shape[2], frames_shape[3])
    labels = torch.arange(n) // sampler.sequences_per_subject
    return iter(lambda: (sils, labels), None), int(labels.max()) + 1, "random walking silhouettes"


def landmarkgait_forward(model: nn.Module, sils: torch.Tensor, clock: PhaseClock) -> dict[str, torch.Tensor]:
    """``RecognitionModel.forward``, one timed step at a time."""
    frames, codes = model.locate(sils)
    clock.lap("LandmarkNet")
    parts = model.reconstruct_parts(codes)
    config = model.config
    masks = part_masks(
        parts, frames, config.mask_threshold, config.dilation_kernel, per_sample=not model.training
    )
    mixed = model.parts_mixup(masks)
    clock.lap("ParsingNet (frozen refiner, masks, mixup)")
    features = {}
    for name, clips in zip(APPEARANCE_PASSES, (frames, masks.head, masks.up, masks.low, mixed), strict=True):
        features[name] = model.appearance(clips)
        clock.lap(f"appearance: {name}")
    union = torch.max(torch.max(features["head"], features["up"]), features["low"])
    embeddings, logits = model.embed_features(torch.cat([features["whole"], union, features["mixed"]], dim=2))
    clock.lap("heads")
    return {
        **model.landmark_outputs(codes),
        **model.parsing_outputs(parts, masks),
        "mixed_parts": mixed,
        "embeddings": embeddings,
        "logits": logits,
    }


def holistic_forward(model: nn.Module, sils: torch.Tensor, clock: PhaseClock) -> dict[str, torch.Tensor]:
    """``HolisticModel.forward``, one timed step at a time."""
    whole = model.appearance(sils)
    clock.lap("appearance: whole")
    embeddings, logits = model.embed_features(whole)
    clock.lap("heads")
    return {"embeddings": embeddings, "logits": logits}


def profile(
    config: PipelineConfig,
    stage: str,
    forward: Callable[[nn.Module, torch.Tensor, PhaseClock], dict[str, torch.Tensor]],
    iterations: int,
    warmup: int,
) -> tuple[dict[str, float], float, str]:
    """Seconds per iteration of each phase, total s/it, and the data's origin."""
    sampler = config.stages.recognition.sampler
    shape = (sampler.batch_size, sampler.frames, config.model.network_config(stage)["height"], 44)
    data, classes, origin = batches(config, shape)
    model = build_model(stage, config.model.preset, num_classes=classes, **config.model.build_kwargs())
    optimizer = build_optimizer(model, stage, config.stages.recognition.optimizer)
    weights = config.stages.recognition.loss
    model.train()
    clock = PhaseClock()
    started = 0.0
    for iteration in range(warmup + iterations):
        if iteration == warmup:
            clock.counting, started = True, time.perf_counter()
        clock.start()
        sils, labels = next(data)
        clock.lap("data")
        outputs = forward(model, sils, clock)
        total, _ = compute_losses(stage, outputs, sils, labels, weights)
        clock.lap("losses")
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        clock.lap("backward")
        optimizer.step()
        clock.lap("optimiser")
    elapsed = time.perf_counter() - started
    return (
        {phase: seconds / iterations for phase, seconds in clock.seconds.items()},
        elapsed / iterations,
        origin,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "ray_configs" / "benchmark.yaml")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-landmark", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    landmarkgait = load_config(args.config, [f"model.num_landmark={args.num_landmark}"])
    holistic = load_config(args.config, ["model.recognition_branches=holistic"])
    rows = {}
    for label, config, stage, forward in (
        (f"LandmarkGait-{args.num_landmark}", landmarkgait, "recognition", landmarkgait_forward),
        ("holistic", holistic, "holistic", holistic_forward),
    ):
        phases, per_iteration, origin = profile(config, stage, forward, args.iterations, args.warmup)
        rows[label] = per_iteration
        sampler = config.stages.recognition.sampler
        print(
            f"\n{label}: {sampler.subjects_per_batch}x{sampler.sequences_per_subject} clips of "
            f"{sampler.frames} frames, preset {config.model.preset}, {args.threads} threads, "
            f"{args.iterations} iterations after {args.warmup} warm-up; data: {origin}"
        )
        for phase, seconds in phases.items():
            print(f"  {phase:<42} {1000 * seconds:9.1f} ms  {100 * seconds / per_iteration:5.1f} %")
        print(f"  {'total':<42} {1000 * per_iteration:9.1f} ms")
    names = list(rows)
    print(
        f"\n{names[0]} {rows[names[0]]:.3f} s/it, {names[1]} {rows[names[1]]:.3f} s/it, "
        f"ratio {rows[names[0]] / rows[names[1]]:.2f}"
    )


if __name__ == "__main__":
    main()
