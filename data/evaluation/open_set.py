"""Open probe / gallery evaluation in the style of Gait3D and GREW: rank-k (CMC), mAP and mINP.

Probes are matched against one gallery over all views at once, as OpenGait's ``evaluate_rank``
does; ``open_set_split`` chooses probes and gallery for datasets without a view protocol, and
``open_set_statistics`` / ``open_set_scalars`` are the steps Gait3D, GREW and CCPG's
re-identification rule share. It must not know view tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import LabelledEmbeddings, prepare_inputs
from landmarkgait.data.evaluation.names import OPEN_RANKS
from landmarkgait.data.evaluation.ranking import PartGallery, RankStatistics, probe_chunks, rank_statistics
from landmarkgait.data.evaluation.results import GaitEvaluation

log = logging.getLogger(__name__)


def open_set_split(
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    probe_types: Sequence[str] | None = None,
    gallery_types: Sequence[str] | None = None,
    probe_keys: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Probe and gallery masks ``[N]`` for an open probe/gallery protocol.

    ``probe_keys`` lists ``subject-type-view`` keys (Gait3D's PROBE_SET); ``probe_types`` selects probes
    by sequence type (GREW: probe ``02``, gallery ``01``). The gallery is ``gallery_types`` if given,
    else every non-probe sequence. Without either, each subject's first sequence in (type, view)
    order is its probe, so any dataset can be evaluated this way.
    """
    subjects_ = np.asarray([str(value) for value in subjects])
    types_ = np.asarray([str(value) for value in types])
    views_ = np.asarray([str(value) for value in views])
    if probe_keys is not None and probe_types is not None:
        raise DataError("give either probe_keys or probe_types, not both")
    if probe_keys is not None:
        keys = {str(key) for key in probe_keys}
        probe = np.asarray(
            [f"{s}-{t}-{v}" in keys for s, t, v in zip(subjects_, types_, views_, strict=True)], dtype=bool
        )
    elif probe_types is not None:
        probe = np.isin(types_, list(probe_types))
    else:
        probe = np.zeros(subjects_.size, dtype=bool)
        order = sorted(range(subjects_.size), key=lambda i: (subjects_[i], types_[i], views_[i]))
        seen: set[str] = set()
        for index in order:
            if subjects_[index] not in seen:
                seen.add(subjects_[index])
                probe[index] = True
    gallery = np.isin(types_, list(gallery_types)) & ~probe if gallery_types is not None else ~probe
    return probe, gallery


def evaluate_open_set(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    probe_mask: Sequence[bool] | np.ndarray,
    gallery_mask: Sequence[bool] | np.ndarray | None = None,
    *,
    metric: str = "euc",
    ranks: Sequence[int] = OPEN_RANKS,
    protocol: str = "open",
) -> GaitEvaluation:
    """Gait3D / GREW-style probe vs gallery: rank-k (CMC), mAP and mINP over all views at once.

    As in OpenGait's ``evaluate_rank``, probes whose subject has no gallery sequence are skipped;
    the gallery defaults to every sequence that is not a probe.
    """
    data = prepare_inputs(embeddings, subjects, None, None)
    probe = np.asarray(probe_mask, dtype=bool)
    gallery_ = ~probe if gallery_mask is None else np.asarray(gallery_mask, dtype=bool)
    for name, mask in (("probe_mask", probe), ("gallery_mask", gallery_)):
        if mask.shape != (data.subject_ids.shape[0],):
            raise DataError(
                f"{name} must have one entry per embedding ({data.subject_ids.shape[0]}), got {mask.shape}"
            )
        if not mask.any():
            raise DataError(f"{name} selects no sequence")
    stats = open_set_statistics(data, np.flatnonzero(probe), np.flatnonzero(gallery_), metric)
    scalars = open_set_scalars(stats, ranks, protocol=protocol)
    return GaitEvaluation(protocol=protocol, metric=metric, scalars=scalars)


def open_set_statistics(
    data: LabelledEmbeddings,
    probe_index: np.ndarray,
    gallery_index: np.ndarray,
    metric: str,
    *,
    exclude_same_view: bool = False,
) -> RankStatistics:
    """Per-probe rank statistics (on the CPU) of the rows ``probe_index`` against the gallery rows
    ``gallery_index`` of all views, streamed in probe chunks.

    ``exclude_same_view`` takes each probe's own subject's sequences of its own view out of its
    ranking (the re-identification rule of CCPG's ``evaluate_many``: same person, same camera).
    """
    if probe_index.size == 0 or gallery_index.size == 0:
        raise DataError(f"no {'probe' if probe_index.size == 0 else 'gallery'} sequences to rank")
    device = data.embeddings.device
    gallery_rows = torch.as_tensor(gallery_index, device=device)
    gallery = PartGallery(data.embeddings, metric, index=gallery_rows)
    gallery_ids = data.subject_ids[gallery_rows]
    if exclude_same_view:
        _, view_codes = np.unique(data.views, return_inverse=True)
        view_ids = torch.as_tensor(view_codes.reshape(-1), device=device)
        gallery_views = view_ids[gallery_rows]
    parts: list[RankStatistics] = []
    for chunk in probe_chunks(probe_index.size, gallery):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        matches = data.subject_ids[rows][:, None] == gallery_ids[None, :]
        excluded = (
            matches & (view_ids[rows][:, None] == gallery_views[None, :]) if exclude_same_view else None
        )
        parts.append(rank_statistics(gallery.distance(data.embeddings, rows), matches, excluded))
    return RankStatistics.concatenate(parts)


def open_set_scalars(
    stats: RankStatistics,
    ranks: Sequence[int],
    *,
    protocol: str,
    skip_unmatched: bool = True,
    with_map: bool = True,
) -> dict[str, float]:
    """``rank<k>`` (percent of probes whose subject is among the first k), and ``mAP``, ``mINP``.

    ``skip_unmatched`` (OpenGait's ``evaluate_rank``): probes without a gallery sequence of their
    subject count nowhere; otherwise (``evaluate_real_scene``) they count as misses in rank-k.
    mAP and mINP always average over the probes that have a match.
    """
    matched = stats.has_match
    if not bool(matched.any()) and (skip_unmatched or with_map):
        raise DataError("no probe subject appears in the gallery")
    skipped = int((~matched).sum())
    if skipped:
        log.info(
            "%s evaluation: %d probes have no gallery sequence of their subject; %s",
            protocol,
            skipped,
            "skipped" if skip_unmatched else "counted as misses",
        )
    counted = matched if skip_unmatched else torch.ones_like(matched)
    hits = {rank: (matched & (stats.first_hit < rank))[counted] for rank in ranks}
    scalars = {f"rank{rank}": 100.0 * float(hit.double().mean()) for rank, hit in hits.items()}
    if with_map:
        scalars["mAP"] = 100.0 * float(stats.average_precision[matched].double().mean())
        scalars["mINP"] = 100.0 * float(stats.inverse_negative_penalty[matched].double().mean())
    return scalars
