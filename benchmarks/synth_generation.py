"""Benchmark: how fast ``landmarkgait data synth`` generates the CASIA-B-scale synthetic benchmark.

Target: 124 subjects x 110 sequences (13,640 sequences, ~65 frames each) in at most 10 minutes on
2 cores. First times single sequences in this process (render + artefacts + pretreatment, no I/O)
so that smaller runs can be extrapolated, then the whole generator (Ray tasks, Parquet shards,
assembly with fingerprint). Prints numbers; asserts nothing.

    python benchmarks/synth_generation.py                  # full CASIA-B scale, 2 workers
    python benchmarks/synth_generation.py --subjects 12    # quicker, extrapolated to 124
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from landmarkgait.data.format import read_metadata
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import CASIA_B_TYPES, CASIA_B_VIEWS, SynthConfig
from landmarkgait.data.synth.generator import generate_dataset, render_sequence
from landmarkgait.pipelines.runtime.ray_runtime import ray_session

CASIA_B_SEQUENCES = 124 * len(CASIA_B_TYPES) * len(CASIA_B_VIEWS)
TARGET_SECONDS = 600.0


def time_single_sequences(config: SynthConfig, count: int) -> tuple[float, float]:
    """Seconds per sequence and per frame for ``count`` sequences rendered in this process."""
    keys = [(type_, view) for type_ in config.types for view in config.views][:count]
    frames = 0
    started = time.perf_counter()
    for type_, view in keys:
        frames += render_sequence(config, "001", type_, view).shape[0]
    elapsed = time.perf_counter() - started
    return elapsed / len(keys), elapsed / frames


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=124)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the dataset here (default: a temporary directory)")
    parser.add_argument("--single", type=int, default=22, help="sequences to time in-process first")
    args = parser.parse_args()

    config = SynthConfig(subjects=args.subjects, workers=args.workers)
    per_sequence, per_frame = time_single_sequences(config, args.single)
    print(f"single process: {per_sequence * 1e3:.1f} ms per sequence, {per_frame * 1e3:.3f} ms per frame")
    print(
        f"  -> CASIA-B scale ({CASIA_B_SEQUENCES} sequences) on {args.workers} cores, compute only: "
        f"~{per_sequence * CASIA_B_SEQUENCES / args.workers:.0f} s"
    )

    scratch = Path(tempfile.mkdtemp(prefix="synth-benchmark-"))
    out = args.out or scratch / "synthetic"
    try:
        started = time.perf_counter()
        with ray_session(num_cpus=config.workers, include_dashboard=False):
            generate_dataset(config, out, overwrite=args.out is not None)
        elapsed = time.perf_counter() - started
        metadata = read_metadata(out)
        frames = sum(entry.num_frames for entry in SilhouetteDataset(out).entries)
        size = sum(path.stat().st_size for path in out.iterdir())
        scale = CASIA_B_SEQUENCES / metadata.num_sequences
        print(
            f"generate_dataset: {metadata.num_sequences} sequences, {frames} frames, {size / 2**20:.0f} MiB "
            f"in {elapsed:.1f} s with {args.workers} workers"
        )
        print(
            f"  {elapsed / metadata.num_sequences * 1e3:.1f} ms per sequence, "
            f"{elapsed / frames * 1e3 * args.workers:.3f} ms per frame per core (wall x workers)"
        )
        verdict = "within" if elapsed * scale <= TARGET_SECONDS else "over"
        print(f"  CASIA-B scale: {elapsed * scale:.0f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
