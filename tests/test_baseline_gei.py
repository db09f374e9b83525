"""The GEI + nearest-neighbour baseline on a tiny synthetic dataset, as a library and via the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.gei_baseline import evaluate_gei_baseline, gait_energy_image
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import default_partition, subject_records
from landmarkgait.data.writer import write_dataset

CONFIG = SynthConfig(
    subjects=6, types=("nm-01", "nm-02", "nm-05", "bg-01", "cl-01"), views=("072", "090", "108"),
    min_frames=14, max_frames=18, seed=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory) -> Path:
    """Written in-process (no Ray): the generator's per-subject records through the format writer."""
    records = [record for subject in CONFIG.subject_names for record in subject_records(CONFIG, subject)]
    return write_dataset(
        records,
        tmp_path_factory.mktemp("gei") / "synthetic",
        name="tiny",
        source="test",
        extra_metadata={"partition": default_partition(CONFIG.subject_names)},
    )


def test_gait_energy_image_is_the_mean_silhouette() -> None:
    frames = np.array([[[0, 255], [255, 255]], [[0, 0], [255, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(gait_energy_image(frames), [[0.0, 0.5], [1.0, 1.0]])
    with pytest.raises(DataError, match="T >= 1"):
        gait_energy_image(np.zeros((0, 2, 2), dtype=np.uint8))


def test_baseline_evaluates_test_subjects_with_casia_b_protocol(dataset_path: Path) -> None:
    dataset = SilhouetteDataset(dataset_path)
    test_subjects = default_partition(CONFIG.subject_names)["TEST_SET"]
    assert test_subjects == ["005", "006"]  # round(6 * 74 / 124) = 4 train
    result = evaluate_gei_baseline(dataset, test_subjects)
    summary = result.summary()
    assert [table.condition for table in result.tables] == ["NM", "BG", "CL"]
    assert all(table.probe_views == CONFIG.views for table in result.tables)
    assert all(0.0 <= summary[f"rank1/{name}"] <= 100.0 for name in ("NM", "BG", "CL"))
    # Neighbouring views of two subjects: normal walks are recognised.
    assert summary["rank1/NM"] > 50.0


def test_cli_json_and_partition_file(dataset_path: Path, tmp_path: Path) -> None:
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002", "003", "004", "005", "006"]}))
    csv_path, png_path = tmp_path / "gei.csv", tmp_path / "gei.png"
    result = subprocess.run(
        [
            sys.executable, "-m", "landmarkgait.pipelines.cli", "baseline", "gei", str(dataset_path), "--json",
            "--partition", str(partition), "--csv", str(csv_path), "--heatmap", str(png_path),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["test_subjects"] == 5 and report["protocol"] == "casia_b"
    assert {"rank1/NM", "rank1/BG", "rank1/CL", "mAP/NM", "rank1/CL/090"} <= set(report["metrics"])
    assert csv_path.read_text().startswith("condition,probe_view,gallery_view,rank1,mAP")
    assert png_path.read_bytes().startswith(b"\x89PNG")


def test_cli_table_output_and_missing_dataset(dataset_path: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "landmarkgait.pipelines.cli", "baseline", "gei"]
    result = subprocess.run([*command, str(dataset_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "NM: rank-1" in result.stdout and "probe\\gallery" in result.stdout
    result = subprocess.run([*command, str(tmp_path / "nope")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr
