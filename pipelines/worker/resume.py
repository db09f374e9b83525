"""Where a restarted worker group (or a re-run of the same Ray Train run) picks the work up.

Ray Train hands back the last checkpoint it registered. A checkpoint is written to storage
first and registered after, so a kill in between leaves the newest checkpoint on disk but
unknown to Ray Train, and the run would redo a whole save interval, or a whole stage if it was
the stage's first checkpoint. On local storage the worker therefore also looks at the run's
checkpoint folders (``<stage>-<iteration>``, the names ``StageTrainer`` gives them) and takes
the newest one that reads back completely; a folder cut short by the kill is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import ray.train

from landmarkgait.models.checkpoint import read_checkpoint
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.pipelines.worker.job import ResumeState
from landmarkgait.pipelines.worker.stage_trainer import ResumePoint

log = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"^(?P<stage>[a-z]+)-(?P<iteration>\d{6})$")


def checkpoint_position(name: str, stages: Sequence[str]) -> tuple[int, int] | None:
    """(stage index, iteration) of a checkpoint folder name, None for other names."""
    match = CHECKPOINT_NAME.match(name)
    if match is None or match["stage"] not in stages:
        return None
    return stages.index(match["stage"]), int(match["iteration"])


def checkpoints_on_disk(run_dir: Path, stages: Sequence[str], after: tuple[int, int]) -> list[Path]:
    """The run's checkpoint folders later than ``after``, newest first."""
    if not run_dir.is_dir():
        return []
    found = [
        (position, path)
        for path in run_dir.iterdir()
        if path.is_dir()
        and (position := checkpoint_position(path.name, stages)) is not None
        and position > after
    ]
    return [path for _, path in sorted(found, reverse=True)]


def read_state(directory: Path) -> tuple[dict[str, str], ResumePoint | None]:
    """Completed stages and the in-progress stage's weights saved in one checkpoint folder."""
    state = ResumeState.read(directory)
    if state.stage is None or state.checkpoint_file is None:
        return dict(state.completed), None
    weights = read_checkpoint(directory / state.checkpoint_file)
    log.info("resuming stage %s at iteration %d", state.stage, state.iteration)
    return dict(state.completed), ResumePoint(state, weights)


@contextlib.contextmanager
def registered_checkpoint() -> Iterator[tuple[str, Path] | None]:
    """(folder name, local folder) of the checkpoint Ray Train registered last, if any."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        yield None
        return
    with checkpoint.as_directory() as directory:
        yield Path(checkpoint.path).name, Path(directory)


def read_resume_point(storage_path: str, stages: Sequence[str]) -> tuple[dict[str, str], ResumePoint | None]:
    """Completed stages and the in-progress stage's checkpoint: the registered checkpoint, or a
    newer complete one that a kill kept Ray Train from registering (local storage only)."""
    with registered_checkpoint() as registered:
        after = (checkpoint_position(registered[0], stages) or (-1, -1)) if registered else (-1, -1)
        unregistered = []
        if "://" not in storage_path:
            run_dir = Path(storage_path) / ray.train.get_context().get_experiment_name()
            unregistered = checkpoints_on_disk(run_dir, stages, after)
        for directory in unregistered:
            try:
                completed, resume = read_state(directory)
            except (OSError, ValueError, TypeError, ModelConfigError) as error:
                log.warning("skipping checkpoint %s, cut short: %s", directory.name, error)
                continue
            log.info("resuming from %s, saved but not registered by Ray Train", directory.name)
            return completed, resume
        if registered is None:
            return {}, None
        return read_state(registered[1])
