"""Running a list of Ray tasks with a bounded number in flight, a progress bar and a clean stop.

Why a module of its own: the video conversion and the synthetic video generator both fan work out
as Ray tasks and both must stop every task before their caller discards its staging directory
(a task still writing into it could leave files behind). A task raising ``DataError`` ends the
run with that one-line error, not with Ray's wrapped traceback. It must not start Ray: callers run
inside ``landmarkgait.pipelines.runtime.ray_runtime.ray_session``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from landmarkgait.data.errors import DataError

log = logging.getLogger(__name__)

_CANCEL_WAIT_S = 30.0


def task_limit(workers: int | None) -> int:
    """Tasks in flight: ``workers``, else one per CPU of the Ray session (Ray must be running)."""
    import ray

    if not ray.is_initialized():
        raise DataError("video tasks run on Ray: call them inside a Ray session (ray_session())")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise DataError(f"--workers must be an integer >= 1, got {workers!r}")
        return workers
    return max(1, int(ray.available_resources().get("CPU", 1)))


def run_ray_tasks(
    function: Callable[..., Any],
    arguments: Sequence[tuple[Any, ...]],
    *,
    sizes: Sequence[int],
    limit: int,
    desc: str,
    unit: str,
    check: Callable[[Any], None] | None = None,
) -> list[Any]:
    """``function(*arguments[i])`` for every ``i`` as Ray tasks, at most ``limit`` at a time.

    Returns the results in the order of ``arguments``; the progress bar counts ``sizes[i]`` when
    task ``i`` ends. ``check`` sees each result as it arrives and may raise to stop the run. On any
    error (or Ctrl-C) the tasks still running are cancelled and awaited before the error goes on.
    """
    import ray
    from tqdm import tqdm

    remote = ray.remote(num_cpus=1, max_retries=0)(function)
    pending = list(range(len(arguments)))
    running: dict[Any, int] = {}
    results: list[Any] = [None] * len(arguments)
    try:
        with tqdm(total=sum(sizes), desc=desc, unit=unit, disable=None) as progress:
            while pending or running:
                while pending and len(running) < limit:
                    number = pending.pop(0)
                    running[remote.remote(*arguments[number])] = number
                done, _ = ray.wait(list(running), num_returns=1)
                number = running.pop(done[0])
                results[number] = _result(done[0])
                if check is not None:
                    check(results[number])
                progress.update(sizes[number])
    except BaseException:
        _cancel(list(running))
        raise
    return results


def _result(reference: Any) -> Any:
    """The task's return value; a ``DataError`` it raised comes back as itself, without Ray's wrapping."""
    import ray

    try:
        return ray.get(reference)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, DataError):
            raise cause from None
        raise


def _cancel(references: list[Any]) -> None:
    """Stop running tasks and wait until they are gone, so none writes after the caller cleans up."""
    import ray

    if not references:
        return
    for reference in references:
        ray.cancel(reference, force=True)
    _, still_running = ray.wait(references, num_returns=len(references), timeout=_CANCEL_WAIT_S)
    if still_running:
        log.warning("%d Ray tasks did not stop within %.0f s", len(still_running), _CANCEL_WAIT_S)
