"""Progress lines for long work on the workers: a text bar, the rate and the time left.

Worker output reaches users through Ray's line forwarding and log files, where redrawn progress
bars (tqdm) pile up as garbage; one timed line per interval, each with its own bar, reads well
in both and in ``ray job logs``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

BAR_WIDTH = 20
# The training metrics a progress line shows, in this order, when a stage logs them.
HEADLINE_METRICS = (
    ("loss/total", "loss"),
    ("loss/accuracy", "accuracy"),
    ("quality/recon_iou", "reconstruction IoU"),
    ("quality/landmark_spread", "landmark spread"),
)


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a progress line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[########------------]``: ``done`` of ``total`` in ``width`` characters."""
    filled = min(width, round(width * done / max(total, 1)))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class ProgressLog:
    """A log line every ``interval_s`` seconds of long work: bar, done / total, rate, time left."""

    def __init__(self, what: str, total: int, interval_s: float, unit: str = "") -> None:
        self.what = what
        self.total = total
        self.interval_s = interval_s
        self.unit = unit
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last < self.interval_s or self.done >= self.total:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        log.info(
            "%s %s %d/%d%s · %.2f/s · %s left",
            self.what,
            bar(self.done, self.total),
            self.done,
            self.total,
            self.unit,
            rate,
            duration((self.total - self.done) / rate),
        )


class StageProgress:
    """A training stage's header line and its progress lines (iterations, ETA, headline metrics).

    The rate counts only this run's iterations, so a resumed stage's ETA is not skewed by the
    iterations it restored.
    """

    def __init__(self, stage: str, position: int, stages: int, total_iter: int, start_iter: int) -> None:
        self.label = f"{stage} ({position}/{stages})"
        self.total_iter = total_iter
        self.start_iter = start_iter
        self.started = time.monotonic()

    def header(self, origin: str) -> None:
        log.info("%s: %d iterations, %s", self.label, self.total_iter, origin)

    def update(self, iteration: int, metrics: Mapping[str, float]) -> None:
        elapsed = time.monotonic() - self.started
        seconds_per_iter = elapsed / max(iteration - self.start_iter, 1)
        shown = " · ".join(f"{name} {metrics[key]:.4g}" for key, name in HEADLINE_METRICS if key in metrics)
        log.info(
            "%s %s %d/%d · %.2f s/it · %s left%s",
            self.label,
            bar(iteration, self.total_iter),
            iteration,
            self.total_iter,
            seconds_per_iter,
            duration(seconds_per_iter * (self.total_iter - iteration)),
            f" · {shown}" if shown else "",
        )
