"""The synthetic benchmark generator: determinism, identity, conditions, partition and errors.

Generates tiny datasets with real Ray tasks (4 subjects, 2 views, a few frames).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
from cluster_helpers import LOOPBACK, REPO, run_watching_listeners, wait_until

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.gei_baseline import gait_energy_image
from landmarkgait.data.format import list_shards, read_metadata
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import default_partition, generate_dataset, render_sequence
from landmarkgait.data.validation import validate_dataset

TYPES = ("nm-01", "nm-02", "nm-05", "bg-01", "cl-01")
VIEWS = ("018", "090")
CONFIG = SynthConfig(subjects=4, types=TYPES, views=VIEWS, min_frames=28, max_frames=34, seed=3)


@pytest.fixture(scope="module")
def datasets(ray_cluster, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth")
    return {
        "one_worker": generate_dataset(replace(CONFIG, workers=1), root / "one"),
        "two_workers": generate_dataset(replace(CONFIG, workers=2), root / "two"),
        "other_seed": generate_dataset(replace(CONFIG, seed=4), root / "other"),
    }


def _shard_bytes(path: Path) -> list[bytes]:
    return [shard.read_bytes() for shard in list_shards(path)]


def test_same_seed_gives_byte_identical_shards_whatever_the_workers(datasets) -> None:
    one, two = _shard_bytes(datasets["one_worker"]), _shard_bytes(datasets["two_workers"])
    assert len(one) == CONFIG.subjects  # one shard per subject
    assert one == two
    assert (
        read_metadata(datasets["one_worker"]).fingerprint
        == read_metadata(datasets["two_workers"]).fingerprint
    )


def test_another_seed_gives_different_data(datasets) -> None:
    assert (
        read_metadata(datasets["other_seed"]).fingerprint != read_metadata(datasets["one_worker"]).fingerprint
    )
    assert set(_shard_bytes(datasets["other_seed"])).isdisjoint(_shard_bytes(datasets["one_worker"]))


def test_structure_metadata_and_partition(datasets) -> None:
    path = datasets["one_worker"]
    metadata = validate_dataset(path)
    dataset = SilhouetteDataset(path)
    assert (metadata.frame_height, metadata.frame_width) == (64, 64)
    assert {(e.subject, e.type, e.view) for e in dataset.entries} == {
        (s, t, v) for s in ("001", "002", "003", "004") for t in TYPES for v in VIEWS
    }
    assert all(CONFIG.min_frames <= e.num_frames <= CONFIG.max_frames for e in dataset.entries)
    # round(4 * 74 / 124) = 2 training subjects
    assert metadata.extra["partition"] == {"TRAIN_SET": ["001", "002"], "TEST_SET": ["003", "004"]}
    assert metadata.extra["synth"]["seed"] == 3 and metadata.extra["synth"]["views"] == list(VIEWS)
    record = dataset[dataset.find("002", "bg-01", "090")]
    assert record.frames.dtype == np.uint8 and record.frames.max() == 255


def test_default_partition_proportions() -> None:
    names = tuple(f"{i:03d}" for i in range(1, 125))
    split = default_partition(names)
    assert (split["TRAIN_SET"][-1], split["TEST_SET"][0], len(split["TEST_SET"])) == ("074", "075", 50)
    assert [len(default_partition(names[:n])["TRAIN_SET"]) for n in (2, 3, 10, 62)] == [1, 2, 6, 37]


def test_a_sequence_does_not_depend_on_what_else_is_generated(datasets) -> None:
    stored = SilhouetteDataset(datasets["one_worker"])
    alone = SynthConfig(subjects=4, types=("nm-02",), views=("090",), min_frames=28, max_frames=34, seed=3)
    frames = render_sequence(alone, "003", "nm-02", "090")
    np.testing.assert_array_equal(frames, stored[stored.find("003", "nm-02", "090")].frames)


def _gei(dataset: SilhouetteDataset, subject: str, type_: str, view: str) -> np.ndarray:
    return gait_energy_image(dataset[dataset.find(subject, type_, view)].frames)


def test_identity_within_subject_gei_distances_are_smaller_than_between(datasets) -> None:
    dataset = SilhouetteDataset(datasets["one_worker"])
    subjects = CONFIG.subject_names
    for view in VIEWS:
        # distances[i, j]: subject i's nm-02 GEI to subject j's nm-01 GEI, same view
        distances = np.array(
            [
                [
                    np.linalg.norm(_gei(dataset, i, "nm-02", view) - _gei(dataset, j, "nm-01", view))
                    for j in subjects
                ]
                for i in subjects
            ]
        )
        within = np.diag(distances)
        between = distances[~np.eye(len(subjects), dtype=bool)].reshape(len(subjects), -1)
        assert np.all(within < between.min(axis=1)), (view, distances)
        assert within.mean() < 0.7 * between.mean()


def test_bags_and_coats_change_the_silhouettes(datasets) -> None:
    dataset = SilhouetteDataset(datasets["one_worker"])
    gaps: dict[str, list[float]] = {"nm-02": [], "bg-01": [], "cl-01": []}
    for subject in ("001", "002", "003", "004"):
        for view in VIEWS:
            reference = _gei(dataset, subject, "nm-01", view)
            for type_, values in gaps.items():
                values.append(float(np.linalg.norm(_gei(dataset, subject, type_, view) - reference)))
    normal = np.mean(gaps["nm-02"])
    assert np.mean(gaps["bg-01"]) > 1.3 * normal
    assert np.mean(gaps["cl-01"]) > 1.3 * normal
    # Coats also add area (thicker torso and limbs, a hem).
    areas = {
        type_: np.mean([_gei(dataset, s, type_, "090").sum() for s in ("001", "002", "003", "004")])
        for type_ in ("nm-01", "cl-01")
    }
    assert areas["cl-01"] > areas["nm-01"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"views": ("045",)}, "views: unknown value '045'"),
        ({"types": ("nm-07",)}, "types: unknown value 'nm-07'"),
        ({"subjects": 0}, "subjects must be an integer in"),
        (
            {"min_frames": 50, "max_frames": 40},
            r"min_frames \(50\) must not be greater than max_frames \(40\)",
        ),
        ({"views": ()}, "views must not be empty"),
        ({"workers": 0}, "workers must be an integer in"),
        ({"artefacts": -1.0}, "artefacts must be a number in"),
    ],
)
def test_bad_arguments_raise_data_errors(arguments: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        SynthConfig(**arguments)


def test_render_sequence_rejects_unknown_keys() -> None:
    with pytest.raises(DataError, match=r"subject '005' is not one of 001\.\.004"):
        render_sequence(CONFIG, "005", "nm-01", "090")
    with pytest.raises(DataError, match="view '000' is not one of the configured views"):
        render_sequence(CONFIG, "001", "nm-01", "000")


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "landmarkgait.pipelines.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--views", "000,045"], "views: unknown value '045'"),
        (["--subjects", "0"], "subjects must be an integer"),
        (
            ["--min-frames", "20", "--max-frames", "10"],
            "min_frames (20) must not be greater than max_frames (10)",
        ),
    ],
)
def test_cli_bad_arguments_are_one_line_errors(tmp_path, arguments: list[str], message: str) -> None:
    result = _cli("data", "synth", "--out", str(tmp_path / "ds"), *arguments)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ds").exists()


def test_a_killed_synth_leaves_no_listener_off_loopback_and_no_process_for_long(tmp_path) -> None:
    """SIGKILL of the ``data synth`` process alone (as the OOM killer does): its GCS and raylet die
    with it; Ray's agents see the raylet gone within seconds but then wait out Ray's hard-coded 60 s
    timeout for reporting that to the dead GCS. Until they exit they listen on loopback only."""
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "landmarkgait.pipelines.cli", "data", "synth", "--out", str(out),
         "--subjects", "12", "--views", "000,090", "--workers", "1"],
        env={**os.environ, "RAY_ADDRESS": "", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"},
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    survivors: list[psutil.Process] = []
    try:
        driver = psutil.Process(process.pid)

        def agents_started() -> bool:
            assert process.poll() is None, "synth ended before its Ray agents were seen"
            return any(
                "DashboardAgent" in " ".join(child.cmdline()) for child in driver.children(recursive=True)
            )

        wait_until(agents_started, timeout_s=120, what="Ray's dashboard agent under data synth")
        tree = driver.children(recursive=True)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(5)
        survivors = [child for child in tree if _alive(child)]
        alive = {child.pid for child in survivors}
        left = {
            (connection.laddr.ip, connection.laddr.port)
            for connection in psutil.net_connections(kind="tcp")
            if connection.status == psutil.CONN_LISTEN and connection.pid in alive
        }
        assert {address for address, _ in left} <= LOOPBACK, left
        wait_until(
            lambda: (
                not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in survivors)
            ),
            timeout_s=150,
            what="the orphaned Ray agents to exit",
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for child in survivors:
            if _alive(child):
                child.kill()


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # exited meanwhile
        return ""


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_cli_synth_and_preview(tmp_path) -> None:
    """``data synth`` starts its Ray like every command: every listener on loopback only."""
    out = tmp_path / "cli"
    arguments = (
        "data", "synth", "--out", str(out), "--subjects", "2", "--views", "000,090", "--types", "nm-01,cl-01",
        "--min-frames", "8", "--max-frames", "10", "--workers", "1", "--seed", "3",
    )  # fmt: skip
    returncode, seen, stdout, stderr = run_watching_listeners(
        [sys.executable, "-m", "landmarkgait.pipelines.cli", *arguments], tmp_path, timeout_s=300
    )
    assert returncode == 0, stderr[-3000:]
    assert "8 sequences of 2 subjects (1 train / 1 test)" in stdout
    assert {"gcs_server", "raylet"} <= {name for _, _, name in seen}, seen
    assert {address for address, _, _ in seen} <= LOOPBACK, seen
    # The CLI run (its own Ray instance, one worker) stores what render_sequence produces.
    dataset = SilhouetteDataset(out)
    config = SynthConfig(
        subjects=2, views=("000", "090"), types=("nm-01", "cl-01"), min_frames=8, max_frames=10, seed=3
    )
    np.testing.assert_array_equal(
        dataset[dataset.find("002", "cl-01", "000")].frames, render_sequence(config, "002", "cl-01", "000")
    )
    sheet = tmp_path / "sheet.png"
    result = _cli("data", "preview", str(out), "--out", str(sheet), "--subject", "002")
    assert result.returncode == 0, result.stderr
    assert sheet.read_bytes().startswith(b"\x89PNG")
    unknown = tmp_path / "unknown.png"
    result = _cli("data", "preview", str(out), "--out", str(unknown), "--subject", "009")
    assert result.returncode == 2 and "no subject '009'" in result.stderr
    assert not unknown.exists()
    result = _cli("data", "preview", str(out), "--out", str(sheet), "--subject", "001")
    assert result.returncode == 2 and "already exists" in result.stderr
