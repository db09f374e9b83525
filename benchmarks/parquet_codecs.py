"""Benchmark: size and random single-sequence read time of the frames column under each Parquet codec.

Writes the sequences of an existing Parquet dataset once as an OpenGait-style pickle per
sequence and once per codec (one sequence per row group, as ``landmarkgait.data.writer`` writes), then
reads every sequence in random order on one thread with a warm page cache and prints
microseconds per sequence and the size relative to the pickle tree. It shows what the
codec choice (``landmarkgait.data.format.COMPRESSION``) trades between the issue's size and speed goals.

    python benchmarks/parquet_codecs.py ~/.landmarkgait/datasets/synth-quickstart
"""

from __future__ import annotations

import argparse
import pickle
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from landmarkgait.data.reader import SilhouetteDataset

CODECS = {
    "zstd-9": {"compression": "zstd", "compression_level": 9},
    "zstd-1": {"compression": "zstd", "compression_level": 1},
    "lz4": {"compression": "lz4"},
    "snappy": {"compression": "snappy"},
    "none": {"compression": "none"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a Parquet silhouette dataset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = SilhouetteDataset(args.dataset)
    frames = [dataset[index].frames for index in range(len(dataset))]
    order = list(range(len(frames)))
    random.Random(args.seed).shuffle(order)

    with tempfile.TemporaryDirectory(prefix="landmarkgait-codecs-") as scratch:
        root = Path(scratch)
        for index, array in enumerate(frames):
            with open(root / f"{index}.pkl", "wb") as handle:
                pickle.dump(array, handle)
        pickle_bytes = sum((root / f"{index}.pkl").stat().st_size for index in range(len(frames)))
        started = time.perf_counter()
        for index in order:
            with open(root / f"{index}.pkl", "rb") as handle:
                pickle.load(handle)  # our own files, written above
        pickle_us = (time.perf_counter() - started) / len(order) * 1e6
        print(f"{len(frames)} sequences; pickle tree: 1.000x size, {pickle_us:.0f} us/sequence")

        schema = pa.schema([("frames", pa.binary())])
        for name, options in CODECS.items():
            path = root / f"{name}.parquet"
            with pq.ParquetWriter(path, schema, use_dictionary=False, **options) as writer:
                for array in frames:
                    writer.write_table(
                        pa.table({"frames": [array.tobytes()]}, schema=schema), row_group_size=1
                    )
            shard = pq.ParquetFile(path, memory_map=True)
            started = time.perf_counter()
            for index in order:
                shard.read_row_group(index, use_threads=False)
            micros = (time.perf_counter() - started) / len(order) * 1e6
            size = path.stat().st_size / pickle_bytes
            print(
                f"parquet {name:7s}: {size:.3f}x size, {micros:.0f} us/sequence ({pickle_us / micros:.2f}x pickle speed)"
            )


if __name__ == "__main__":
    main()
