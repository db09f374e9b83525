"""Evaluation speed and memory: landmarkgait's evaluator against OpenGait's on the same embeddings.

Synthetic embeddings (an identity per subject plus noise per sequence, float32 ``[N, C, P]``) with
the labels of the CASIA-B test set (50 subjects x 10 types x 11 views = 5,500 sequences) or of the
OU-MVLP test set (5,153 subjects x 2 types x 14 views = 144,284 sequences, ``--fraction`` keeps
1/k of the subjects) are written once; each evaluator then runs in its own process on them, and
the script prints wall time (the whole process, imports included) and peak RSS side by side.
With ``--opengait-timeout`` OpenGait's process is stopped after that many seconds and its row
gives lower bounds (``>`` its wall time, ``>=`` its peak RSS so far): at full OU-MVLP scale it
needs well over an hour on 2 cores.

OpenGait's ``evaluate_indoor_dataset`` is loaded from a checkout given with ``--opengait`` (the
repository root). Its package imports TensorBoard and torchvision only for logging, so a small
stand-in ``utils`` module is put in its place, and ``Tensor.cuda`` returns the tensor itself so
that it runs on the CPU. The summary rank-1 of both must agree to OpenGait's 2-decimal rounding.

    python benchmarks/evaluation_speed.py --dataset casia-b --opengait ~/OpenGait
    python benchmarks/evaluation_speed.py --dataset oumvlp --fraction 16 --opengait ~/OpenGait
    python benchmarks/evaluation_speed.py --dataset oumvlp --fraction 1 --opengait ~/OpenGait \
        --opengait-timeout 1800
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

CASIA_B_TYPES = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
CASIA_B_VIEWS = [f"{angle:03d}" for angle in range(0, 181, 18)]
OUMVLP_VIEWS = [f"{angle:03d}" for angle in (*range(0, 91, 15), *range(180, 271, 15))]
OUMVLP_TEST_SUBJECTS = 5153


def synthetic_embeddings(dataset: str, fraction: int, channels: int, parts: int, seed: int = 0) -> dict:
    """Embeddings and labels of a test set of ``dataset``'s shape (every sequence present)."""
    if dataset == "casia-b":
        subjects, kinds, views = 50, CASIA_B_TYPES, CASIA_B_VIEWS
    else:
        subjects, kinds, views = OUMVLP_TEST_SUBJECTS // fraction, ["00", "01"], OUMVLP_VIEWS
    rng = np.random.default_rng(seed)
    identity = rng.standard_normal((subjects, channels, parts), dtype=np.float32)
    labels = np.repeat(np.arange(subjects), len(kinds) * len(views))
    embeddings = identity[labels]
    embeddings += 5.0 * rng.standard_normal(embeddings.shape, dtype=np.float32)
    return {
        "embeddings": embeddings,
        "labels": np.array([f"{label:05d}" for label in labels]),
        "types": np.tile(np.repeat(kinds, len(views)), subjects),
        "views": np.tile(views, subjects * len(kinds)),
    }


def run_landmarkgait(arrays: dict, dataset: str) -> dict[str, float]:
    from landmarkgait.data.evaluation.protocols import evaluate_protocol

    evaluation = evaluate_protocol(
        "casia_b" if dataset == "casia-b" else "oumvlp",
        arrays["embeddings"],
        subjects=arrays["labels"].tolist(),
        types=arrays["types"].tolist(),
        views=arrays["views"].tolist(),
    )
    summary = evaluation.summary()
    return {
        condition: summary[f"rank1/{condition}"]
        for condition in ("NM", "BG", "CL")
        if f"rank1/{condition}" in summary
    }


def load_opengait_evaluator(root: Path) -> types.ModuleType:
    """OpenGait's ``evaluation.evaluator`` with a logging-only stand-in for its ``utils`` package."""
    import logging

    import torch

    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # run its CUDA calls on the CPU
    stand_in = types.ModuleType("utils")
    stand_in.get_msg_mgr = lambda: types.SimpleNamespace(log_info=logging.getLogger("opengait").info)
    stand_in.mkdir = lambda path: os.makedirs(path, exist_ok=True)
    stand_in.is_tensor = torch.is_tensor
    sys.modules["utils"] = stand_in
    package = root / "opengait" / "evaluation"
    if not (package / "evaluator.py").is_file():
        raise SystemExit(f"--opengait {root}: no opengait/evaluation/evaluator.py under it")
    spec = importlib.util.spec_from_file_location(
        "evaluation", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluation"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("evaluation.evaluator")


def run_opengait(arrays: dict, dataset: str, root: Path) -> dict[str, float]:
    evaluator = load_opengait_evaluator(root)
    result = evaluator.evaluate_indoor_dataset(
        {key: arrays[key] for key in ("embeddings", "labels", "types", "views")},
        "CASIA-B" if dataset == "casia-b" else "OUMVLP",
    )
    return {key.split("/")[-1].split("@")[0]: float(value) for key, value in result.items()}


def child(arrays_path: Path, evaluator: str, dataset: str, opengait: Path | None) -> None:
    """One evaluator in this process; prints its result as JSON."""
    with np.load(arrays_path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    start = time.perf_counter()
    if evaluator == "landmarkgait":
        rank1 = run_landmarkgait(arrays, dataset)
    else:
        assert opengait is not None
        rank1 = run_opengait(arrays, dataset, opengait)
    seconds = time.perf_counter() - start
    print(json.dumps({"rank1": rank1, "evaluate_s": seconds, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib(process: str = "self") -> float:
    """A process's own peak resident memory (``VmHWM``). Not ``wait4``'s ``ru_maxrss``: Linux
    carries the parent's peak over a fork and exec into it, so every child reported the parent's
    peak (the arrays it generated) whatever the evaluator used."""
    for line in Path(f"/proc/{process}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmHWM in /proc/{process}/status (Linux only)")


def measure(arrays_path: Path, evaluator: str, args: argparse.Namespace, timeout: float | None) -> dict:
    """Run one evaluator in a child process: its result, wall time and peak RSS. A child still
    running after ``timeout`` seconds is stopped; its peak RSS so far is read first, and the result
    says ``timed_out`` (both figures are then lower bounds)."""
    command = [
        sys.executable,
        __file__,
        "--child",
        evaluator,
        "--arrays",
        str(arrays_path),
        "--dataset",
        args.dataset,
    ]
    if args.opengait:
        command += ["--opengait", str(args.opengait)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peak = peak_rss_mib(str(process.pid))
        process.kill()
        process.wait()
        return {"timed_out": True, "rank1": {}, "wall_s": time.perf_counter() - start, "peak_rss_mib": peak}
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{evaluator} failed (status {process.returncode})")
    return {**json.loads(output.strip().splitlines()[-1]), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("casia-b", "oumvlp"), default="casia-b")
    parser.add_argument("--fraction", type=int, default=16, help="OU-MVLP: keep 1/k of the test subjects")
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--parts", type=int, default=96)
    parser.add_argument("--opengait", type=Path, help="root of an OpenGait checkout (compare against it)")
    parser.add_argument(
        "--opengait-timeout",
        type=float,
        help="stop OpenGait's evaluator after this many seconds and report lower bounds",
    )
    parser.add_argument("--child", choices=("landmarkgait", "opengait"), help=argparse.SUPPRESS)
    parser.add_argument("--arrays", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.arrays, args.child, args.dataset, args.opengait)
        return
    arrays = synthetic_embeddings(args.dataset, args.fraction, args.channels, args.parts)
    count = arrays["embeddings"].shape[0]
    print(
        f"{args.dataset}: {count} sequences, C={args.channels}, P={args.parts}, euclidean; "
        f"{os.cpu_count()} CPUs, torch threads default",
        flush=True,
    )
    evaluators = ["landmarkgait"] + (["opengait"] if args.opengait else [])
    with tempfile.TemporaryDirectory(prefix="landmarkgait-evalbench-") as scratch:
        arrays_path = Path(scratch) / "arrays.npz"
        np.savez(arrays_path, **arrays)
        del arrays
        print(
            f"{'evaluator':14s} {'wall s':>8s} {'evaluate s':>11s} {'peak RSS MiB':>13s}  rank-1", flush=True
        )
        results = {}
        for name in evaluators:
            # Each row as soon as its evaluator ends: at full OU-MVLP scale one side takes most of
            # an hour, and an interrupted run still shows the other.
            timeout = args.opengait_timeout if name == "opengait" else None
            result = results[name] = measure(arrays_path, name, args, timeout)
            if result.get("timed_out"):
                print(
                    f"{name:14s} {'>' + format(result['wall_s'], '.1f'):>8s} {'-':>11s} "
                    f"{'>=' + format(result['peak_rss_mib'], '.0f'):>13s}  stopped, still evaluating",
                    flush=True,
                )
                continue
            rank1 = "  ".join(f"{key} {value:.2f}" for key, value in sorted(result["rank1"].items()))
            print(
                f"{name:14s} {result['wall_s']:8.1f} {result['evaluate_s']:11.1f} "
                f"{result['peak_rss_mib']:13.0f}  {rank1}",
                flush=True,
            )
    if "opengait" in results and not results["opengait"].get("timed_out"):
        ours, theirs = results["landmarkgait"]["rank1"], results["opengait"]["rank1"]
        worst = max(abs(ours[key] - theirs[key]) for key in theirs)
        print(f"rank-1 agreement: largest difference {worst:.4f} points (OpenGait rounds cells to 0.01)")


if __name__ == "__main__":
    main()
