"""Evaluation speed and memory: landmarkgait's evaluator against OpenGait's on the same embeddings.

Synthetic embeddings (an identity per subject plus noise per sequence, float32 ``[N, C, P]``) with
the labels of a test set's shape are written once; each evaluator then runs in its own process on
them, and the script prints wall time (the whole process, imports included), the evaluation's
own wall and CPU time (all threads: on a machine shared with other jobs wall time says little),
peak RSS and the headline metrics side by side, and how far apart the metrics are. ``--fraction k`` keeps 1/k of
the subjects. Test-set shapes (``--dataset``):

- ``casia-b`` (and ``casia-b-cross-view``): 50 subjects x 10 types x 11 views = 5,500 sequences;
- ``oumvlp`` (and ``oumvlp-cross-view``): 5,153 subjects x 2 types x 14 views = 144,284;
- ``gait3d``: 1,000 subjects, 6,369 sequences (6 or 7 each), one probe per subject (PROBE_SET);
- ``grew``: 6,000 subjects x types 01 and 02, and 24,000 challenge probes (type 03) = 36,000;
  local rank-k and the submission file, whose rows must be identical on both sides;
- ``ccpg``: 100 subjects x 7 types x 12 cameras = 8,400;
- ``sustech1k``: 800 subjects x 12 views x (00-nm and one probe type) = 19,200;
- ``casia-e``: 814 subjects x 48 types (2 heights x 4 scenes x 3 conditions x 2) x 14 views
  (000-180 every 15 degrees, and 270) = 547,008, an assumed shape (OpenGait's README gives none).

With ``--opengait-timeout`` OpenGait's process is stopped after that many seconds and its row
gives lower bounds (``>`` its wall time, ``>=`` its peak RSS so far): at full OU-MVLP scale it
needs well over an hour on 2 cores.

OpenGait's evaluator is loaded from a checkout given with ``--opengait`` (the repository root). Its
package imports TensorBoard and torchvision only for logging, so a small stand-in ``utils`` module
is put in its place, and ``Tensor.cuda`` returns the tensor itself so that it runs on the CPU.
Metrics must agree to OpenGait's 2-decimal rounding of each cell (tests/test_protocols_opengait.py
uses ``run_opengait`` below on small test sets).

    python benchmarks/evaluation_speed.py --dataset casia-b --opengait ~/OpenGait
    python benchmarks/evaluation_speed.py --dataset oumvlp --fraction 16 --opengait ~/OpenGait
    python benchmarks/evaluation_speed.py --dataset grew --fraction 1 --opengait ~/OpenGait
    python benchmarks/evaluation_speed.py --dataset oumvlp --fraction 1 --opengait ~/OpenGait \\
        --opengait-timeout 1800
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
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
CCPG_TYPES = ["U0_D0", "U0_D0_BG", "U0_D3", "U1_D0", "U1_D1", "U2_D2", "U3_D3"]
SUSTECH1K_PROBE_TYPES = ["01-nm", "01-bg", "02-cl", "02-cr", "03-ub", "03-uf", "04-oc", "04-nt"]
CASIA_E_TYPES = [
    f"{height}-{scene}-{condition}-{number}"
    for height in ("H", "L")
    for scene in ("scene1", "scene2", "scene3", "scene3_s")
    for condition in ("nm", "bg", "cl")
    for number in (1, 2)
]
CASIA_E_VIEWS = [f"{angle:03d}" for angle in range(0, 181, 15)] + ["270"]

# --dataset: (landmarkgait's protocol, OpenGait's function(s), OpenGait's dataset name, cross-view)
DATASETS: dict[str, tuple[str, tuple[str, ...], str, bool]] = {
    "casia-b": ("casia_b", ("evaluate_indoor_dataset",), "CASIA-B", False),
    "oumvlp": ("oumvlp", ("evaluate_indoor_dataset",), "OUMVLP", False),
    "casia-b-cross-view": ("casia_b_cross_view", ("evaluate_indoor_dataset",), "CASIA-B", True),
    "oumvlp-cross-view": ("oumvlp_cross_view", ("evaluate_indoor_dataset",), "OUMVLP", True),
    "gait3d": ("gait3d", ("evaluate_Gait3D",), "Gait3D", False),
    "grew": ("grew", ("evaluate_real_scene", "GREW_submission"), "GREW", False),
    "ccpg": ("ccpg", ("evaluate_CCPG",), "CCPG", False),
    "sustech1k": ("sustech1k", ("evaluate_indoor_dataset",), "SUSTech1K", False),
    "casia-e": ("casia_e", ("evaluate_indoor_dataset",), "CASIA-E", False),
}


def labels_of_test_set(dataset: str, fraction: int) -> dict[str, np.ndarray]:
    """Labels of a test set of ``dataset``'s shape, 1/``fraction`` of its subjects (``probe_keys``
    lists Gait3D's probes, empty elsewhere)."""
    rows: list[tuple[str, str, str]] = []
    probe_keys: list[str] = []
    if dataset.startswith("casia-b"):
        rows = [(f"{s:03d}", t, v) for s in range(75, 125) for t in CASIA_B_TYPES for v in CASIA_B_VIEWS]
    elif dataset.startswith("oumvlp"):
        subjects = range(OUMVLP_TEST_SUBJECTS // fraction)
        rows = [(f"{s:05d}", t, v) for s in subjects for t in ("00", "01") for v in OUMVLP_VIEWS]
    elif dataset == "gait3d":
        for s in range(1000 // fraction):
            for k in range(7 if s < 369 // fraction else 6):
                rows.append((f"{s:04d}", f"camid{k + 1}_videoid{k % 3 + 1}", f"seq{k}"))
            probe_keys.append(f"{s:04d}-camid1_videoid1-seq0")
    elif dataset == "grew":
        subjects = 6000 // fraction
        rows = [(f"{s + 1:05d}", t, f"{t}v{s:05d}") for s in range(subjects) for t in ("01", "02")]
        rows += [("probe", "03", f"video{k:06d}") for k in range(24000 // fraction)]
    elif dataset == "ccpg":
        subjects = range(100, 100 + 100 // fraction)
        rows = [
            (f"{s:03d}", t, f"{c:02d}_{i}")
            for s in subjects
            for i, t in enumerate(CCPG_TYPES)
            for c in range(1, 13)
        ]
    elif dataset == "sustech1k":
        views = [f"{angle:03d}" for angle in range(0, 360, 30)]
        for s in range(800 // fraction):
            probe_type = SUSTECH1K_PROBE_TYPES[s % len(SUSTECH1K_PROBE_TYPES)]
            rows += [(f"{s:04d}", t, v) for t in ("00-nm", probe_type) for v in views]
    elif dataset == "casia-e":
        subjects = range(201, 201 + 814 // fraction)
        rows = [(f"{s:04d}", t, v) for s in subjects for t in CASIA_E_TYPES for v in CASIA_E_VIEWS]
    else:
        raise SystemExit(f"unknown dataset {dataset}")
    subjects_, types_, views_ = (np.array(column) for column in zip(*rows, strict=True))
    return {
        "labels": subjects_,
        "types": types_,
        "views": views_,
        "probe_keys": np.array(probe_keys, dtype=str),
    }


def synthetic_embeddings(dataset: str, fraction: int, channels: int, parts: int, seed: int = 0) -> dict:
    """Embeddings and labels of a test set of ``dataset``'s shape (every sequence present)."""
    arrays = labels_of_test_set(dataset, fraction)
    rng = np.random.default_rng(seed)
    names, subject_index = np.unique(arrays["labels"], return_inverse=True)
    identity = rng.standard_normal((names.size, channels, parts), dtype=np.float32)
    embeddings = identity[subject_index.reshape(-1)]
    embeddings += 5.0 * rng.standard_normal(embeddings.shape, dtype=np.float32)
    return {"embeddings": embeddings, **arrays}


def run_landmarkgait(arrays: dict, dataset: str, scratch: Path) -> dict[str, float]:
    """Our evaluation's summary metrics (the GREW submission is written to ``scratch``)."""
    from landmarkgait.data.evaluation.protocols import evaluate_protocol

    evaluation = evaluate_protocol(
        DATASETS[dataset][0],
        arrays["embeddings"],
        subjects=arrays["labels"].tolist(),
        types=arrays["types"].tolist(),
        views=arrays["views"].tolist(),
        probe_keys=arrays["probe_keys"].tolist() or None,
    )
    if evaluation.submission is not None:
        evaluation.submission.to_csv(scratch / "landmarkgait-submission.csv")
    return {name: value for name, value in evaluation.summary().items() if name.count("/") <= 1}


def load_opengait_evaluator(root: Path) -> types.ModuleType:
    """OpenGait's ``evaluation.evaluator`` with a logging-only stand-in for its ``utils`` package."""
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


class _Lines(logging.Handler):
    """OpenGait's log lines: several figures (rank-5, rank-10/20, CCPG's) are only logged."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run_opengait(arrays: dict, dataset: str, root: Path) -> tuple[dict[str, float], str | None]:
    """OpenGait's function(s) for ``dataset`` on ``arrays``, their figures under our summary names,
    and the text of its GREW submission file. Runs in the working directory, where OpenGait reads
    Gait3D's partition (``datasets/Gait3D/Gait3D.json``, written here) and writes ``GREW_result/``."""
    _, functions, name, cross_view = DATASETS[dataset]
    evaluator = load_opengait_evaluator(root)
    log = _Lines()
    logging.getLogger("opengait").addHandler(log)
    logging.getLogger("opengait").setLevel(logging.INFO)
    if dataset == "gait3d":
        os.makedirs("datasets/Gait3D", exist_ok=True)
        Path("datasets/Gait3D/Gait3D.json").write_text(
            json.dumps({"PROBE_SET": arrays["probe_keys"].tolist()})
        )
    data = {
        "embeddings": arrays["embeddings"],
        "labels": arrays["labels"].tolist(),
        "types": arrays["types"],
        "views": arrays["views"].tolist(),  # a list: evaluate_CCPG rewrites it in place
    }
    results: dict = {}
    for function in functions:
        keywords = {"cross_view_gallery": True} if cross_view else {}
        results |= getattr(evaluator, function)(data, name, **keywords) or {}
    metrics: dict[str, float] = {}
    for key, value in results.items():
        label = key.split("/")[-1].replace("Umberalla", "Umbrella")
        if match := re.fullmatch(r"(\w+)@R1", label):
            metrics[f"rank1/{match[1]}"] = float(value)
        elif match := re.fullmatch(r"(\w+)-(Rank@1|mAP)", label):
            metrics[f"{'rank1' if match[2] == 'Rank@1' else 'mAP'}/{match[1]}"] = float(value)
        elif match := re.fullmatch(r"Rank-(\d+)", label):
            metrics[f"rank{match[1]}"] = float(value)
        elif label in ("mAP", "mINP"):
            metrics[label] = float(value)
    text = "\n".join(log.lines)
    for attribute, value in re.findall(r"(\w+)@R5: ([\d.]+)%", text):
        metrics[f"rank5/{attribute.replace('Umberalla', 'Umbrella')}"] = float(value)
    if dataset == "grew":
        metrics = {
            f"rank{rank}": float(value) for rank, value in re.findall(r"==Rank-(\d+)==\n([\d.]+)", text)
        }
    if dataset == "ccpg":
        metrics = {}
        for header, prefix in (
            (r"Rank-1 \(Exclude identical-view cases for Person", "reid_rank1"),
            (r"mAP \(Exclude identical-view cases for Person", "reid_mAP"),
            (r"mINP \(Exclude identical-view cases for Person", "reid_mINP"),
            (r"Rank-1 \(Include identical-view cases\)", "rank1_with_identical_views"),
            (r"Rank-1 \(Exclude identical-view cases\)===", "rank1"),
        ):
            line = re.search(header + r".*\n(.*)", text)[1]
            metrics |= {
                f"{prefix}/{setting}": float(value) for setting, value in re.findall(r"(\w+): ([\d.]+)", line)
            }
    submission = None
    if "GREW_submission" in functions:
        (path,) = Path("GREW_result").glob("*.csv")
        submission = path.read_text()
    return metrics, submission


def child(arrays_path: Path, evaluator: str, dataset: str, opengait: Path | None) -> None:
    """One evaluator in this process (working directory: the scratch folder); prints its result as JSON."""
    with np.load(arrays_path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    start, cpu_start = time.perf_counter(), time.process_time()
    if evaluator == "landmarkgait":
        metrics = run_landmarkgait(arrays, dataset, Path.cwd())
    else:
        assert opengait is not None
        metrics, submission = run_opengait(arrays, dataset, opengait)
        if submission is not None:
            Path("opengait-submission.csv").write_text(submission)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        json.dumps(
            {"metrics": metrics, "evaluate_s": seconds, "cpu_s": cpu_seconds, "peak_rss_mib": peak_rss_mib()}
        )
    )


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
        str(Path(__file__).resolve()),
        "--child",
        evaluator,
        "--arrays",
        str(arrays_path),
        "--dataset",
        args.dataset,
    ]
    if args.opengait:
        command += ["--opengait", str(args.opengait.resolve())]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=arrays_path.parent)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peak = peak_rss_mib(str(process.pid))
        process.kill()
        process.wait()
        return {"timed_out": True, "metrics": {}, "wall_s": time.perf_counter() - start, "peak_rss_mib": peak}
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{evaluator} failed (status {process.returncode})")
    return {**json.loads(output.strip().splitlines()[-1]), "wall_s": wall}


def headline(metrics: dict[str, float]) -> str:
    """The condition means and scalars (at most 8), as ``name value`` pairs."""
    shown = sorted(metrics.items())[:8]
    return "  ".join(f"{name} {value:.2f}" for name, value in shown) + ("  ..." if len(metrics) > 8 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="casia-b")
    parser.add_argument(
        "--fraction",
        type=int,
        help="keep 1/k of the test subjects (not CASIA-B; default 16 for OU-MVLP, else 1)",
    )
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
    if args.fraction is None:
        args.fraction = 16 if args.dataset.startswith("oumvlp") else 1
    arrays = synthetic_embeddings(args.dataset, args.fraction, args.channels, args.parts)
    count = arrays["embeddings"].shape[0]
    print(
        f"{args.dataset} (1/{args.fraction} of the subjects): {count} sequences, C={args.channels}, "
        f"P={args.parts}, euclidean; {os.cpu_count()} CPUs, torch threads default",
        flush=True,
    )
    evaluators = ["landmarkgait"] + (["opengait"] if args.opengait else [])
    with tempfile.TemporaryDirectory(prefix="landmarkgait-evalbench-") as scratch:
        arrays_path = Path(scratch) / "arrays.npz"
        np.savez(arrays_path, **arrays)
        del arrays
        print(
            f"{'evaluator':14s} {'wall s':>8s} {'evaluate s':>11s} {'CPU s':>8s} {'peak RSS MiB':>13s}  metrics",
            flush=True,
        )
        results = {}
        for name in evaluators:
            # Each row as soon as its evaluator ends: at full OU-MVLP scale one side takes most of
            # an hour, and an interrupted run still shows the other.
            timeout = args.opengait_timeout if name == "opengait" else None
            result = results[name] = measure(arrays_path, name, args, timeout)
            if result.get("timed_out"):
                print(
                    f"{name:14s} {'>' + format(result['wall_s'], '.1f'):>8s} {'-':>11s} {'-':>8s} "
                    f"{'>=' + format(result['peak_rss_mib'], '.0f'):>13s}  stopped, still evaluating",
                    flush=True,
                )
                continue
            print(
                f"{name:14s} {result['wall_s']:8.1f} {result['evaluate_s']:11.1f} {result.get('cpu_s', 0.0):8.1f} "
                f"{result['peak_rss_mib']:13.0f}  {headline(result['metrics'])}",
                flush=True,
            )
        if "opengait" in results and not results["opengait"].get("timed_out"):
            ours, theirs = results["landmarkgait"]["metrics"], results["opengait"]["metrics"]
            worst = max(abs(ours[key] - theirs[key]) for key in theirs)
            print(
                f"agreement on {len(theirs)} metrics: largest difference {worst:.4f} points "
                "(OpenGait rounds cells to 0.01)"
            )
            if args.dataset == "grew":
                ours_rows, their_rows = (
                    (Path(scratch) / f"{side}-submission.csv").read_text().splitlines()
                    for side in ("landmarkgait", "opengait")
                )
                differing = sum(a != b for a, b in zip(ours_rows, their_rows, strict=True))
                print(f"submission files: {differing} of {len(their_rows) - 1} probe rows differ")


if __name__ == "__main__":
    main()
