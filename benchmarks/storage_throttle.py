"""Throttle this process's disk reads to a storage model, e.g. a cloud block volume.

A benchmark machine's local disk (here a virtio disk served from the host's cache at about
3 GB/s) hides what a format costs on the storage training usually reads from: network and
cloud volumes limited in bandwidth and I/O operations per second. The kernel's block I/O
controller can impose such limits on one process: cgroup v1 ``blkio.throttle.*`` or cgroup v2
``io.max``. Page-cache hits are not throttled, exactly as on real storage. Needs root.

    with throttled_reads(Path("/data"), StorageLimit(125, 3000)):
        ...  # reads of evicted files from /data's disk go at most 125 MiB/s and 3000 IOPS
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class StorageLimit:
    """Read bandwidth (MiB/s) and read operations per second of a storage model."""

    mib_per_second: int
    iops: int

    @classmethod
    def parse(cls, text: str) -> StorageLimit:
        """``"125,3000"`` -> 125 MiB/s and 3000 IOPS."""
        try:
            bandwidth, iops = (int(part) for part in text.split(","))
        except ValueError:
            raise ValueError(
                f"storage limit {text!r}: expected MIB_PER_SECOND,IOPS such as 125,3000"
            ) from None
        if bandwidth < 1 or iops < 1:
            raise ValueError(f"storage limit {text!r}: both numbers must be >= 1")
        return cls(bandwidth, iops)

    @property
    def bytes_per_second(self) -> int:
        return self.mib_per_second * 2**20

    def __str__(self) -> str:
        return f"{self.mib_per_second} MiB/s, {self.iops} IOPS"


def block_device(path: Path) -> str:
    """``MAJOR:MINOR`` of the whole disk holding ``path`` (throttling rules name disks, not partitions)."""
    device = os.stat(path).st_dev
    number = f"{os.major(device)}:{os.minor(device)}"
    sysfs = Path("/sys/dev/block") / number
    if (sysfs / "partition").exists():
        number = (sysfs.resolve().parent / "dev").read_text().strip()
    return number


def _cgroup_v1(device: str, limit: StorageLimit) -> tuple[Path, Path]:
    group = CGROUP_ROOT / "blkio" / f"landmarkgait-bench-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    (group / "blkio.throttle.read_bps_device").write_text(f"{device} {limit.bytes_per_second}")
    (group / "blkio.throttle.read_iops_device").write_text(f"{device} {limit.iops}")
    return group, CGROUP_ROOT / "blkio"


def _cgroup_v2(device: str, limit: StorageLimit) -> tuple[Path, Path]:
    if "io" not in (CGROUP_ROOT / "cgroup.subtree_control").read_text().split():
        (CGROUP_ROOT / "cgroup.subtree_control").write_text("+io")
    group = CGROUP_ROOT / f"landmarkgait-bench-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    (group / "io.max").write_text(f"{device} rbps={limit.bytes_per_second} riops={limit.iops}")
    return group, CGROUP_ROOT


@contextmanager
def throttled_reads(path: Path, limit: StorageLimit) -> Iterator[None]:
    """Run the body with this process's reads from ``path``'s disk throttled to ``limit``."""
    if os.geteuid() != 0:
        raise PermissionError("throttling reads needs root (it creates a block I/O cgroup)")
    device = block_device(path)
    if (CGROUP_ROOT / "blkio").is_dir():
        group, parent = _cgroup_v1(device, limit)
    elif (CGROUP_ROOT / "cgroup.controllers").is_file():
        group, parent = _cgroup_v2(device, limit)
    else:
        raise OSError(f"no cgroup block I/O controller under {CGROUP_ROOT}")
    try:
        (group / "cgroup.procs").write_text(str(os.getpid()))
        try:
            yield
        finally:
            (parent / "cgroup.procs").write_text(str(os.getpid()))
    finally:
        group.rmdir()
