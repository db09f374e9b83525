"""``landmarkgait import``: an OpenGait-format checkpoint becomes a finished stage run in MLflow.

Researchers arrive with checkpoints trained by the official code or OpenGait. Imported under a
config, a checkpoint is a stage run like a trained one: its stage key is the key that config
gives the stage on this dataset, so the pipeline chains from it by itself (``run`` continues
after an imported LandmarkNet, ``train --stage recognition`` starts from an imported
ParsingNet, ``evaluate --run`` evaluates an imported recognition network with our protocols).
The weights must load strictly into the config's network of that stage; nothing is trained.
The run's tags say where the file came from and its SHA-256, and importing the same file
under the same key again returns the existing run.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.models.checkpoint import load_opengait_checkpoint, read_checkpoint
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.registry import STAGES, stage_spec
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.driver.planning import stage_keys
from landmarkgait.pipelines.driver.run import code_version, prepare
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.tags import (
    TAG_CHECKPOINT_SHA256,
    TAG_CODE,
    TAG_DATA,
    TAG_IMPORTED_FROM,
    TAG_ITERATION,
    TAG_KIND,
    TAG_NOTE,
    TAG_STAGE,
    TAG_STAGE_KEY,
    TAG_UPSTREAM,
)
from landmarkgait.pipelines.worker.stage_outputs import log_visual_summary
from landmarkgait.pipelines.worker.stage_trainer import build_stage_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOutcome:
    run_id: str
    stage: str
    stage_key: str
    iteration: int
    checkpoint_sha256: str
    reused: bool
    tracking_uri: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def next_command(self, config_path: str, options: list[str]) -> str:
        """The shell command that continues from this run: train the next stages, or evaluate."""
        words = [word.format(run_id=self.run_id) for word in stage_spec(self.stage).after_import]
        return shlex.join(["landmarkgait", *words, config_path, *options])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_iteration(checkpoint: dict[str, object], path: Path) -> int:
    """The checkpoint's ``iteration`` (0 for a bare state_dict); anything but an integer is an error."""
    iteration = checkpoint.get("iteration", 0)
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ModelConfigError(
            f"checkpoint {path}: key 'iteration' must be a non-negative integer, got {iteration!r}"
        )
    return iteration


def import_stage_checkpoint(
    config: PipelineConfig, stage: str, checkpoint_path: str | Path, ray_address: str | None = None
) -> ImportOutcome:
    """Register ``checkpoint_path`` as a finished ``stage`` run of ``config`` on its dataset."""
    if stage not in STAGES:
        raise PipelineError(f"--stage: expected one of {', '.join(STAGES)}, got {stage!r}")
    path = Path(checkpoint_path).expanduser().resolve()
    checkpoint = read_checkpoint(path)
    iteration = checkpoint_iteration(checkpoint, path)
    prepared = prepare(config, ray_address)
    tracker = prepared.tracker
    model = build_stage_model(config, prepared.data, stage)
    try:
        load_opengait_checkpoint(model, checkpoint, strict=True)
    except ModelConfigError as error:
        raise ModelConfigError(
            f"checkpoint {path} is not a {stage!r} checkpoint of config {config.name!r}: {error}"
        ) from None
    sha256 = file_sha256(path)
    key = stage_keys(config, prepared.data)[stage]
    outcome = ImportOutcome("", stage, key, iteration, sha256, False, tracker.tracking_uri)
    existing = tracker.imported_run(stage, key, sha256)
    if existing is not None:
        log.info("%s was imported before as %s run %s (key %s)", path, stage, existing, key)
        return replace(outcome, run_id=existing, reused=True)
    other = tracker.find_finished_stage_run(stage, key)
    if other is not None:
        log.warning(
            "finished %s run %s has the same key %s; the imported run is newer and will be used",
            stage,
            other.run_id,
            key,
        )
    run_id = tracker.create_run(
        name=f"{stage} (imported)",
        tags={
            TAG_KIND: "stage",
            TAG_STAGE: stage,
            TAG_STAGE_KEY: key,
            TAG_UPSTREAM: "",
            TAG_DATA: prepared.data.fingerprint,
            TAG_CODE: code_version(),
            TAG_IMPORTED_FROM: str(path),
            TAG_CHECKPOINT_SHA256: sha256,
            TAG_NOTE: f"Imported from {path} (iteration {iteration}, SHA-256 {sha256}); not trained here.",
        },
        params=config.flat_params(),
    )
    try:
        tracker.log_text(run_id, config.to_yaml(), "config/resolved.yaml")
        with tempfile.TemporaryDirectory(prefix="landmarkgait-import-") as scratch:
            copy = Path(scratch) / stage_spec(stage).checkpoint_file(iteration)
            shutil.copyfile(path, copy)
            tracker.log_checkpoint(run_id, copy)
        log_visual_summary(tracker, run_id, model, SilhouetteDataset(prepared.dataset_path))
        if stage_spec(stage).evaluates:
            tracker.log_pytorch_model(run_id, model, config.tracking.registered_model)
        tracker.set_tags(run_id, {TAG_ITERATION: iteration})
    except BaseException:
        tracker.finish(run_id, "FAILED")
        raise
    tracker.finish(run_id)
    log.info("imported %s as %s run %s (key %s)", path, stage, run_id, key)
    return replace(outcome, run_id=run_id)
