"""``landmarkgait``: the import package of this repository.

The repository's top-level folders are its subpackages (``pyproject.toml`` maps them):
``landmarkgait.models`` (networks, losses, checkpoints), ``landmarkgait.data`` (the Parquet
format, converters, loaders, evaluation protocols, the synthetic benchmark) and
``landmarkgait.pipelines`` (the CLI, the pipeline and sweep drivers, the Ray Train worker code,
MLflow tracking). This file must stay free of heavy imports: the CLI answers ``--help`` and config
errors without loading torch, Ray or MLflow.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("landmarkgait")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0"
