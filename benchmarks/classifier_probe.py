"""Can a trained run's embeddings tell its training subjects apart, part by part and as a whole?

    python benchmarks/classifier_probe.py --run RUN_ID [--sequences 1200]

Why: the recognition stage's cross-entropy term trains one classifier per horizontal part
(OpenGait's ``SeparateBNNecks``), and in the benchmark its training accuracy stays at chance. This
embeds ``--sequences`` random training-subject sequences (first 20 frames, eval mode) with the
run's network and prints:

- the run's own classifier accuracy on them (argmax of its per-part logits, averaged over parts);
- a linear probe's accuracy on held-out sequences (a third of them), fitted on the rest:
  on single parts' features (every ``P/8``-th part) and on all parts concatenated.

A probe far above the run's own classifier says the features separate the subjects and the head
has not learnt; a per-part probe near chance says one part's features are too narrow for a
per-part classifier to learn, whatever the schedule.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.deploy.trained_run import open_trained_run

FRAMES = 20  # as the benchmark's evaluation
PROBE_STEPS = 300


def linear_probe(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Held-out accuracy of a cosine-softmax linear classifier (scale 16, Adam) on ``features``."""
    x = torch.tensor(features / np.linalg.norm(features, axis=1, keepdims=True), dtype=torch.float32)
    y = torch.tensor(labels)
    classes = int(labels.max()) + 1
    weight = torch.zeros(x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=1e-2)
    for _ in range(PROBE_STEPS):
        loss = F.cross_entropy(16 * x[train] @ weight + bias, y[train]) + 1e-4 * weight.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(((x[test] @ weight + bias).argmax(1) == y[test]).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a finished recognition or holistic stage run")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--sequences", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    trained = open_trained_run(args.run, args.tracking_uri)
    network = trained.network().eval()
    dataset = SilhouetteDataset(trained.config.data.resolved_path())
    subjects = sorted(resolve_partition(dataset).train_set)
    rng = np.random.default_rng(args.seed)
    candidates = [index for index, entry in enumerate(dataset.entries) if entry.subject in set(subjects)]
    chosen = sorted(rng.choice(candidates, min(args.sequences, len(candidates)), replace=False).tolist())
    records = dataset.read_many(chosen)
    sequences = [torch.from_numpy(silhouette_transform(record.frames[:FRAMES])) for record in records]
    labels = np.array([subjects.index(record.subject) for record in records])
    embeddings = embed(network, sequences, 8).numpy()  # [N, C, P]
    with torch.no_grad():
        own = [
            float((network(sequence[None].float())["logits"].argmax(1) == int(label)).float().mean())
            for sequence, label in zip(sequences, labels, strict=True)
        ]
    order = rng.permutation(len(labels))
    train, test = order[: 2 * len(order) // 3], order[2 * len(order) // 3 :]
    parts = embeddings.shape[2]
    step = max(1, parts // 8)
    per_part = [linear_probe(embeddings[:, :, p], labels, train, test) for p in range(0, parts, step)]
    whole = linear_probe(embeddings.reshape(len(labels), -1), labels, train, test)
    print(
        f"run {trained.run_id} ({trained.stage}): {len(labels)} training-subject sequences of "
        f"{len(subjects)} subjects, embeddings {embeddings.shape[1]} channels x {parts} parts; chance {1 / len(subjects):.3f}"
    )
    print(f"the run's own per-part classifier: accuracy {np.mean(own):.3f}")
    print(
        f"linear probe on held-out sequences: one part's features {np.mean(per_part):.3f} "
        f"(min {min(per_part):.3f}, max {max(per_part):.3f}, every {step}th part); all parts {whole:.3f}"
    )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
