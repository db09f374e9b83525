"""Starting or joining Ray for a CLI command.

Given an address (``--ray-address`` or ``RAY_ADDRESS``, as set inside ``ray job submit``) the
command joins that cluster; otherwise it starts a private local Ray whose servers all listen on
127.0.0.1 only (its dashboard too), and stops it when the command ends.

Loopback only takes Ray's single-node mode: Ray turns a node address of 127.0.0.1 into the
machine's external address, and its gRPC servers (GCS, raylet, workers) and agents then listen
on that address or on all interfaces, even for a private local instance. In single-node mode
(the one Ray uses on macOS and Windows, switched by ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``)
the node address is the loopback one and every server binds to it.

A private local Ray also tells its processes where its own dashboard is. Ray Train's
placement-group cleaner (a detached actor of every training run) asks the State API whether
the run's controller is alive, and without an address Ray looks the cluster up in
``/tmp/ray/ray_current_cluster``: the last ``ray start --head`` on the machine, not ours. A stale
entry made the cleaner's thread die after a 40 s GCS timeout, with a traceback in every run;
a live foreign cluster answered "no such actor", so the cleaner took the controller for dead.
``RAY_API_SERVER_ADDRESS``, set before Ray starts, reaches every Ray process of the session.

A local Ray with token authentication (Ray's default when ``RAY_AUTH_MODE`` is unset) writes a
new token to ``~/.ray/auth_token`` with the umask's mode, readable by every user of the machine;
the token admits anyone to the cluster. When that file is missing it is created here first,
mode 0600 (``private_token_file``). ``ray.init`` also replaces the SIGTERM handler: the CLI's is
put back (``signals.reinstall``) so that SIGTERM still ends the command as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator

import ray

from landmarkgait.pipelines import signals
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.runtime.ports import free_loopback_port
from landmarkgait.pipelines.runtime.ray_console import hide_ray_internal_notices
from landmarkgait.pipelines.runtime.ray_internals import (
    API_SERVER_ENV,
    SINGLE_NODE_ENV,
    cluster_flag_off,
    default_token_path,
    new_authentication_token,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block, the previous state restored after it."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def single_node_mode() -> Iterator[None]:
    """Ray's single-node mode for the block: a local Ray started in it listens on loopback only."""
    with cluster_flag_off(), environment_variable(SINGLE_NODE_ENV, "0"):
        yield


def is_loopback(address: str) -> bool:
    """Whether a ``host:port`` / ``ray://host:port`` cluster address names this machine's loopback."""
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, naming the address, when nothing listens at a ``host:port`` (or
    ``ray://host:port``) cluster address: Ray itself retries such an address for minutes."""
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        raise PipelineError(
            f"Ray cluster at {address} is unreachable ({error.strerror or error}); start it "
            f"(ray start --head --port {port}) or fix --ray-address / RAY_ADDRESS"
        ) from None


def private_token_file() -> None:
    """Create Ray's token file, mode 0600, when a local Ray about to start would create it.

    Ray generates a token when token authentication is on (``RAY_AUTH_MODE`` unset or ``token``)
    and neither the file nor ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` gives one; it writes the
    file with ``open(path, "w")``. Writing it first with the same generator keeps Ray's format.
    """
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = default_token_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # Ray's own or the user's: left as it is
    except OSError as error:
        log.warning("could not create Ray's token file %s (%s); Ray will create it", path, error)
        return
    with os.fdopen(descriptor, "w") as handle:
        handle.write(new_authentication_token())


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, include_dashboard: bool = True
) -> Iterator[None]:
    """Use the running Ray, join ``address``, or start a loopback-only local Ray for the block.

    ``include_dashboard`` starts the dashboard (on 127.0.0.1) with a local Ray. Ray Train needs
    it: its placement-group cleaner asks the dashboard's State API whether a run's controller is
    gone; without it the cleaner logs a warning every few seconds for the whole run, and a
    sweep whose scheduler stops trials never gets their CPUs back. Blocks that only run Ray
    tasks may leave it out.
    """
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    with contextlib.ExitStack() as scope:
        if address:
            check_reachable(address)
            log.info("joining Ray cluster at %s", address)
            if is_loopback(address):
                # Outside single-node mode Ray rewrites 127.0.0.1 to the machine's external
                # address, where a loopback-only head does not listen, and retries for minutes.
                scope.enter_context(single_node_mode())
            ray.init(address=address, log_to_driver=True)
            signals.reinstall()
        else:
            dashboard_port = free_loopback_port()
            scope.enter_context(single_node_mode())
            if include_dashboard:
                scope.enter_context(
                    environment_variable(API_SERVER_ENV, f"http://127.0.0.1:{dashboard_port}")
                )
            private_token_file()
            # address="local": never attach to a stale cluster recorded in /tmp/ray by an old `ray start`.
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=include_dashboard,
                dashboard_host="127.0.0.1",
                dashboard_port=dashboard_port,
                _node_ip_address="127.0.0.1",
                log_to_driver=True,
                configure_logging=False,
            )
            signals.reinstall()
        hide_ray_internal_notices()
        try:
            yield
        finally:
            ray.shutdown()
