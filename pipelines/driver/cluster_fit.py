"""Whether the connected Ray cluster can ever hold what a config asks of it, checked in seconds.

Why: Ray Train accepts any request and waits for it. ``scaling.use_gpu: true`` on a machine
without GPUs, ``cpus_per_worker: 1000`` or a custom resource no node has left the run retrying
worker start-up every minute, forever, with its MLflow runs RUNNING. Once Ray is up, and before
any MLflow run is opened, the request (per-worker resources x ``num_workers``, plus what else the
caller runs beside the workers) is compared with ``ray.cluster_resources()``, the total of every
node now in the cluster; a request that exceeds it ends in one line naming the config key and what
the cluster has. Only totals are checked: a request that fits but waits for busy resources still
waits, as Ray means it to. A cluster that an autoscaler would grow is judged by its present size.
This module must not talk to MLflow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from landmarkgait.data.quoting import printable
from landmarkgait.pipelines.config import ScalingSection
from landmarkgait.pipelines.errors import PipelineError

# Ray's own bookkeeping resources, left out when the cluster's resources are listed.
_INTERNAL_PREFIXES = ("node:", "memory", "object_store_memory", "accelerator_type:")
_TOLERANCE = 1e-9


def config_key(resource: str) -> str:
    """The config key that asks for ``resource``."""
    if resource == "CPU":
        return "scaling.cpus_per_worker"
    if resource == "GPU":
        return "scaling.use_gpu"
    return f"scaling.resources_per_worker.{printable(resource)}"


def required_resources(scaling: ScalingSection, extra_cpus: float = 0.0) -> dict[str, float]:
    """What all ``num_workers`` workers hold together, plus ``extra_cpus`` (e.g. a Tune trial's own)."""
    needed = {name: amount * scaling.num_workers for name, amount in scaling.worker_resources().items()}
    needed["CPU"] = needed.get("CPU", 0.0) + extra_cpus
    return {name: amount for name, amount in needed.items() if amount > 0}


def describe_cluster(cluster: Mapping[str, float]) -> str:
    """``2 CPU, 0 GPU, 1 trainer_slot``: what a user can ask for, without Ray's internal entries."""
    shown = {"CPU": cluster.get("CPU", 0.0), "GPU": cluster.get("GPU", 0.0)}
    for name in sorted(cluster):
        if name not in shown and not name.startswith(_INTERNAL_PREFIXES):
            shown[name] = cluster[name]
    return ", ".join(f"{amount:g} {printable(name)}" for name, amount in shown.items())


def check_fits_cluster(
    scaling: ScalingSection, cluster: Mapping[str, float], extra_cpus: float = 0.0, what: str = "the run"
) -> None:
    """Raise ``PipelineError`` when ``scaling`` asks for more of a resource than ``cluster`` (a
    ``ray.cluster_resources()``) has in total, naming the config key and the cluster's resources."""
    for name, amount in required_resources(scaling, extra_cpus).items():
        available = float(cluster.get(name, 0.0))
        if amount <= available + _TOLERANCE:
            continue
        per_worker = scaling.worker_resources().get(name, 0.0)
        extra = f" + {extra_cpus:g} beside them" if name == "CPU" and extra_cpus else ""
        has = f"has {available:g}" if name in cluster else "has no such resource"
        raise PipelineError(
            f"config key '{config_key(name)}': {what} needs {amount:g} {printable(name)} "
            f"({scaling.num_workers} worker(s) x {per_worker:g}{extra}) but the Ray cluster {has} "
            f"(it has {describe_cluster(cluster)}); lower the request or add nodes that have it"
        )


def check_connected_cluster(scaling: ScalingSection, extra_cpus: float = 0.0, what: str = "the run") -> None:
    """``check_fits_cluster`` against the cluster this process is connected to (Ray must be up)."""
    import ray

    check_fits_cluster(scaling, ray.cluster_resources(), extra_cpus, what)


@contextlib.contextmanager
def checked_cluster(
    scaling: ScalingSection, ray_address: str | None, needed: bool = True, extra_cpus: float = 0.0
) -> Iterator[None]:
    """Ray up for the block (``ray_session``) and checked to hold ``scaling``'s request, so the
    caller opens its MLflow runs only on a cluster that can run them. ``needed`` False: nothing is
    started (a pipeline whose stages are all reused never starts Ray)."""
    if not needed:
        yield
        return
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    with ray_session(ray_address):
        check_connected_cluster(scaling, extra_cpus)
        yield
