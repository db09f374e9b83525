"""``landmarkgait data ...`` as users run it: real subprocesses, real files, exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_helpers import REPO, make_records, run_cli, write_opengait_pkl_tree

from landmarkgait.data.format import list_shards


@pytest.fixture(scope="module")
def pkl_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "pkl"
    write_opengait_pkl_tree(root, make_records(subjects=("001", "002"), types=("nm-01", "cl-01"), seed=5))
    return root


@pytest.fixture(scope="module")
def converted(pkl_tree: Path) -> Path:
    out = pkl_tree.parent / "ds"
    result = run_cli("data", "convert-pkl", pkl_tree, out, "--workers", "2", "--name", "cli")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 8 sequences" in result.stdout
    return out


def test_every_data_command_explains_itself() -> None:
    result = run_cli("data", "--help")
    assert result.returncode == 0
    for command in ("convert-pkl", "convert-frames", "export-pkl", "inspect", "validate"):
        assert command in result.stdout
    assert "--strict" in run_cli("data", "convert-pkl", "--help").stdout


def test_inspect_validate_export_round_trip(converted: Path, pkl_tree: Path, tmp_path: Path) -> None:
    text = run_cli("data", "inspect", converted)
    assert text.returncode == 0, text.stderr
    assert "name          cli (format v1)" in text.stdout
    assert "types         2: cl-01 (4), nm-01 (4)" in text.stdout
    summary = json.loads(run_cli("data", "inspect", converted, "--json").stdout)
    assert summary["subjects"] == ["001", "002"] and summary["num_sequences"] == 8
    assert summary["sequences_per_view"] == {"000": 4, "090": 4}
    assert sum(b["count"] for b in summary["length_histogram"]) == 8
    assert summary["metadata"]["fingerprint"].startswith("sha256:")

    validated = run_cli("data", "validate", converted)
    assert validated.returncode == 0 and validated.stdout.startswith("valid:")

    exported = run_cli("data", "export-pkl", converted, tmp_path / "back")
    assert exported.returncode == 0, exported.stderr
    originals = list(pkl_tree.rglob("*.pkl"))
    assert len(originals) == 8 == len(list((tmp_path / "back").rglob("*.pkl")))
    for original in originals:
        assert (tmp_path / "back" / original.relative_to(pkl_tree)).read_bytes() == original.read_bytes()


def test_validate_reports_the_damaged_row(converted: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(converted, damaged)
    shard = list_shards(damaged)[-1]
    table = pq.read_table(shard)
    frames = table["frames"].to_pylist()
    frames[0] = frames[0][1:]
    pq.write_table(table.set_column(6, "frames", pa.array(frames, pa.binary())), shard)
    result = run_cli("data", "validate", damaged)
    assert result.returncode == 1
    assert result.stderr.startswith(f"invalid: {shard}: row 0: field 'frames' holds ")


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_cli("data", "inspect", tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"landmarkgait: error: {tmp_path}: not a landmarkgait dataset (missing _common_metadata)\n"
    )


def test_malicious_pickle_is_skipped_and_named_or_fails_strict(tmp_path: Path) -> None:
    tree = tmp_path / "pkl"
    write_opengait_pkl_tree(tree, make_records(subjects=("001",), types=("nm-01",), views=("000",)))
    evil = tree / "001" / "nm-01" / "090" / "090.pkl"
    evil.parent.mkdir()
    # A classic protocol-0 payload: call os.system("touch .../pwned").
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")

    result = run_cli("data", "convert-pkl", tree, tmp_path / "ds")
    assert result.returncode == 0, result.stderr
    assert "skipped 1 sequences:" in result.stdout
    assert f"{evil}: refused pickle: pickle references os.system" in result.stdout
    assert not (tmp_path / "pwned").exists()

    strict = run_cli("data", "convert-pkl", tree, tmp_path / "strict", "--strict")
    assert strict.returncode == 2
    assert "1 sequences could not be converted (strict mode)" in strict.stderr
    assert not (tmp_path / "strict").exists()


def _many_small_sequences(tree: Path) -> Path:
    """A tree converted one sequence per shard: after the first shard appears, well over a hundred
    remain, so a signal sent then lands mid-way (a FIFO used to block a worker here; the input rule
    now refuses FIFOs at once)."""
    subjects = tuple(f"{number:03d}" for number in range(1, 31))
    write_opengait_pkl_tree(tree, make_records(subjects=subjects))
    return tree


def test_interrupted_conversion_leaves_no_output(tmp_path: Path) -> None:
    tree = _many_small_sequences(tmp_path / "pkl")
    destination = tmp_path / "ds"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "landmarkgait.pipelines.cli",
            "data",
            "convert-pkl",
            tree,
            destination,
            "--workers",
            "2",
            "--sequences-per-shard",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".parquet") for p in tmp_path.glob(".ds.tmp-*/*")):
            assert process.poll() is None and time.monotonic() < deadline, "conversion did not start"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "landmarkgait: interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkl"]  # no dataset, no staging directory


def test_a_killed_conversions_staging_directory_is_removed_by_the_next_one(tmp_path: Path) -> None:
    """SIGKILL gives no chance to clean up: the next write to the same destination does it."""
    tree = _many_small_sequences(tmp_path / "pkl")
    destination = tmp_path / "ds"
    argv = [sys.executable, "-m", "landmarkgait.pipelines.cli", "data", "convert-pkl", tree, destination]
    process = subprocess.Popen(
        [*argv, "--workers", "2", "--sequences-per-shard", "1"], cwd=REPO, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".parquet") for p in tmp_path.glob(".ds.tmp-*/*")):
            assert process.poll() is None and time.monotonic() < deadline, "conversion did not start"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    (left,) = tmp_path.glob(".ds.tmp-*")
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not left.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "pkl"]
