"""Names of the loss terms each stage reports, importable without torch.

A sweep checks, before any trial starts, that the metric it optimises is one a stage reports;
the command line answers a bad sweep file without loading torch. ``landmarkgait.models.losses`` computes
these terms.
"""

from __future__ import annotations

from landmarkgait.models.config import check_stage


def loss_term_names(stage: str) -> tuple[str, ...]:
    """Every term ``compute_losses`` reports for ``stage`` when all weights are non-zero."""
    check_stage(stage, "loss")
    names = ["reconstruction"]
    if stage != "landmark":
        names.append("part_reconstruction")
    if stage == "recognition":
        names += ["triplet", "triplet_hard", "triplet_active", "triplet_mean_distance"]
        names += ["cross_entropy", "accuracy"]
    return tuple(names)
