"""Gait-recognition evaluation protocols: CASIA-B, OU-MVLP and open probe/gallery sets.

The one place that turns embeddings into accuracy numbers; training, the baseline and the CLI all
call it. It follows OpenGait's evaluator semantics (``opengait/evaluation``): rank-1 for every probe
view x gallery view with identical-view cells excluded from the means, the Euclidean distance
computed per horizontal part and averaged over parts (cosine as an option), the cross-view-gallery
variant, and Gait3D/GREW-style rank-k / mAP / mINP. It must not load models or datasets.

Computation is device-agnostic torch (it runs where the embeddings live) and chunked over probes
so that memory stays bounded for large galleries.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation_names import (
    CASIA_B_CROSS_VIEW_GALLERY,
    CASIA_B_CROSS_VIEW_PROBES,
    CASIA_B_GALLERY,
    CASIA_B_PROBES,
    METRICS,
    OUMVLP_GALLERY,
    OUMVLP_PROBES,
    PROTOCOLS,
)

log = logging.getLogger(__name__)

# Elements of the probe-chunk x gallery x parts distance block computed at once (~64 MB float32).
_CHUNK_ELEMENTS = 1 << 24
ALL_VIEWS = "all"


@dataclass(frozen=True)
class ViewTable:
    """Results of one probe condition: rows are probe views, columns gallery views.

    ``rank1`` and ``mean_ap`` are percentages ``[V_probe, V_gallery]``, NaN where a cell has no probe.
    For the single-view gallery protocols the identical-view cells (diagonal) are kept for display but
    excluded from every mean; the cross-view-gallery variant has one column, ``"all"``.
    """

    condition: str
    probe_views: tuple[str, ...]
    gallery_views: tuple[str, ...]
    rank1: np.ndarray
    mean_ap: np.ndarray
    num_probes: np.ndarray  # [V_probe]

    def _excluded(self) -> np.ndarray:
        return np.array([[p == g for g in self.gallery_views] for p in self.probe_views], dtype=bool)

    def _per_view(self, values: np.ndarray) -> np.ndarray:
        kept = np.where(self._excluded(), np.nan, values)
        means = np.full(len(self.probe_views), np.nan)
        for row, cells in enumerate(kept):
            if np.any(np.isfinite(cells)):
                means[row] = float(np.nanmean(cells))
        return means

    @property
    def rank1_per_view(self) -> np.ndarray:
        """Mean rank-1 of each probe view over the other gallery views ``[V_probe]``."""
        return self._per_view(self.rank1)

    @property
    def map_per_view(self) -> np.ndarray:
        return self._per_view(self.mean_ap)

    @property
    def rank1_mean(self) -> float:
        return _nanmean(self.rank1_per_view)

    @property
    def map_mean(self) -> float:
        return _nanmean(self.map_per_view)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


@dataclass(frozen=True)
class GaitEvaluation:
    """Result of one protocol: per-condition view tables and/or scalar metrics (percentages)."""

    protocol: str
    metric: str
    tables: tuple[ViewTable, ...] = ()
    scalars: Mapping[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """Flat metrics: ``rank1/NM``, ``mAP/NM``, per probe view ``rank1/NM/000``, open-set ``rank1`` ..."""
        result: dict[str, float] = {}
        for table in self.tables:
            result[f"rank1/{table.condition}"] = table.rank1_mean
            result[f"mAP/{table.condition}"] = table.map_mean
        for table in self.tables:
            for view, rank1, mean_ap in zip(
                table.probe_views, table.rank1_per_view, table.map_per_view, strict=True
            ):
                result[f"rank1/{table.condition}/{view}"] = float(rank1)
                result[f"mAP/{table.condition}/{view}"] = float(mean_ap)
        result |= {name: float(value) for name, value in self.scalars.items()}
        return result

    def headline(self) -> str:
        """One line of the means: ``NM rank-1 95.10% mAP 90.02%, BG ...`` and scalar metrics."""
        parts = [
            f"{table.condition} rank-1 {table.rank1_mean:.2f}% mAP {table.map_mean:.2f}%"
            for table in self.tables
        ]
        parts += [f"{name} {value:.2f}%" for name, value in self.scalars.items()]
        return ", ".join(parts)

    def format_table(self) -> str:
        """Human-readable rank-1 tables (probe view rows x gallery view columns) and means."""
        lines = [f"protocol {self.protocol}, distance {self.metric}"]
        for table in self.tables:
            lines.append("")
            note = (
                "all views in the gallery, own subject's own view excluded"
                if table.gallery_views == (ALL_VIEWS,)
                else "identical-view cells in brackets, excluded from means"
            )
            lines.append(
                f"{table.condition}: rank-1 {table.rank1_mean:.2f}%  mAP {table.map_mean:.2f}%  ({note})"
            )
            lines.append(
                "probe\\gallery " + " ".join(f"{view:>7}" for view in table.gallery_views) + "    mean"
            )
            for row, view in enumerate(table.probe_views):
                cells = []
                for column, gallery_view in enumerate(table.gallery_views):
                    value = table.rank1[row, column]
                    text = "-" if not np.isfinite(value) else f"{value:.1f}"
                    cells.append(f"{f'[{text}]' if view == gallery_view else text:>7}")
                mean = table.rank1_per_view[row]
                lines.append(f"{view:>13} " + " ".join(cells) + f" {mean:7.2f}")
        if self.scalars:
            lines.append("")
            lines.extend(f"{name:>8}: {value:.2f}%" for name, value in self.scalars.items())
        return "\n".join(lines)

    def to_csv(self, path: Path) -> Path:
        """Write every cell (and per-view / overall means) as rows of a CSV file, atomically."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.tables:
            writer.writerow(
                ["condition", "probe_view", "gallery_view", "rank1", "mAP", "num_probes", "identical_view"]
            )
        for table in self.tables:
            for row, view in enumerate(table.probe_views):
                for column, gallery_view in enumerate(table.gallery_views):
                    writer.writerow(
                        [
                            table.condition,
                            view,
                            gallery_view,
                            _csv_number(table.rank1[row, column]),
                            _csv_number(table.mean_ap[row, column]),
                            int(table.num_probes[row]),
                            view == gallery_view,
                        ]
                    )
                writer.writerow(
                    [
                        table.condition,
                        view,
                        "mean",
                        _csv_number(table.rank1_per_view[row]),
                        _csv_number(table.map_per_view[row]),
                        int(table.num_probes[row]),
                        False,
                    ]
                )
            total = int(table.num_probes.sum())
            row_values = [_csv_number(table.rank1_mean), _csv_number(table.map_mean), total, False]
            writer.writerow([table.condition, "mean", "mean", *row_values])
        if self.scalars:
            writer.writerow(["metric", "value"])
            for name, value in self.scalars.items():
                writer.writerow([name, _csv_number(value)])
        return write_bytes_atomically(Path(path), buffer.getvalue().encode())

    def heatmap_png(self, path: Path) -> Path:
        """Rank-1 heatmap per condition (probe view x gallery view), or a bar chart for open sets."""
        from matplotlib.figure import Figure

        panels = max(len(self.tables), 1)
        figure = Figure(figsize=(5.2 * panels, 4.6), dpi=100, layout="constrained")
        axes = figure.subplots(1, panels, squeeze=False)[0]
        for axis, table in zip(axes, self.tables, strict=False):
            image = axis.imshow(table.rank1, vmin=0.0, vmax=100.0, cmap="viridis", aspect="auto")
            axis.set_xticks(range(len(table.gallery_views)), table.gallery_views, rotation=90, fontsize=7)
            axis.set_yticks(range(len(table.probe_views)), table.probe_views, fontsize=7)
            axis.set_xlabel("gallery view")
            axis.set_ylabel("probe view")
            axis.set_title(
                f"{table.condition} rank-1, mean {table.rank1_mean:.1f}% (diagonal excluded)", fontsize=9
            )
            if table.rank1.size <= 400:
                for (row, column), value in np.ndenumerate(table.rank1):
                    identical = table.probe_views[row] == table.gallery_views[column]
                    label = "-" if not np.isfinite(value) else f"{value:.0f}"
                    axis.text(
                        column,
                        row,
                        label,
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="red" if identical else ("black" if value > 60 else "white"),
                    )
            figure.colorbar(image, ax=axis, shrink=0.8, label="rank-1 %")
        if not self.tables:
            names = list(self.scalars)
            axes[0].bar(names, [self.scalars[name] for name in names], color="tab:blue")
            axes[0].set_ylim(0.0, 100.0)
            axes[0].set_ylabel("%")
            axes[0].set_title(f"{self.protocol} ({self.metric})")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return write_bytes_atomically(Path(path), buffer.getvalue())


def _csv_number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{float(value):.4f}"


def write_bytes_atomically(path: Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------------------------
# Distances and ranking statistics


def pairwise_distance(probe: torch.Tensor, gallery: torch.Tensor, metric: str = "euc") -> torch.Tensor:
    """Distance ``[n, m]`` between embeddings ``[n, C, P]`` and ``[m, C, P]``, averaged over parts.

    ``euc``: Euclidean distance of each part's C-dim feature, averaged over the P parts.
    ``cos``: 1 - cosine similarity per part, averaged over parts.
    """
    if metric not in METRICS:
        raise DataError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "cos":
        probe = F.normalize(probe, p=2, dim=1)
        gallery = F.normalize(gallery, p=2, dim=1)
    probe_parts = probe.permute(2, 0, 1)  # [P, n, C]
    gallery_parts = gallery.permute(2, 1, 0)  # [P, C, m]
    inner = torch.bmm(probe_parts, gallery_parts)  # [P, n, m]
    if metric == "cos":
        return 1.0 - inner.mean(0)
    squared = (
        probe_parts.square().sum(-1, keepdim=True) + gallery_parts.square().sum(1, keepdim=True) - 2.0 * inner
    )
    return squared.clamp_min(0.0).sqrt().mean(0)


@dataclass(frozen=True)
class RankStatistics:
    """Per-probe ranking results ``[n]``: first correct rank, AP and INP (NaN when no match exists)."""

    first_hit: torch.Tensor  # 0-based rank of the first correct gallery entry; m if none
    average_precision: torch.Tensor
    inverse_negative_penalty: torch.Tensor
    has_match: torch.Tensor  # bool


def rank_statistics(
    distance: torch.Tensor, matches: torch.Tensor, excluded: torch.Tensor | None = None
) -> RankStatistics:
    """Rank gallery entries by ``distance`` ``[n, m]`` (m >= 1) and score where ``matches`` ``[n, m]`` land.

    ``excluded`` ``[n, m]`` removes gallery entries from a probe's ranking (they sort last and never
    count as matches). Ties keep gallery order (stable sort), so results are reproducible.
    AP is the mean of precision at each correct entry; INP = number of correct entries divided by
    the rank of the hardest (last) correct entry.
    """
    if excluded is not None:
        distance = distance.masked_fill(excluded, math.inf)
        matches = matches & ~excluded
    order = torch.sort(distance, dim=1, stable=True).indices
    ranked = torch.gather(matches, 1, order)
    cumulative = ranked.cumsum(1)
    num_relevant = cumulative[:, -1]
    has_match = num_relevant > 0
    positions = torch.arange(1, ranked.shape[1] + 1, device=distance.device, dtype=distance.dtype)
    precision = (cumulative.to(distance.dtype) / positions) * ranked
    nan = torch.full_like(num_relevant, math.nan, dtype=distance.dtype)
    average_precision = torch.where(has_match, precision.sum(1) / num_relevant.clamp_min(1), nan)
    first_hit = torch.where(has_match, ranked.to(torch.int8).argmax(1), ranked.shape[1])
    last_hit = ranked.shape[1] - 1 - ranked.flip(1).to(torch.int8).argmax(1)
    inverse_negative_penalty = torch.where(has_match, num_relevant / (last_hit + 1).to(distance.dtype), nan)
    return RankStatistics(first_hit, average_precision, inverse_negative_penalty, has_match)


def _probe_chunks(num_probes: int, num_gallery: int, num_parts: int) -> list[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(1, num_gallery * num_parts))
    return [slice(start, min(start + step, num_probes)) for start in range(0, num_probes, step)]


# --------------------------------------------------------------------------------------------
# Protocols


@dataclass(frozen=True)
class _Labelled:
    """Inputs checked and moved to tensors: embeddings ``[N, C, P]`` and integer labels ``[N]``."""

    embeddings: torch.Tensor
    subject_ids: torch.Tensor
    subjects: np.ndarray
    types: np.ndarray
    views: np.ndarray


def _prepare(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str] | None,
    views: Sequence[str] | None,
) -> _Labelled:
    tensor = torch.as_tensor(embeddings)
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(-1)
    if tensor.ndim != 3:
        raise DataError(f"embeddings must have shape [N, C, P] (or [N, C]), got {tuple(tensor.shape)}")
    if not tensor.is_floating_point() or tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.float()
    count = tensor.shape[0]
    for name, values in (("subjects", subjects), ("types", types), ("views", views)):
        if values is not None and len(values) != count:
            raise DataError(f"{name} has {len(values)} entries but embeddings has {count} rows")
    names = np.asarray([str(subject) for subject in subjects])
    _, inverse = np.unique(names, return_inverse=True)
    return _Labelled(
        embeddings=tensor,
        subject_ids=torch.as_tensor(inverse.reshape(-1), device=tensor.device),
        subjects=names,
        types=np.asarray([str(value) for value in (types if types is not None else [""] * count)]),
        views=np.asarray([str(value) for value in (views if views is not None else [""] * count)]),
    )


def evaluate_view_protocol(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    probe_conditions: Mapping[str, Sequence[str]],
    gallery_types: Sequence[str],
    metric: str = "euc",
    cross_view_gallery: bool = False,
    protocol: str = "view",
) -> GaitEvaluation:
    """Probe-view x gallery-view evaluation shared by CASIA-B and OU-MVLP.

    Single-view gallery (default): for every probe view and gallery view, each probe is matched
    against the gallery sequences of that view; rank-1 is the share of probes whose nearest gallery
    sequence has their subject, AP ranks that view's gallery. Cross-view gallery: each probe is
    matched against the gallery of all views, minus its own subject's sequences of its own view.
    Conditions without probes are left out; a missing gallery is an error.
    """
    data = _prepare(embeddings, subjects, types, views)
    view_list = tuple(sorted(set(data.views.tolist())))
    if not cross_view_gallery and len(view_list) < 2:
        raise DataError(
            f"the {protocol} protocol excludes identical-view matches and needs at least two views, got {view_list}"
        )
    gallery_mask = np.isin(data.types, list(gallery_types))
    if not gallery_mask.any():
        raise DataError(f"no gallery sequences: none of the types is one of {', '.join(gallery_types)}")
    gallery_index = torch.as_tensor(np.flatnonzero(gallery_mask), device=data.embeddings.device)
    gallery = data.embeddings[gallery_index]
    gallery_ids = data.subject_ids[gallery_index]
    gallery_views = data.views[gallery_mask]

    tables = []
    for condition, probe_types in probe_conditions.items():
        probe_mask = np.isin(data.types, list(probe_types))
        if not probe_mask.any():
            log.debug("condition %s: no probe sequences of types %s; skipped", condition, probe_types)
            continue
        if cross_view_gallery:
            hits, precisions = _cross_view_scores(
                data, probe_mask, gallery, gallery_ids, gallery_views, metric
            )
            columns: tuple[str, ...] = (ALL_VIEWS,)
        else:
            hits, precisions = _single_view_scores(
                data, probe_mask, gallery, gallery_ids, gallery_views, view_list, metric
            )
            columns = view_list
        probe_views = data.views[probe_mask]
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
        tables.append(ViewTable(condition, view_list, columns, rank1, mean_ap, counts))
    if not tables:
        wanted = sorted({t for types_ in probe_conditions.values() for t in types_})
        raise DataError(f"no probe sequences: none of the types is one of {', '.join(wanted)}")
    name = f"{protocol}_cross_view" if cross_view_gallery else protocol
    return GaitEvaluation(protocol=name, metric=metric, tables=tuple(tables))


def _single_view_scores(
    data: _Labelled,
    probe_mask: np.ndarray,
    gallery: torch.Tensor,
    gallery_ids: torch.Tensor,
    gallery_views: np.ndarray,
    view_list: tuple[str, ...],
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe and gallery view: rank-1 hit (1/0, NaN if that view has no gallery) and AP."""
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    hits = np.full((probe_index.size, len(view_list)), np.nan)
    precisions = np.full_like(hits, np.nan)
    columns = [torch.as_tensor(np.flatnonzero(gallery_views == view), device=device) for view in view_list]
    for chunk in _probe_chunks(probe_index.size, gallery.shape[0], gallery.shape[2]):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        distance = pairwise_distance(data.embeddings[rows], gallery, metric)
        probe_ids = data.subject_ids[rows]
        for column, gallery_columns in enumerate(columns):
            if gallery_columns.numel() == 0:
                continue
            matches = probe_ids[:, None] == gallery_ids[gallery_columns][None, :]
            stats = rank_statistics(distance[:, gallery_columns], matches)
            hits[chunk, column] = (stats.first_hit == 0).double().cpu().numpy()
            precisions[chunk, column] = stats.average_precision.double().cpu().numpy()
    return hits, precisions


def _cross_view_scores(
    data: _Labelled,
    probe_mask: np.ndarray,
    gallery: torch.Tensor,
    gallery_ids: torch.Tensor,
    gallery_views: np.ndarray,
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per probe: rank-1 hit and AP against all gallery views, own subject's own view excluded."""
    device = data.embeddings.device
    probe_index = np.flatnonzero(probe_mask)
    hits = np.empty((probe_index.size, 1))
    precisions = np.empty_like(hits)
    _, view_codes = np.unique(np.concatenate([data.views, gallery_views]), return_inverse=True)
    probe_view_ids = torch.as_tensor(view_codes[: data.views.size], device=device)
    gallery_view_ids = torch.as_tensor(view_codes[data.views.size :], device=device)
    for chunk in _probe_chunks(probe_index.size, gallery.shape[0], gallery.shape[2]):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        probe_ids = data.subject_ids[rows]
        same_subject = probe_ids[:, None] == gallery_ids[None, :]
        excluded = same_subject & (probe_view_ids[rows][:, None] == gallery_view_ids[None, :])
        empty = excluded.all(1)
        if bool(empty.any()):
            first = int(probe_index[chunk][int(empty.nonzero()[0, 0])])
            raise DataError(
                f"probe sequence {first} (subject {data.subjects[first]}, view {data.views[first]}) has no "
                "gallery sequence left after excluding its own subject's sequences of its own view"
            )
        stats = rank_statistics(
            pairwise_distance(data.embeddings[rows], gallery, metric), same_subject, excluded
        )
        hits[chunk, 0] = (stats.first_hit == 0).double().cpu().numpy()
        precisions[chunk, 0] = stats.average_precision.double().cpu().numpy()
    return hits, precisions


def evaluate_casia_b(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    metric: str = "euc",
    cross_view_gallery: bool = False,
) -> GaitEvaluation:
    """CASIA-B: probes NM nm-05/06, BG bg-01/02, CL cl-01/02 against the nm-01..04 gallery.

    With ``cross_view_gallery`` the probes are nm-01 / bg-01 / cl-01 and the gallery nm-02, bg-02,
    cl-02 of all views (OpenGait's cross-view-gallery evaluation).
    """
    probes, gallery = (
        (CASIA_B_CROSS_VIEW_PROBES, CASIA_B_CROSS_VIEW_GALLERY)
        if cross_view_gallery
        else (CASIA_B_PROBES, CASIA_B_GALLERY)
    )
    return evaluate_view_protocol(
        embeddings,
        subjects,
        types,
        views,
        probe_conditions=probes,
        gallery_types=gallery,
        metric=metric,
        cross_view_gallery=cross_view_gallery,
        protocol="casia_b",
    )


def evaluate_oumvlp(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    metric: str = "euc",
    cross_view_gallery: bool = False,
) -> GaitEvaluation:
    """OU-MVLP: probe sequence ``00`` against gallery ``01``, per probe view x gallery view."""
    return evaluate_view_protocol(
        embeddings,
        subjects,
        types,
        views,
        probe_conditions=OUMVLP_PROBES,
        gallery_types=OUMVLP_GALLERY,
        metric=metric,
        cross_view_gallery=cross_view_gallery,
        protocol="oumvlp",
    )


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
    data = _prepare(embeddings, subjects, None, None)
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
    gallery = data.embeddings[gallery_index]
    gallery_ids = data.subject_ids[gallery_index]
    probe_index = np.flatnonzero(probe)
    first_hits, precisions, penalties = [], [], []
    for chunk in _probe_chunks(probe_index.size, gallery.shape[0], gallery.shape[2]):
        rows = torch.as_tensor(probe_index[chunk], device=device)
        matches = data.subject_ids[rows][:, None] == gallery_ids[None, :]
        stats = rank_statistics(pairwise_distance(data.embeddings[rows], gallery, metric), matches)
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


def evaluate_protocol(
    protocol: str,
    embeddings: torch.Tensor | np.ndarray,
    *,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    metric: str = "euc",
    cross_view_gallery: bool = False,
    probe_types: Sequence[str] | None = None,
    gallery_types: Sequence[str] | None = None,
) -> GaitEvaluation:
    """Evaluate with a protocol chosen by name: ``casia_b``, ``oumvlp`` or ``open`` (see ``PROTOCOLS``)."""
    if protocol == "casia_b":
        return evaluate_casia_b(
            embeddings, subjects, types, views, metric=metric, cross_view_gallery=cross_view_gallery
        )
    if protocol == "oumvlp":
        return evaluate_oumvlp(
            embeddings, subjects, types, views, metric=metric, cross_view_gallery=cross_view_gallery
        )
    if protocol == "open":
        probe, gallery = open_set_split(
            subjects, types, views, probe_types=probe_types, gallery_types=gallery_types
        )
        return evaluate_open_set(embeddings, subjects, probe, gallery, metric=metric)
    raise DataError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
