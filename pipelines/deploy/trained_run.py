"""A finished recognition run's network, rebuilt from its MLflow run alone.

A recognition stage run holds everything needed to rebuild its network: the resolved pipeline
config (``config/resolved.yaml``: preset and model overrides) and the OpenGait-format checkpoint
(the classifier's class count comes from its weights). ``export``, ``embed`` and ``identify`` take
a run id and nothing else, so a model is always the run's, never a hand-copied file. Tools that
look inside a network (``benchmarks/parsing_quality.py``) open ParsingNet runs the same way, and
build a checkpoint file's network for a config with ``build_trained_network``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from landmarkgait.data.quoting import quote_value
from landmarkgait.models.build import build_model
from landmarkgait.models.checkpoint import load_opengait_checkpoint, model_state, read_checkpoint
from landmarkgait.models.recognition import classifier_classes
from landmarkgait.pipelines.config import ModelSection, PipelineConfig, TrackingSection
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.tracking.finished_runs import finished_recognition_run
from landmarkgait.pipelines.tracking.location import resolve_tracking_uri
from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_ITERATION, TAG_STAGE
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

RESOLVED_CONFIG_ARTIFACT = "config/resolved.yaml"


@dataclass(frozen=True)
class TrainedRun:
    """A finished recognition stage run and what identifies its network."""

    tracker: Tracker
    run_id: str
    stage: str
    config: PipelineConfig
    data_fingerprint: str
    iteration: int

    @property
    def input_size(self) -> tuple[int, int]:
        """Frame height and width the network takes."""
        network = self.config.model.network_config(self.stage)
        return int(network["height"]), int(network["width"])

    def network(self, cpu_kernels: bool = True) -> nn.Module:
        """The run's network with its checkpoint loaded (strictly), in eval mode, on the CPU.

        ``cpu_kernels=False`` builds PyTorch's plain convolutions, for exported graphs.
        """
        with tempfile.TemporaryDirectory(prefix="landmarkgait-run-ckpt-") as scratch:
            checkpoint = read_checkpoint(self.tracker.checkpoint_path(self.run_id, Path(scratch)))
        return build_trained_network(checkpoint, self.stage, self.config.model, cpu_kernels)


def build_trained_network(
    checkpoint: dict[str, Any], stage: str, model: ModelSection, cpu_kernels: bool = True
) -> nn.Module:
    """``stage``'s network for a config's model section (preset, overrides; the class count from the
    checkpoint's classifier, if any) with the OpenGait checkpoint dict loaded strictly, in eval mode."""
    kwargs = model.build_kwargs()
    kwargs["num_classes"] = classifier_classes(model_state(checkpoint))
    network = build_model(stage, model.preset, cpu_kernels=cpu_kernels, **kwargs)
    load_opengait_checkpoint(network, checkpoint, strict=True)
    return network.eval()


def open_trained_run(
    run_reference: str, tracking_uri: str | None = None, stages: Collection[str] | None = None
) -> TrainedRun:
    """The finished recognition run ``run_reference`` (id or ``runs:/ID``) of the tracking store
    (or of one of ``stages``, e.g. ``("parsing", "recognition")``).

    ``tracking_uri`` None: ``$MLFLOW_TRACKING_URI``, else the local store. Raises ``PipelineError``
    (one line) for a missing run, a run of another stage, an unfinished run or one without config.
    """
    uri = resolve_tracking_uri(
        TrackingSection(tracking_uri=tracking_uri), reading=f"run {quote_value(run_reference)}"
    )
    tracker = Tracker.of_run(uri, run_reference)
    run = finished_recognition_run(tracker, run_reference, stages)
    text = tracker.read_text_artifact(run.run_id, RESOLVED_CONFIG_ARTIFACT)
    if text is None:
        raise PipelineError(
            f"run {run.run_id} has no {RESOLVED_CONFIG_ARTIFACT} artifact to rebuild its network from"
        )
    try:
        mapping = yaml.safe_load(text)
        if not isinstance(mapping, dict):
            raise PipelineError(f"expected a mapping, got {type(mapping).__name__}")
        config = PipelineConfig.from_dict(mapping)
    except (PipelineError, yaml.YAMLError) as error:
        raise PipelineError(
            f"run {run.run_id}: {RESOLVED_CONFIG_ARTIFACT} is not a valid config ({error})"
        ) from None
    return TrainedRun(
        tracker=tracker,
        run_id=run.run_id,
        stage=run.tags[TAG_STAGE],
        config=config,
        data_fingerprint=run.tags.get(TAG_DATA, ""),
        iteration=int(run.tags.get(TAG_ITERATION, "0") or 0),
    )
