"""Probe view x gallery view evaluation, the one path of CASIA-B, OU-MVLP, CASIA-E, SUSTech1K and CCPG.

A ``ViewProtocol`` names which sequence types are probes (per condition, e.g. NM / BG / CL) and
which form the gallery; ``evaluate`` computes rank-1 (and rank-k) and AP for every probe view x
gallery view as OpenGait does, or against a gallery of all views (cross-view-gallery variant). It
must not know a dataset by name: ``landmarkgait.data.evaluation.protocols`` declares them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import LabelledEmbeddings, prepare_inputs
from landmarkgait.data.evaluation.names import ALL_VIEWS
from landmarkgait.data.evaluation.ranking import PartGallery, RankStatistics, probe_chunks, rank_statistics
from landmarkgait.data.evaluation.results import GaitEvaluation, ViewTable

log = logging.getLogger(__name__)

Conditions = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class TypeRule:
    """The form every sequence type of a dataset has: a regular expression and how a person reads it."""

    pattern: str
    form: str  # e.g. "<height>-<scene>-<condition>-<number>, like H-scene2-nm-1"


@dataclass(frozen=True)
class ViewProtocol:
    """A probe-view x gallery-view protocol: probe types per condition and gallery types.

    ``cross_view`` holds the probe conditions and gallery types of the cross-view-gallery variant;
    ``None`` uses the single-view ones for it too. The other fields describe the datasets beyond
    CASIA-B and OU-MVLP, each as OpenGait's evaluator treats it:

    - ``condition_galleries``: conditions with a gallery of their own (CCPG's settings);
    - ``substring_types``: a type is selected when it contains one of the names (SUSTech1K);
    - ``excluded_views``: views left out of probes and gallery alike (CASIA-E's 270);
    - ``ranks``: rank-k cells besides rank-1 (SUSTech1K's rank-5);
    - ``type_rule``: the dataset's naming; a sequence of another type, or a probe view whose
      gallery lacks a view (OpenGait fails there), is an error naming a sequence, and probes whose
      subject has no gallery sequence are reported. Without it (CASIA-B, OU-MVLP) types outside
      the protocol are ignored and such cells are left empty.
    """

    name: str
    probe_conditions: Conditions
    gallery_types: tuple[str, ...]
    cross_view: tuple[Conditions, tuple[str, ...]] | None = None
    condition_galleries: Conditions = field(default_factory=dict)
    substring_types: bool = False
    excluded_views: tuple[str, ...] = ()
    ranks: tuple[int, ...] = (1,)
    type_rule: TypeRule | None = None

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
        if self.type_rule is not None:
            data.check_types(self.type_rule.pattern, self.name, self.type_rule.form)
        usable = ~np.isin(data.views, list(self.excluded_views))
        view_list = tuple(sorted(set(data.views[usable].tolist())))
        if not cross_view_gallery and len(view_list) < 2:
            raise DataError(
                f"the {self.name} protocol excludes identical-view matches and needs at least two views, "
                f"got {view_list}"
            )
        if not self.condition_galleries and not (self._selects(data.types, gallery_types) & usable).any():
            raise DataError(f"no gallery sequences: none of the types is one of {', '.join(gallery_types)}")

        tables = []
        for condition, probe_types in probe_conditions.items():
            probe_mask = self._selects(data.types, probe_types) & usable
            if not probe_mask.any():
                log.debug("condition %s: no probe sequences of types %s; skipped", condition, probe_types)
                continue
            condition_gallery = self.condition_galleries.get(condition, gallery_types)
            gallery_mask = self._selects(data.types, condition_gallery) & usable
            if not gallery_mask.any():
                raise DataError(
                    f"no gallery sequences for condition {condition}: none of the types is one of "
                    f"{', '.join(condition_gallery)} (probe sequence {data.sequence(int(probe_mask.argmax()))} "
                    "has nothing to be matched against)"
                )
            if self.type_rule is not None:
                self._check_gallery(data, condition, probe_mask, gallery_mask, view_list, cross_view_gallery)
            if cross_view_gallery:
                first_hits, precisions = _cross_view_scores(data, probe_mask, gallery_mask, metric)
                columns: tuple[str, ...] = (ALL_VIEWS,)
            else:
                first_hits, precisions = _single_view_scores(
                    data, probe_mask, gallery_mask, view_list, metric
                )
                columns = view_list
            tables.append(
                _view_table(
                    condition, view_list, columns, data.views[probe_mask], first_hits, precisions, self.ranks
                )
            )
        if not tables:
            wanted = sorted({t for types_ in probe_conditions.values() for t in types_})
            raise DataError(f"no probe sequences: none of the types is one of {', '.join(wanted)}")
        name = f"{self.name}_cross_view" if cross_view_gallery else self.name
        return GaitEvaluation(protocol=name, metric=metric, tables=tuple(tables))

    def _selects(self, types: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
        """Mask ``[N]`` of the sequences of the ``wanted`` types: equal, or containing one of them."""
        if not self.substring_types:
            return np.isin(types, list(wanted))
        names, inverse = np.unique(types, return_inverse=True)
        chosen = np.array([any(part in name for part in wanted) for name in names.tolist()], dtype=bool)
        return chosen[inverse.reshape(-1)] if names.size else np.zeros(types.shape, dtype=bool)

    def _check_gallery(
        self,
        data: LabelledEmbeddings,
        condition: str,
        probe_mask: np.ndarray,
        gallery_mask: np.ndarray,
        view_list: tuple[str, ...],
        cross_view_gallery: bool,
    ) -> None:
        """Refuse a probe view without a gallery of some view; report probes without their subject's gallery."""
        if not cross_view_gallery:
            gallery_views = set(data.views[gallery_mask].tolist())
            missing = [view for view in view_list if view not in gallery_views]
            if missing:
                first = int(probe_mask.argmax())
                raise DataError(
                    f"probe sequence {data.sequence(first)} ({self.name} {condition}): no gallery sequence "
                    f"of view {missing[0]} to match it against (the gallery is every view's "
                    f"{', '.join(self.condition_galleries.get(condition, self.gallery_types))})"
                )
        data.report_unmatched_probes(probe_mask, gallery_mask, f"{self.name} {condition}")


def _view_table(
    condition: str,
    view_list: tuple[str, ...],
    columns: tuple[str, ...],
    probe_views: np.ndarray,
    first_hits: np.ndarray,
    precisions: np.ndarray,
    ranks: Sequence[int],
) -> ViewTable:
    """Percentages per probe view (rows) and gallery column from per-probe first-hit ranks and APs
    ``[n, columns]`` (first hit: 0-based, inf without a match, NaN where the column has no gallery)."""
    hit_cells = {rank: np.full((len(view_list), len(columns)), np.nan) for rank in sorted({1, *ranks})}
    mean_ap = np.full((len(view_list), len(columns)), np.nan)
    counts = np.zeros(len(view_list), dtype=np.int64)
    for row, view in enumerate(view_list):
        rows = probe_views == view
        counts[row] = int(rows.sum())
        if counts[row] == 0:
            continue
        for column in range(len(columns)):
            first_hit = first_hits[rows, column]
            if np.all(np.isnan(first_hit)):
                continue
            for rank, cells in hit_cells.items():
                cells[row, column] = 100.0 * float(np.mean(first_hit < rank))
            precision = precisions[rows, column]
            if np.any(np.isfinite(precision)):
                mean_ap[row, column] = 100.0 * float(np.nanmean(precision))
    rank1 = hit_cells.pop(1)
    return ViewTable(condition, view_list, columns, rank1, mean_ap, counts, ranks=hit_cells)


def _first_hits(stats: RankStatistics) -> np.ndarray:
    """0-based rank of each probe's first match, inf for probes without one ``[n]``."""
    first_hit = stats.first_hit.double().cpu().numpy()
    return np.where(stats.has_match.cpu().numpy(), first_hit, np.inf)


def _single_view_scores(
    data: LabelledEmbeddings,
    probe_mask: np.ndarray,
    gallery_mask: np.ndarray,
    view_list: tuple[str, ...],
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe and gallery view: first-hit rank (NaN if that view has no gallery) and AP.

    One gallery view at a time, as OpenGait: only that view's gallery is copied and prepared.
    """
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    first_hits = np.full((probe_index.size, len(view_list)), np.nan)
    precisions = np.full_like(first_hits, np.nan)
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
            first_hits[chunk, column] = _first_hits(stats)
            precisions[chunk, column] = stats.average_precision.double().cpu().numpy()
    return first_hits, precisions


def _cross_view_scores(
    data: LabelledEmbeddings, probe_mask: np.ndarray, gallery_mask: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe: first-hit rank and AP against all gallery views, own subject's own view excluded."""
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    first_hits = np.empty((probe_index.size, 1))
    precisions = np.empty_like(first_hits)
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
                f"probe sequence {data.sequence(first)} has no gallery sequence left after excluding "
                "its own subject's sequences of its own view"
            )
        stats = rank_statistics(gallery.distance(data.embeddings, rows), same_subject, excluded)
        first_hits[chunk, 0] = _first_hits(stats)
        precisions[chunk, 0] = stats.average_precision.double().cpu().numpy()
    return first_hits, precisions
