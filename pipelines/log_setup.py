"""Log output of the CLI and of Ray workers: formats, levels, and MLflow's progress bars.

Kept free of heavy imports (MLflow, Ray, torch): ``run``, ``train``, ``evaluate``, ``import``
and ``sweep`` configure logging and report a bad config in under a second, before any of those
load.
"""

from __future__ import annotations

import logging
import os
import sys

from landmarkgait.pipelines.errors import USER_ERRORS

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"
OUR_PACKAGES = ("landmarkgait",)

# MLflow's artifact download bars redraw their line with carriage returns. Ray forwards worker
# output by lines and log files keep every redraw, so each bar ends up as one garbled line.
DOWNLOAD_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

# Ray Train logs every ``ray.train.report`` as the repr of all its metrics, one long line per
# report, from a logger named by its source file; our own progress lines already show them.
TRAIN_REPORT_LOGGER_SUFFIX = os.path.join("train", "v2", "_internal", "execution", "context.py")


# Ray Train logs the traceback of an exception raised by the training function from this logger.
RAY_TRAIN_ERROR_LOGGER = "ray.train.v2._internal.util"
# MLflow's HTTP session retries through urllib3, which logs a warning before every retry.
HTTP_RETRY_LOGGER = "urllib3.connectionpool"


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
    else:  # an unreachable server ends in one line (TrackingUnavailable), not a warning per retry
        logging.getLogger(HTTP_RETRY_LOGGER).setLevel(logging.ERROR)
    if not sys.stderr.isatty():
        hide_download_progress_bars()


def configure_worker_logging(verbose_console: bool) -> None:
    """Our packages log at INFO on the worker; Ray's own loggers keep their levels, except
    Ray Train's per-report line, raised to WARNING; no MLflow download bars. Without
    ``--verbose`` (``verbose_console``), MLflow's HTTP retries during a tracking-server outage and
    Ray Train's traceback of an error the driver reports in one line stay off the console."""
    hide_download_progress_bars()
    if verbose_console:
        os.environ[VERBOSE_ENV] = "1"
    else:
        logging.getLogger(HTTP_RETRY_LOGGER).setLevel(logging.ERROR)
        logging.getLogger(RAY_TRAIN_ERROR_LOGGER).addFilter(drop_user_error_tracebacks)
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


def drop_user_error_tracebacks(record: logging.LogRecord) -> bool:
    """A logging filter: False for Ray Train's "Error in training function" traceback of an error
    the driver reports in one line already. That is a landmarkgait user error, or its echo on the
    other workers: once one worker fails, Ray Train kills the synchronization actor that a worker
    waiting in ``ray.train.report`` blocks on, and that worker's ``ActorDiedError`` says only that.
    Ray Train logs from inside its ``except`` block, so the exception is the one being handled."""
    if not record.getMessage().startswith("Error in training function"):
        return True
    error = sys.exc_info()[1]
    return not (isinstance(error, USER_ERRORS) or is_teardown_echo(error))


def is_teardown_echo(error: BaseException | None) -> bool:
    """True for the ``ActorDiedError`` of Ray Train's synchronization actor killed by Ray Train
    itself (``ray.kill``) while it tears a failed worker group down. Looked up in
    ``sys.modules`` so that this module never imports Ray (a worker has it loaded)."""
    actor_died = getattr(sys.modules.get("ray.exceptions"), "ActorDiedError", ())
    message = str(error)
    return isinstance(error, actor_died) and "SynchronizationActor" in message and "ray.kill" in message
