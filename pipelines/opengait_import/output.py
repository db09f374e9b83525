"""Writing an imported config under the output rule (``data.destination``), for a single file.

Why a module of its own: the output rule says ``--overwrite`` replaces only outputs landmarkgait
marked as its own; for folders the mark is a marker file, for an imported config it is the first
line (``assemble.MARKER_LINE``), so a hand-written pipeline config or an OpenGait config is never
replaced. The file appears whole or not at all (``data.atomic``). This module must not build
configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from landmarkgait.data.atomic import write_atomic
from landmarkgait.data.destination import check_file_destination
from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import read_regular_bytes
from landmarkgait.pipelines.config_schema import MAX_CONFIG_BYTES
from landmarkgait.pipelines.opengait_import.assemble import MARKER_LINE

_MARKER = f"# {MARKER_LINE}".encode()


def check_config_destination(out: Path, *, overwrite: bool, inputs: Sequence[Path]) -> None:
    """Fail, before any work, unless ``out`` may be written: not an input, not there (or, with
    ``overwrite``, a config this command wrote), in a writable folder."""
    out = Path(out)
    for source in inputs:
        if out.resolve() == Path(source).resolve():
            raise DataError(f"--out {out}: is one of the OpenGait configs read; choose another path")
    check_file_destination(out, overwrite=overwrite, what="--out")
    if out.exists() and not is_imported_config(out):
        raise DataError(
            f"--out {out}: not a config written by landmarkgait config import (its first line is not "
            f"'# {MARKER_LINE}'); --overwrite replaces only those: remove it yourself or choose another path"
        )


def is_imported_config(path: Path) -> bool:
    """Whether ``path`` starts with the marker line of an imported config."""
    try:
        return read_regular_bytes(Path(path), "--out", MAX_CONFIG_BYTES).startswith(_MARKER)
    except DataError:
        return False


def write_config(out: Path, text: str, *, overwrite: bool, inputs: Sequence[Path]) -> Path:
    """Write ``text`` to ``out`` atomically, after checking the destination again."""
    check_config_destination(out, overwrite=overwrite, inputs=inputs)
    return write_atomic(Path(out), text)
