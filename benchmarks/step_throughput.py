"""Training-step throughput (forward + backward, frames/s) of each LandmarkGait stage.

    python benchmarks/step_throughput.py --preset paper --batch 2 --frames 12
    python benchmarks/step_throughput.py --preset paper --batch 2 --frames 12 --reference /path/to/LandmarkGait

With ``--reference`` (a checkout of the official wzb-bupt/LandmarkGait repository) the official
modules are built with the same configuration, loaded with our weights (strict, so this also
checks checkpoint compatibility), run on the same inputs with the same landmark-grouping draw,
timed the same way, and the ratio and the largest output difference are printed. The
official code is imported from the checkout, never copied; its optional imports that only
serve training on GPUs (torchvision, tensorboard) are stubbed when they are not installed.

``--refiners`` (stages 1 and 2) also times a step's refiner work alone: the LandmarkNet refiner
on every frame and, in stage 2, the ParsingNet refiner on every frame of each of the three
parts, forward and backward. Both implementations must do this work; with ``--reference`` the
official step time over it is the largest speed-up possible while the refiners run as fast
as ours do. It also prints the refiner work's rate in multiply-accumulates per second, counted
as direct convolutions (FFT kernels can exceed what direct convolutions reach), next to this
machine's float32 matrix-multiply rate on the same threads: the ceiling of direct convolution
kernels, which compute through matrix-multiply micro-kernels.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from landmarkgait.models import build_model
from landmarkgait.models.layers import BasicConv2d
from landmarkgait.models.losses import compute_losses
from landmarkgait.models.samples import walking_silhouettes
from landmarkgait.models.training_config import LossWeights

STAGES = ("landmark", "parsing", "recognition")
OFFICIAL_PARTS = 96
OFFICIAL_MODELS = {
    "landmark": ("modeling.models.landmarknet", "LandmarkGait_Silh_to_Landmark"),
    "parsing": ("modeling.models.parsingnet", "LandmarkGait_Landmark_to_Parsing"),
    "recognition": ("modeling.models.landmarkgait", "LandmarkGait_Recognition"),
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(steps: dict[str, Callable[[], None]], repeats: int, clock: str) -> dict[str, float]:
    """Best seconds per step of each callable, run alternately after one warm-up call each.

    Alternating and taking the best makes the ratio robust to other load on a shared machine;
    ``clock="cpu"`` (process CPU time) is more robust still, best with ``--threads 1``.
    """
    now = CLOCKS[clock]
    for step in steps.values():
        step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeats):
        for name, step in steps.items():
            start = now()
            step()
            best[name] = min(best[name], now() - start)
    return best


def training_step(
    stage: str, forward: Callable[[], dict[str, torch.Tensor]], model: nn.Module, sils, labels
) -> Callable[[], None]:
    weights = LossWeights()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        total, _ = compute_losses(stage, forward(), sils, labels, weights)
        total.backward()

    return step


def refiner_work(stage: str, model: nn.Module, frames: int) -> list[tuple[nn.Module, torch.Tensor]]:
    """The refiners of one training step of ``stage`` on ``frames`` frames, each with random features."""
    config = model.config
    shape = (config.channels[2], config.height // 4, config.width // 4)
    # Stage 1 trains the encoder, so its refiner's input needs a gradient; stage 2 freezes it.
    features = torch.randn(frames, *shape, requires_grad=not config.freeze_landmark_encoder)
    work = [(model.Backbone.refine, features)]
    if stage == "parsing":
        work.append((model.refine, torch.randn(3 * frames, *shape)))
    return work


def refiner_step(model: nn.Module, work: list[tuple[nn.Module, torch.Tensor]]) -> Callable[[], None]:
    """Forward and backward of every refiner in ``work``."""

    def step() -> None:
        model.zero_grad(set_to_none=True)
        sum(refiner(inputs).square().mean() for refiner, inputs in work).backward()

    return step


def forward_macs(refiner: nn.Module, inputs: torch.Tensor) -> list[float]:
    """Multiply-accumulates of each convolution layer of ``refiner`` on ``inputs``, in layer order."""
    layers = [m for m in refiner.modules() if isinstance(m, BasicConv2d | nn.ConvTranspose2d)]
    macs = dict.fromkeys(layers, 0.0)

    def count(module: nn.Module, layer_inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        conv = module.conv if isinstance(module, BasicConv2d) else module
        taps = conv.weight[0].numel()  # C_in * k * k; C_out * k * k for a transposed convolution
        pixels = layer_inputs[0] if isinstance(conv, nn.ConvTranspose2d) else output
        macs[module] += pixels.numel() * taps  # summed: the layer runs once per frame chunk

    handles = [layer.register_forward_hook(count) for layer in layers]
    with torch.no_grad():
        refiner(inputs)
    for handle in handles:
        handle.remove()
    return list(macs.values())


def training_macs(work: list[tuple[nn.Module, torch.Tensor]]) -> float:
    """Multiply-accumulates of ``refiner_step`` counted as direct convolutions.

    Every layer's forward, weight gradient and input gradient cost the same; the first layer
    skips its input gradient when its input needs none.
    """
    total = 0.0
    for refiner, inputs in work:
        layers = forward_macs(refiner, inputs)
        total += 3 * sum(layers) - (0 if inputs.requires_grad else layers[0])
    return total


def matmul_rate(clock: str, size: int = 1024, repeats: int = 5) -> float:
    """Best float32 ``size``-square matrix-multiply multiply-accumulates per second on this machine."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = time_interleaved({"mm": lambda: torch.mm(a, b)}, repeats, clock)["mm"]
    return size**3 / seconds


# -- the official code, imported from a checkout ---------------------------------------------------
def import_official(checkout: Path) -> None:
    """Put ``checkout/opengait`` on ``sys.path``; stub torchvision / tensorboard if absent."""
    root = checkout / "opengait"
    if not (root / "modeling" / "models" / "landmarkgait.py").is_file():
        raise SystemExit(f"--reference {checkout}: not a LandmarkGait checkout (no opengait/modeling)")

    def stub(name: str, **attributes) -> None:
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module

    try:
        importlib.import_module("torchvision")
    except ImportError:
        stub("torchvision")
        stub("torchvision.ops", RoIAlign=nn.Identity)
        stub("torchvision.utils")
        stub("torchvision.transforms")
    try:
        importlib.import_module("torch.utils.tensorboard")
    except ImportError:
        stub("torch.utils.tensorboard", SummaryWriter=object)
    sys.path.insert(0, str(root))


def official_config(model: nn.Module) -> dict:
    """The official ``model_cfg`` equivalent to our model's config."""
    config = model.config
    landmark = {
        "type": "landmarknet",
        "landmark_cfg": {
            "channels": list(config.channels),
            "height": config.height,
            "width": config.width,
            "inv_std": config.inv_std,
            "num_landmark": config.num_landmark,
            "freeze_half": config.freeze_landmark_encoder,
        },
    }
    if config.stage == "landmark":
        return {"landmarknet_cfg": landmark}
    cfg = {
        "landmarknet_cfg": landmark,
        "kernel_size": config.dilation_kernel,
        "channels": list(config.channels),
        "class_num": getattr(config, "num_classes", 74),
        "landmark_lr": 1e-4,
    }
    if config.stage == "recognition":
        cfg.update(
            channels_PMBConv=list(config.pmbconv_channels),
            freeze_half_bodypart=config.freeze_parsing,
            roll_up=config.roll_up,
            roll_low=config.roll_low,
        )
    return cfg


def build_official(stage: str, ours: nn.Module) -> nn.Module:
    """The official model class, built without its data loaders / CUDA setup, holding our weights."""
    module_name, class_name = OFFICIAL_MODELS[stage]
    module = importlib.import_module(module_name)
    # The official grouping draws from NumPy; route it to torch's RNG so both draw the same.
    module.np = types.SimpleNamespace(
        random=types.SimpleNamespace(randint=lambda high: int(torch.randint(high, (1,))))
    )
    cls = getattr(module, class_name)
    model = cls.__new__(cls)
    nn.Module.__init__(model)
    model.build_network(copy.deepcopy(official_config(ours)))
    model.load_state_dict(ours.state_dict(), strict=True)
    return model


def official_outputs(stage: str, result: dict, shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """The official return value renamed to our output names, ``[N, T, H, W]`` layout."""
    features, inference = result["training_feat"], result["inference_feat"]
    if stage == "landmark":
        return {
            "reconstruction": features["reconstruction"]["des_pred"][:, 0],
            "landmarks": inference["sils_landmark"],
        }
    summary = result["visual_summary"]
    outputs = {
        "reconstruction": features["reconstruction1"]["des_pred"][:, 0],
        "part_reconstruction": features["reconstruction2"]["des_pred"][:, 0],
        **{key: summary[f"image/{key}"].view(shape) for key in ("head", "up", "low")},
    }
    if stage == "parsing":
        outputs["landmarks"] = inference["landmark"]
    if stage == "recognition":
        outputs["mixed_parts"] = summary["image/roll"].view(shape)
        outputs["embeddings"] = features["triplet"]["embeddings"]
        outputs["logits"] = features["softmax"]["logits"]
    return outputs


def run_official(stage: str, official: nn.Module, sils, labels) -> dict[str, torch.Tensor]:
    return official_outputs(stage, official(([sils], labels, None, None, None)), sils.shape)


MASKS = ("head", "up", "low", "mixed_parts")


def compare(stage: str, ours: nn.Module, official: nn.Module, sils, labels) -> tuple[float, int]:
    """(largest absolute difference of the continuous outputs, mask pixels that differ), same
    grouping draw. Masks are thresholded, so float rounding can flip a borderline pixel."""
    torch.manual_seed(1)
    with torch.no_grad():
        mine = ours(sils)
    torch.manual_seed(1)
    with torch.no_grad():
        theirs = run_official(stage, official, sils, labels)
    difference = max(float((mine[k] - v).abs().max()) for k, v in theirs.items() if k not in MASKS)
    flipped = sum(int((mine[k] != v).sum()) for k, v in theirs.items() if k in MASKS)
    return difference, flipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="paper", help="model preset (default: paper)")
    parser.add_argument("--batch", type=int, default=2, help="sequences per batch (default: 2)")
    parser.add_argument("--frames", type=int, default=12, help="frames per sequence (default: 12)")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per measurement (default: 3)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time or process CPU time (default: wall)",
    )
    parser.add_argument("--reference", type=Path, help="checkout of wzb-bupt/LandmarkGait to compare with")
    parser.add_argument(
        "--refiners", action="store_true", help="also time the refiner work alone (stages 1 and 2)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.reference:
        import_official(args.reference)
    labels = torch.arange(args.batch) // 2  # pairs of sequences per subject: triplets exist

    print(
        f"preset={args.preset} batch={args.batch} frames={args.frames} "
        f"threads={torch.get_num_threads()} clock={args.clock}"
    )
    for stage in args.stages:
        torch.manual_seed(0)
        ours = build_model(stage, args.preset).train()
        sils = walking_silhouettes(args.batch, args.frames, ours.config.height, ours.config.width)
        frames = args.batch * args.frames
        steps = {"ours": training_step(stage, functools.partial(ours, sils), ours, sils, labels)}
        comparable = args.reference and getattr(ours.config, "num_parts", OFFICIAL_PARTS) == OFFICIAL_PARTS
        if comparable:
            official = build_official(stage, ours).train()
            difference, flipped = compare(stage, ours, official, sils, labels)
            forward = functools.partial(run_official, stage, official, sils, labels)
            steps["official"] = training_step(stage, forward, official, sils, labels)
        if args.refiners and stage != "recognition":
            work = refiner_work(stage, ours, frames)
            steps["refiners"] = refiner_step(ours, work)
        seconds = time_interleaved(steps, args.repeats, args.clock)
        line = f"{stage:12s} ours {frames / seconds['ours']:8.2f} frames/s"
        if comparable:
            line += (
                f" | official {frames / seconds['official']:8.2f} frames/s"
                f" | speed-up x{seconds['official'] / seconds['ours']:.2f}"
                f" | max |diff| {difference:.2g}, mask pixels differing {flipped}"
            )
        elif args.reference:
            line += f" | official: not comparable (it hard-codes {OFFICIAL_PARTS} parts)"
        print(line, flush=True)
        if "refiners" in seconds:
            line = f"{'':12s} refiners alone {frames / seconds['refiners']:8.2f} frames/s"
            line += f" ({seconds['refiners'] / seconds['ours']:.0%} of our step)"
            line += f", {training_macs(work) / seconds['refiners'] / 1e9:.1f} GMAC/s as direct convolutions"
            line += f" (matrix multiply here: {matmul_rate(args.clock) / 1e9:.1f} GMAC/s)"
            if comparable:
                line += f" | speed-up bound while they run as fast: x{seconds['official'] / seconds['refiners']:.2f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
