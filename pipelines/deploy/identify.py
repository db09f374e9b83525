"""``landmarkgait identify``: who walks in a probe, against a gallery embedded by the same run.

A probe (a video, a folder of frames, or a sequence of a dataset) becomes pretreated silhouettes
(``probes``), is embedded by the run's network as evaluation embeds, and is ranked against the
gallery by the run's evaluation metric. Identities are ranked by their nearest gallery sequence.

Open set: a probe whose nearest identity lies farther than a threshold is "unknown". The threshold
is calibrated on the gallery itself: every gallery sequence (up to ``CALIBRATION_SEQUENCES``)
plays a walker who is not enrolled, and its nearest sequence of *another* subject is the distance
at which it would be falsely accepted. The threshold is the ``false_accept_rate`` quantile of
those distances, so about that share of unenrolled walkers would be taken for someone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.ranking import PartGallery, probe_chunks
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.deploy.embedding import Embeddings, read_embeddings
from landmarkgait.pipelines.deploy.probes import Probe, load_probe
from landmarkgait.pipelines.deploy.trained_run import TrainedRun, open_trained_run

log = logging.getLogger(__name__)

DEFAULT_FALSE_ACCEPT_RATE = 0.01
# Gallery sequences that calibrate the open-set threshold (a random subset of larger galleries).
CALIBRATION_SEQUENCES = 2000
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Threshold:
    """The open-set acceptance distance and the false-accept rate it was calibrated for."""

    distance: float
    false_accept_rate: float
    calibration_sequences: int


@dataclass(frozen=True)
class Candidate:
    subject: str
    distance: float
    nearest_sequence: str  # type/view of the subject's nearest gallery sequence


@dataclass(frozen=True)
class Identification:
    probe: str
    frames: int
    decision: str  # the best subject, or "unknown" beyond the threshold
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def check_gallery(gallery: Embeddings, run: TrainedRun) -> None:
    """Refuse a gallery that another run (hence another network) embedded."""
    others = gallery.run_ids - {run.run_id}
    if others:
        raise DataError(
            f"gallery was embedded by run {sorted(others)[0]}, not by run {run.run_id}: embeddings of "
            "different networks cannot be compared (embed the gallery with this run)"
        )


def calibrate_threshold(
    gallery: Embeddings, metric: str, false_accept_rate: float, seed: int = 0
) -> Threshold:
    """Distance below which ``false_accept_rate`` of unenrolled walkers would be accepted (see module)."""
    if not 0.0 < false_accept_rate < 1.0:
        raise DataError(f"false-accept rate must be in (0, 1), got {false_accept_rate}")
    subjects = np.asarray(gallery.subjects)
    if len(set(subjects.tolist())) < 2:
        raise DataError("the gallery holds one subject: no impostor distances to calibrate a threshold on")
    count = len(subjects)
    chosen = np.arange(count)
    if count > CALIBRATION_SEQUENCES:
        chosen = np.sort(np.random.default_rng(seed).choice(count, CALIBRATION_SEQUENCES, replace=False))
    vectors = gallery.tensor()
    prepared = PartGallery(vectors, metric)
    _, codes = np.unique(subjects, return_inverse=True)
    gallery_codes = torch.from_numpy(codes.reshape(-1))
    impostor = []
    for chunk in probe_chunks(chosen.size, prepared):
        rows = torch.from_numpy(chosen[chunk])
        distance = prepared.distance(vectors, rows)
        same = gallery_codes[rows][:, None] == gallery_codes[None, :]
        impostor.append(distance.masked_fill(same, float("inf")).min(1).values)
    nearest = torch.cat(impostor).double().numpy()
    return Threshold(float(np.quantile(nearest, false_accept_rate)), false_accept_rate, int(chosen.size))


def identify_probes(
    run: TrainedRun,
    gallery: Embeddings,
    probes: list[Probe],
    *,
    top_k: int = 5,
    threshold: Threshold | None = None,
) -> list[Identification]:
    """Rank the gallery's identities for each probe; ``threshold`` None: no open-set decision."""
    check_gallery(gallery, run)
    if top_k < 1:
        raise DataError(f"--top-k must be >= 1, got {top_k}")
    network = run.network()
    embedded = embed(network, [torch.from_numpy(probe.frames) for probe in probes])
    if tuple(embedded.shape[1:]) != gallery.vectors.shape[1:]:
        raise DataError(
            f"gallery embeddings are [C, P] = {list(gallery.vectors.shape[1:])}, run {run.run_id}'s "
            f"network makes {list(embedded.shape[1:])}: the gallery comes from another network"
        )
    prepared = PartGallery(gallery.tensor(), run.config.evaluation.metric)
    distances = prepared.distance(embedded.float()).double().numpy()
    subjects = np.asarray(gallery.subjects)
    results = []
    for probe, row in zip(probes, distances, strict=True):
        order = np.argsort(row, kind="stable")
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for index in order:
            if subjects[index] in seen:
                continue
            seen.add(subjects[index])
            sequence = f"{gallery.types[index]}/{gallery.views[index]}"
            candidates.append(Candidate(str(subjects[index]), float(row[index]), sequence))
            if len(candidates) == top_k:
                break
        best = candidates[0]
        accepted = threshold is None or best.distance <= threshold.distance
        results.append(
            Identification(probe.name, probe.num_frames, best.subject if accepted else UNKNOWN, candidates)
        )
    return results


@dataclass(frozen=True)
class IdentifyOutcome:
    run_id: str
    metric: str
    threshold: Threshold | None
    probes: list[Identification]

    def to_dict(self) -> dict:
        return asdict(self)


def identify(
    run: str,
    gallery: str | Path,
    probes: Sequence[str],
    *,
    tracking_uri: str | None = None,
    top_k: int = 5,
    false_accept_rate: float | None = DEFAULT_FALSE_ACCEPT_RATE,
) -> IdentifyOutcome:
    """Identify the walkers of ``probes`` (videos, frame folders, ``DATASET:subject/type/view``)
    against ``gallery`` (embedded by recognition run ``run``); ``false_accept_rate`` None: closed set."""
    trained = open_trained_run(run, tracking_uri)
    embeddings = read_embeddings(Path(gallery))
    check_gallery(embeddings, trained)
    loaded = [load_probe(reference, trained.input_size[0]) for reference in probes]
    metric = trained.config.evaluation.metric
    threshold = (
        None if false_accept_rate is None else calibrate_threshold(embeddings, metric, false_accept_rate)
    )
    results = identify_probes(trained, embeddings, loaded, top_k=top_k, threshold=threshold)
    return IdentifyOutcome(trained.run_id, metric, threshold, results)
