"""Probe view x gallery view evaluation, the one path of CASIA-B and OU-MVLP.

A ``ViewProtocol`` names which sequence types are probes (per condition, e.g. NM / BG / CL) and
which form the gallery; ``evaluate`` computes rank-1 and AP for every probe view x gallery view
as OpenGait does, or against a gallery of all views (cross-view-gallery variant). It must not
know a dataset by name: ``landmarkgait.data.evaluation.protocols`` declares them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import LabelledEmbeddings, prepare_inputs
from landmarkgait.data.evaluation.names import ALL_VIEWS
from landmarkgait.data.evaluation.ranking import PartGallery, probe_chunks, rank_statistics
from landmarkgait.data.evaluation.results import GaitEvaluation, ViewTable

log = logging.getLogger(__name__)

Conditions = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ViewProtocol:
    """A probe-view x gallery-view protocol: probe types per condition and gallery types.

    ``cross_view`` holds the probe conditions and gallery types of the cross-view-gallery variant;
    ``None`` uses the single-view ones for it too.
    """

    name: str
    probe_conditions: Conditions
    gallery_types: tuple[str, ...]
    cross_view: tuple[Conditions, tuple[str, ...]] | None = None

    def evaluate(
        self,
        embeddings: torch.Tensor | np.ndarray,
        subjects: Sequence[str],
        types: Sequence[str],
        views: Sequence[str],
        *,
        cross_view_gallery: bool = False,
        metric: str = "euc",
    ) -> GaitEvaluation:
        """Rank-1 and AP of embeddings ``[N, C, P]`` (or ``[N, C]``) labelled by subject, type and view.

        Single-view gallery (default): for every probe view and gallery view, each probe is matched
        against the gallery sequences of that view; rank-1 is the share of probes whose nearest
        gallery sequence has their subject, AP ranks that view's gallery. Cross-view gallery: each
        probe is matched against the gallery of all views, minus its own subject's sequences of its
        own view. Conditions without probes are left out; a missing gallery is an error.
        """
        probe_conditions, gallery_types = (
            self.cross_view
            if cross_view_gallery and self.cross_view is not None
            else (self.probe_conditions, self.gallery_types)
        )
        data = prepare_inputs(embeddings, subjects, types, views)
        view_list = tuple(sorted(set(data.views.tolist())))
        if not cross_view_gallery and len(view_list) < 2:
            raise DataError(
                f"the {self.name} protocol excludes identical-view matches and needs at least two views, "
                f"got {view_list}"
            )
        gallery_mask = np.isin(data.types, list(gallery_types))
        if not gallery_mask.any():
            raise DataError(f"no gallery sequences: none of the types is one of {', '.join(gallery_types)}")

        tables = []
        for condition, probe_types in probe_conditions.items():
            probe_mask = np.isin(data.types, list(probe_types))
            if not probe_mask.any():
                log.debug("condition %s: no probe sequences of types %s; skipped", condition, probe_types)
                continue
            if cross_view_gallery:
                hits, precisions = _cross_view_scores(data, probe_mask, gallery_mask, metric)
                columns: tuple[str, ...] = (ALL_VIEWS,)
            else:
                hits, precisions = _single_view_scores(data, probe_mask, gallery_mask, view_list, metric)
                columns = view_list
            tables.append(
                _view_table(condition, view_list, columns, data.views[probe_mask], hits, precisions)
            )
        if not tables:
            wanted = sorted({t for types_ in probe_conditions.values() for t in types_})
            raise DataError(f"no probe sequences: none of the types is one of {', '.join(wanted)}")
        name = f"{self.name}_cross_view" if cross_view_gallery else self.name
        return GaitEvaluation(protocol=name, metric=metric, tables=tuple(tables))


def _view_table(
    condition: str,
    view_list: tuple[str, ...],
    columns: tuple[str, ...],
    probe_views: np.ndarray,
    hits: np.ndarray,
    precisions: np.ndarray,
) -> ViewTable:
    """Percentages per probe view (rows) and gallery column from per-probe hits and APs ``[n, columns]``."""
    rank1 = np.full((len(view_list), len(columns)), np.nan)
    mean_ap = np.full_like(rank1, np.nan)
    counts = np.zeros(len(view_list), dtype=np.int64)
    for row, view in enumerate(view_list):
        rows = probe_views == view
        counts[row] = int(rows.sum())
        if counts[row] == 0:
            continue
        for column in range(len(columns)):
            hit = hits[rows, column]
            if np.all(np.isnan(hit)):
                continue
            rank1[row, column] = 100.0 * float(np.nanmean(hit))
            precision = precisions[rows, column]
            if np.any(np.isfinite(precision)):
                mean_ap[row, column] = 100.0 * float(np.nanmean(precision))
    return ViewTable(condition, view_list, columns, rank1, mean_ap, counts)


def _single_view_scores(
    data: LabelledEmbeddings,
    probe_mask: np.ndarray,
    gallery_mask: np.ndarray,
    view_list: tuple[str, ...],
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe and gallery view: rank-1 hit (1/0, NaN if that view has no gallery) and AP.

    One gallery view at a time, as OpenGait: only that view's gallery is copied and prepared.
    """
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    hits = np.full((probe_index.size, len(view_list)), np.nan)
    precisions = np.full_like(hits, np.nan)
    for column, view in enumerate(view_list):
        gallery_index = torch.as_tensor(np.flatnonzero(gallery_mask & (data.views == view)), device=device)
        if gallery_index.numel() == 0:
            continue
        gallery = PartGallery(data.embeddings, metric, index=gallery_index)
        gallery_ids = data.subject_ids[gallery_index]
        for chunk in probe_chunks(probe_index.size, gallery):
            rows = torch.as_tensor(probe_index[chunk], device=device)
            matches = data.subject_ids[rows][:, None] == gallery_ids[None, :]
            stats = rank_statistics(gallery.distance(data.embeddings, rows), matches)
            hits[chunk, column] = (stats.first_hit == 0).double().cpu().numpy()
            precisions[chunk, column] = stats.average_precision.double().cpu().numpy()
    return hits, precisions


def _cross_view_scores(
    data: LabelledEmbeddings, probe_mask: np.ndarray, gallery_mask: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe: rank-1 hit and AP against all gallery views, own subject's own view excluded."""
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    hits = np.empty((probe_index.size, 1))
    precisions = np.empty_like(hits)
    gallery_index = torch.as_tensor(np.flatnonzero(gallery_mask), device=device)
    gallery = PartGallery(data.embeddings, metric, index=gallery_index)
    gallery_ids = data.subject_ids[gallery_index]
    _, view_codes = np.unique(data.views, return_inverse=True)
    view_ids = torch.as_tensor(view_codes.reshape(-1), device=device)
    gallery_view_ids = view_ids[gallery_index]
    for chunk in probe_chunks(probe_index.size, gallery):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        same_subject = data.subject_ids[rows][:, None] == gallery_ids[None, :]
        excluded = same_subject & (view_ids[rows][:, None] == gallery_view_ids[None, :])
        empty = excluded.all(1)
        if bool(empty.any()):
            first = int(probe_index[chunk][int(empty.nonzero()[0, 0])])
            raise DataError(
                f"probe sequence {first} (subject {data.subjects[first]}, view {data.views[first]}) has no "
                "gallery sequence left after excluding its own subject's sequences of its own view"
            )
        stats = rank_statistics(gallery.distance(data.embeddings, rows), same_subject, excluded)
        hits[chunk, 0] = (stats.first_hit == 0).double().cpu().numpy()
        precisions[chunk, 0] = stats.average_precision.double().cpu().numpy()
    return hits, precisions
