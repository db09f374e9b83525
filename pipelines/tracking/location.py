"""Where runs live: the tracking URI a config resolves to, checked usable before any training.

Resolves and checks locations only; it opens no experiment and reads no run (the tracker does).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from landmarkgait.pipelines.config import TrackingSection, landmarkgait_home
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.redaction import redact_uri
from landmarkgait.pipelines.tracking.credentials import without_credentials

# URI schemes of MLflow's tracking stores ("" = a plain directory path; "postgresql+psycopg2" etc. too).
TRACKING_SCHEMES = ("", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def default_tracking_uri() -> str:
    return f"sqlite:///{landmarkgait_home() / 'mlflow.db'}"


def default_artifact_root() -> str:
    return (landmarkgait_home() / "mlartifacts").as_uri()


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def resolve_tracking_uri(section: TrackingSection, *, reading: str | None = None) -> str:
    """The config's URI, else ``$MLFLOW_TRACKING_URI``, else a SQLite file in the landmarkgait home.

    A SQLite file gets its folder; a server must answer now, so a wrong URI fails before training.
    ``reading`` is what a read-only command looks for (``experiment 'x'``, ``run 'abc'``): then
    nothing is created, and a local store (SQLite file or directory) that does not exist is an
    error in one line, since MLflow would otherwise create an empty store just to find nothing.
    """
    uri = section.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme.split("+", 1)[0] not in TRACKING_SCHEMES:
        raise PipelineError(
            f"tracking URI {redact_uri(uri)}: scheme {scheme!r} is not one MLflow stores runs in "
            f"(expected {', '.join(f'{s}://' for s in TRACKING_SCHEMES if s)} or a directory path)"
        )
    if reading is not None:
        check_local_store_exists(uri, reading)
    elif uri.startswith("sqlite:///"):
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


def local_store_path(uri: str) -> tuple[Path, bool] | None:
    """``(path, is_sqlite)`` of a local tracking store (a SQLite file, or a directory of a file
    store), or None for servers and databases elsewhere."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]), True
    if uri.startswith("file://"):
        return Path(urllib.parse.urlparse(uri).path), False
    if "://" not in uri:
        return Path(uri), False
    return None


def check_local_store_exists(uri: str, reading: str) -> None:
    """Raise ``PipelineError`` naming ``reading`` unless the local store at ``uri`` exists (a
    regular SQLite file, or a folder); servers and remote databases answer for themselves."""
    store = local_store_path(uri)
    if store is None:
        if is_server(uri):
            check_server_reachable(uri)
        return
    path, is_sqlite = store
    found = path.is_file() if is_sqlite else path.is_dir()
    if not found:
        kind = "SQLite file" if is_sqlite else "store folder"
        raise PipelineError(
            f"{reading} not found: tracking store {redact_uri(uri)} does not exist (no {kind} {path}); "
            "nothing was created (check --tracking-uri / MLFLOW_TRACKING_URI)"
        )


def new_experiment_artifact_root(uri: str) -> str | None:
    """Artifact location of an experiment created at ``uri``: a server's own store (None), else
    ``mlartifacts`` in the landmarkgait home."""
    return None if is_server(uri) else default_artifact_root()


def check_server_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail before any training starts when an MLflow server does not answer."""
    health = without_credentials(uri).rstrip("/") + "/health"  # user:token@ is not a host name
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
