"""``landmarkgait``: the import package of this repository.

The repository's top-level folders are its subpackages (``pyproject.toml`` maps them):
``landmarkgait.models`` (networks, losses, checkpoints), ``landmarkgait.data`` (the Parquet
format, converters, loaders, evaluation protocols, the synthetic benchmark) and
``landmarkgait.pipelines`` (the CLI, the pipeline and sweep drivers, the Ray Train worker code,
MLflow tracking). This file must stay free of heavy imports: the CLI answers ``--help`` and config
errors without loading torch, Ray or MLflow.

``landmarkgait.embed`` and ``landmarkgait.identify`` are the Python API of the CLI commands of the
same names (``landmarkgait.pipelines.deploy``); they load on first use.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("landmarkgait")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0"


_API = {
    "embed": "landmarkgait.pipelines.deploy.embedding",
    "identify": "landmarkgait.pipelines.deploy.identify",
}


def __getattr__(name: str):
    """``embed`` and ``identify``, imported when first asked for (they need torch and Ray)."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'landmarkgait' has no attribute {name!r}")
