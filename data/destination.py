"""The one output rule: what every writer checks about its destination before any work.

Why a module of its own: writers replaced what they did not own (``export`` turned ``/dev/full``
into a zip file, ``export-pkl --overwrite`` emptied a folder of someone else's files, ``export-pkl
DS .`` failed only after the work). Every command that writes (datasets, pickle trees, embeddings,
reports, exported graphs, previews, CSV and PNG files) asks here first:

- a path that exists is never replaced without ``--overwrite``;
- ``--overwrite`` replaces a file only if it is a regular file, and a folder only if a marker shows
  it to be an earlier output of landmarkgait (``MARKER_FILE``, or a dataset's own metadata);
- devices, FIFOs and sockets are never written to or replaced;
- ``.``, the working folder's ancestors and the source (or anything holding it or inside it) are
  never a destination;
- the nearest existing folder above the path must be writable.

Errors are one ``DataError`` line naming the path. Publishing (``staging``) marks every folder it
publishes. This module must not write anything but the marker.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from landmarkgait.data.atomic import check_writable
from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import file_kind, read_regular_bytes

# Written into every folder landmarkgait publishes; ``--overwrite`` replaces only folders holding it.
MARKER_FILE = ".landmarkgait-output"
MARKER_TEXT = "written by landmarkgait; --overwrite may replace this folder\n"
_MAX_MARKER_BYTES = 4096


def check_destination(
    out: Path, *, overwrite: bool, source: Path | None = None, what: str = "destination"
) -> None:
    """Fail early, before any work, unless the folder ``out`` may be created or replaced.

    ``source`` is what the writer reads: ``out`` may not be it, hold it or lie inside it. ``what``
    names the option in the message that the folder cannot be created (e.g. ``--out``).
    """
    out = Path(out)
    _refuse_own_folders(out, source)
    status = _lstat(out)
    if status is not None:
        _refuse_special(out, status)
        if not overwrite:
            raise DataError(f"{out}: destination already exists (pass --overwrite to replace it)")
        if stat.S_ISLNK(status.st_mode) or not stat.S_ISDIR(status.st_mode):
            raise DataError(
                f"{out}: is {_kind(status)}, not a folder written by landmarkgait; --overwrite replaces "
                "only those: remove it yourself or choose another destination"
            )
        if not is_landmarkgait_output(out):
            raise DataError(
                f"{out}: not a folder written by landmarkgait (no {MARKER_FILE} marker or dataset "
                "metadata); --overwrite replaces only those: remove it yourself or choose another destination"
            )
    # The staging folder is created beside ``out``: probe there (or the nearest existing folder above).
    check_writable(out if status is None else out.absolute().parent, what)


def check_file_destination(out: Path, *, overwrite: bool, what: str) -> None:
    """Fail early unless the single file ``out`` (the option ``what``, e.g. ``--csv``) may be written.

    An existing regular file is replaced only with ``overwrite``; anything else is refused.
    """
    out = Path(out)
    status = _lstat(out)
    if status is not None:
        target = _stat(out) or status  # a symbolic link is judged by what it points to
        _refuse_special(out, target, what)
        if stat.S_ISDIR(target.st_mode):
            raise DataError(f"{what} {out}: is a folder, expected a file to write")
        if not overwrite:
            raise DataError(f"{what} {out}: already exists (pass --overwrite to replace it)")
    check_writable(out, what)


def is_landmarkgait_output(folder: Path) -> bool:
    """Whether ``folder`` carries the marker of an earlier output, or is a dataset written before
    markers existed (its ``_common_metadata`` holds landmarkgait metadata)."""
    from landmarkgait.data.format import read_metadata

    marker = Path(folder) / MARKER_FILE
    try:
        if _lstat(marker) is not None:
            return b"landmarkgait" in read_regular_bytes(marker, "marker file", _MAX_MARKER_BYTES)
        read_metadata(Path(folder))
    except DataError:
        return False
    return True


def mark_output(folder: Path) -> None:
    """Mark ``folder`` (a staging folder about to be published) as an output of landmarkgait."""
    (Path(folder) / MARKER_FILE).write_text(MARKER_TEXT, encoding="utf-8")


def _refuse_own_folders(out: Path, source: Path | None) -> None:
    """``.``, the working folder and its ancestors, and the source's family are never replaced."""
    target = out.resolve()
    working = Path.cwd().resolve()
    if target == working or target in working.parents:
        raise DataError(
            f"{out}: is the working folder or one of its ancestors; choose a new folder as destination"
        )
    if source is not None:
        origin = Path(source).resolve()
        if target == origin or origin in target.parents or target in origin.parents:
            raise DataError(
                f"{out}: destination is, holds or lies inside the source {source}; choose another"
            )


def _refuse_special(out: Path, status: os.stat_result, what: str = "") -> None:
    mode = status.st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
        prefix = f"{what} " if what else ""
        raise DataError(f"{prefix}{out}: is {_kind(status)}; landmarkgait never writes to or replaces one")


def _kind(status: os.stat_result) -> str:
    return "a symbolic link" if stat.S_ISLNK(status.st_mode) else file_kind(status.st_mode)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # a path below a file: check_writable says so
        return None
    except OSError as error:
        raise DataError(f"{path}: cannot look at it ({error.strerror or error})") from None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:  # a dangling link: replacing the link itself is a plain file write
        return None
