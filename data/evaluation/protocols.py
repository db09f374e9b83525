"""The evaluation protocols by dataset, and the choice of one by name (``casia_b``, ``oumvlp``, ``open``).

CASIA-B and OU-MVLP are declarations of ``ViewProtocol`` (their probe and gallery types are in
``landmarkgait.data.evaluation.names``); the open protocol is ``open_set``. This is what training,
the baseline and the CLI call. It must not compute anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.names import (
    CASIA_B_CROSS_VIEW_GALLERY,
    CASIA_B_CROSS_VIEW_PROBES,
    CASIA_B_GALLERY,
    CASIA_B_PROBES,
    OUMVLP_GALLERY,
    OUMVLP_PROBES,
    PROTOCOLS,
)
from landmarkgait.data.evaluation.open_set import evaluate_open_set, open_set_split
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.evaluation.view_protocol import ViewProtocol

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
VIEW_PROTOCOLS: dict[str, ViewProtocol] = {protocol.name: protocol for protocol in (CASIA_B, OUMVLP)}

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
) -> GaitEvaluation:
    """Evaluate with a protocol chosen by name: ``casia_b``, ``oumvlp`` or ``open`` (see ``PROTOCOLS``)."""
    if protocol in VIEW_PROTOCOLS:
        return VIEW_PROTOCOLS[protocol].evaluate(
            embeddings, subjects, types, views, metric=metric, cross_view_gallery=cross_view_gallery
        )
    if protocol == "open":
        probe, gallery = open_set_split(
            subjects, types, views, probe_types=probe_types, gallery_types=gallery_types
        )
        return evaluate_open_set(embeddings, subjects, probe, gallery, metric=metric)
    raise DataError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
