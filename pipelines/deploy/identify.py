"""``landmarkgait identify``: who walks in a probe, against a gallery embedded by the same run.

A probe (a video, a folder of frames, or a sequence of a dataset) becomes pretreated silhouettes
(``probes``), is embedded by the run's network as evaluation embeds, and is ranked against the
gallery by the run's evaluation metric. Identities are ranked by their nearest gallery sequence.

The gallery is never in memory whole (``gallery.GalleryIndex.batches``): one pass streams its
embeddings in batches, each prepared as a ``PartGallery`` and compared with every probe (and every
calibration sequence), and only the running nearest identities survive a batch. Memory is one
batch plus the queries, whatever the gallery's size (``benchmarks/identify_scale.py``).

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
from landmarkgait.data.quoting import printable
from landmarkgait.models.inference import embed
from landmarkgait.pipelines.deploy.gallery import BATCH_BYTES, GalleryIndex, scan_gallery
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


def check_gallery(gallery: GalleryIndex, run: TrainedRun) -> None:
    """Refuse a gallery that another run (hence another network) embedded."""
    others = gallery.run_ids - {run.run_id}
    if others:
        raise DataError(
            f"gallery was embedded by run {sorted(others)[0]}, not by run {run.run_id}: embeddings of "
            "different networks cannot be compared (embed the gallery with this run)"
        )


def calibration_rows(gallery: GalleryIndex, seed: int = 0) -> np.ndarray:
    """The gallery rows (ascending) that play unenrolled walkers: all, or a random
    ``CALIBRATION_SEQUENCES`` of a larger gallery."""
    if len(set(gallery.subjects)) < 2:
        raise DataError("the gallery holds one subject: no impostor distances to calibrate a threshold on")
    count = len(gallery)
    if count <= CALIBRATION_SEQUENCES:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, CALIBRATION_SEQUENCES, replace=False))


@dataclass(frozen=True)
class GalleryRanking:
    """What one pass over the gallery found: per probe its ``top_k`` identities, nearest first, as
    ``(subject, distance, gallery row)``; per calibration row its nearest other subject's distance."""

    nearest: list[list[tuple[str, float, int]]]
    impostor_distances: np.ndarray


def rank_gallery(
    gallery: GalleryIndex,
    probes: torch.Tensor,
    metric: str,
    *,
    top_k: int,
    calibration: np.ndarray | None = None,
    max_bytes: int = BATCH_BYTES,
) -> GalleryRanking:
    """Rank ``gallery``'s identities for probe embeddings ``[n, C, P]`` by their nearest sequence,
    streaming the gallery (see module): memory holds one batch, not the gallery.

    Ties keep gallery order, so the result equals a stable sort of the whole distance row.
    ``calibration`` (ascending gallery rows) are compared with the gallery in the same pass.
    """
    names, codes = np.unique(np.asarray(gallery.subjects), return_inverse=True)
    codes = codes.reshape(-1)
    rows = np.empty(0, dtype=np.int64) if calibration is None else np.asarray(calibration)
    # The queries are prepared once (part-major) and each gallery batch is compared with them as
    # probes are with a gallery: every embedding is rearranged once, not once per batch.
    num_probes = probes.shape[0]
    queries = PartGallery(_gather(gallery, rows, max_bytes, probes), metric)
    best: list[dict[int, tuple[float, int]]] = [{} for _ in range(num_probes)]
    impostor = torch.full((rows.size,), float("inf"))
    calibration_codes = torch.from_numpy(codes[rows])
    for first, batch in gallery.batches(max_bytes):
        for chunk in probe_chunks(batch.shape[0], queries):
            distance = queries.distance(batch[chunk]).T.contiguous()  # [queries, chunk rows]
            start = first + chunk.start
            chunk_codes = codes[start : start + distance.shape[1]]
            for probe in range(num_probes):
                _merge_nearest(best[probe], distance[probe].numpy(), chunk_codes, start, top_k)
            if rows.size:
                same = calibration_codes[:, None] == torch.from_numpy(chunk_codes)[None, :]
                nearest_other = distance[num_probes:].masked_fill(same, float("inf")).min(1).values
                torch.minimum(impostor, nearest_other, out=impostor)
    nearest = [
        [
            (str(names[code]), value, row)
            for code, (value, row) in sorted(found.items(), key=lambda item: item[1])
        ]
        for found in best
    ]
    return GalleryRanking(nearest, impostor.double().numpy())


def _gather(gallery: GalleryIndex, rows: np.ndarray, max_bytes: int, probes: torch.Tensor) -> torch.Tensor:
    """``probes`` followed by the embeddings of gallery ``rows`` (ascending), ``[n + len(rows), C, P]``,
    gathered in one streaming pass."""
    gathered = torch.empty((probes.shape[0] + rows.size, gallery.channels, gallery.parts))
    gathered[: probes.shape[0]] = probes
    if rows.size:
        for first, batch in gallery.batches(max_bytes):
            low, high = np.searchsorted(rows, [first, first + batch.shape[0]])
            gathered[probes.shape[0] + low : probes.shape[0] + high] = batch[
                torch.from_numpy(rows[low:high] - first)
            ]
    return gathered


def _merge_nearest(
    best: dict[int, tuple[float, int]], distance: np.ndarray, codes: np.ndarray, first: int, top_k: int
) -> None:
    """Fold one batch's distances ``[rows]`` into ``best`` (subject code -> (distance, gallery row)
    of its nearest sequence so far, the ``top_k`` nearest subjects). A subject in the overall top
    ``k`` is in the top ``k`` of the batch that holds its nearest sequence, so nothing is lost."""
    order = np.argsort(distance, kind="stable")
    _, first_positions = np.unique(codes[order], return_index=True)
    for position in np.sort(first_positions)[:top_k]:
        row = int(order[position])
        candidate = (float(distance[row]), first + row)
        code = int(codes[row])
        if code not in best or candidate < best[code]:
            best[code] = candidate
    if len(best) > top_k:
        kept = sorted(best.items(), key=lambda item: item[1])[:top_k]
        best.clear()
        best.update(kept)


@dataclass(frozen=True)
class IdentifyOutcome:
    run_id: str
    metric: str
    threshold: Threshold | None
    probes: list[Identification]

    def to_dict(self) -> dict:
        return asdict(self)


def identify_probes(
    run: TrainedRun,
    gallery: GalleryIndex,
    probes: list[Probe],
    *,
    top_k: int = 5,
    false_accept_rate: float | None = DEFAULT_FALSE_ACCEPT_RATE,
) -> IdentifyOutcome:
    """Rank the gallery's identities for each probe; ``false_accept_rate`` None: no open-set decision."""
    check_gallery(gallery, run)
    if top_k < 1:
        raise DataError(f"--top-k must be >= 1, got {top_k}")
    if false_accept_rate is not None and not 0.0 < false_accept_rate < 1.0:
        raise DataError(f"false-accept rate must be in (0, 1), got {false_accept_rate}")
    calibration = None if false_accept_rate is None else calibration_rows(gallery)
    # The gallery was embedded from each sequence's first ``evaluation.max_frames`` frames (embed,
    # evaluation): a probe embedded from more frames pools over more of the walk, and its
    # embedding drifts from the gallery's (set pooling takes the maximum over frames).
    max_frames = run.config.evaluation.max_frames
    inputs = [probe.frames[:max_frames] for probe in probes]
    embedded = embed(run.network(), [torch.from_numpy(frames) for frames in inputs])
    if tuple(embedded.shape[1:]) != (gallery.channels, gallery.parts):
        raise DataError(
            f"gallery embeddings are [C, P] = {[gallery.channels, gallery.parts]}, run {run.run_id}'s "
            f"network makes {list(embedded.shape[1:])}: the gallery comes from another network"
        )
    finite = torch.isfinite(embedded).flatten(1).all(1)
    if not finite.all():
        probe = probes[int(finite.int().argmin())]
        raise DataError(
            f"probe {printable(probe.name)}: run {run.run_id}'s network made an embedding holding NaN "
            "or infinite values; it cannot be compared with the gallery"
        )
    metric = run.config.evaluation.metric
    ranking = rank_gallery(gallery, embedded, metric, top_k=top_k, calibration=calibration)
    threshold = None
    if false_accept_rate is not None:
        distance = float(np.quantile(ranking.impostor_distances, false_accept_rate))
        threshold = Threshold(distance, false_accept_rate, len(ranking.impostor_distances))
    results = []
    for probe, frames, nearest in zip(probes, inputs, ranking.nearest, strict=True):
        candidates = [
            Candidate(subject, distance, f"{gallery.types[row]}/{gallery.views[row]}")
            for subject, distance, row in nearest
        ]
        best = candidates[0]
        accepted = threshold is None or best.distance <= threshold.distance
        results.append(
            Identification(probe.name, len(frames), best.subject if accepted else UNKNOWN, candidates)
        )
    return IdentifyOutcome(run.run_id, metric, threshold, results)


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
    index = scan_gallery(Path(gallery))
    check_gallery(index, trained)
    loaded = [load_probe(reference, trained.input_size[0]) for reference in probes]
    return identify_probes(trained, index, loaded, top_k=top_k, false_accept_rate=false_accept_rate)
