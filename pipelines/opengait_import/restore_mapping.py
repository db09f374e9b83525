"""Where a stage starts and which checkpoint is evaluated: ``restore_hint`` and the options that
go with it, as chaining inside the pipeline or as ``landmarkgait import`` steps.

Why a module of its own: OpenGait chains its stages by hand (stage 2's ``restore_hint`` is the
path of stage 1's last checkpoint), we chain them through MLflow; a checkpoint a config names
that this pipeline does not train itself must be registered as a finished run first
(``landmarkgait import``). This module decides which is which and must not
read files or run the import.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePath

from landmarkgait.models.registry import STAGE_SPECS, StageSpec
from landmarkgait.pipelines.opengait_import.official import is_placeholder
from landmarkgait.pipelines.opengait_import.source import BUILT_IN, IGNORED, REFUSED, OpenGaitSource

RESTORE_OPTIONS = ("restore_ckpt_strict", "optimizer_reset", "scheduler_reset")


@dataclass(frozen=True)
class ImportStep:
    """``landmarkgait import OUT --stage STAGE CHECKPOINT`` for a checkpoint a config restores."""

    stage: str
    checkpoint: str | None  # None: the config holds a placeholder the user must fill in
    origin: str
    note: str = ""

    def words(self, out: str) -> list[str]:
        checkpoint = self.checkpoint or f"YOUR_{self.stage.upper()}_CHECKPOINT.pt"
        return ["landmarkgait", "import", out, "--stage", self.stage, checkpoint]

    def line(self, out: str) -> str:
        why = f"{self.origin}" + (f"; {self.note}" if self.note else "")
        return f"{shlex.join(self.words(out))}   # {why}"


def training_start(
    source: OpenGaitSource, spec: StageSpec, given: dict[str, OpenGaitSource]
) -> list[ImportStep]:
    """Where the stage starts: ``trainer_cfg.restore_hint`` and the options that go with it.

    The official stages 2 and 3 start from a checkpoint of the stage before (a path). When that
    stage's config is imported too, the path is the checkpoint it saves at its end (or a
    placeholder), and our pipeline chains the two itself; any other path becomes an ``import``
    step that registers the checkpoint as that stage's finished run.
    """
    key = "trainer_cfg.restore_hint"
    hint = source.value(key)
    paths = hint if isinstance(hint, list) else [hint]
    upstream = spec.upstream
    steps: list[ImportStep] = []
    restores = True
    if (isinstance(hint, int) and not isinstance(hint, bool) and hint == 0) or hint in ([], None):
        restores = False
        if upstream is None:
            source.note(BUILT_IN, key, f"stage {spec.name} trains from scratch")
        else:
            source.note(
                REFUSED,
                key,
                f"stage {spec.name} would start from untrained weights; here it starts from a run of "
                f"stage {upstream} (name that stage's checkpoint here, or give its config too)",
            )
    elif isinstance(hint, int) and not isinstance(hint, bool):
        source.note(
            REFUSED,
            key,
            "resumes OpenGait's own run of this stage at that iteration; an interrupted landmarkgait "
            "stage resumes from its Ray Train checkpoint by itself",
        )
    elif len(paths) != 1 or not isinstance(paths[0], str | type(None)):
        source.note(REFUSED, key, "a stage here starts from one checkpoint (a path) of the stage before it")
    elif upstream is None:
        source.note(REFUSED, key, f"stage {spec.name} trains from scratch here")
    else:
        steps = _upstream_checkpoint(source, spec, upstream, paths[0], given)
    for option in RESTORE_OPTIONS:
        option_key = f"trainer_cfg.{option}"
        if not source.has(option_key):
            continue
        if not restores:
            source.note(IGNORED, option_key, "unused: no checkpoint is restored")
            continue
        value = source.value(option_key)
        if option == "restore_ckpt_strict":
            honoured = value is False
            why = (
                "a stage takes the matching tensors of the run it starts from"
                if honoured
                else "a checkpoint of the stage before cannot load strictly (it lacks this stage's layers)"
            )
        else:
            honoured = value is True
            what = "optimiser" if option == "optimizer_reset" else "learning-rate schedule"
            why = (
                f"a stage starts with a fresh {what}"
                if honoured
                else f"continues the checkpoint's {what} state; a stage here starts with a fresh one"
            )
        source.note(BUILT_IN if honoured else REFUSED, option_key, why)
    return steps


def _upstream_checkpoint(
    source: OpenGaitSource, spec: StageSpec, upstream: str, path: str | None, given: dict[str, OpenGaitSource]
) -> list[ImportStep]:
    key = "trainer_cfg.restore_hint"
    named = None if is_placeholder(path) else _stage_of_checkpoint(str(path))
    if named is not None and named != upstream:
        source.note(
            REFUSED, key, f"a checkpoint of stage {named}; stage {spec.name} starts from stage {upstream}"
        )
        return []
    upstream_source = given.get(upstream)
    origin = source.origin(key)
    source.take(key)
    if upstream_source is not None and (is_placeholder(path) or _saved_by(upstream_source, str(path))):
        source.add(
            BUILT_IN,
            key,
            path,
            f"stage {spec.name} starts from the run of stage {upstream} this pipeline trains "
            "(found in MLflow by itself)",
        )
        return []
    note = f"the checkpoint stage {spec.name} starts from"
    if upstream_source is not None:
        note += f"; it takes the place of training stage {upstream}"
    return [ImportStep(upstream, None if is_placeholder(path) else str(path), origin, note)]


def _stage_of_checkpoint(path: str) -> str | None:
    """The stage whose OpenGait save name starts the file name (``<save_name>-<iteration>.pt``)."""
    name = PurePath(path).name
    for spec in STAGE_SPECS.values():
        if name.startswith(f"{spec.save_name}-"):
            return spec.name
    return None


def _saved_by(source: OpenGaitSource, path: str) -> bool:
    """Whether ``path`` is the last checkpoint the config ``source`` saves when it trains."""
    save_name = source.value("trainer_cfg.save_name")
    total = source.value("trainer_cfg.total_iter")
    if not isinstance(total, int) or isinstance(total, bool):
        return False
    return PurePath(path).name == f"{save_name}-{total:0>5}.pt"


def evaluated_checkpoint(source: OpenGaitSource, spec: StageSpec) -> list[ImportStep]:
    """``evaluator_cfg.restore_hint``: an iteration this run evaluates, or a checkpoint to import."""
    key = "evaluator_cfg.restore_hint"
    hint = source.value(key)
    total, every = source.value("trainer_cfg.total_iter"), source.value("trainer_cfg.save_iter")
    if isinstance(hint, int) and not isinstance(hint, bool):
        evaluated = (
            all(isinstance(value, int) and value > 0 for value in (total, every))
            and 0 < hint <= total
            and (hint == total or hint % every == 0)
        )
        source.note(
            BUILT_IN if evaluated else IGNORED,
            key,
            "that checkpoint is evaluated while training (eval_iter = save_iter)"
            if evaluated
            else "no checkpoint is saved at that iteration; landmarkgait evaluates the ones it saves",
        )
        return []
    paths = hint if isinstance(hint, list) else [hint]
    if len(paths) != 1 or not isinstance(paths[0], str | type(None)):
        source.note(REFUSED, key, "expected one checkpoint (a path) or an iteration")
        return []
    if is_placeholder(paths[0]):
        source.note(IGNORED, key, "a placeholder: import your checkpoint with landmarkgait import")
        return []
    origin = source.origin(key)
    source.take(key)
    return [ImportStep(spec.name, str(paths[0]), origin, "the checkpoint the config evaluates")]
