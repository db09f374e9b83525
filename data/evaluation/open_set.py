"""Open probe / gallery evaluation in the style of Gait3D and GREW: rank-k (CMC), mAP and mINP.

Probes are matched against one gallery over all views at once, as OpenGait's ``evaluate_rank``
does; ``open_set_split`` chooses probes and gallery for datasets without a view protocol. It must
not know view tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import prepare_inputs
from landmarkgait.data.evaluation.ranking import PartGallery, probe_chunks, rank_statistics
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
    ranks: Sequence[int] = (1, 5, 10),
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
    device = data.embeddings.device
    gallery_index = torch.as_tensor(np.flatnonzero(gallery_), device=device)
    gallery = PartGallery(data.embeddings, metric, index=gallery_index)
    gallery_ids = data.subject_ids[gallery_index]
    probe_index = np.flatnonzero(probe)
    first_hits, precisions, penalties = [], [], []
    for chunk in probe_chunks(probe_index.size, gallery):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        matches = data.subject_ids[rows][:, None] == gallery_ids[None, :]
        stats = rank_statistics(gallery.distance(data.embeddings, rows), matches)
        valid = stats.has_match
        first_hits.append(stats.first_hit[valid].cpu())
        precisions.append(stats.average_precision[valid].double().cpu())
        penalties.append(stats.inverse_negative_penalty[valid].double().cpu())
    first_hit = torch.cat(first_hits)
    if first_hit.numel() == 0:
        raise DataError("no probe subject appears in the gallery")
    skipped = probe_index.size - first_hit.numel()
    if skipped:
        log.info("open-set evaluation: %d probes have no gallery sequence of their subject; skipped", skipped)
    scalars = {f"rank{rank}": 100.0 * float((first_hit < rank).double().mean()) for rank in ranks}
    scalars["mAP"] = 100.0 * float(torch.cat(precisions).mean())
    scalars["mINP"] = 100.0 * float(torch.cat(penalties).mean())
    return GaitEvaluation(protocol="open", metric=metric, scalars=scalars)
