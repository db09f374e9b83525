"""``RunRecord``: what the rest of landmarkgait reads of an MLflow run, as plain data.

The tracker hands these out instead of MLflow's own ``Run`` entities, so no module outside
``tracking`` depends on MLflow's types. A record is a snapshot; it never goes back to MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from landmarkgait.models.registry import STAGES
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.tags import TAG_ITERATION, TAG_STAGE, TAG_STAGE_KEY, stage_link_tag

if TYPE_CHECKING:
    from mlflow.entities import Run


@dataclass(frozen=True)
class RunRecord:
    """One run's id, status, start time (ms since the epoch), tags, params and last metrics."""

    run_id: str
    status: str  # RUNNING / FINISHED / FAILED / KILLED / SCHEDULED
    start_time: int
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]

    @classmethod
    def from_mlflow(cls, run: Run) -> RunRecord:
        return cls(
            run_id=run.info.run_id,
            status=run.info.status,
            start_time=run.info.start_time or 0,
            tags=dict(run.data.tags),
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
        )

    @property
    def iteration(self) -> int | None:
        """The last training iteration of a stage run (None until the stage has finished)."""
        iteration = self.tags.get(TAG_ITERATION)
        return int(iteration) if iteration else None

    def stage_links(self) -> dict[str, str]:
        """``{stage: run id}`` of the stage runs a pipeline run links to, in stage order."""
        return {
            stage: self.tags[stage_link_tag(stage)] for stage in STAGES if stage_link_tag(stage) in self.tags
        }

    def describe(self) -> str:
        """One line for listing candidate stage runs in an error message."""
        stage, key = self.tags.get(TAG_STAGE, "?"), self.tags.get(TAG_STAGE_KEY, "?")
        return f"{self.run_id} (stage {stage}, key {key}, {self.status}, iteration {self.iteration})"


def parse_run_reference(reference: str) -> str:
    """Accept a bare run id or a ``runs:/<run_id>[/path]`` URI and return the run id."""
    if reference.startswith("runs:/"):
        parts = [part for part in reference.removeprefix("runs:/").split("/") if part]
        if not parts:
            raise PipelineError(f"run reference {reference!r} has no run id (expected runs:/<run_id>)")
        return parts[0]
    return reference.strip()
