"""Rank, world size and the few collectives the stage runner needs, inside or outside Ray Train.

Outside a Ray Train worker (``landmarkgait evaluate`` in-process, unit tests) everything
degrades to a single process. Collectives use torch.distributed (gloo on CPU, NCCL on GPU),
which Ray Train's TorchTrainer has already initialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class WorkerContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> WorkerContext:
        try:
            import ray.train
            import ray.train.torch

            context = ray.train.get_context()
            return cls(context.get_world_rank(), context.get_world_size(), ray.train.torch.get_device())
        except (RuntimeError, ValueError, AttributeError):
            return cls(0, 1, torch.device("cpu"))


def distributed_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (e.g. an MLflow run id created by rank 0)."""
    if not distributed_active():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` as a list on rank 0 (None elsewhere)."""
    if not distributed_active():
        return [value]
    gathered: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def barrier() -> None:
    if distributed_active():
        dist.barrier()


def wrap_for_training(model: nn.Module, sync_bn: bool) -> nn.Module:
    """SyncBatchNorm when world size > 1 on GPUs (the official ``sync_BN``), then DDP via Ray Train.

    torch's SyncBatchNorm runs on CUDA only; CPU workers keep per-worker BatchNorm statistics.
    """
    import ray.train.torch

    on_gpu = next(model.parameters()).device.type == "cuda"
    if sync_bn and distributed_active() and on_gpu:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return ray.train.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": False})
