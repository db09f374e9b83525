"""The one adapter between our models and OpenGait checkpoint files.

OpenGait checkpoints are ``{'model': state_dict, 'optimizer': ..., 'scheduler': ...,
'iteration': int}`` with the official parameter names, which our modules share. Loading is
strict or, like the official ``restore_ckpt_strict: false``, loads the keys both sides have
and reports the rest. Files are read with ``weights_only=True`` and written atomically.
Nothing else in the code knows this format.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from landmarkgait.data.atomic import atomic_path
from landmarkgait.data.input_files import MAX_CHECKPOINT_BYTES, check_regular_file
from landmarkgait.models.errors import ModelConfigError

log = logging.getLogger(__name__)

DDP_PREFIX = "module."
# Parameters a stage-1 checkpoint must provide to the stages built on it.
UPSTREAM_PREFIX = "Backbone."


@dataclass
class LoadReport:
    """What a (non-strict) load restored: keys loaded, keys the model kept, keys the file had extra."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.loaded)} loaded, {len(self.missing)} missing, {len(self.unexpected)} unexpected"


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel (or any ``.module`` wrapper)."""
    return model.module if isinstance(getattr(model, "module", None), nn.Module) else model


def load_failure_reason(error: Exception) -> str:
    """The cause in ``torch.load``'s error, on one line, without its advice to drop ``weights_only``."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split()) or type(error).__name__


def read_checkpoint(path_or_dict: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint dict from a path (``weights_only``) or a dict; a bare state_dict is wrapped."""
    if isinstance(path_or_dict, Mapping):
        checkpoint = dict(path_or_dict)
    else:
        path = Path(path_or_dict)
        if not path.exists():
            raise ModelConfigError(f"checkpoint {path}: file does not exist")
        check_regular_file(path, "checkpoint", MAX_CHECKPOINT_BYTES)  # never a FIFO or a device
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for corrupt / unsafe files
            raise ModelConfigError(
                f"checkpoint {path}: cannot be read safely ({load_failure_reason(error)}); expected a "
                "PyTorch file of tensors and plain containers, as OpenGait saves"
            ) from None
        if not isinstance(checkpoint, dict):
            raise ModelConfigError(f"checkpoint {path}: expected a dict, got {type(checkpoint).__name__}")
    if "model" not in checkpoint:
        checkpoint = {"model": checkpoint}
    return checkpoint


def model_state(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The checkpoint's state_dict with a DistributedDataParallel ``module.`` prefix removed."""
    state = checkpoint["model"]
    if not isinstance(state, Mapping):
        raise ModelConfigError(f"checkpoint key 'model': expected a state_dict, got {type(state).__name__}")
    if state and all(key.startswith(DDP_PREFIX) for key in state):
        return {key[len(DDP_PREFIX) :]: value for key, value in state.items()}
    return dict(state)


def load_opengait_checkpoint(
    model: nn.Module, path_or_dict: str | os.PathLike | Mapping[str, Any], strict: bool = True
) -> LoadReport:
    """Load an OpenGait checkpoint (path, checkpoint dict or state_dict) into ``model``.

    ``strict``: every key must match (else ``ModelConfigError`` naming the first keys).
    Non-strict: the keys both sides have are loaded, the others reported (official
    ``restore_ckpt_strict: false``). A shape mismatch is an error in both modes.
    """
    target = unwrap(model)
    state = model_state(read_checkpoint(path_or_dict))
    own = target.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if strict and (missing or unexpected):
        raise ModelConfigError(
            f"checkpoint does not match the model: missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''} "
            "(a different stage, preset or override such as num_landmark?)"
        )
    loaded = sorted(set(own) & set(state))
    for key in loaded:
        if tuple(own[key].shape) != tuple(state[key].shape):
            raise ModelConfigError(
                f"checkpoint key {key!r}: shape {tuple(state[key].shape)} does not fit the model's "
                f"{tuple(own[key].shape)} (a different preset or override?)"
            )
    target.load_state_dict({key: state[key] for key in loaded}, strict=False)
    report = LoadReport(loaded=loaded, missing=missing, unexpected=unexpected)
    log.debug("restored %s", report)
    return report


def init_from_upstream(model: nn.Module, upstream_state_dict: Mapping[str, Any]) -> LoadReport:
    """Initialise a stage from the previous stage's weights (official ``restore_hint`` + non-strict).

    Stage 1 -> 2 or 3 fills ``Backbone.*``; stage 2 -> 3 also ``refine.*``. Every ``Backbone.*``
    key of the model must come from the upstream weights, else it is not an upstream checkpoint
    of this configuration and ``ModelConfigError`` says which keys are absent.
    """
    report = load_opengait_checkpoint(model, upstream_state_dict, strict=False)
    absent = [key for key in report.missing if key.startswith(UPSTREAM_PREFIX)]
    if absent:
        raise ModelConfigError(
            f"upstream weights lack {len(absent)} LandmarkNet keys, e.g. {absent[0]!r} "
            "(expected a stage-1 or stage-2 checkpoint of the same configuration)"
        )
    return report


def export_opengait_checkpoint(
    model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, iteration: int
) -> dict[str, Any]:
    """The OpenGait checkpoint dict of a training state (parameter names without ``module.``)."""
    return {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "iteration": int(iteration),
    }


def save_opengait_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    iteration: int,
) -> Path:
    """Write ``export_opengait_checkpoint(...)`` to ``path`` atomically and durably (fsync, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        torch.save(export_opengait_checkpoint(model, optimizer, scheduler, iteration), handle)
        handle.flush()
        os.fsync(handle.fileno())
    return path
