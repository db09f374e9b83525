"""Gait3D, GREW and CCPG: the protocols built from the open-set path, the view path, or both.

Each equals its function in OpenGait's ``opengait/evaluation/evaluator.py`` on the same
embeddings (``evaluate_Gait3D``, ``evaluate_real_scene`` with ``GREW_submission``,
``evaluate_CCPG``), with the distances streamed as every protocol's are. Here only probes and
gallery are chosen and results put together; ranking is ``open_set`` / ``view_protocol``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.labelled import prepare_inputs
from landmarkgait.data.evaluation.names import (
    CCPG_SETTINGS,
    CCPG_TYPE_PATTERN,
    GAIT3D_RANKS,
    GREW_GALLERY,
    GREW_PROBES,
    GREW_RANKS,
    GREW_SUBMISSION_GALLERY,
    GREW_SUBMISSION_PROBES,
    GREW_TYPE_PATTERN,
)
from landmarkgait.data.evaluation.open_set import open_set_scalars, open_set_split, open_set_statistics
from landmarkgait.data.evaluation.results import GaitEvaluation
from landmarkgait.data.evaluation.submission import nearest_subjects
from landmarkgait.data.evaluation.view_protocol import TypeRule, ViewProtocol

# CCPG's gait-style half: each setting's probe view x gallery view rank-1, its own gallery.
CCPG = ViewProtocol(
    "ccpg",
    {setting: probes for setting, (probes, _) in CCPG_SETTINGS.items()},
    (),
    condition_galleries={setting: gallery for setting, (_, gallery) in CCPG_SETTINGS.items()},
    type_rule=TypeRule(CCPG_TYPE_PATTERN, "U<upper>_D<lower>[_BG], like U0_D0_BG"),
)


def evaluate_gait3d(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    probe_keys: Sequence[str] | None,
    metric: str = "euc",
) -> GaitEvaluation:
    """Gait3D: the PROBE_SET sequences (``<subject>-<type>-<view>``) against all others; rank-1/5/10,
    mAP and mINP, probes whose subject has no gallery sequence skipped (``evaluate_rank``)."""
    if not probe_keys:
        raise DataError(
            "the gait3d protocol needs the PROBE_SET of Gait3D's partition file: give it as data.partition "
            "or convert the dataset with --partition"
        )
    data = prepare_inputs(embeddings, subjects, types, views)
    probe, gallery = open_set_split(data.subjects, data.types, data.views, probe_keys=probe_keys)
    if not probe.any():
        example = next(iter(probe_keys))
        raise DataError(
            f"no sequence is in the PROBE_SET (keys are <subject>-<type>-<view>, e.g. {example!r}; first "
            f"sequence here: {data.sequence(0).replace('/', '-')!r})"
        )
    if not gallery.any():
        raise DataError(f"no gallery sequences: every sequence is a probe, first {data.sequence(0)}")
    data.report_unmatched_probes(probe, gallery, "gait3d")
    stats = open_set_statistics(data, np.flatnonzero(probe), np.flatnonzero(gallery), metric)
    scalars = open_set_scalars(stats, GAIT3D_RANKS, protocol="gait3d")
    return GaitEvaluation(protocol="gait3d", metric=metric, scalars=scalars)


def evaluate_grew(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    metric: str = "euc",
) -> GaitEvaluation:
    """GREW: local rank-1/5/10/20 of probe 02 against gallery 01, every probe counted
    (``evaluate_real_scene``), and the challenge submission of the type-03 probes against
    galleries 01 and 02 when the test set holds them (``GREW_submission``)."""
    data = prepare_inputs(embeddings, subjects, types, views)
    data.check_types(GREW_TYPE_PATTERN, "grew", "01 or 02 (gallery sequences), 03 (the challenge's probes)")
    local_probe = np.isin(data.types, GREW_PROBES)
    local_gallery = np.isin(data.types, GREW_GALLERY)
    challenge_probe = np.isin(data.types, GREW_SUBMISSION_PROBES)
    if not local_probe.any() and not challenge_probe.any():
        raise DataError("no probe sequences: no sequence of type 02 (local probes) or 03 (the challenge's)")
    scalars: dict[str, float] = {}
    if local_probe.any():
        if not local_gallery.any():
            raise DataError(
                f"no gallery sequences of type 01: probe sequence {data.sequence(int(local_probe.argmax()))} "
                "has nothing to be matched against"
            )
        data.report_unmatched_probes(local_probe, local_gallery, "grew")
        stats = open_set_statistics(data, np.flatnonzero(local_probe), np.flatnonzero(local_gallery), metric)
        scalars = open_set_scalars(stats, GREW_RANKS, protocol="grew", skip_unmatched=False, with_map=False)
    submission = None
    if challenge_probe.any():
        challenge_gallery = np.flatnonzero(np.isin(data.types, GREW_SUBMISSION_GALLERY))
        submission = nearest_subjects(data, np.flatnonzero(challenge_probe), challenge_gallery, metric)
    return GaitEvaluation(protocol="grew", metric=metric, scalars=scalars, submission=submission)


def evaluate_ccpg(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    *,
    metric: str = "euc",
) -> GaitEvaluation:
    """CCPG's four settings (CL, UP, DN, BG), each two ways (``evaluate_CCPG``).

    Gait recognition: probe view x gallery view rank-1, as view tables whose means exclude
    identical views, plus ``rank1_with_identical_views/<setting>`` over every cell.
    Re-identification: every probe against the setting's whole gallery minus its own subject's
    sequences from its own camera; ``reid_rank1``, ``reid_mAP``, ``reid_mINP`` over the probes left
    with a match. A view counts by its camera, the part before the first ``_``.
    """
    cameras = [str(view).split("_")[0] for view in views]
    gait = CCPG.evaluate(embeddings, subjects, types, cameras, metric=metric)
    data = prepare_inputs(embeddings, subjects, types, cameras)
    scalars: dict[str, float] = {}
    for table in gait.tables:
        probe_types, gallery_types = CCPG_SETTINGS[table.condition]
        probe = np.flatnonzero(np.isin(data.types, probe_types))
        gallery = np.flatnonzero(np.isin(data.types, gallery_types))
        stats = open_set_statistics(data, probe, gallery, metric, exclude_same_view=True)
        reid = open_set_scalars(stats, (1,), protocol=f"ccpg {table.condition} re-identification")
        scalars[f"rank1_with_identical_views/{table.condition}"] = table.rank1_with_identical_views
        scalars |= {f"reid_{name}/{table.condition}": value for name, value in reid.items()}
    return GaitEvaluation(protocol="ccpg", metric=metric, tables=gait.tables, scalars=scalars)
