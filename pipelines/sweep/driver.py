"""The sweep driver: a Ray Tune sweep whose trials are pipeline runs, compared in MLflow.

Order of work: take a sweep config that ``landmarkgait.pipelines.sweep.config.load_sweep`` has validated
(bad keys, values, metric or mode fail there, before Ray, torch or MLflow are imported),
connect to MLflow and make sure the dataset exists, open (or, with ``--resume``, reopen) the
sweep's parent run, run Tune, then close the MLflow runs of trials that ended early and log
the trial table, the metric-vs-parameter plot and the best trial.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import tune

from landmarkgait.data.atomic import write_atomic
from landmarkgait.pipelines.driver.cluster_fit import checked_cluster
from landmarkgait.pipelines.driver.run import PreparedPipeline, code_version, prepare
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.log_setup import verbose
from landmarkgait.pipelines.runtime.ray_runtime import ray_session
from landmarkgait.pipelines.sweep.config import LoadedSweep
from landmarkgait.pipelines.sweep.leases import create_leases, release_stage_keys
from landmarkgait.pipelines.sweep.search import (
    fitting_concurrency,
    param_space,
    search_algorithm,
    trial_scheduler,
)
from landmarkgait.pipelines.sweep.summary import TrialRow, summarise_sweep
from landmarkgait.pipelines.sweep.trial import SweepContext, run_trial
from landmarkgait.pipelines.tracking.tags import (
    TAG_CODE,
    TAG_DATA,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_STAGE,
    TAG_TRIAL,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker

log = logging.getLogger(__name__)

STATE_SUFFIX = ".landmarkgait.json"


@dataclass(frozen=True)
class SweepState:
    """Written next to Tune's experiment directory so ``--resume`` finds the sweep's MLflow run."""

    name: str
    tune_name: str
    sweep_run_id: str

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(dataclasses.asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> SweepState:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise PipelineError(
                f"sweep state {path} is unreadable ({error}); start a new sweep without --resume"
            ) from None


@dataclass
class SweepOutcome:
    sweep_run_id: str
    experiment_path: Path
    rows: list[TrialRow]
    best: TrialRow | None
    csv_path: Path
    interrupted: bool
    metric: str
    ui_command: str
    errors: list[str]


class CloseEndedTrials(tune.Callback):
    """Driver side: when a trial ends, release its stage leases and close its MLflow runs.

    A trial ASHA stops is killed mid-stage, so its pipeline and stage runs would stay RUNNING;
    they are marked KILLED with outcome ``stopped_early`` (a failed trial's: FAILED, ``failed``).
    """

    def __init__(self, context: SweepContext) -> None:
        self.context = context

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        release_stage_keys(self.context.sweep_run_id, trial.trial_id)
        close_trial_runs(
            self.context.tracker(), self.context.sweep_run_id, "stopped_early", "KILLED", trial.trial_id
        )

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        release_stage_keys(self.context.sweep_run_id, trial.trial_id)
        close_trial_runs(
            self.context.tracker(), self.context.sweep_run_id, "failed", "FAILED", trial.trial_id
        )


def close_trial_runs(
    tracker: Tracker, sweep_run_id: str, outcome: str, status: str, trial_id: str | None = None
) -> None:
    """Close the still-RUNNING trial runs (of ``trial_id``, or all) and their running stage runs."""
    for run in tracker.trial_runs(sweep_run_id):
        if run.status != "RUNNING" or (trial_id and run.tags.get(TAG_TRIAL) != trial_id):
            continue
        links = {}
        for stage_run in tracker.stage_runs_of_pipeline(run.run_id):
            links[stage_link_tag(stage_run.tags.get(TAG_STAGE, "?"))] = stage_run.run_id
            if stage_run.status == "RUNNING":
                tracker.finish(stage_run.run_id, status)
        tracker.set_tags(run.run_id, {TAG_OUTCOME: outcome, **links})
        tracker.finish(run.run_id, status)


def pin_locations(loaded: LoadedSweep, tracking_uri: str, dataset_path: Path) -> LoadedSweep:
    """Resolve where MLflow, the dataset and Ray storage are once, so every trial (any node) agrees."""
    base = loaded.base
    pinned = dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, path=str(dataset_path)),
        tracking=dataclasses.replace(base.tracking, tracking_uri=tracking_uri),
        scaling=dataclasses.replace(base.scaling, storage_path=base.scaling.resolved_storage_path()),
    )
    return dataclasses.replace(loaded, base=pinned)


def sweeps_root(loaded: LoadedSweep) -> Path:
    return Path(loaded.base.scaling.resolved_storage_path()) / "sweeps"


def latest_state(loaded: LoadedSweep) -> SweepState:
    """The newest sweep of this name (for ``--resume``), or a clear error."""
    root = sweeps_root(loaded)
    candidates = sorted(root.glob(f"{loaded.sweep.name}-*{STATE_SUFFIX}")) if root.is_dir() else []
    states = [state for state in map(SweepState.read, candidates) if state.name == loaded.sweep.name]
    if not states:
        raise PipelineError(
            f"--resume: no sweep named {loaded.sweep.name!r} under {root}; run without --resume to start one"
        )
    return states[-1]


def run_sweep(loaded: LoadedSweep, resume: bool = False, ray_address: str | None = None) -> SweepOutcome:
    """Check, then sweep on a Ray cluster that can hold a trial (``cluster_fit``), before any MLflow run opens."""
    earlier = latest_state(loaded) if resume else None
    prepared = prepare(loaded.base, ray_address)
    with checked_cluster(loaded.base.scaling, ray_address, extra_cpus=loaded.sweep.trial_cpus):
        return sweep_on_cluster(loaded, prepared, earlier, resume, ray_address)


def sweep_on_cluster(
    loaded: LoadedSweep,
    prepared: PreparedPipeline,
    earlier: SweepState | None,
    resume: bool,
    ray_address: str | None,
) -> SweepOutcome:
    tracker = prepared.tracker
    loaded = pin_locations(loaded, tracker.tracking_uri, prepared.dataset_path)
    root = sweeps_root(loaded)

    if earlier is not None:
        state = earlier
        sweep_run = tracker.get_run(state.sweep_run_id)
        if sweep_run.status == "FINISHED":
            raise PipelineError(
                f"--resume: sweep {state.tune_name} (MLflow run {state.sweep_run_id}) already finished; "
                "run without --resume to start a new one"
            )
        if not tune.Tuner.can_restore(str(root / state.tune_name)):
            raise PipelineError(
                f"--resume: no Tune experiment state at {root / state.tune_name}; run without --resume"
            )
        tracker.reopen(state.sweep_run_id)
        log.info("resuming sweep %s (MLflow run %s)", state.tune_name, state.sweep_run_id)
    else:
        tune_name = f"{loaded.sweep.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        sweep_run_id = tracker.create_run(
            name=tune_name,
            tags={TAG_KIND: "sweep", TAG_DATA: prepared.data.fingerprint, TAG_CODE: code_version()},
            params=sweep_params(loaded),
        )
        tracker.log_text(sweep_run_id, loaded.to_yaml(), "sweep/sweep.yaml")
        tracker.log_text(sweep_run_id, loaded.base.to_yaml(), "sweep/base_config.yaml")
        state = SweepState(loaded.sweep.name, tune_name, sweep_run_id)
        root.mkdir(parents=True, exist_ok=True)
        state.write(root / f"{tune_name}{STATE_SUFFIX}")

    context = SweepContext(
        loaded, state.sweep_run_id, tracker.tracking_uri, tracker.experiment_id, tracker.experiment_name
    )
    try:
        with ray_session(ray_address):
            leases = create_leases(state.sweep_run_id)  # named, but alive only while referenced
            concurrency = fitting_concurrency(loaded, ray.cluster_resources())
            with interruption_watch() as was_interrupted:
                results = tuner_for(loaded, context, root, state.tune_name, resume, concurrency).fit()
                interrupted = was_interrupted()
            del leases
    except BaseException:
        close_trial_runs(tracker, state.sweep_run_id, "interrupted", "KILLED")
        tracker.finish(state.sweep_run_id, "KILLED")
        raise
    if interrupted:
        close_trial_runs(tracker, state.sweep_run_id, "interrupted", "KILLED")
    rows, best, csv_path = summarise_sweep(tracker, loaded, state.sweep_run_id, root / state.tune_name)
    tracker.finish(state.sweep_run_id, "KILLED" if interrupted else "FINISHED")
    return SweepOutcome(
        sweep_run_id=state.sweep_run_id,
        experiment_path=root / state.tune_name,
        rows=rows,
        best=best,
        csv_path=csv_path,
        interrupted=interrupted,
        metric=loaded.sweep.search.metric,
        ui_command=tracker.ui_command(),
        errors=[last_line(error) for error in results.errors],
    )


@contextlib.contextmanager
def interruption_watch() -> Iterator[Callable[[], bool]]:
    """Tells whether Tune stopped the sweep on Ctrl-C (SIGINT), so ``--resume`` can continue it.

    Tune turns the first SIGINT into a graceful stop (experiment state saved, unfinished trials
    resumable) and then puts back the handler it found: ours. So ours being in place after the
    fit means an interruption; ours running means a second Ctrl-C, which aborts at once.
    """

    def abort(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, abort)
    try:
        yield lambda: signal.getsignal(signal.SIGINT) is abort
    finally:
        signal.signal(signal.SIGINT, previous)


def last_line(error: BaseException) -> str:
    """The root cause of a trial error (Ray wraps it in its traceback)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def tuner_for(
    loaded: LoadedSweep, context: SweepContext, root: Path, tune_name: str, resume: bool, concurrency: int
) -> tune.Tuner:
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, context=context), {"CPU": loaded.sweep.trial_cpus}
    )
    if resume:
        return tune.Tuner.restore(
            str(root / tune_name), trainable, resume_unfinished=True, resume_errored=True
        )
    search = loaded.sweep.search
    return tune.Tuner(
        trainable,
        param_space=param_space(loaded),
        tune_config=tune.TuneConfig(
            metric=search.metric,
            mode=search.mode,
            search_alg=search_algorithm(loaded, concurrency),
            scheduler=trial_scheduler(loaded),
            num_samples=search.num_samples,
        ),
        run_config=tune.RunConfig(
            name=tune_name,
            storage_path=str(root),
            callbacks=[CloseEndedTrials(context)],
            failure_config=tune.FailureConfig(max_failures=0),
            verbose=1 if verbose() else 0,  # Tune's trial tables: --verbose (our lines say enough)
        ),
    )


def sweep_params(loaded: LoadedSweep) -> dict[str, Any]:
    """The sweep run's MLflow params: how it searches (the trials carry the pipeline params)."""
    sweep = loaded.sweep
    params: dict[str, Any] = {
        "sweep.base": sweep.base,
        "sweep.algorithm": sweep.search.algorithm,
        "sweep.metric": sweep.search.metric,
        "sweep.mode": sweep.search.mode,
        "sweep.num_samples": sweep.search.num_samples,
        "sweep.repeats": sweep.search.repeats,
        "sweep.max_concurrent_trials": sweep.search.max_concurrent_trials,
        "sweep.scheduler": sweep.scheduler.type,
    }
    for key, spec in sweep.search.space.items():
        params[f"space.{key}"] = f"{spec.kind} {spec.values}"
    for index, point in enumerate(sweep.search.points):
        params[f"points.{index}"] = ", ".join(f"{key}={value}" for key, value in point.items())
    if sweep.scheduler.type == "asha":
        params |= {
            "sweep.asha.time_attr": loaded.time_attr,
            "sweep.asha.max_t": loaded.max_t,
            "sweep.asha.grace_period": sweep.scheduler.grace_period,
            "sweep.asha.reduction_factor": sweep.scheduler.reduction_factor,
        }
    return params
