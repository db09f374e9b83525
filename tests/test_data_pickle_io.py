"""The restricted unpickler: numpy arrays load, everything else is refused before it can run."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from landmarkgait.data.errors import DataError
from landmarkgait.data.pickle_io import load_array_pickle, save_array_pickle


class _RunsACommand:
    """What a malicious pickle does: ask the unpickler to call a function of its choosing."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int64])
def test_arrays_load_with_every_protocol(tmp_path: Path, protocol: int, dtype: type) -> None:
    array = np.arange(2 * 3 * 5, dtype=dtype).reshape(2, 3, 5)
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(array, protocol=protocol))
    loaded = load_array_pickle(path)
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    fortran = np.asfortranarray(array)
    path.write_bytes(pickle.dumps(fortran, protocol=protocol))
    np.testing.assert_array_equal(load_array_pickle(path), array)


def test_pickle_carrying_a_callable_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_RunsACommand(marker)))
    with pytest.raises(DataError, match=r"evil.pkl: refused pickle: pickle references posix.system"):
        load_array_pickle(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the same bytes do run the command under plain pickle
    assert marker.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"frames": np.zeros(3, np.uint8)}, "holds dict, expected a numpy array"),
        ([1, 2, 3], "holds list, expected a numpy array"),
        (np.array([None, 1], dtype=object), "array of Python objects"),
        (np.ma.masked_array([1, 2]), "references numpy.ma.core"),
    ],
)
def test_foreign_pickles_are_refused(tmp_path: Path, value: object, message: str) -> None:
    path = tmp_path / "foreign.pkl"
    path.write_bytes(pickle.dumps(value))
    with pytest.raises(DataError, match=f"foreign.pkl: refused pickle: .*{message}"):
        load_array_pickle(path)


def test_broken_and_missing_files(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.pkl"
    truncated.write_bytes(pickle.dumps(np.zeros((4, 4), np.uint8))[:-10])
    with pytest.raises(DataError, match=r"cut\.pkl: refused pickle"):
        load_array_pickle(truncated)
    with pytest.raises(DataError, match=r"gone\.pkl: cannot read pickle"):
        load_array_pickle(tmp_path / "gone.pkl")


def test_saved_bytes_equal_opengait_pickle_dump(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8)
    read_only = np.frombuffer(frames.tobytes(), np.uint8).reshape(frames.shape)  # as the reader returns them
    path = tmp_path / "out.pkl"
    save_array_pickle(read_only, path)
    assert path.read_bytes() == pickle.dumps(
        np.asarray(list(frames))
    )  # OpenGait: pickle.dump(np.asarray(list))
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]
