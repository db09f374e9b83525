"""The one input rule: what every reader checks before it reads a file the user named.

Why a module of its own: a FIFO where a shard, a pickle or a PNG is expected blocked ``open``
forever, and a 1 MB video declaring 8000x6000 frames took 9 GB to fail. Every reader therefore
asks here first: the path is a regular file (no FIFO, device, socket or folder), it is opened
without blocking (``O_NONBLOCK``, then ``fstat`` on what was opened), its size is bounded, JSON
nesting is bounded, and a picture's or video's frame size is checked against a pixel budget
before anything is decoded. Errors are one ``DataError`` line naming the file. This module must
not know any file format beyond reading an image header.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

from landmarkgait.data.errors import DataError

KiB, MiB, GiB = 2**10, 2**20, 2**30
# Size bounds of files read whole into memory (each far above any real one).
MAX_JSON_BYTES = 64 * MiB  # partition files, dataset metadata
MAX_MANIFEST_BYTES = 64 * MiB
MAX_PICKLE_BYTES = 1 * GiB  # one OpenGait sequence
MAX_IMAGE_BYTES = 256 * MiB  # one frame
MAX_CHECKPOINT_BYTES = 8 * GiB  # an OpenGait checkpoint (tens of MB)
MAX_JSON_DEPTH = 64
# Frame size budget of decoded pictures and video frames, in pixels: 4096x4096 (a 4K frame fits).
# LANDMARKGAIT_MAX_FRAME_PIXELS lowers or raises it (tests lower it to try the check cheaply).
DEFAULT_MAX_FRAME_PIXELS = 4096 * 4096
MAX_FRAME_PIXELS_VARIABLE = "LANDMARKGAIT_MAX_FRAME_PIXELS"


def file_kind(mode: int) -> str:
    """What a ``stat`` mode is, in words for error messages."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _checked_stat(path: Path, status: os.stat_result, what: str, max_bytes: int | None) -> int:
    if not stat.S_ISREG(status.st_mode):
        raise DataError(f"{path}: cannot read {what}: it is {file_kind(status.st_mode)}, not a regular file")
    if max_bytes is not None and status.st_size > max_bytes:
        raise DataError(
            f"{path}: cannot read {what}: {status.st_size} bytes, more than the {max_bytes} read at most"
        )
    return status.st_size


def check_regular_file(path: Path, what: str, max_bytes: int | None = None) -> int:
    """The size of ``path`` if it is a regular file of at most ``max_bytes``; else ``DataError``.

    Uses ``stat`` only (nothing is opened, so a FIFO cannot block): for readers that hand the
    path to a library (pyarrow, OpenCV, torch) after this check.
    """
    path = Path(path)
    try:
        status = path.stat()
    except OSError as error:
        raise DataError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    return _checked_stat(path, status, what, max_bytes)


def open_regular(path: Path, what: str, max_bytes: int | None = None) -> BinaryIO:
    """``path`` opened for binary reading, if what was opened is a regular file within bounds.

    Opened with ``O_NONBLOCK`` so that a FIFO or device answers at once, then checked with
    ``fstat`` on the open descriptor (a path swapped after a ``stat`` cannot slip through).
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise DataError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    try:
        _checked_stat(path, os.fstat(descriptor), what, max_bytes)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular_bytes(path: Path, what: str, max_bytes: int) -> bytes:
    """The whole content of the regular file ``path``, at most ``max_bytes`` (see ``open_regular``)."""
    with open_regular(path, what, max_bytes) as handle:
        try:
            content = handle.read(max_bytes + 1)
        except OSError as error:
            raise DataError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    if len(content) > max_bytes:  # the file grew while it was read
        raise DataError(f"{path}: cannot read {what}: more than the {max_bytes} bytes read at most")
    return content


def read_regular_text(path: Path, what: str, max_bytes: int) -> str:
    """``read_regular_bytes`` decoded as UTF-8; an error names the first bad byte."""
    content = read_regular_bytes(path, what, max_bytes)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: cannot read {what}: not UTF-8 text (byte {error.start}: {error.reason})"
        ) from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def check_json_depth(text: str, where: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise unless the JSON ``text`` nests arrays and objects at most ``max_depth`` deep.

    Checked before ``json.loads``, whose recursion would otherwise end in a RecursionError.
    """
    depth = 0
    for character in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if character in "[{" else -1
        if depth > max_depth:
            raise DataError(f"{where}: JSON nested deeper than {max_depth} levels")


def max_frame_pixels() -> int:
    """The pixel budget of one decoded frame (``LANDMARKGAIT_MAX_FRAME_PIXELS``, else 4096x4096)."""
    text = os.environ.get(MAX_FRAME_PIXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_FRAME_PIXELS
    if not text.isdigit() or not 0 < int(text) <= 2**40:
        raise DataError(
            f"{MAX_FRAME_PIXELS_VARIABLE}={text[:40]!r}: expected a positive whole number of pixels"
        )
    return int(text)


def check_frame_size(width: int, height: int, where: Path, what: str) -> None:
    """Raise before decoding when a ``width`` x ``height`` frame exceeds the pixel budget."""
    budget = max_frame_pixels()
    if width <= 0 or height <= 0:
        raise DataError(f"{where}: {what} declares frames of {width}x{height} pixels")
    if width * height > budget:
        raise DataError(
            f"{where}: {what} frames of {width}x{height} = {width * height} pixels exceed the budget of "
            f"{budget} ({MAX_FRAME_PIXELS_VARIABLE})"
        )


def image_frame_size(content: bytes, path: Path) -> tuple[int, int]:
    """``(width, height)`` an encoded image declares in its header, read without decoding pixels."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: the budget here decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                return image.size
    except Image.DecompressionBombError:
        raise DataError(
            f"{path}: image header declares a frame far above the budget of {max_frame_pixels()} pixels"
        ) from None
    except Exception:  # a hostile header can raise nearly anything in a decoder
        raise DataError(f"{path}: cannot decode image") from None
