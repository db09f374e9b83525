"""Names of the evaluation protocols, their conditions, distances and metrics, without torch.

Configs, sweep files and the command line validate these names; the CLI builds its parser and
checks a config or sweep file (``--help``, bad-input errors) without loading torch, which takes
seconds. The other modules of ``landmarkgait.data.evaluation`` compute the numbers these names
stand for; this one must stay free of torch and numpy.
"""

from __future__ import annotations

import re

from landmarkgait.data.errors import DataError

METRICS: tuple[str, ...] = ("euc", "cos")
PROTOCOLS: tuple[str, ...] = (
    "casia_b",
    "oumvlp",
    "open",
    "casia_b_cross_view",
    "oumvlp_cross_view",
    "gait3d",
    "grew",
    "ccpg",
    "sustech1k",
    "casia_e",
)
# The one gallery column of the cross-view-gallery variant, which matches against every view.
ALL_VIEWS = "all"

# OpenGait's probe conditions and galleries per dataset.
CASIA_B_PROBES: dict[str, tuple[str, ...]] = {
    "NM": ("nm-05", "nm-06"),
    "BG": ("bg-01", "bg-02"),
    "CL": ("cl-01", "cl-02"),
}
CASIA_B_GALLERY: tuple[str, ...] = ("nm-01", "nm-02", "nm-03", "nm-04")
CASIA_B_CROSS_VIEW_PROBES: dict[str, tuple[str, ...]] = {"NM": ("nm-01",), "BG": ("bg-01",), "CL": ("cl-01",)}
CASIA_B_CROSS_VIEW_GALLERY: tuple[str, ...] = ("nm-02", "bg-02", "cl-02")
OUMVLP_PROBES: dict[str, tuple[str, ...]] = {"NM": ("00",)}
OUMVLP_GALLERY: tuple[str, ...] = ("01",)

# CASIA-E (OpenGait's split): probes of scenes 2, 3 and 3_s at both camera heights against the
# normal walks of scene 1; type names are <height>-<scene>-<condition>-<number>. View 270 (the
# overhead camera) is left out of probes and gallery alike.
CASIA_E_SCENES: tuple[str, ...] = ("scene2", "scene3", "scene3_s")
CASIA_E_PROBES: dict[str, tuple[str, ...]] = {
    condition: tuple(
        f"{height}-{scene}-{condition.lower()}-{number}"
        for scene in CASIA_E_SCENES
        for height in ("H", "L")
        for number in (1, 2)
    )
    for condition in ("NM", "BG", "CL")
}
CASIA_E_GALLERY: tuple[str, ...] = ("H-scene1-nm-1", "H-scene1-nm-2", "L-scene1-nm-1", "L-scene1-nm-2")
CASIA_E_EXCLUDED_VIEWS: tuple[str, ...] = ("270",)
CASIA_E_TYPE_PATTERN = r"[HL]-scene\d(_s)?-(nm|bg|cl)-\d+"

# SUSTech1K: types are <sequence number>-<covariates> (00-nm, 01-bg, ...). An attribute's probes
# are the types that contain any of its strings (OpenGait's substring rule: "Overall" is every
# sequence numbered 01-04); the gallery is 00-nm. Rank-1 and rank-5 per attribute.
SUSTECH1K_PROBES: dict[str, tuple[str, ...]] = {
    "Normal": ("01-nm",),
    "Bag": ("bg",),
    "Clothing": ("cl",),
    "Carrying": ("cr",),
    "Umbrella": ("ub",),
    "Uniform": ("uf",),
    "Occlusion": ("oc",),
    "Night": ("nt",),
    "Overall": ("01", "02", "03", "04"),
}
SUSTECH1K_GALLERY: tuple[str, ...] = ("00-nm",)
SUSTECH1K_RANKS: tuple[int, ...] = (1, 5)
SUSTECH1K_TYPE_PATTERN = r"\d{2}-[A-Za-z][\w-]*"

# CCPG: four cloth-changing settings, each its own probe types and gallery; views are
# <camera>[_<rest>] and only the camera counts (OpenGait keeps the part before the first "_").
CCPG_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CL": (("U0_D0_BG", "U0_D0"), ("U1_D1", "U2_D2", "U3_D3")),  # all clothes changed
    "UP": (("U3_D3",), ("U0_D3",)),  # upper clothes changed
    "DN": (("U1_D0",), ("U1_D1",)),  # trousers changed
    "BG": (("U0_D0_BG",), ("U0_D0",)),  # a bag added
}
CCPG_TYPE_PATTERN = r"U\d_D\d(_BG)?"

# GREW: locally, probe 02 against gallery 01 of the test subjects; the challenge's probes are
# the videos of the pseudo-subject "probe", type 03, against galleries 01 and 02.
GREW_PROBES: tuple[str, ...] = ("02",)
GREW_GALLERY: tuple[str, ...] = ("01",)
GREW_SUBMISSION_PROBES: tuple[str, ...] = ("03",)
GREW_SUBMISSION_GALLERY: tuple[str, ...] = ("01", "02")
GREW_RANKS: tuple[int, ...] = (1, 5, 10, 20)
GREW_TYPE_PATTERN = r"0[123]"
# Gait3D: probes are the PROBE_SET keys <subject>-<type>-<view> of its partition file.
GAIT3D_RANKS: tuple[int, ...] = (1, 5, 10)

# Probe conditions of the protocols whose results are view tables (``eval/rank1/<condition>``),
# the columns of a report; protocols with scalar results only have none.
CONDITIONS_BY_PROTOCOL: dict[str, tuple[str, ...]] = {
    "casia_b": tuple(CASIA_B_PROBES),
    "casia_b_cross_view": tuple(CASIA_B_CROSS_VIEW_PROBES),
    "oumvlp": tuple(OUMVLP_PROBES),
    "oumvlp_cross_view": tuple(OUMVLP_PROBES),
    "casia_e": tuple(CASIA_E_PROBES),
    "sustech1k": tuple(SUSTECH1K_PROBES),
    "ccpg": tuple(CCPG_SETTINGS),
}
OPEN_RANKS: tuple[int, ...] = (1, 5, 10)


def _ranks(ranks: tuple[int, ...]) -> str:
    return "rank(" + "|".join(str(rank) for rank in ranks) + ")"


# Scalar metrics per protocol, beside the view tables' ``rank1|mAP/<condition>[/<view>]``.
_SCALAR_METRICS: dict[str, str] = {
    "open": _ranks(OPEN_RANKS) + "|mAP|mINP",
    "gait3d": _ranks(GAIT3D_RANKS) + "|mAP|mINP",
    "grew": _ranks(GREW_RANKS),
    "ccpg": r"(rank1_with_identical_views|reid_rank1|reid_mAP|reid_mINP)/(" + "|".join(CCPG_SETTINGS) + ")",
}


def summary_metric_pattern(protocol: str) -> re.Pattern[str]:
    """Names ``GaitEvaluation.summary()`` can hold for ``protocol`` (per-view names for any view).

    Lets a sweep check, before any trial starts, that the metric it optimises is one evaluation reports.
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    alternatives = []
    conditions = CONDITIONS_BY_PROTOCOL.get(protocol)
    if conditions:
        names = "|".join(re.escape(condition) for condition in conditions)
        kinds = _ranks(SUSTECH1K_RANKS if protocol == "sustech1k" else (1,)) + "|mAP"
        alternatives.append(rf"({kinds})/({names})(/[\w.-]+)?")
    if protocol in _SCALAR_METRICS:
        alternatives.append(_SCALAR_METRICS[protocol])
    return re.compile("|".join(f"(?:{alternative})" for alternative in alternatives))
