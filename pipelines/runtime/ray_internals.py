"""Every private Ray API landmarkgait uses, in one place: check this module when Ray changes.

Checked with Ray 2.60.0 (installed; the tests run on it) and, by reading its source, Ray 2.52.0:
every name below exists there with the same meaning and signature. Ray 2.50 and 2.51 lack
``ray._private.authentication`` (token authentication came with 2.52), hence
``ray[...]>=2.52,<2.61`` in pyproject.toml; raise the upper bound after checking a newer Ray here.
``tests/test_packaging.py`` checks that no other module imports a private Ray API.

- ``ray._private.ray_constants``: the single-node-mode switch (the variable Ray's processes read
  and the flag this process read at import) and the State API's address variable.
- ``ray._private.authentication``: the default token file and Ray's token generator.
- ``ray._private.ray_logging``: the dispatcher whose ``ray_print_logs`` handler
  (``ray._private.worker``) prints the lines Ray forwards from its processes.
- ``ray.train.torch.config``: Ray Train's torch process-group setup (``_TorchBackend`` and its
  helpers), redone by ``rendezvous`` with its own store. Imported on first use, since they import
  torch.
- ``_base_exc``: the user's exception inside the wrapper Ray Train keeps a worker failure in.

Nothing here starts Ray or decides anything; the callers say what is done with these.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray._private import ray_constants

if TYPE_CHECKING:
    from ray.train.torch.config import _set_torch_distributed_env_vars as set_torch_distributed_env_vars
    from ray.train.torch.config import _setup_torch_process_group as setup_torch_process_group
    from ray.train.torch.config import _TorchBackend as TorchBackend

# Read by every Ray process at import (the children inherit it), and by this process through
# ``ray_constants``, imported before a session starts.
SINGLE_NODE_ENV = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
# Read by Ray's State API clients (``ray.util.state``) before any cluster lookup.
API_SERVER_ENV = ray_constants.RAY_API_SERVER_ADDRESS_ENVIRONMENT_VARIABLE

# Ray's handler that prints forwarded lines (``ray._private.worker``).
RAY_PRINT_HANDLER = "ray_print_logs"

# Ray Train's torch helpers, by the names used here: imported on first use (PEP 562).
_TORCH_CONFIG_NAMES = {
    "TorchBackend": "_TorchBackend",
    "set_torch_distributed_env_vars": "_set_torch_distributed_env_vars",
    "setup_torch_process_group": "_setup_torch_process_group",
}

__all__ = [
    "API_SERVER_ENV",
    "RAY_PRINT_HANDLER",
    "SINGLE_NODE_ENV",
    "TorchBackend",
    "cluster_flag_off",
    "default_token_path",
    "new_authentication_token",
    "set_torch_distributed_env_vars",
    "setup_torch_process_group",
    "wrap_forwarded_line_printer",
    "wrapped_worker_exception",
]


def __getattr__(name: str) -> Any:
    if name in _TORCH_CONFIG_NAMES:
        return getattr(importlib.import_module("ray.train.torch.config"), _TORCH_CONFIG_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def cluster_flag_off() -> Iterator[None]:
    """This process's copy of Ray's cluster-mode flag off for the block (read at Ray's import,
    so setting ``SINGLE_NODE_ENV`` alone does not reach it), restored after it."""
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag


def default_token_path() -> Path:
    """Where a local Ray reads and writes its token when no variable names one (``~/.ray/auth_token``)."""
    from ray._private.authentication.authentication_token_setup import _get_default_token_path

    return _get_default_token_path()


def new_authentication_token() -> str:
    """A token in Ray's own format, from Ray's generator."""
    from ray._private.authentication.authentication_token_generator import generate_new_authentication_token

    return generate_new_authentication_token()


def wrap_forwarded_line_printer(wrap: Callable[[Callable[..., None]], Callable[..., None]]) -> None:
    """Replace the handler that prints the lines Ray forwards to this driver with ``wrap(handler)``;
    nothing when there is none (``log_to_driver`` off)."""
    from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher

    printers = [handler for name, handler in dispatcher.handlers if name == RAY_PRINT_HANDLER]
    if not printers:  # log_to_driver off: nothing is printed anyway
        return
    dispatcher.remove_handler(RAY_PRINT_HANDLER)
    dispatcher.add_handler(RAY_PRINT_HANDLER, wrap(printers[0]))


def wrapped_worker_exception(failure: BaseException) -> BaseException | None:
    """The exception a worker raised, inside the wrapper Ray Train holds it in with its traceback
    text (``WorkerGroupError.worker_failures``); None for an unwrapped failure."""
    return getattr(failure, "_base_exc", None)
