"""Which of the lines Ray forwards from its processes reach the CLI's console.

Ray prints every line its workers, actors and their C++ core write on stderr at the driver
(``log_to_driver``). A few of them are Ray-internal notices that look like failures and leave a
user nothing to do; without ``--verbose`` they stay in Ray's log files (``/tmp/ray/session_*``)
and off the console. Everything else, warnings and errors included, is printed as Ray prints it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from landmarkgait.pipelines.log_setup import verbose
from landmarkgait.pipelines.runtime.ray_internals import wrap_forwarded_line_printer

RAY_INTERNAL_NOTICES = (
    # Ray Train creates its PreemptionWatcher actor with restarts and its arguments in the object
    # store; Ray's core worker logs that combination as an error on every run (ray-project/ray#53727).
    "has constructor arguments in the object store and max_restarts > 0",
)


def is_ray_internal_notice(line: str) -> bool:
    return any(notice in line for notice in RAY_INTERNAL_NOTICES)


def _print_without_notices(print_lines: Callable[[dict[str, Any]], None], batch: dict[str, Any]) -> None:
    lines = [line for line in batch["lines"] if not is_ray_internal_notice(line)]
    if lines:
        print_lines({**batch, "lines": lines})


def hide_ray_internal_notices() -> None:
    """Drop Ray's internal notices from the forwarded output of this driver (not with ``--verbose``)."""
    if verbose():
        return
    wrap_forwarded_line_printer(lambda print_lines: functools.partial(_print_without_notices, print_lines))
