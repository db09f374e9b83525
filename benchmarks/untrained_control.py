"""Rank-1 of an untrained network: the control that says whether training, not the architecture
alone, beats the GEI baseline.

Embeds the test set of a pipeline config's dataset with a randomly initialised network of the
config's preset (seeded), exactly as the evaluation does (the config's protocol, distance and
``evaluation.max_frames``), and prints the protocol's headline.

    python benchmarks/untrained_control.py --config ray_configs/benchmark.yaml --stage holistic
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from landmarkgait.data.evaluation.protocols import evaluate_protocol
from landmarkgait.data.loader import iter_test_sequences
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models import build_model
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.config import load_config

REPO = Path(__file__).resolve().parents[1]
BATCH = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "ray_configs" / "benchmark.yaml")
    parser.add_argument("--stage", choices=("holistic", "recognition"), default="holistic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = load_config(args.config)
    dataset = SilhouetteDataset(config.data.resolved_path())
    partition = resolve_partition(dataset, Path(config.data.partition) if config.data.partition else None)
    network = build_model(
        args.stage,
        config.model.preset,
        num_classes=len(partition.train_set),
        **config.model.build_kwargs(),
    ).eval()

    started = time.perf_counter()
    keys, embeddings, pending = [], [], []
    sequences = iter_test_sequences(dataset, partition.test_set, max_frames=config.evaluation.max_frames)
    for index, record in sequences:
        pending.append(torch.from_numpy(silhouette_transform(record.frames)))
        keys.append(dataset.entries[index])
        if len(pending) == BATCH:
            embeddings.append(embed(network, pending))
            pending = []
    if pending:
        embeddings.append(embed(network, pending))
    evaluation = evaluate_protocol(
        config.evaluation.protocol,
        torch.cat(embeddings),
        subjects=[key.subject for key in keys],
        types=[key.type for key in keys],
        views=[key.view for key in keys],
        metric=config.evaluation.metric,
    )
    print(f"{args.stage}, untrained (seed {args.seed}), {args.config.name}: {evaluation.headline()}")
    print(f"{len(keys)} test sequences in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
