"""User-facing error types of the pipelines package.

The CLI turns these into a one-line message and exit code 2 instead of a traceback.
Library code in ``data`` and ``models`` raises its own ``DataError`` / ``ModelConfigError``;
the CLI treats all of them alike (see ``USER_ERRORS``).
"""

from __future__ import annotations

from landmarkgait.data.errors import DataError
from landmarkgait.models.errors import ModelConfigError


class PipelineError(Exception):
    """A pipeline cannot run as configured (bad config key, missing upstream run, ...)."""


class ConfigError(PipelineError):
    """A configuration file or ``--set`` override is invalid; the message names the key."""


class TrackingUnavailable(PipelineError):
    """The MLflow tracking server stayed unreachable through every retry of a request."""


USER_ERRORS: tuple[type[Exception], ...] = (PipelineError, DataError, ModelConfigError)
