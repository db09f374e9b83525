"""Reading and writing OpenGait's per-sequence pickle files (one numpy array per file).

This is the only place in the project that unpickles anything. Pickles can run arbitrary code
when loaded, so ``load_array_pickle`` uses an unpickler that resolves only the handful of numpy
globals a plain array needs and refuses everything else before it is called. This module must
not learn other pickle contents (dicts, tensors, custom classes): foreign pickles are rejected.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from landmarkgait.data.atomic import atomic_path
from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import MAX_PICKLE_BYTES, open_regular


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to spell raw bytes."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode is only admitted with latin1 text, got {encoding!r}")
    return codecs.encode(text, "latin1")


def _numpy_array_globals() -> dict[tuple[str, str], Any]:
    """The globals that numpy's own pickling of an ndarray refers to, under both module spellings.

    The functions are taken from numpy's reduce output, so no private module is imported and
    pickles written by numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) both load.
    """
    sample = np.zeros(1, dtype=np.uint8)
    reconstruct = sample.__reduce__()[0]
    frombuffer = sample.__reduce_ex__(5)[0]
    admitted: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }
    for package in ("numpy.core", "numpy._core"):
        admitted[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        admitted[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return admitted


_ADMITTED_GLOBALS = _numpy_array_globals()


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler whose global lookup admits numpy array reconstruction and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ADMITTED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"pickle references {module}.{name}; only plain numpy arrays are admitted"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("pickle uses persistent ids; only plain numpy arrays are admitted")


def load_array_pickle(path: Path) -> np.ndarray:
    """Load one numpy array from ``path`` without executing anything the pickle asks for.

    Raises ``DataError`` naming the file when it is not a regular file of bounded size (a FIFO
    would block), when the pickle is malformed, references any callable
    other than numpy's array reconstruction, or holds something other than a numeric ndarray.
    """
    path = Path(path)
    try:
        with open_regular(path, "pickle", MAX_PICKLE_BYTES) as handle:
            value = _ArrayOnlyUnpickler(handle).load()
    except DataError:
        raise
    except OSError as error:
        raise DataError(f"{path}: cannot read pickle: {error.strerror or error}") from error
    except Exception as error:  # a hostile or broken pickle can raise nearly anything
        raise DataError(f"{path}: refused pickle: {error}") from error
    if type(value) is not np.ndarray:
        raise DataError(f"{path}: refused pickle: holds {type(value).__name__}, expected a numpy array")
    if value.dtype.hasobject:
        raise DataError(f"{path}: refused pickle: array of Python objects, expected a numeric array")
    return value


def save_array_pickle(array: np.ndarray, path: Path) -> None:
    """Write ``array`` as OpenGait does (``pickle.dump`` with the default protocol), atomically.

    The array is pickled as a writable C-ordered copy when needed, so the bytes equal those of
    OpenGait's pretreatment output for the same pixels (read-only arrays pickle differently).
    """
    path = Path(path)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C", copy=True)
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        pickle.dump(array, handle, protocol=pickle.DEFAULT_PROTOCOL)
