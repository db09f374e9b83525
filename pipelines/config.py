"""The pipeline configuration: one typed dataclass tree per concern, loaded from YAML.

Sections: ``data`` (which dataset and partition, or the synthetic benchmark to generate),
``model`` (preset and overrides of ``models.build_model``), ``stages`` (one per stage of the
registry: training schedule, sampler, optimiser and loss weights), ``scaling`` (Ray Train
workers and resources), ``tracking`` (MLflow) and ``evaluation`` (protocol). A component's config
is defined once, next to its code, and used here as a section: ``SynthConfig`` (``data.synth``),
``SamplerConfig`` (``data``), ``LossWeights`` and ``OptimizerConfig`` (``models``). Presets live
in ``ray_configs/``; nothing here hard-codes one. Loading validates every key and value (types and
ranges) once, before Ray or MLflow start; errors name the key.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.names import METRICS, PROTOCOLS
from landmarkgait.data.input_files import check_regular_file
from landmarkgait.data.keys import key_problem
from landmarkgait.data.quoting import quote_value
from landmarkgait.data.sampler_config import SamplerConfig
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.models.config import MIN_TRANSPORT_DISTANCE, transport_distance
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.models.presets import resolve_config
from landmarkgait.models.registry import SCHEDULES, pipeline_stages, stage_spec
from landmarkgait.models.training_config import LossWeights, OptimizerConfig
from landmarkgait.pipelines.config_schema import (
    apply_override,
    flatten,
    from_mapping,
    read_yaml_mapping,
    to_mapping,
)
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.redaction import redact_uri

log = logging.getLogger(__name__)

# MLflow refuses more retries per request than this (its _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT).
MAX_HTTP_RETRIES = 10
# Seeds every generator takes: NumPy's legacy seeding and Tune's random search refuse larger ones.
MAX_SEED = 2**32 - 1


def check_seed(value: int, key: str) -> None:
    """Refuse a seed outside ``0..MAX_SEED``, naming the config key."""
    if not 0 <= value <= MAX_SEED:
        raise ConfigError(f"config key '{key}': expected a seed in 0..{MAX_SEED}, got {quote_value(value)}")


def landmarkgait_home() -> Path:
    """Where default state lives (MLflow store, generated datasets, Ray Train storage).

    An absolute per-user directory so that separate ``ray job submit`` jobs, whose working
    directories are temporary copies, still find each other's runs.
    """
    return Path(os.environ.get("LANDMARKGAIT_HOME", Path.home() / ".landmarkgait")).expanduser()


@dataclass
class DataSection:
    """The Parquet dataset and how workers read it.

    ``cache_bytes`` bounds each worker's cache of decoded row groups; ``read_threads`` row groups
    of a batch are decoded at once (``landmarkgait.data.reader.SilhouetteDataset``), on cores that idle while
    a worker reads its batch between steps.
    """

    path: str
    partition: str | None = None
    synthetic: SynthConfig | None = None
    cache_bytes: int = 256 * 2**20
    read_threads: int = 4

    def __post_init__(self) -> None:
        if self.cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {self.cache_bytes}")
        if self.read_threads < 1:
            raise ValueError(f"read_threads must be >= 1, got {self.read_threads}")

    def resolved_path(self) -> Path:
        return Path(self.path.replace("${LANDMARKGAIT_HOME}", str(landmarkgait_home()))).expanduser()


@dataclass
class ModelSection:
    """``build_model(stage, preset, num_landmark=..., **overrides)`` for every stage.

    ``overrides`` are fields of the stage model configs (``models.config``, their one typed
    definition). Every stage's config is resolved when the section loads, so an unknown field or
    a value no network accepts (``num_landmark: 2``, a bad preset) is refused before Ray or MLflow
    start, naming the field.
    """

    preset: str = "paper"
    num_landmark: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    recognition_branches: str = "all"

    def __post_init__(self) -> None:
        try:
            for stage in self.stages:
                resolve_config(stage, self.preset, **self.build_kwargs())
        except ModelConfigError as error:
            raise ValueError(str(error)) from None

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this pipeline trains: LandmarkGait's three (``all``: silhouette, parsed parts
        and mixed parts) or the holistic baseline alone (``holistic``, the paper's ablation)."""
        return pipeline_stages(self.recognition_branches)

    @property
    def variant(self) -> str:
        """What distinguishes this model in a run list: ``25 landmarks`` or ``holistic``."""
        if self.recognition_branches == "holistic":
            return "holistic"
        landmarks = resolve_config("landmark", self.preset, **self.build_kwargs()).num_landmark
        return f"{landmarks} landmarks"

    def network_config(self, stage: str) -> dict[str, Any]:
        """``stage``'s resolved network config as plain data (what its stage key hashes)."""
        return resolve_config(stage, self.preset, **self.build_kwargs()).to_dict()

    def build_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.overrides)
        if self.num_landmark is not None:
            kwargs["num_landmark"] = self.num_landmark
        return kwargs


@dataclass
class StageSection:
    total_iter: int
    save_iter: int = 10000
    log_iter: int = 100
    eval_iter: int = 0
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if self.total_iter < 1:
            raise ValueError(f"total_iter must be >= 1, got {self.total_iter}")
        for name in ("save_iter", "log_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_iter < 0:
            raise ValueError(f"eval_iter must be >= 0 (0 = only at the end), got {self.eval_iter}")


def _stages_section_class() -> type:
    """One ``StageSection`` per schedule of the registry (landmark, parsing, recognition), in order."""

    def of(self: Any, stage: str) -> StageSection:
        """The schedule ``stage`` trains with (the holistic baseline shares recognition's)."""
        return getattr(self, stage_spec(stage).schedule_name)

    return dataclasses.make_dataclass(
        "StagesSection", [(name, StageSection) for name in SCHEDULES], namespace={"of": of}
    )


StagesSection = _stages_section_class()


@dataclass
class ScalingSection:
    """Ray Train ``ScalingConfig`` / ``FailureConfig`` / storage, declared rather than coded."""

    num_workers: int = 1
    use_gpu: bool = False
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 1.0
    resources_per_worker: dict[str, float] = field(default_factory=dict)
    backend: str | None = None
    sync_bn: bool = True
    max_failures: int = 2
    storage_path: str | None = None
    embed_batch_size: int = 4

    def __post_init__(self) -> None:
        """Ranges Ray accepts and could ever satisfy (whether the connected cluster can is checked
        once Ray is up: ``driver.cluster_fit``). Ray Train took a negative CPU count or
        ``max_failures`` -100 and then retried worker start-up forever."""
        if self.num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {self.num_workers}")
        if self.backend not in (None, "gloo", "nccl"):
            raise ValueError(f"backend must be gloo, nccl or null (auto), got {quote_value(self.backend)}")
        if not (math.isfinite(self.cpus_per_worker) and self.cpus_per_worker > 0):
            raise ValueError(f"cpus_per_worker must be a finite number > 0, got {self.cpus_per_worker}")
        if not (math.isfinite(self.gpus_per_worker) and self.gpus_per_worker >= 0):
            raise ValueError(f"gpus_per_worker must be a finite number >= 0, got {self.gpus_per_worker}")
        for name, amount in self.resources_per_worker.items():
            if not (math.isfinite(amount) and amount >= 0):
                raise ValueError(
                    f"resources_per_worker.{quote_value(name)} must be a finite number >= 0, got {amount}"
                )
        if self.max_failures < -1:
            raise ValueError(f"max_failures must be >= 0, or -1 (retry forever), got {self.max_failures}")
        if self.embed_batch_size < 1:
            raise ValueError(f"embed_batch_size must be >= 1, got {self.embed_batch_size}")

    @property
    def resolved_backend(self) -> str:
        return self.backend or ("nccl" if self.use_gpu else "gloo")

    def worker_resources(self) -> dict[str, float]:
        resources = {"CPU": self.cpus_per_worker, **self.resources_per_worker}
        if self.use_gpu:
            resources["GPU"] = self.gpus_per_worker
        return resources

    def resolved_storage_path(self) -> str:
        return self.storage_path or str(landmarkgait_home() / "ray_results")


@dataclass
class TrackingSection:
    """MLflow. ``tracking_uri`` null = a local sqlite store under LANDMARKGAIT_HOME."""

    tracking_uri: str | None = None
    experiment: str = "landmarkgait"
    registered_model: str | None = "landmarkgait"
    # How long a tracking-server outage is ridden out: each MLflow request to a server is retried
    # this often with exponential backoff (MLflow's, 2 s factor): 7 (MLflow's default) is about
    # 4 minutes, 5 about 1 minute, 3 about 12 s. After that the stage fails in one line.
    http_retries: int = 7

    def __post_init__(self) -> None:
        for key in ("tracking_uri", "experiment", "registered_model"):
            value = getattr(self, key)
            if value is not None and not value.strip():
                raise ValueError(f"{key} must be a non-empty name, got {value!r}")
        check_name(self.experiment, "experiment", ValueError)
        if not 0 <= self.http_retries <= MAX_HTTP_RETRIES:
            raise ValueError(f"http_retries must be 0..{MAX_HTTP_RETRIES}, got {self.http_retries}")


@dataclass
class EvaluationSection:
    """How the recognition stage is evaluated. ``max_frames`` embeds only each test sequence's
    first frames (None: all frames, as OpenGait); CPU benchmarks use it to bound evaluation time,
    and the GEI row of a report then uses the same frames."""

    protocol: str = "casia_b"
    metric: str = "euc"
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or null (all frames), got {self.max_frames}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")


@dataclass
class PipelineConfig:
    name: str
    data: DataSection
    stages: StagesSection
    model: ModelSection = field(default_factory=ModelSection)
    scaling: ScalingSection = field(default_factory=ScalingSection)
    tracking: TrackingSection = field(default_factory=TrackingSection)
    evaluation: EvaluationSection = field(default_factory=EvaluationSection)
    seed: int = 0

    def __post_init__(self) -> None:
        check_name(self.name, "name")  # it names run folders: the data-key rule (no '/', '..', control)
        check_seed(self.seed, "seed")
        self._check_transport_clips()

    def _check_transport_clips(self) -> None:
        """Refuse clips on which LandmarkNet's transport is the identity; warn when it nearly is.

        Every LandmarkGait stage reconstructs a frame from its transport source, the frame
        ``transport_shift`` steps away in the clip (cyclic). When the clip length divides the shift,
        each frame is its own source: the transport carries no motion, the reconstruction losses
        train nothing about parts, and nothing says so. Clips of 8 frames with the default shift
        of 8 did exactly that (benchmarks/README.md measures what it changed).
        """
        for stage in self.model.stages:
            shift = self.model.network_config(stage).get("transport_shift")
            if shift is None:  # the holistic baseline has no transport
                continue
            schedule = stage_spec(stage).schedule_name
            frames = self.stages.of(stage).sampler.frames
            distance = transport_distance(shift, frames)
            key = f"stages.{schedule}.sampler.frames"
            if distance == 0:
                raise ConfigError(
                    f"config key '{key}': clips of {frames} frames make every frame its own transport "
                    f"source (model transport_shift {shift} is a multiple of {frames}), so the part "
                    f"masks are not learnt from motion; use clips whose cyclic distance to the "
                    f"source is >= {MIN_TRANSPORT_DISTANCE} (e.g. {shift + MIN_TRANSPORT_DISTANCE + 1}, "
                    f"or the paper's 30)"
                )
            if distance < MIN_TRANSPORT_DISTANCE:
                log.warning(
                    "config key '%s': in clips of %d frames the transport source is only %d frame(s) "
                    "from each frame (model transport_shift %d); the part masks learn little below %d",
                    key,
                    frames,
                    distance,
                    shift,
                    MIN_TRANSPORT_DISTANCE,
                )

    def to_dict(self) -> dict[str, Any]:
        return to_mapping(self)

    def logged_dict(self) -> dict[str, Any]:
        """``to_dict`` as it may be logged or printed: the tracking URI without credentials."""
        mapping = self.to_dict()
        if self.tracking.tracking_uri:
            mapping["tracking"]["tracking_uri"] = redact_uri(self.tracking.tracking_uri)
        return mapping

    def to_yaml(self) -> str:
        """The resolved config for ``config/resolved.yaml`` (credentials redacted)."""
        return yaml.safe_dump(self.logged_dict(), sort_keys=False)

    def flat_params(self) -> dict[str, Any]:
        """MLflow params (credentials redacted)."""
        return flatten(self.logged_dict())

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> PipelineConfig:
        return from_mapping(cls, mapping)


def check_name(value: str, key: str, error: type[Exception] = ConfigError) -> None:
    """Raise ``error`` naming config key ``key`` unless ``value`` follows the data-key rule."""
    problem = key_problem(value)
    if problem is not None:
        raise error(f"config key '{key}': {quote_value(value)}: {problem}")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read a YAML pipeline config and apply ``key.path=value`` overrides, validating once.

    ``data.partition`` must then name a regular file (a config read back from a run is not
    checked against this machine's files).
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "config file", "ray_configs/")
    for assignment in overrides:
        apply_override(raw, assignment, PipelineConfig)
    try:
        config = PipelineConfig.from_dict(raw)
        if config.data.partition is not None:
            check_regular_file(Path(config.data.partition), "partition file (config key 'data.partition')")
    except (ConfigError, DataError) as error:
        raise ConfigError(f"{path}: {error}") from None
    return config
