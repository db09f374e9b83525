"""The evaluation protocols by dataset, and the choice of one by name (``PROTOCOLS``).

CASIA-B, OU-MVLP, CASIA-E and SUSTech1K are declarations of ``ViewProtocol`` (their probe and
gallery types are in ``landmarkgait.data.evaluation.names``); ``casia_b_cross_view`` and
``oumvlp_cross_view`` are the first two with a gallery of all views; Gait3D, GREW and CCPG are in
``composite``; the open protocol is ``open_set``. This is what training, the baseline and the CLI
call. It must not compute anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.composite import evaluate_ccpg, evaluate_gait3d, evaluate_grew
from landmarkgait.data.evaluation.names import (
    CASIA_B_CROSS_VIEW_GALLERY,
    CASIA_B_CROSS_VIEW_PROBES,
    CASIA_B_GALLERY,
    CASIA_B_PROBES,
    CASIA_E_EXCLUDED_VIEWS,
    CASIA_E_GALLERY,
    CASIA_E_PROBES,
    CASIA_E_TYPE_PATTERN,
    OUMVLP_GALLERY,
    OUMVLP_PROBES,
    PROTOCOLS,
    SUSTECH1K_GALLERY,
    SUSTECH1K_PROBES,
    SUSTECH1K_RANKS,
    SUSTECH1K_TYPE_PATTERN,
)
from landmarkgait.data.evaluation.open_set import evaluate_open_set, open_set_split
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.evaluation.view_protocol import TypeRule, ViewProtocol
from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset

# CASIA-B: probes NM nm-05/06, BG bg-01/02, CL cl-01/02 against the nm-01..04 gallery. With a
# cross-view gallery the probes are nm-01 / bg-01 / cl-01 and the gallery nm-02, bg-02, cl-02 of
# all views (OpenGait's cross-view-gallery evaluation).
CASIA_B = ViewProtocol(
    "casia_b",
    CASIA_B_PROBES,
    CASIA_B_GALLERY,
    cross_view=(CASIA_B_CROSS_VIEW_PROBES, CASIA_B_CROSS_VIEW_GALLERY),
)
# OU-MVLP: probe sequence 00 against gallery 01, per probe view x gallery view.
OUMVLP = ViewProtocol("oumvlp", OUMVLP_PROBES, OUMVLP_GALLERY)
# CASIA-E: scenes 2, 3 and 3_s against scene 1's normal walks, view 270 left out.
CASIA_E = ViewProtocol(
    "casia_e",
    CASIA_E_PROBES,
    CASIA_E_GALLERY,
    excluded_views=CASIA_E_EXCLUDED_VIEWS,
    type_rule=TypeRule(CASIA_E_TYPE_PATTERN, "<height>-<scene>-<condition>-<number>, like H-scene2-nm-1"),
)
# SUSTech1K: each attribute's probes (by substring) against 00-nm, rank-1 and rank-5.
SUSTECH1K = ViewProtocol(
    "sustech1k",
    SUSTECH1K_PROBES,
    SUSTECH1K_GALLERY,
    substring_types=True,
    ranks=SUSTECH1K_RANKS,
    type_rule=TypeRule(SUSTECH1K_TYPE_PATTERN, "<number>-<covariates>, like 01-bg"),
)
VIEW_PROTOCOLS: dict[str, ViewProtocol] = {
    protocol.name: protocol for protocol in (CASIA_B, OUMVLP, CASIA_E, SUSTECH1K)
}
# OpenGait's cross-view-gallery evaluation serves CASIA-B and OU-MVLP only.
CROSS_VIEW_PROTOCOLS: dict[str, ViewProtocol] = {
    f"{protocol.name}_cross_view": protocol for protocol in (CASIA_B, OUMVLP)
}
# Protocols whose probes are listed in the partition file (Gait3D's PROBE_SET).
PROBE_SET_PROTOCOLS: tuple[str, ...] = ("gait3d",)

evaluate_casia_b = CASIA_B.evaluate
evaluate_oumvlp = OUMVLP.evaluate


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
    probe_keys: Sequence[str] | None = None,
) -> GaitEvaluation:
    """Evaluate with a protocol chosen by name (see ``PROTOCOLS``).

    ``cross_view_gallery`` applies to ``casia_b`` and ``oumvlp`` (the same as naming
    ``casia_b_cross_view`` / ``oumvlp_cross_view``); ``probe_keys`` are Gait3D's PROBE_SET
    (``protocol_probe_keys``); ``probe_types`` / ``gallery_types`` choose the open protocol's split.
    """
    labels = {"subjects": subjects, "types": types, "views": views}
    if protocol in CROSS_VIEW_PROTOCOLS:
        return CROSS_VIEW_PROTOCOLS[protocol].evaluate(
            embeddings, **labels, metric=metric, cross_view_gallery=True
        )
    if protocol in VIEW_PROTOCOLS:
        if cross_view_gallery and f"{protocol}_cross_view" not in CROSS_VIEW_PROTOCOLS:
            raise DataError(f"the {protocol} protocol has no cross-view-gallery variant")
        return VIEW_PROTOCOLS[protocol].evaluate(
            embeddings, **labels, metric=metric, cross_view_gallery=cross_view_gallery
        )
    if protocol == "open":
        probe, gallery = open_set_split(
            subjects, types, views, probe_types=probe_types, gallery_types=gallery_types
        )
        return evaluate_open_set(embeddings, subjects, probe, gallery, metric=metric)
    if protocol == "gait3d":
        return evaluate_gait3d(embeddings, **labels, probe_keys=probe_keys, metric=metric)
    if protocol == "grew":
        return evaluate_grew(embeddings, **labels, metric=metric)
    if protocol == "ccpg":
        return evaluate_ccpg(embeddings, **labels, metric=metric)
    raise DataError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def protocol_probe_keys(
    protocol: str, dataset: SilhouetteDataset, partition: str | Path | None
) -> tuple[str, ...] | None:
    """The probe keys ``protocol`` takes from the partition (Gait3D's PROBE_SET); None for the others.

    The partition is resolved as the pipeline resolves its train/test split: ``partition`` (the
    config's ``data.partition``) if given, else the dataset's metadata.
    """
    if protocol not in PROBE_SET_PROTOCOLS:
        return None
    return resolve_partition(dataset, Path(partition) if partition else None).probe_set
