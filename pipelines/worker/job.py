"""What the driver hands to every Ray Train worker, and what a checkpoint records for resuming.

Both are plain JSON-able dicts on the wire so that they survive Ray serialisation and storage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.plan_types import DataIdentity, StageTask

RESUME_STATE_FILE = "landmarkgait_state.json"


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs: the config, the plan, where to track, and what data it is."""

    config: PipelineConfig
    plan: tuple[StageTask, ...]
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    pipeline_run_id: str | None
    dataset_path: str
    data: DataIdentity
    code_version: str
    evaluate_run_id: str | None = None  # the recognition run whose checkpoint is evaluated
    evaluation_run_id: str | None = None  # the run the evaluation's results are logged to
    verbose: bool = False  # --verbose: Ray's and MLflow's chatter on the workers' console too

    def open_dataset(self) -> SilhouetteDataset:
        """The job's dataset, read with the config's cache size and read threads."""
        data = self.config.data
        return SilhouetteDataset(
            self.dataset_path, cache_bytes=data.cache_bytes, read_threads=data.read_threads
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "plan": [task.to_dict() for task in self.plan],
            "tracking_uri": self.tracking_uri,
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "pipeline_run_id": self.pipeline_run_id,
            "dataset_path": self.dataset_path,
            "data": asdict(self.data),
            "code_version": self.code_version,
            "evaluate_run_id": self.evaluate_run_id,
            "evaluation_run_id": self.evaluation_run_id,
            "verbose": self.verbose,
        }

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> WorkerJob:
        data = mapping["data"]
        return cls(
            config=PipelineConfig.from_dict(mapping["config"]),
            plan=tuple(StageTask.from_dict(task) for task in mapping["plan"]),
            tracking_uri=mapping["tracking_uri"],
            experiment_id=mapping["experiment_id"],
            experiment_name=mapping["experiment_name"],
            pipeline_run_id=mapping["pipeline_run_id"],
            dataset_path=mapping["dataset_path"],
            data=DataIdentity(
                data["fingerprint"], tuple(data["train_subjects"]), tuple(data["test_subjects"])
            ),
            code_version=mapping["code_version"],
            evaluate_run_id=mapping.get("evaluate_run_id"),
            evaluation_run_id=mapping.get("evaluation_run_id"),
            verbose=mapping.get("verbose", False),
        )


@dataclass
class ResumeState:
    """Written into every Ray Train checkpoint: where the worker group was when it saved.

    ``stage``/``stage_run_id``/``iteration`` locate the stage in progress (its weights are the
    checkpoint's ``.pt`` file); ``completed`` maps finished stages to their MLflow run ids.
    """

    stage: str | None
    stage_run_id: str | None
    iteration: int
    checkpoint_file: str | None
    completed: dict[str, str] = field(default_factory=dict)

    def write(self, directory: Path) -> None:
        (directory / RESUME_STATE_FILE).write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, directory: Path) -> ResumeState:
        return cls(**json.loads((directory / RESUME_STATE_FILE).read_text()))
