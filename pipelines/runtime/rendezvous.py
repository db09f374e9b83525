"""torch.distributed's rendezvous store on the training worker's own address, not on every interface.

Ray Train's ``TorchConfig`` lets worker 0 start torch's TCPStore inside
``init_process_group("env://")``, and that store's server listens on all interfaces whatever
``MASTER_ADDR`` says (torch 2.13, ``torch/distributed/rendezvous.py::_create_c10d_store``: no
argument or variable sets the bind address). Torch binds a chosen address only when the caller
hands it a bound socket (``TCPStore(master_listen_fd=...)``). So ``LoopbackStoreTorchConfig``
does Ray Train's process-group setup with one change: worker 0 binds a socket to its node's
address (127.0.0.1 on a private local Ray), starts the store on it, and every worker, worker 0
too, joins that store as a client, torch's agent-store mode (``TORCHELASTIC_USE_AGENT_STORE``),
the one torchrun uses when its agent hosts the store.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

import ray
import torch.distributed as dist
from ray.train.torch import TorchConfig

from landmarkgait.pipelines.runtime.ray_internals import (
    TorchBackend,
    set_torch_distributed_env_vars,
    setup_torch_process_group,
)

# Worker 0's store server and the socket it listens on: alive as long as the worker process.
_store_server: tuple[socket.socket, dist.TCPStore] | None = None


def start_store(world_size: int, timeout_s: int) -> tuple[str, int]:
    """On worker 0: a TCPStore server bound to this node's address; returns (address, port)."""
    global _store_server
    address = ray.util.get_node_ip_address()
    listener = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((address, 0))
    port = listener.getsockname()[1]
    store = dist.TCPStore(
        address,
        port,
        world_size,
        is_master=True,
        timeout=timedelta(seconds=timeout_s),
        wait_for_workers=False,
        master_listen_fd=listener.fileno(),
    )
    _store_server = (listener, store)
    return address, port


def join_store(address: str, port: int) -> None:
    """On every worker: ``env://`` rendezvous as a client of the store ``start_store`` opened."""
    os.environ.update(
        {"MASTER_ADDR": address, "MASTER_PORT": str(port), "TORCHELASTIC_USE_AGENT_STORE": str(True)}
    )


class _LoopbackStoreBackend(TorchBackend):
    def on_start(self, worker_group, backend_config: LoopbackStoreTorchConfig) -> None:
        world_size = len(worker_group)
        address, port = worker_group.execute_single(0, start_store, world_size, backend_config.timeout_s)
        worker_group.execute(join_store, address, port)
        worker_group.execute(set_torch_distributed_env_vars)
        ray.get(
            [
                worker_group.execute_single_async(
                    rank,
                    setup_torch_process_group,
                    backend=backend_config.backend,
                    world_rank=rank,
                    world_size=world_size,
                    init_method="env://",
                    timeout_s=backend_config.timeout_s,
                )
                for rank in range(world_size)
            ]
        )


@dataclass
class LoopbackStoreTorchConfig(TorchConfig):
    """``TorchConfig`` whose rendezvous store listens on worker 0's node address only."""

    @property
    def backend_cls(self) -> type[TorchBackend]:
        return _LoopbackStoreBackend
