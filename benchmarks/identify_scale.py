"""identify at gallery scale: the streaming ranking against OpenGait's distance on the gallery in memory.

A synthetic gallery (``--gallery`` sequences of ``--gallery / --per-subject`` subjects, an identity
per subject plus noise per sequence, float32 ``[C, P]``) is written once as an embeddings dataset
(the Parquet layout ``landmarkgait embed`` writes) and as a NumPy array. Each side then runs in
its own process on the same probes and the same open-set calibration rows (2,000 gallery
sequences): landmarkgait's ``identify`` ranking (``rank_gallery``: the gallery streamed from
Parquet in batches) and OpenGait's ``cuda_dist`` on the whole gallery loaded in memory (how its
evaluator compares embeddings; OpenGait has no identify), followed by the same top-k and
impostor reductions. The script prints wall time and each process's own peak RSS side by side,
and checks that both find the same top-k identities and the same threshold.

    python benchmarks/identify_scale.py --gallery 100000 --opengait ~/OpenGait
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evaluation_speed import load_opengait_evaluator, peak_rss_mib

RUN_ID = "0" * 32
ROWS_PER_FILE = 10_000
TOP_K = 5
FALSE_ACCEPT_RATE = 0.01


def write_gallery(folder: Path, args: argparse.Namespace) -> None:
    """``gallery.emb/`` (Parquet) and ``gallery.npy`` + ``subjects.npy``, written in chunks."""
    from landmarkgait.pipelines.deploy.embedding import EMBEDDINGS_SCHEMA

    rng = np.random.default_rng(0)
    subjects = args.gallery // args.per_subject
    identity = rng.standard_normal((subjects, args.channels, args.parts), dtype=np.float32)
    labels = np.arange(args.gallery) % subjects
    names = np.array([f"{label:05d}" for label in labels])
    np.save(folder / "subjects.npy", names)
    array = np.lib.format.open_memmap(
        folder / "gallery.npy", mode="w+", dtype=np.float32, shape=(args.gallery, args.channels, args.parts)
    )
    (folder / "gallery.emb").mkdir()
    for number, first in enumerate(range(0, args.gallery, ROWS_PER_FILE)):
        rows = np.arange(first, min(first + ROWS_PER_FILE, args.gallery))
        vectors = identity[labels[rows]] + 5.0 * rng.standard_normal(
            (rows.size, args.channels, args.parts), dtype=np.float32
        )
        array[rows] = vectors
        width = args.channels * args.parts
        offsets = pa.array(np.arange(rows.size + 1, dtype=np.int32) * width)
        columns = {
            "subject": pa.array(names[rows]),
            "type": pa.array(np.where(rows % 2 == 0, "00", "01")),
            "view": pa.array([f"{(row // 2 % 14) * 15:03d}" for row in rows]),
            "run_id": pa.array([RUN_ID] * rows.size),
            "num_frames": pa.array(np.full(rows.size, 30, np.int32)),
            "channels": pa.array(np.full(rows.size, args.channels, np.int32)),
            "parts": pa.array(np.full(rows.size, args.parts, np.int32)),
            "embedding": pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1))),
        }
        table = pa.table(columns, schema=EMBEDDINGS_SCHEMA)
        pq.write_table(table, folder / "gallery.emb" / f"part-{number:05d}.parquet", row_group_size=1024)
    array.flush()
    del array
    probes = identity[rng.integers(0, subjects, args.probes)]
    probes += 5.0 * rng.standard_normal(probes.shape, dtype=np.float32)
    np.save(folder / "probes.npy", probes)


def run_landmarkgait(folder: Path) -> dict:
    import torch

    from landmarkgait.pipelines.deploy.gallery import scan_gallery
    from landmarkgait.pipelines.deploy.identify import rank_gallery

    index = scan_gallery(folder / "gallery.emb")
    probes = torch.from_numpy(np.load(folder / "probes.npy"))
    ranking = rank_gallery(index, probes, "euc", top_k=TOP_K, calibration=np.load(folder / "rows.npy"))
    return {
        "top_k": [[subject for subject, _, _ in nearest] for nearest in ranking.nearest],
        "threshold": float(np.quantile(ranking.impostor_distances, FALSE_ACCEPT_RATE)),
    }


def run_opengait(folder: Path, root: Path) -> dict:
    import importlib

    import torch

    load_opengait_evaluator(root)
    cuda_dist = importlib.import_module("evaluation.metric").cuda_dist
    gallery = np.load(folder / "gallery.npy")
    subjects = np.load(folder / "subjects.npy")
    probes, rows = np.load(folder / "probes.npy"), np.load(folder / "rows.npy")
    distance = cuda_dist(np.concatenate([probes, gallery[rows]]), gallery, "euc")
    top_k = []
    for row in distance[: len(probes)]:
        found: list[str] = []
        for index in torch.argsort(row, stable=True).tolist():
            if subjects[index] not in found:
                found.append(str(subjects[index]))
                if len(found) == TOP_K:
                    break
        top_k.append(found)
    same = torch.from_numpy(subjects[rows][:, None] == subjects[None, :])
    impostor = distance[len(probes) :].masked_fill(same, float("inf")).min(1).values.double().numpy()
    return {"top_k": top_k, "threshold": float(np.quantile(impostor, FALSE_ACCEPT_RATE))}


def child(folder: Path, side: str, opengait: Path | None) -> None:
    start = time.perf_counter()
    result = run_landmarkgait(folder) if side == "landmarkgait" else run_opengait(folder, opengait)
    print(json.dumps({**result, "rank_s": time.perf_counter() - start, "peak_rss_mib": peak_rss_mib()}))


def measure(folder: Path, side: str, opengait: Path | None) -> dict:
    command = [sys.executable, __file__, "--child", side, "--folder", str(folder)]
    if opengait:
        command += ["--opengait", str(opengait)]
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{side} failed (status {result.returncode})")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=100_000, help="gallery sequences")
    parser.add_argument("--per-subject", type=int, default=20, help="sequences per gallery subject")
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--parts", type=int, default=96)
    parser.add_argument("--opengait", type=Path, help="root of an OpenGait checkout (compare against it)")
    parser.add_argument("--child", choices=("landmarkgait", "opengait"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.folder, args.child, args.opengait)
        return
    from landmarkgait.pipelines.deploy.gallery import scan_gallery
    from landmarkgait.pipelines.deploy.identify import calibration_rows

    with tempfile.TemporaryDirectory(prefix="landmarkgait-identifybench-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        write_gallery(folder, args)
        np.save(folder / "rows.npy", calibration_rows(scan_gallery(folder / "gallery.emb")))
        print(
            f"gallery: {args.gallery} sequences of {args.gallery // args.per_subject} subjects, "
            f"C={args.channels}, P={args.parts} ({args.gallery * args.channels * args.parts * 4 / 2**30:.2f} GiB), "
            f"{args.probes} probes + 2000 calibration sequences, euclidean; written in "
            f"{time.perf_counter() - start:.0f} s; {os.cpu_count()} CPUs"
        )
        sides = ["landmarkgait"] + (["opengait"] if args.opengait else [])
        results = {side: measure(folder, side, args.opengait) for side in sides}
    print(f"{'side':14s} {'wall s':>8s} {'rank s':>8s} {'peak RSS MiB':>13s}  threshold")
    for side, result in results.items():
        print(
            f"{side:14s} {result['wall_s']:8.1f} {result['rank_s']:8.1f} "
            f"{result['peak_rss_mib']:13.0f}  {result['threshold']:.5f}"
        )
    if "opengait" in results:
        ours, theirs = results["landmarkgait"], results["opengait"]
        same = sum(a == b for a, b in zip(ours["top_k"], theirs["top_k"], strict=True))
        print(
            f"agreement: top-{TOP_K} identities equal for {same}/{args.probes} probes; "
            f"threshold difference {abs(ours['threshold'] - theirs['threshold']):.2e}"
        )


if __name__ == "__main__":
    main()
