"""Where runs live: the tracking URI a config resolves to, checked usable before any training.

Resolves and checks locations only; it opens no experiment and reads no run (the tracker does).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from landmarkgait.pipelines.config import TrackingSection, landmarkgait_home
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.redaction import redact_uri

# URI schemes of MLflow's tracking stores ("" = a plain directory path; "postgresql+psycopg2" etc. too).
TRACKING_SCHEMES = ("", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def default_tracking_uri() -> str:
    return f"sqlite:///{landmarkgait_home() / 'mlflow.db'}"


def default_artifact_root() -> str:
    return (landmarkgait_home() / "mlartifacts").as_uri()


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def resolve_tracking_uri(section: TrackingSection) -> str:
    """The config's URI, else ``$MLFLOW_TRACKING_URI``, else a SQLite file in the landmarkgait home.

    A SQLite file gets its folder; a server must answer now, so a wrong URI fails before training.
    """
    uri = section.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme.split("+", 1)[0] not in TRACKING_SCHEMES:
        raise PipelineError(
            f"tracking URI {redact_uri(uri)}: scheme {scheme!r} is not one MLflow stores runs in "
            f"(expected {', '.join(f'{s}://' for s in TRACKING_SCHEMES if s)} or a directory path)"
        )
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise PipelineError(
                f"tracking URI {redact_uri(uri)}: cannot create its folder {folder} ({error.strerror or error})"
            ) from None
    elif is_server(uri):
        check_server_reachable(uri)
    return uri


def new_experiment_artifact_root(uri: str) -> str | None:
    """Artifact location of an experiment created at ``uri``: a server's own store (None), else
    ``mlartifacts`` in the landmarkgait home."""
    return None if is_server(uri) else default_artifact_root()


def check_server_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail before any training starts when an MLflow server does not answer."""
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout_s) as response:
            if response.status != 200:
                raise PipelineError(
                    f"MLflow tracking server {redact_uri(uri)} answered {response.status} on /health"
                )
    except (urllib.error.URLError, OSError) as error:
        raise PipelineError(
            f"MLflow tracking server {redact_uri(uri)} is unreachable ({getattr(error, 'reason', error)}); start it "
            f"(e.g. mlflow server --host 127.0.0.1 --port 5000 --artifacts-destination DIR) or fix tracking.tracking_uri"
        ) from None
