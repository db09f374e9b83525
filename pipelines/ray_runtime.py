"""Starting or joining Ray for a CLI command.

Given an address (``--ray-address`` or ``RAY_ADDRESS``, as set inside ``ray job submit``) the
command joins that cluster; otherwise it starts a private local Ray bound to 127.0.0.1 with
no dashboard, and stops it when the command ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import ray

log = logging.getLogger(__name__)


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, include_dashboard: bool = False
) -> Iterator[None]:
    """Use the running Ray, join ``address``, or start a loopback-only local Ray for the block.

    ``include_dashboard`` starts the dashboard (on 127.0.0.1) with a local Ray: Ray Train's
    placement-group cleaner asks its State API whether a killed trial's controller is gone,
    so a sweep whose scheduler stops trials needs it to get their CPUs back.
    """
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        log.info("joining Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=True)
    else:
        # address="local": never attach to a stale cluster recorded in /tmp/ray by an old `ray start`.
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=include_dashboard,
            dashboard_host="127.0.0.1",
            _node_ip_address="127.0.0.1",
            log_to_driver=True,
            configure_logging=False,
        )
    try:
        yield
    finally:
        ray.shutdown()
