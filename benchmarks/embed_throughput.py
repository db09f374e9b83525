"""``landmarkgait embed`` (Ray Data) against the in-process evaluation embedding, in sequences per second.

One run, three measurements on the same sequences and network (a recognition run registered from
the config's network with seeded random weights: speed does not depend on the weights):

1. in-process: ``models.inference.embed`` over the sequences, as evaluation embeds them, with
   ``--threads`` torch threads;
2. ``embed`` with 1 actor of ``--threads`` CPUs;
3. ``embed`` with 2 actors of ``--threads`` CPUs each (needs 2 x threads cores).

Goals (issue 22): (2) >= 0.9 x (1), and (3) faster than (2). Each Ray Data job's time includes
reading the Parquet shards, starting the actors (each loads the network once) and writing the
embeddings; the in-process time includes reading and transforming the sequences.

    python benchmarks/embed_throughput.py                       # a 300-sequence synthetic subset
    python benchmarks/embed_throughput.py --dataset DIR --threads 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import generate_dataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.config import ScalingSection, load_config
from landmarkgait.pipelines.deploy.embedding import embed_dataset
from landmarkgait.pipelines.deploy.trained_run import open_trained_run
from landmarkgait.pipelines.driver.checkpoint_import import import_stage_checkpoint
from landmarkgait.pipelines.driver.datasets import describe_dataset
from landmarkgait.pipelines.runtime.ray_runtime import ray_session
from landmarkgait.pipelines.worker.stage_trainer import build_stage_model

REPO = Path(__file__).resolve().parents[1]


def in_process_rate(
    network: torch.nn.Module, dataset: SilhouetteDataset, max_frames: int | None, batch: int
) -> float:
    started = time.perf_counter()
    with torch.no_grad():
        pending = []
        for index in range(len(dataset)):
            frames = dataset[index].frames[:max_frames]
            pending.append(torch.from_numpy(silhouette_transform(frames)))
            if len(pending) == batch:
                embed(network, pending)
                pending.clear()
        if pending:
            embed(network, pending)
    return len(dataset) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=REPO / "ray_configs" / "benchmark.yaml")
    parser.add_argument("--dataset", type=Path, help="a Parquet dataset (default: a synthetic subset)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in-process and CPUs per actor")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        with ray_session(include_dashboard=False):
            dataset_path = args.dataset or generate_dataset(
                SynthConfig(subjects=10, views=("000", "090", "180"), min_frames=20, max_frames=40),
                scratch / "subset",
            )
            config = load_config(
                args.config,
                [
                    f"data.path={dataset_path}",
                    "data.synthetic=null",
                    f"tracking.tracking_uri=sqlite:///{scratch}/mlflow.db",
                ],
            )
            torch.manual_seed(0)
            model = build_stage_model(config, describe_dataset(dataset_path, None), "recognition")
            torch.save({"model": model.state_dict(), "iteration": 0}, scratch / "random.pt")
            run_id = import_stage_checkpoint(config, "recognition", scratch / "random.pt").run_id
            run = open_trained_run(run_id, config.tracking.tracking_uri)
            dataset = SilhouetteDataset(dataset_path)
            max_frames = config.evaluation.max_frames
            torch.set_num_threads(args.threads)
            rates = {
                "in-process": in_process_rate(
                    run.network(), dataset, max_frames, config.scaling.embed_batch_size
                )
            }
            for actors in (1, 2):
                scaling = ScalingSection(num_workers=actors, cpus_per_worker=args.threads)
                started = time.perf_counter()
                embed_dataset(run, dataset_path, scratch / f"emb-{actors}", scaling, max_frames=max_frames)
                rates[f"embed, {actors} actor(s)"] = len(dataset) / (time.perf_counter() - started)
    print(f"{len(dataset)} sequences (first {max_frames} frames), {args.threads} thread(s) per worker")
    for name, rate in rates.items():
        print(f"{name:<22} {rate:7.2f} seq/s  ({rate / rates['in-process']:.2f} x in-process)")
    one, two = rates["embed, 1 actor(s)"], rates["embed, 2 actor(s)"]
    print(
        f"goals: 1 actor >= 0.9 x in-process: {'met' if one >= 0.9 * rates['in-process'] else 'NOT met'}; "
        f"2 actors faster than 1 ({two / one:.2f}x): {'met' if two > one else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
