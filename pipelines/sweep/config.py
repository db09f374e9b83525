"""The sweep configuration: a base pipeline config, a search space over its keys, a scheduler.

A sweep YAML names its base pipeline config (relative to the sweep file), optional overrides
of it, the search (algorithm, space, metric, mode, samples, concurrency) and the trial
scheduler. Loading validates everything a trial would otherwise discover later: every space
key exists and every value in the space builds a valid pipeline config, the metric is one a
stage reports, the mode is min or max. Errors name the key; no Ray is started here.

``search.repeats`` crosses the grid with seeds: the pipeline config's top-level ``seed`` takes
``base.seed + 0 .. repeats - 1``, one trial (and MLflow child run) each. The seed is part of
every stage key, so each seed trains its own stages; nothing is reused across seeds.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from landmarkgait.pipelines.config import PipelineConfig, check_name, check_seed, load_config
from landmarkgait.pipelines.config_schema import (
    assign_key,
    from_mapping,
    parse_assignment,
    read_yaml_mapping,
    to_mapping,
)
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.metric_names import ITERATION
from landmarkgait.pipelines.sweep.metrics import check_metric, qualified

ALGORITHMS = ("grid", "random", "optuna")
SCHEDULERS = ("fifo", "asha")
MODES = ("min", "max")


@dataclass
class ParameterSpec:
    """One searched key: exactly one of ``grid``/``choice`` (values) or a range.

    ``uniform``/``loguniform`` are ``[low, high]`` floats, ``randint`` ``[low, high)`` integers.
    """

    grid: list[Any] | None = None
    choice: list[Any] | None = None
    uniform: list[float] | None = None
    loguniform: list[float] | None = None
    randint: list[int] | None = None

    def __post_init__(self) -> None:
        given = [
            name for name in ("grid", "choice", "uniform", "loguniform", "randint") if getattr(self, name)
        ]
        if len(given) != 1:
            raise ValueError("give exactly one non-empty of grid, choice, uniform, loguniform, randint")
        if self.kind in ("uniform", "loguniform", "randint"):
            low_high = getattr(self, self.kind)
            if len(low_high) != 2 or not low_high[0] < low_high[1]:
                raise ValueError(f"{self.kind} expects [low, high] with low < high, got {low_high}")
            if self.kind == "loguniform" and low_high[0] <= 0:
                raise ValueError(f"loguniform expects low > 0, got {low_high}")

    @property
    def kind(self) -> str:
        return next(
            name for name in ("grid", "choice", "uniform", "loguniform", "randint") if getattr(self, name)
        )

    @property
    def values(self) -> list[Any]:
        return list(getattr(self, self.kind))

    def values_to_check(self) -> list[Any]:
        """Values that must each build a valid config: all listed values, or a range's ends."""
        if self.kind == "randint":
            return [self.values[0], self.values[1] - 1]
        return self.values

    def size(self) -> int | None:
        """Number of grid points, or None for sampled parameters."""
        return len(self.values) if self.kind == "grid" else None


# The Tune parameter that carries a trial's index into ``search.points``.
POINT_PARAM = "point"
# The pipeline config key (top level) that ``search.repeats`` varies; also its Tune parameter.
SEED_KEY = "seed"


@dataclass
class SearchSection:
    """What a sweep searches: ``space`` (one spec per key, crossed) and/or ``points``.

    ``points`` lists whole settings of several keys that only make sense together (the paper's
    table: the holistic ablation, then LandmarkGait with 20, 25, 30 landmarks); a grid search
    crosses them with the ``space`` grids. ``repeats`` crosses all that with as many seeds (the
    pipeline config's ``seed``, not ``search.seed``, which seeds the search algorithm): one
    seed is one number, the spread of several tells whether two methods differ.
    """

    metric: str
    space: dict[str, ParameterSpec] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)
    algorithm: str = "grid"
    mode: str = "max"
    num_samples: int = 1
    max_concurrent_trials: int = 1
    seed: int = 0
    repeats: int = 1

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be min or max, got {self.mode!r}")
        check_seed(self.seed, "search.seed")
        if not self.space and not self.points:
            raise ValueError(
                "space and points are empty: give at least one config key to search, e.g. model.num_landmark"
            )
        if self.points and self.algorithm != "grid":
            raise ValueError(f"points: needs algorithm grid, got {self.algorithm!r}")
        for index, point in enumerate(self.points):
            if not isinstance(point, dict) or not point:
                raise ValueError(f"points[{index}]: expected a non-empty mapping of config keys to values")
            shared = sorted(set(point) & set(self.space))
            if shared:
                raise ValueError(
                    f"points[{index}]: key {shared[0]!r} is also in space; search it in one place"
                )
        for name in ("num_samples", "max_concurrent_trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._check_repeats()
        for key, spec in self.space.items():
            if self.algorithm == "grid" and spec.kind != "grid":
                raise ValueError(
                    f"space.{key}: {spec.kind!r} needs algorithm random or optuna (grid searches grids only)"
                )
            if self.algorithm == "optuna" and spec.kind == "grid":
                raise ValueError(f"space.{key}: Optuna samples; use choice instead of grid")

    def _check_repeats(self) -> None:
        """Repeats are a grid over ``seed``: only a grid search crosses it with the same values
        (random and Optuna would sample other values for every seed), and nothing else may set it."""
        if self.repeats < 1:
            raise ValueError(f"search.repeats must be >= 1, got {self.repeats}")
        if self.repeats == 1:
            return
        if self.algorithm != "grid":
            raise ValueError(f"search.repeats {self.repeats} needs algorithm grid, got {self.algorithm!r}")
        if SEED_KEY in self.space:
            raise ValueError(
                f"space.{SEED_KEY}: search.repeats {self.repeats} sets the seed of every trial; "
                f"remove {SEED_KEY!r} from space or set repeats to 1"
            )
        for index, point in enumerate(self.points):
            if SEED_KEY in point:
                raise ValueError(
                    f"points[{index}].{SEED_KEY}: search.repeats {self.repeats} sets the seed of every "
                    f"trial; remove {SEED_KEY!r} from the point or set repeats to 1"
                )

    def seeds(self, base_seed: int) -> list[int]:
        """The pipeline seeds of the repeats: ``base_seed``, ``base_seed + 1``, ..."""
        return [base_seed + offset for offset in range(self.repeats)]

    def expected_trials(self) -> int:
        """Trials the search creates: ``num_samples`` per grid point and seed (Optuna: ``num_samples``)."""
        grid = math.prod(spec.size() or 1 for spec in self.space.values())
        return grid * max(1, len(self.points)) * self.repeats * self.num_samples

    def searched_keys(self) -> list[str]:
        """Every config key a trial may set: the points' keys (first seen first), then the space's,
        then ``seed`` when there are repeats."""
        keys = [key for point in self.points for key in point]
        seed = [SEED_KEY] if self.repeats > 1 else []
        return list(dict.fromkeys([*keys, *self.space, *seed]))

    def trial_params(self, tune_params: dict[str, Any]) -> dict[str, Any]:
        """A trial's config assignments from its Tune parameters (a point index becomes its keys)."""
        params = dict(tune_params)
        if POINT_PARAM in params:
            params = {**self.points[int(params.pop(POINT_PARAM))], **params}
        return params


@dataclass
class SchedulerSection:
    """``fifo`` runs every trial to the end; ``asha`` stops trials that fall behind at each rung.

    ``time_attr`` defaults to the metric's stage iteration (``recognition/iteration``) and ``max_t``
    to that stage's ``total_iter``; ``grace_period`` is in the same unit.
    """

    type: str = "fifo"
    time_attr: str | None = None
    grace_period: int = 1
    reduction_factor: float = 2.0
    max_t: int | None = None

    def __post_init__(self) -> None:
        if self.type not in SCHEDULERS:
            raise ValueError(f"type must be one of {', '.join(SCHEDULERS)}, got {self.type!r}")
        if self.grace_period < 1:
            raise ValueError(f"grace_period must be >= 1, got {self.grace_period}")
        if self.reduction_factor <= 1:
            raise ValueError(f"reduction_factor must be > 1, got {self.reduction_factor}")


@dataclass
class SweepConfig:
    name: str
    base: str
    search: SearchSection
    overrides: dict[str, Any] = field(default_factory=dict)
    scheduler: SchedulerSection = field(default_factory=SchedulerSection)
    trial_cpus: float = 0.01

    def __post_init__(self) -> None:
        check_name(self.name, "name", ValueError)
        if self.trial_cpus < 0:
            raise ValueError(f"trial_cpus must be >= 0, got {self.trial_cpus}")


@dataclass
class LoadedSweep:
    """A validated sweep: its config, the resolved base pipeline config and where it came from."""

    path: Path
    sweep: SweepConfig
    base: PipelineConfig

    @property
    def metric_stage(self) -> str:
        return self.sweep.search.metric.split("/", 1)[0]

    @property
    def time_attr(self) -> str:
        return self.sweep.scheduler.time_attr or qualified(self.metric_stage, ITERATION)

    @property
    def max_t(self) -> int:
        return self.sweep.scheduler.max_t or self.base.stages.of(self.metric_stage).total_iter

    def trial_config(self, params: dict[str, Any]) -> PipelineConfig:
        """The base config with one trial's values of the searched keys."""
        return apply_params(self.base, params, f"{self.path}: search.space")

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_mapping(self.sweep), sort_keys=False)


def apply_params(base: PipelineConfig, params: dict[str, Any], source: str) -> PipelineConfig:
    """``base`` with dotted keys set to ``params``' values; errors name ``source``, key and value."""
    raw = copy.deepcopy(base.to_dict())
    for key, value in params.items():
        assign_key(raw, key, value, PipelineConfig, source=source)
    shown = ", ".join(f"{key}={value!r}" for key, value in params.items())
    try:
        config = PipelineConfig.from_dict(raw)
    except ConfigError as error:
        raise ConfigError(f"{source} {shown}: {error}") from None
    return config


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> LoadedSweep:
    """Read and validate a sweep YAML (``overrides`` are ``--set`` assignments for the base config)."""
    path = Path(path)
    raw = read_yaml_mapping(path, "sweep config", "ray_configs/sweep_*.yaml")
    try:
        sweep = from_mapping(SweepConfig, raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None

    base_path = (path.parent / sweep.base).resolve()
    if not base_path.is_file():
        raise ConfigError(f"{path}: base pipeline config {base_path} (key 'base') does not exist")
    base = load_config(base_path)
    assignments = {**sweep.overrides, **dict(parse_assignment(item) for item in overrides or [])}
    if assignments:
        base = apply_params(base, assignments, f"{path}: overrides")

    loaded = LoadedSweep(path=path, sweep=sweep, base=base)
    for key, spec in sweep.search.space.items():
        for value in spec.values_to_check():
            apply_params(base, {key: value}, f"{path}: search.space")
    for index, point in enumerate(sweep.search.points):
        apply_params(base, point, f"{path}: search.points[{index}]")
    if sweep.search.repeats > 1:  # the last seed must be a valid seed too
        apply_params(base, {SEED_KEY: sweep.search.seeds(base.seed)[-1]}, f"{path}: search.repeats")
    check_metric(sweep.search.metric, base.evaluation.protocol)
    if sweep.scheduler.time_attr is not None:
        check_metric(sweep.scheduler.time_attr, base.evaluation.protocol, what="scheduler.time_attr")
    return loaded
