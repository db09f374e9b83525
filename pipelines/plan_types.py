"""What a pipeline plan is made of, shared by the driver that plans and the workers that train it.

``StageTask`` is one stage of a plan (train it or reuse a finished run) and ``DataIdentity`` is
what the stage keys know of the dataset. The driver (``driver/planning.py``) makes them and the
Ray Train workers (``worker/``) read them, so they live in neither package. Plain frozen
dataclasses: nothing here plans, trains, logs or imports Ray, torch or MLflow.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landmarkgait.pipelines.config import PipelineConfig


@dataclass(frozen=True)
class DataIdentity:
    """What the stage keys know of the data: content fingerprint and the training subjects."""

    fingerprint: str
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]

    def splits(self, with_test: bool = True) -> dict[str, tuple[str, ...]]:
        """``{context: subjects}`` a run uses, as its MLflow dataset inputs record them."""
        return {"train": self.train_subjects, **({"test": self.test_subjects} if with_test else {})}

    def partition_digest(self) -> str:
        text = json.dumps([list(self.train_subjects), list(self.test_subjects)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StageTask:
    """One stage of a plan: train it (``reuse_run_id`` None) or reuse a finished run.

    ``upstream_run_id`` is the run the stage starts from when the planner knows it: the run before
    the plan's first stage, or the previous stage's reused run. None means no upstream for the
    pipeline's first stage, and "the run the previous stage trains in this plan" for any other:
    that run exists only on the workers, once trained. ``followed_by`` makes such tasks and
    ``upstream_run`` resolves them.
    """

    stage: str
    stage_key: str
    upstream_run_id: str | None
    reuse_run_id: str | None = None

    @property
    def trains(self) -> bool:
        return self.reuse_run_id is None

    def followed_by(self, stage: str, stage_key: str, reuse_run_id: str | None) -> StageTask:
        """The task of the next stage, which starts from this task's run: the reused one, or
        (``upstream_run_id`` None) the run this task will train."""
        return StageTask(stage, stage_key, self.reuse_run_id, reuse_run_id)

    def upstream_run(self, previous_run: str | None) -> str | None:
        """The run this stage starts from, given ``previous_run``, the run the stage before it in
        the plan reused or trained (None before the plan's first stage)."""
        return self.upstream_run_id or previous_run

    def run_name(self, config: PipelineConfig) -> str:
        """``landmark · 25 landmarks · 3f2a9c``: a stage run a person can pick out of a list."""
        return " · ".join(dict.fromkeys([self.stage, config.model.variant, self.stage_key[:6]]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stage_key": self.stage_key,
            "upstream_run_id": self.upstream_run_id,
            "reuse_run_id": self.reuse_run_id,
        }

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> StageTask:
        return cls(**mapping)
