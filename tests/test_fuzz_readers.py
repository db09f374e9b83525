"""Generated hostile input for the readers (Hypothesis): a clear user error, or success; never a
traceback, a hang or a write outside the destination.

The readers are called in-process as the CLI calls them, so each example costs milliseconds; an
exception outside ``USER_ERRORS`` is what the CLI would print as a traceback, and anything else
the CLI turns into one line and exit 2 (``pipelines.error_text.error_line``, checked here too).
Example counts are fixed and small, and every test has a timeout, to keep CI bounded.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from data_helpers import make_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landmarkgait.data.format import METADATA_FILE, METADATA_KEY, list_shards, read_metadata
from landmarkgait.data.pickle_io import load_array_pickle
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.writer import write_dataset
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.error_text import error_line
from landmarkgait.pipelines.errors import USER_ERRORS

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "ray_configs" / "quickstart.yaml"
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
QUICKSTART_RAW = yaml.safe_load(QUICKSTART.read_text())
DOTTED_KEYS = sorted(
    f"{section}.{key}" if isinstance(inner, dict) else section
    for section, inner in QUICKSTART_RAW.items()
    for key in (inner if isinstance(inner, dict) else [None])
)


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def user_error_or_success(call: Callable[[], Any]) -> str | None:
    """Run ``call``; a user error gives its one printed line, success None; anything else fails."""
    try:
        call()
    except USER_ERRORS as error:
        line = error_line(error)
        assert line and "\n" not in line, repr(line)
        return line
    return None


def nested_set(mapping: dict[str, Any], dotted: str, value: Any) -> None:
    node = mapping
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.get(part)
        node[part] = child = child if isinstance(child, dict) else {}
        node = child
    node[last] = value


@pytest.mark.timeout(180)
@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(DOTTED_KEYS), values), min_size=1, max_size=4))
def test_config_loader_on_mutated_configs(tmp_path_factory: pytest.TempPathFactory, changes: list) -> None:
    """The quickstart config with some keys set to arbitrary YAML values."""
    root = tmp_path_factory.mktemp("config")
    raw = json.loads(json.dumps(QUICKSTART_RAW))
    for dotted, value in changes:
        nested_set(raw, dotted, value)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    before = files_under(root)
    user_error_or_success(lambda: load_config(path))
    assert files_under(root) == before


@pytest.mark.timeout(180)
@FUZZ
@given(text=st.text(max_size=400))
def test_config_loader_on_arbitrary_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("text") / "config.yaml"
    path.write_text(text, encoding="utf-8")
    user_error_or_success(lambda: load_config(path))


@pytest.mark.timeout(180)
@FUZZ
@given(
    key=st.one_of(st.sampled_from(DOTTED_KEYS), st.text(max_size=30)),
    value=st.text(max_size=60),
)
def test_set_overrides(key: str, value: str) -> None:
    """``--set KEY=VALUE`` with arbitrary keys and YAML text values (deep brackets included)."""
    user_error_or_success(lambda: load_config(QUICKSTART, [f"{key}={value}"]))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(make_records(), tmp_path_factory.mktemp("fuzz-data") / "tiny", name="t", source="t")


def read_everything(path: Path) -> None:
    data = SilhouetteDataset(path)
    data.read_many(list(range(len(data))))


@pytest.mark.timeout(300)
@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    ),
    truncate=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
)
def test_shard_reader_on_damaged_shards(
    dataset: Path, tmp_path_factory: pytest.TempPathFactory, edits: list, truncate: float | None
) -> None:
    """A dataset whose first shard has bytes overwritten (and maybe a cut tail): read it all."""
    root = tmp_path_factory.mktemp("damaged")
    copy = Path(shutil.copytree(dataset, root / "tiny"))
    shard = list_shards(copy)[0]
    data = bytearray(shard.read_bytes())
    for where, byte in edits:
        data[int(where * len(data))] = byte
    if truncate is not None:
        data = data[: int(truncate * len(data))]
    shard.write_bytes(bytes(data))
    before = files_under(root)
    user_error_or_success(lambda: read_everything(copy))
    assert files_under(root) == before


@pytest.mark.timeout(180)
@FUZZ
@given(metadata=values)
def test_metadata_reader_on_arbitrary_json(
    dataset: Path, tmp_path_factory: pytest.TempPathFactory, metadata: Any
) -> None:
    """The dataset metadata file's JSON replaced by an arbitrary JSON value (or a deep nest)."""
    copy = Path(shutil.copytree(dataset, tmp_path_factory.mktemp("metadata") / "tiny"))
    target = copy / METADATA_FILE
    schema = pq.read_schema(target)
    text = json.dumps(metadata, allow_nan=True) if not isinstance(metadata, str) else "[" * 5000 + metadata
    pq.write_metadata(schema.with_metadata({METADATA_KEY: text}), target)
    user_error_or_success(lambda: read_metadata(copy))
    user_error_or_success(lambda: SilhouetteDataset(copy))


HOSTILE_PICKLES = [
    b"cos\nsystem\n(S'touch /tmp/landmarkgait-fuzz-pwned'\ntR.",
    b"cbuiltins\neval\n(S'1+1'\ntR.",
    pickle.dumps({"frames": np.zeros(3, np.uint8)}),
    pickle.dumps(np.array([object()], dtype=object)),
]


@pytest.mark.timeout(180)
@FUZZ
@given(
    base=st.sampled_from([pickle.dumps(np.zeros((3, 4, 4), np.uint8)), *HOSTILE_PICKLES]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
    tail=st.binary(max_size=32),
)
def test_pickle_converter_reader(
    tmp_path_factory: pytest.TempPathFactory, base: bytes, edits: list, tail: bytes
) -> None:
    """OpenGait pickles, hostile pickles and damaged ones: an array or a refusal, no code run."""
    data = bytearray(base)
    for where, byte in edits:
        data[int(where * len(data))] = byte
    path = tmp_path_factory.mktemp("pickle") / "000.pkl"
    path.write_bytes(bytes(data) + tail)
    user_error_or_success(lambda: load_array_pickle(path))
    assert not os.path.exists("/tmp/landmarkgait-fuzz-pwned")
