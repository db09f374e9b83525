"""Ray Tune objects from a validated sweep: parameter space, search algorithm, trial scheduler.

Search spaces live in the sweep YAML; this module only translates them. Keys stay dotted
config keys (``model.num_landmark``) so a trial applies them with the same schema checks as
``--set``.
"""

from __future__ import annotations

import logging
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, Searcher

from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.sweep.config import POINT_PARAM, SEED_KEY, LoadedSweep, ParameterSpec

log = logging.getLogger(__name__)


def tune_domain(spec: ParameterSpec) -> Any:
    low_high = spec.values
    match spec.kind:
        case "grid":
            return tune.grid_search(spec.values)
        case "choice":
            return tune.choice(spec.values)
        case "uniform":
            return tune.uniform(*low_high)
        case "loguniform":
            return tune.loguniform(*low_high)
        case "randint":
            return tune.randint(*low_high)
    raise AssertionError(spec.kind)


def param_space(loaded: LoadedSweep) -> dict[str, Any]:
    """Tune's space: the specs' domains, a grid over the points' indices when there are points,
    and a grid over the seeds with ``repeats`` (Tune varies the grid key that sorts first fastest:
    ``point`` before ``seed``, so every point runs at the first seed before any at the second; a
    ``stages.*`` space key sorts after ``seed`` and varies slower)."""
    search = loaded.sweep.search
    space = {key: tune_domain(spec) for key, spec in search.space.items()}
    if search.points:
        space[POINT_PARAM] = tune.grid_search(list(range(len(search.points))))
    if search.repeats > 1:
        space[SEED_KEY] = tune.grid_search(search.seeds(loaded.base.seed))
    return space


def search_algorithm(loaded: LoadedSweep, max_concurrent: int) -> BasicVariantGenerator | Searcher:
    """Grid and random search enumerate variants; Optuna proposes them (optional extra).

    The concurrency limit is set here: Tune ignores ``TuneConfig.max_concurrent_trials`` for a
    ``BasicVariantGenerator`` passed in explicitly.
    """
    search = loaded.sweep.search
    if search.algorithm != "optuna":
        return BasicVariantGenerator(random_state=search.seed, max_concurrent=max_concurrent)
    try:
        from ray.tune.search.optuna import OptunaSearch

        optuna_search = OptunaSearch(seed=search.seed)
    except (ImportError, AssertionError):  # OptunaSearch asserts that optuna is importable
        raise ConfigError(
            f"{loaded.path}: search.algorithm optuna needs Optuna: pip install 'landmarkgait[optuna]'"
        ) from None
    return ConcurrencyLimiter(optuna_search, max_concurrent=max_concurrent)


def fitting_concurrency(loaded: LoadedSweep, cluster: dict[str, float]) -> int:
    """``max_concurrent_trials``, lowered so that concurrent trials' workers fit the cluster.

    Trials that do not fit would each hold part of the cluster while their worker groups wait for
    the rest; running fewer at a time queues them in Tune instead. ``cluster`` is
    ``ray.cluster_resources()`` (CPU and GPU are checked).
    """
    scaling = loaded.base.scaling
    needs = {"CPU": loaded.sweep.trial_cpus + scaling.num_workers * scaling.cpus_per_worker}
    if scaling.use_gpu:
        needs["GPU"] = scaling.num_workers * scaling.gpus_per_worker
    wanted = loaded.sweep.search.max_concurrent_trials
    fitting = wanted
    for resource, per_trial in needs.items():
        available = cluster.get(resource, 0.0)
        if per_trial > available:
            log.warning(
                "a trial needs %.2f %s but the cluster has %.0f; trials will wait for the cluster to grow",
                per_trial,
                resource,
                available,
            )
            fitting = 1
        elif per_trial > 0:
            fitting = min(fitting, int(available / per_trial + 1e-6))
    if fitting < wanted:
        log.warning("search.max_concurrent_trials %d lowered to %d to fit the cluster", wanted, fitting)
    return max(1, fitting)


def trial_scheduler(loaded: LoadedSweep) -> TrialScheduler:
    scheduler = loaded.sweep.scheduler
    if scheduler.type == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr=loaded.time_attr,
        max_t=loaded.max_t,
        grace_period=scheduler.grace_period,
        reduction_factor=scheduler.reduction_factor,
        # A trial at max_t finishes its stage (evaluation, model logging) instead of being killed.
        stop_last_trials=False,
    )
