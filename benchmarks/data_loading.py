"""Benchmark: Parquet dataset vs OpenGait pickle tree, same sequences, disk size and P x K loading speed.

Builds (or reuses) a Parquet dataset of pretreated silhouettes, exports the identical sequences as
an OpenGait pickle tree, then times random P x K triplet batches loaded the way training loads them:
``SilhouetteDataset.read_many`` for Parquet, and OpenGait's loader (sequence files listed once when
the dataset is opened, ``pickle.load`` of each file per access) for pickles, both with ``--threads``
sequences read at once (``read_threads`` for Parquet, a thread pool for pickles). Each format is timed
with a warm page cache and a cold one (files evicted with ``posix_fadvise(DONTNEED)`` before every
batch, outside the timed region), and Parquet additionally with the reader's in-memory cache
after a warm-up pass.

``--storage-limit MIB_PER_SECOND,IOPS`` (root only) adds cold reads from storage with that
bandwidth and operation rate, imposed by the kernel's block I/O controller
(``storage_throttle.py``): for example ``125,3000``, the baseline of a cloud block volume (AWS
EBS gp3). The local disk here is served from the host's cache at about 3 GB/s even when cold,
which no training cluster's dataset storage matches.

Input: the synthetic benchmark (``landmarkgait.data.synth``) when it is importable, else smooth blob walkers
pretreated like real silhouettes (random noise would be an unfair input to compression).

    python benchmarks/data_loading.py --subjects 8 --batches 30
    sudo .venv/bin/python benchmarks/data_loading.py --subjects 8 --storage-limit 125,3000
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from landmarkgait.data.converters.to_pkl import export_pkl_tree
from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.sampling import TripletBatchSampler
from landmarkgait.data.writer import write_dataset
from storage_throttle import StorageLimit, throttled_reads

TYPES = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02")
VIEWS = tuple(f"{angle:03d}" for angle in range(0, 181, 18))


def blob_walker(rng: np.random.Generator, num_frames: int, size: int = 128) -> list[np.ndarray]:
    """A smooth walking figure (head, torso, swinging legs and arms), blurred like real masks."""
    width = rng.uniform(0.08, 0.13) * size
    step = rng.uniform(0.12, 0.2) * size
    period = rng.uniform(20, 30)
    phase = rng.uniform(0, 2 * np.pi)
    frames = []
    for t in range(num_frames):
        swing = np.sin(phase + 2 * np.pi * t / period)
        image = np.zeros((size, size), np.uint8)
        centre = int(size / 2 + rng.normal(0, 0.5))
        hip = (centre, int(0.58 * size))
        cv2.circle(image, (centre, int(0.12 * size)), int(0.07 * size), 255, -1)
        cv2.ellipse(image, (centre, int(0.38 * size)), (int(width), int(0.2 * size)), 0, 0, 360, 255, -1)
        for sign in (1, -1):
            foot = (int(centre + sign * swing * step), int(0.97 * size))
            cv2.line(image, hip, foot, 255, max(2, int(0.07 * size)))
            hand = (int(centre - sign * swing * step * 0.6), int(0.6 * size))
            cv2.line(image, (centre, int(0.25 * size)), hand, 255, max(2, int(0.04 * size)))
        frames.append(cv2.GaussianBlur(image, (5, 5), 1.2))
    return frames


def blob_records(subjects: int, seed: int) -> Iterator[SequenceRecord]:
    rng = np.random.default_rng(seed)
    for subject in range(1, subjects + 1):
        for type_ in TYPES:
            for view in VIEWS:
                raw = blob_walker(rng, int(rng.integers(30, 101)))
                frames = pretreat_sequence(raw).frames
                yield SequenceRecord(f"{subject:03d}", type_, view, frames)


def build_parquet(out: Path, subjects: int, source: str, seed: int) -> str:
    """Create the Parquet dataset; returns a description of the input used."""
    if source in ("auto", "synth"):
        try:
            from landmarkgait.data.synth.config import SynthConfig
            from landmarkgait.data.synth.generator import generate_dataset
        except ImportError:
            if source == "synth":
                raise
        else:
            from landmarkgait.pipelines.runtime.ray_runtime import ray_session

            with ray_session(include_dashboard=False):
                generate_dataset(SynthConfig(subjects=subjects, seed=seed), out)
            return "synthetic benchmark (landmarkgait.data.synth)"
    write_dataset(blob_records(subjects, seed), out, name="blob-walkers", source="benchmarks/data_loading.py")
    return "blob walkers (landmarkgait.data.synth not importable)"


def directory_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def evict(files: list[Path]) -> None:
    """Drop ``files`` from the page cache so the next read comes from the disk."""
    for path in files:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def opengait_loader(
    root: Path, dataset: SilhouetteDataset, threads: int
) -> Callable[[list[int]], list[np.ndarray]]:
    """Load sequences as OpenGait's ``DataSet`` does: each sequence's files listed once when the
    dataset is opened, then every access unpickles them; ``threads`` > 1 loads the sequences of
    a batch that many at a time (as the Parquet reader's ``read_threads``)."""
    files = []
    for entry in dataset.entries:
        directory = root / entry.subject / entry.type / entry.view
        files.append([directory / name for name in sorted(os.listdir(directory))])

    def load_sequence(index: int) -> list[np.ndarray]:
        arrays = []
        for path in files[index]:
            with open(path, "rb") as handle:
                arrays.append(pickle.load(handle))
        return arrays

    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def load(batch: list[int]) -> list[np.ndarray]:
        loaded = pool.map(load_sequence, batch) if pool else map(load_sequence, batch)
        return [array for arrays in loaded for array in arrays]

    return load


def parquet_loader(dataset: SilhouetteDataset) -> Callable[[list[int]], list[np.ndarray]]:
    def load(batch: list[int]) -> list[np.ndarray]:
        return [record.frames for record in dataset.read_many(batch)]

    return load


@dataclass(frozen=True)
class Condition:
    """One way of loading: a loader, the files to evict before each batch (cold), a read limit."""

    load: Callable[[list[int]], list[np.ndarray]]
    evicted: list[Path] | None = None
    limit: StorageLimit | None = None


def storage_limit_argument(text: str) -> StorageLimit:
    try:
        return StorageLimit.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def time_batches(condition: Condition, batches: list[list[int]], root: Path) -> float:
    """Sequences per second over ``batches``, reading from ``root``'s disk under the condition."""
    with throttled_reads(root, condition.limit) if condition.limit else nullcontext():
        elapsed = 0.0
        for batch in batches:
            if condition.evicted is not None:
                evict(condition.evicted)
            start = time.perf_counter()
            arrays = condition.load(batch)
            elapsed += time.perf_counter() - start
            assert len(arrays) == len(batch)
    return sum(len(b) for b in batches) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=8, help="subjects to generate (110 sequences each)")
    parser.add_argument("--batches", type=int, default=30, help="random P x K batches per measurement")
    parser.add_argument("--P", type=int, default=8, help="subjects per batch")
    parser.add_argument("--K", type=int, default=16, help="sequences per subject")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per condition (median printed)")
    parser.add_argument("--source", choices=("auto", "synth", "blobs"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="sequences read at once, for both formats (as the pipeline's default data.read_threads)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the datasets here and reuse them on later runs")
    parser.add_argument(
        "--storage-limit",
        type=storage_limit_argument,
        metavar="MIB_PER_SECOND,IOPS",
        help="also time cold reads throttled to this storage model, e.g. 125,3000 (needs root)",
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.storage_limit and os.geteuid() != 0:
        parser.error("--storage-limit needs root: it throttles reads through a block I/O cgroup")

    with tempfile.TemporaryDirectory(prefix="landmarkgait-bench-") as temp:
        workdir = args.workdir or Path(temp)
        parquet_dir, pickle_dir = workdir / "parquet", workdir / "pkl"
        started = time.perf_counter()
        described = "existing datasets in --workdir"
        if not parquet_dir.exists():
            described = build_parquet(parquet_dir, args.subjects, args.source, args.seed)
        if not pickle_dir.exists():
            export_pkl_tree(parquet_dir, pickle_dir)
        dataset = SilhouetteDataset(parquet_dir, read_threads=args.threads)
        print(
            f"input: {described}; {len(dataset)} sequences, {sum(e.num_frames for e in dataset.entries)} frames"
        )
        print(f"prepared in {time.perf_counter() - started:.0f} s under {workdir}")

        parquet_size, pickle_size = directory_size(parquet_dir), directory_size(pickle_dir)
        print(
            f"disk size: parquet {parquet_size / 2**20:.1f} MiB, pickle tree {pickle_size / 2**20:.1f} MiB, "
        )
        print(f"           ratio parquet/pickle = {parquet_size / pickle_size:.3f} (goal <= 0.3)")

        sampler = TripletBatchSampler(dataset.indices_by_subject(), args.P, args.K, seed=args.seed)
        batches = [sampler.global_batch(step) for step in range(args.batches)]
        parquet_files = [p for p in parquet_dir.rglob("*") if p.is_file()]
        pickle_files = [p for p in pickle_dir.rglob("*.pkl")]
        cached = SilhouetteDataset(parquet_dir, cache_bytes=8 * 2**30, read_threads=args.threads)
        pickles, parquets = opengait_loader(pickle_dir, dataset, args.threads), parquet_loader(dataset)
        conditions = {
            "pickle  warm": Condition(pickles),
            "parquet warm": Condition(parquets),
            "pickle  cold": Condition(pickles, pickle_files),
            "parquet cold": Condition(parquets, parquet_files),
            "parquet cache": Condition(parquet_loader(cached)),
        }
        if args.storage_limit:
            conditions["pickle  cold, limited"] = Condition(pickles, pickle_files, args.storage_limit)
            conditions["parquet cold, limited"] = Condition(parquets, parquet_files, args.storage_limit)
        for condition in conditions.values():  # warm the page cache and the reader cache
            if condition.evicted is None:
                time_batches(condition, batches, workdir)
        rates: dict[str, list[float]] = {name: [] for name in conditions}
        for _ in range(args.repeats):  # interleaved, so load from other processes hits all alike
            for name, condition in conditions.items():
                rates[name].append(time_batches(condition, batches, workdir))
        median = {name: statistics.median(values) for name, values in rates.items()}
        print(
            f"random {args.P}x{args.K} batches, {args.batches} per measurement, median of {args.repeats}, "
            f"{args.threads} read thread(s):"
        )
        if args.storage_limit:
            print(f"  (limited = reads throttled to {args.storage_limit})")
        for name, rate in median.items():
            print(f"  {name:<22} {rate:10.0f} sequences/s")
        for condition in ("warm", "cold", "cold, limited"):
            if f"parquet {condition}" in median:
                speedup = median[f"parquet {condition}"] / median[f"pickle  {condition}"]
                print(f"speedup parquet/pickle, {condition}: {speedup:.2f}x (goal >= 3)")
        speedup = median["parquet cache"] / median["pickle  warm"]
        print(f"speedup parquet with reader cache / pickle warm: {speedup:.2f}x (goal >= 3)")


if __name__ == "__main__":
    main()
