"""A run reference checked to name a finished stage run of the stages a command needs.

``evaluate --run`` (``driver/run.py``), ``evaluate --embeddings`` and the commands that put a
trained run to use (``deploy/``) all start here, so the driver and ``deploy`` share it without
importing each other. It reads one run; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from landmarkgait.models.registry import STAGE_SPECS
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import TAG_STAGE

if TYPE_CHECKING:
    from landmarkgait.pipelines.tracking.tracker import Tracker


def finished_recognition_run(
    tracker: Tracker, run_reference: str, stages: Collection[str] | None = None
) -> RunRecord:
    """The run ``run_reference`` names, if it is a finished stage run that evaluates (recognition,
    holistic) or, given ``stages``, of one of those; else ``PipelineError`` in one line naming it,
    its stage and status."""
    run = tracker.get_run(run_reference)
    stage = run.tags.get(TAG_STAGE, "")
    wanted = stage in stages if stages is not None else stage in STAGE_SPECS and STAGE_SPECS[stage].evaluates
    if not wanted or run.status != "FINISHED":
        raise PipelineError(
            f"run {run.run_id} is not a finished {'/'.join(stages) if stages else 'recognition'} stage run "
            f"(stage {stage or 'none'!r}, status {run.status})"
        )
    return run
