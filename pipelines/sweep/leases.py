"""Stage leases: concurrent sweep trials never train the same stage twice.

Two trials that differ only in a recognition parameter need the same stage-1 and stage-2 runs.
Before training, a trial leases the stage keys it is about to train from one named actor owned
by the sweep driver; a trial that finds a key leased waits, then plans again and reuses the
run the other trial finished. Leases are all-or-nothing and held only by running trials (the
driver releases the leases of every trial that ends, however it ends), so there is no cycle
to deadlock on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ray

log = logging.getLogger(__name__)

NAMESPACE = "landmarkgait"
POLL_SECONDS = 5.0
T = TypeVar("T")


@ray.remote(num_cpus=0)
class StageLeases:
    def __init__(self) -> None:
        self.holders: dict[str, str] = {}  # stage key -> trial id

    def try_acquire(self, trial_id: str, stage_keys: Sequence[str]) -> tuple[str, str] | None:
        """Lease every key to ``trial_id``, or none: returns the (key, holder) that blocks."""
        for key in stage_keys:
            holder = self.holders.get(key)
            if holder is not None and holder != trial_id:
                return key, holder
        for key in stage_keys:
            self.holders[key] = trial_id
        return None

    def release(self, trial_id: str) -> int:
        keys = [key for key, holder in self.holders.items() if holder == trial_id]
        for key in keys:
            del self.holders[key]
        return len(keys)


def leases_name(sweep_run_id: str) -> str:
    return f"landmarkgait-stage-leases-{sweep_run_id}"


def create_leases(sweep_run_id: str) -> Any:
    """The sweep driver's lease actor (it dies with the driver; a resumed sweep makes a new one)."""
    return StageLeases.options(
        name=leases_name(sweep_run_id), namespace=NAMESPACE, get_if_exists=True
    ).remote()


def lease_plan(
    sweep_run_id: str,
    trial_id: str,
    make_plan: Callable[[], T],
    keys_to_train: Callable[[T], list[str]],
    poll_seconds: float = POLL_SECONDS,
) -> T:
    """Plan, and return the plan once this trial holds every stage key it trains.

    After a wait the plan is made again: the stage another trial was training is now reusable.
    """
    leases = ray.get_actor(leases_name(sweep_run_id), namespace=NAMESPACE)
    while True:
        plan = make_plan()
        blocker = ray.get(leases.try_acquire.remote(trial_id, keys_to_train(plan)))
        if blocker is None:
            return plan
        key, holder = blocker
        log.info("trial %s waits for trial %s, which trains stage key %s", trial_id, holder, key[:12])
        time.sleep(poll_seconds)


def release_stage_keys(sweep_run_id: str, trial_id: str) -> None:
    try:
        leases = ray.get_actor(leases_name(sweep_run_id), namespace=NAMESPACE)
    except ValueError:  # the driver has gone; its leases went with it
        return
    released = ray.get(leases.release.remote(trial_id))
    if released:
        log.debug("released %d stage lease(s) of trial %s", released, trial_id)
