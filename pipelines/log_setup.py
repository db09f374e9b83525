"""Log output of the CLI and of Ray workers: formats, levels, and MLflow's progress bars.

Kept free of heavy imports (MLflow, Ray, torch): ``run``, ``train``, ``evaluate``, ``import``
and ``sweep`` configure logging and report a bad config in under a second, before any of those
load.
"""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"
OUR_PACKAGES = ("landmarkgait",)

# MLflow's artifact download bars redraw their line with carriage returns. Ray forwards worker
# output by lines and log files keep every redraw, so each bar ends up as one garbled line.
DOWNLOAD_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

# Ray Train logs every ``ray.train.report`` as the repr of all its metrics, one long line per
# report, from a logger named by its source file; our own progress lines already show them.
TRAIN_REPORT_LOGGER_SUFFIX = os.path.join("train", "v2", "_internal", "execution", "context.py")


# Set by ``--verbose`` and inherited by every process the CLI starts (Ray workers, Tune trials):
# Ray's own progress chatter (resource requests, worker-group start, checkpoint notices, Tune's
# trial tables) is shown only then; warnings and errors always are.
VERBOSE_ENV = "LANDMARKGAIT_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


def ray_train_log_level() -> str:
    """The level of Ray Train's own console lines: ``INFO`` with ``--verbose``, else ``ERROR``.

    Its warnings are transient notices (e.g. "Failed to send resource request ... safe to ignore",
    with a traceback, whenever the CPUs are busy); they stay in Ray Train's log files.
    """
    return "INFO" if verbose() else "ERROR"


def hide_download_progress_bars() -> None:
    """MLflow's artifact download bars off in this process, unless the user chose otherwise."""
    os.environ.setdefault(DOWNLOAD_PROGRESS_BAR_ENV, "false")


def configure_logging(verbose: bool) -> None:
    """CLI log lines on stderr; off a terminal (log files, ``ray job logs``) no redrawn progress bars."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, datefmt=DATE_FORMAT)
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    if not sys.stderr.isatty():
        hide_download_progress_bars()


def configure_worker_logging() -> None:
    """Our packages log at INFO on the worker; Ray's own loggers keep their levels, except
    Ray Train's per-report line, raised to WARNING; no MLflow download bars."""
    hide_download_progress_bars()
    for name in list(logging.root.manager.loggerDict):
        if name.endswith(TRAIN_REPORT_LOGGER_SUFFIX):
            logging.getLogger(name).setLevel(logging.WARNING)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    for name in OUR_PACKAGES:
        package_log = logging.getLogger(name)
        package_log.setLevel(logging.INFO)
        if not package_log.handlers:
            package_log.addHandler(handler)
        package_log.propagate = False
