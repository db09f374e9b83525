"""The stage registry: everything the code base knows about a LandmarkGait stage, in one spec.

A stage is a name with a config class, a network, the loss terms it trains on, its optimiser
groups, its OpenGait save name, the stage it starts from, and whether it is evaluated with a
gait protocol or reports reconstruction quality. Every other module asks the registry instead
of comparing stage names, so adding a stage (an ablation, another network) is one ``StageSpec``
here plus its network and config class.

Importable without torch: the CLI checks configs and sweep metrics against it in under a second.
Networks are named by dotted path and imported only when built. This module must not build
networks or compute anything.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from landmarkgait.models.config import (
    HolisticConfig,
    LandmarkConfig,
    NetworkConfig,
    ParsingConfig,
    RecognitionConfig,
)
from landmarkgait.models.errors import ModelConfigError

# Loss terms and the detached values each one logs (``loss/<name>``); ``models.losses`` computes them.
LOSS_TERM_LOGS: dict[str, tuple[str, ...]] = {
    "reconstruction": ("reconstruction",),
    "part_reconstruction": ("part_reconstruction",),
    "triplet": ("triplet", "triplet_hard", "triplet_active", "triplet_mean_distance"),
    "cross_entropy": ("cross_entropy", "accuracy"),
}

# Reconstruction quality a stage can report next to its losses (``pipelines.metric_names``).
RECONSTRUCTION_QUALITY = "reconstruction"
# What a stage's network is measured on against a synthetic dataset's ground truth, when there
# is one: its landmarks (regressed keypoint error) and its part masks (part mIoU).
KEYPOINT_TRUTH, PART_TRUTH = "keypoints", "parts"


@dataclass(frozen=True)
class StageSpec:
    """One stage of the pipeline.

    ``network`` is ``module:Class`` of the ``nn.Module`` built from ``config_class``;
    ``backbone_group`` puts LandmarkNet (``Backbone.*``) in its own optimiser group at
    ``landmark_lr`` (the official ``finetune_parameters``); ``upstream`` is the stage whose
    checkpoint initialises this one; ``evaluates`` stages are embedded and scored with the gait
    protocol (and their network is the pipeline's model), and ``branches`` is the value of the
    pipeline config's ``model.recognition_branches`` that selects one; ``schedule`` names the
    ``stages.<schedule>`` section it trains with (default: its own name; the holistic baseline
    shares the recognition schedule, so the two compare at equal training); ``quality`` names the
    reconstruction quality metrics reported while training; ``ground_truth`` what is measured
    against a synthetic dataset's ground truth at the end of the stage and at its evaluations
    (``pipelines.worker.stage_quality``); ``after_import`` is the CLI command suggested after
    importing a checkpoint of this stage (``{run_id}`` filled in).
    """

    name: str
    config_class: type[NetworkConfig]
    network: str
    loss_terms: tuple[str, ...]
    save_name: str
    upstream: str | None = None
    backbone_group: bool = False
    evaluates: bool = False
    quality: str | None = None
    ground_truth: tuple[str, ...] = ()
    after_import: tuple[str, ...] = ("run",)
    branches: str | None = None
    schedule: str | None = None

    @property
    def schedule_name(self) -> str:
        """The ``stages.<name>`` config section this stage trains with."""
        return self.schedule or self.name

    def network_class(self) -> type[Any]:
        """The network class, imported on first use (it pulls in torch)."""
        module, _, name = self.network.partition(":")
        return getattr(importlib.import_module(module), name)

    def checkpoint_file(self, iteration: int) -> str:
        """OpenGait's checkpoint file name, so exported checkpoints look like the official ones."""
        return f"{self.save_name}-{iteration:05d}.pt"

    def loss_names(self) -> tuple[str, ...]:
        """Every value ``compute_losses`` logs for this stage when all weights are non-zero."""
        return tuple(name for term in self.loss_terms for name in LOSS_TERM_LOGS[term])


STAGE_SPECS: dict[str, StageSpec] = {
    spec.name: spec
    for spec in (
        StageSpec(
            name="landmark",
            config_class=LandmarkConfig,
            network="landmarkgait.models.stages:LandmarkModel",
            loss_terms=("reconstruction",),
            save_name="LandmarkGait_Silh_to_Landmark",
            quality=RECONSTRUCTION_QUALITY,
            ground_truth=(KEYPOINT_TRUTH,),
        ),
        StageSpec(
            name="parsing",
            config_class=ParsingConfig,
            network="landmarkgait.models.stages:ParsingModel",
            loss_terms=("reconstruction", "part_reconstruction"),
            save_name="LandmarkGait_Landmark_to_Parsing",
            upstream="landmark",
            backbone_group=True,
            quality=RECONSTRUCTION_QUALITY,
            ground_truth=(KEYPOINT_TRUTH, PART_TRUTH),
            after_import=("train", "--stage", "recognition"),
        ),
        StageSpec(
            name="recognition",
            config_class=RecognitionConfig,
            network="landmarkgait.models.recognition:RecognitionModel",
            loss_terms=("reconstruction", "part_reconstruction", "triplet", "cross_entropy"),
            save_name="LandmarkGait_Recognition",
            upstream="parsing",
            backbone_group=True,
            evaluates=True,
            ground_truth=(KEYPOINT_TRUTH, PART_TRUTH),
            after_import=("evaluate", "--run", "{run_id}"),
            branches="all",
        ),
        StageSpec(
            name="holistic",
            config_class=HolisticConfig,
            network="landmarkgait.models.holistic:HolisticModel",
            loss_terms=("triplet", "cross_entropy"),
            save_name="LandmarkGait_Holistic",
            evaluates=True,
            after_import=("evaluate", "--run", "{run_id}"),
            branches="holistic",
            schedule="recognition",
        ),
    )
}
STAGES: tuple[str, ...] = tuple(STAGE_SPECS)
# ``model.recognition_branches`` values: which evaluated stage ends the pipeline.
RECOGNITION_BRANCHES: tuple[str, ...] = tuple(spec.branches for spec in STAGE_SPECS.values() if spec.branches)
# The ``stages.<name>`` sections of a pipeline config, in training order.
SCHEDULES: tuple[str, ...] = tuple(dict.fromkeys(spec.schedule_name for spec in STAGE_SPECS.values()))


def stage_spec(stage: str, what: str = "stage") -> StageSpec:
    """The spec of ``stage``; ``ModelConfigError`` naming ``what`` asked if there is none."""
    spec = STAGE_SPECS.get(stage)
    if spec is None:
        raise ModelConfigError(f"{what} stage {stage!r}: expected one of {', '.join(STAGES)}")
    return spec


def pipeline_stages(branches: str) -> tuple[str, ...]:
    """The stages a pipeline trains for ``model.recognition_branches``: the evaluated stage and its
    upstream chain, first stage first."""
    evaluated = next((spec for spec in STAGE_SPECS.values() if spec.branches == branches), None)
    if evaluated is None:
        raise ModelConfigError(
            f"recognition_branches {branches!r}: expected one of {', '.join(RECOGNITION_BRANCHES)}"
        )
    chain = [evaluated.name]
    while STAGE_SPECS[chain[-1]].upstream is not None:
        chain.append(STAGE_SPECS[chain[-1]].upstream)
    return tuple(reversed(chain))


def spec_of_config(config: NetworkConfig) -> StageSpec:
    """The spec whose config class ``config`` is exactly."""
    for spec in STAGE_SPECS.values():
        if type(config) is spec.config_class:
            return spec
    raise ModelConfigError(f"model config {type(config).__name__}: no stage is built from it")


def model_config_fields() -> tuple[str, ...]:
    """Every field of every stage's model config, in first-seen order (the pipeline's ``model`` keys)."""
    names: dict[str, None] = {}
    for spec in STAGE_SPECS.values():
        names.update(dict.fromkeys(spec.config_class.field_names()))
    return tuple(names)
