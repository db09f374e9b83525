"""MLflow calls that survive a tracking-server outage for a bounded time, then fail in one line.

MLflow retries HTTP requests itself; this module sets how often (``tracking.http_retries``) and turns
the exception it raises after the last retry, with its whole urllib3 chain, into a
``TrackingUnavailable`` naming the server, so a run that outlives its server ends in one line.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.errors import TrackingUnavailable
from landmarkgait.pipelines.redaction import redact_uri


def set_http_retries(retries: int) -> None:
    """How often this process's MLflow requests to a server are retried (``tracking.http_retries``).

    MLflow reads the count from its environment variable at every request; no client option sets it.
    """
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(retries)


def _is_connection_failure(error: BaseException) -> bool:
    """Whether an MLflow error comes from a server that could not be reached at all (refused,
    unresolvable, timed out) after MLflow's retries, rather than from an answer it gave."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(
            seen, (ConnectionError, requests.exceptions.ConnectionError, requests.exceptions.Timeout)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return "Max retries exceeded" in str(error)


class ReachableClient:
    """An ``MlflowClient`` whose calls fail with one line naming the server when it is unreachable,
    instead of MLflow's exception carrying the whole urllib3 retry chain."""

    def __init__(self, client: MlflowClient, tracking_uri: str) -> None:
        self._client = client
        self._tracking_uri = tracking_uri

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except MlflowException as error:
                if not _is_connection_failure(error):
                    raise
                retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
                raise TrackingUnavailable(
                    f"MLflow tracking server {redact_uri(self._tracking_uri)} unreachable "
                    f"({name}, after {retries} retries; tracking.http_retries sets how long an "
                    "outage is ridden out)"
                ) from None

        return call
