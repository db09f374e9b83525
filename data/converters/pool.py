"""A spawned process pool with a progress bar, for the converters' chunks of work.

Workers ignore Ctrl-C: the parent terminates them and the caller discards its staging directory.
It must not know what a chunk holds or what a worker writes.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

from landmarkgait.data.errors import DataError

DEFAULT_WORKERS = max(2, os.cpu_count() or 2)

Task = TypeVar("Task")
Result = TypeVar("Result")


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them and cleans up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_pool(
    function: Callable[[Task], Result],
    tasks: Sequence[Task],
    sizes: Sequence[int],
    workers: int,
    desc: str,
) -> list[Result]:
    """Run ``function`` over ``tasks`` in ``workers`` processes; progress counts ``sizes`` per task.

    Results come in the order the tasks finish.
    """
    context = multiprocessing.get_context("spawn")
    results = []
    pool = context.Pool(min(workers, len(tasks)), initializer=_ignore_sigint)
    try:
        with tqdm(total=sum(sizes), desc=desc, unit="seq") as progress:
            for number, result in pool.imap_unordered(
                _numbered, [(function, n, t) for n, t in enumerate(tasks)]
            ):
                results.append(result)
                progress.update(sizes[number])
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


def _numbered(job: tuple[Callable[[Any], Any], int, Any]) -> tuple[int, Any]:
    function, number, task = job
    return number, function(task)


def split(items: Sequence[Any], workers: int, max_per_chunk: int) -> list[list[Any]]:
    """Consecutive chunks of at most ``max_per_chunk``; small inputs are still spread over all workers."""
    for name, value in (("workers", workers), ("sequences_per_shard", max_per_chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"{name} must be an integer >= 1, got {value!r}")
    size = max(1, min(max_per_chunk, math.ceil(len(items) / workers)))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
