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
PROTOCOLS: tuple[str, ...] = ("casia_b", "oumvlp", "open")
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


def summary_metric_pattern(protocol: str) -> re.Pattern[str]:
    """Names ``GaitEvaluation.summary()`` can hold for ``protocol`` (per-view names for any view).

    Lets a sweep check, before any trial starts, that the metric it optimises is one evaluation reports.
    """
    if protocol in ("casia_b", "oumvlp"):
        conditions = CASIA_B_PROBES if protocol == "casia_b" else OUMVLP_PROBES
        alternatives = "|".join(re.escape(condition) for condition in conditions)
        return re.compile(rf"(rank1|mAP)/({alternatives})(/[\w.-]+)?")
    if protocol == "open":
        return re.compile(r"rank(1|5|10)|mAP|mINP")
    raise DataError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
