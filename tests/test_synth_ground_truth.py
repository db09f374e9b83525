"""Ground truth of the synthetic benchmark: part labels and joints of every stored frame.

Rendering and labelling run in-process on a tiny config; writing, re-rendering and the CLI run
with the session's Ray head (conftest) on 2-subject datasets of a few short sequences.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from cluster_helpers import REPO

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import METADATA_FILE, list_shards, read_metadata, schema_with_metadata
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.body import BODY_CAPSULE_NAMES
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.synth.generator import (
    _record_walk,
    generate_dataset,
    subject_ground_truth,
    subject_records,
)
from landmarkgait.data.synth.ground_truth import write_ground_truth
from landmarkgait.data.synth.labels import (
    BODY_CAPSULE_PARTS,
    FOREGROUND_LEVEL,
    HEAD,
    JOINT_NAMES,
    LOW,
    UP,
    raw_part_labels,
)
from landmarkgait.data.synth.render import ProjectedCapsules, nearest_capsules
from landmarkgait.data.synth.truth_files import GroundTruth, ground_truth_path
from landmarkgait.data.validation import validate_dataset

CONFIG = SynthConfig(
    subjects=2, types=("nm-01", "bg-01", "cl-01"), views=("000", "090"), min_frames=12, max_frames=16, seed=7
)


@pytest.fixture(scope="module")
def rendered() -> list:
    return subject_ground_truth(CONFIG, "002")


def test_ground_truth_comes_with_the_same_silhouettes(rendered) -> None:
    plain = subject_records(CONFIG, "002")
    assert [(r.type, r.view) for r in plain] == [(r.type, r.view) for r, _ in rendered]
    for record, (with_truth, _) in zip(plain, rendered, strict=True):
        np.testing.assert_array_equal(record.frames, with_truth.frames)


def test_labels_cover_the_foreground_with_parts_from_top_to_bottom(rendered) -> None:
    for record, truth in rendered:
        assert truth.labels.shape == record.frames.shape and truth.labels.dtype == np.uint8
        np.testing.assert_array_equal(truth.labels > 0, record.frames >= FOREGROUND_LEVEL)
        rows = np.arange(64)[None, :, None]
        mean_row = [
            (rows * (truth.labels == part)).sum() / max((truth.labels == part).sum(), 1)
            for part in (HEAD, UP, LOW)
        ]
        assert mean_row[0] < mean_row[1] < mean_row[2], (record.type, record.view, mean_row)
        shares = np.bincount(truth.labels[truth.labels > 0], minlength=4)[1:] / (truth.labels > 0).sum()
        assert 0.03 < shares[0] < 0.2 and 0.2 < shares[1] < 0.55 and 0.35 < shares[2] < 0.7, shares


def test_joints_lie_on_the_silhouette_in_stored_pixels(rendered) -> None:
    inside = total = 0
    for record, truth in rendered:
        assert truth.joints.shape == (len(record.frames), len(JOINT_NAMES), 2)
        assert truth.joint_names == JOINT_NAMES
        columns, rows = np.rint(truth.joints[..., 0]).astype(int), np.rint(truth.joints[..., 1]).astype(int)
        visible = (columns >= 0) & (columns < 64) & (rows >= 0) & (rows < 64)
        frame = np.broadcast_to(np.arange(len(record.frames))[:, None], columns.shape)
        on = record.frames[frame[visible], rows[visible], columns[visible]] > 0
        inside += int(on.sum())
        total += columns.size
        head = truth.joints[:, JOINT_NAMES.index("head_high"), 1]
        toes = truth.joints[:, [JOINT_NAMES.index("toe_l"), JOINT_NAMES.index("toe_r")], 1].max(1)
        assert (head < 8).all() and (toes > 54).all()  # the crop spans the body: head to feet
    assert inside / total > 0.9


def test_every_body_capsule_has_a_part_by_the_rule() -> None:
    parts = dict(zip(BODY_CAPSULE_NAMES, BODY_CAPSULE_PARTS.tolist(), strict=True))
    assert len(parts) == _record_walk(CONFIG, 1, "cl-01").num_body_capsules == 16
    assert {name for name, part in parts.items() if part == HEAD} == {"head", "neck"}
    assert {name for name, part in parts.items() if part == UP} == {
        "torso_l", "torso_r", "shoulders", "upper_arm_l", "upper_arm_r", "forearm_l", "forearm_r",
    }  # fmt: skip


def _capsules(starts, ends, radii) -> ProjectedCapsules:
    """One frame of capsules from (x, y) endpoints and one radius each."""
    radius = np.array([radii], dtype=float)
    return ProjectedCapsules(np.array([starts], float), np.array([ends], float), radius, radius)


def test_nearness_is_distance_over_radius() -> None:
    # A thin capsule at x = 0 and a thick one at x = 20: the point at x = 6 is nearer the thin one
    # in pixels (6 vs 14) but nearer the thick one relative to the radii (6/1 vs 14/10).
    capsules = _capsules([[0, 0], [20, 0]], [[0, 10], [20, 10]], [1.0, 10.0])
    points = np.array([[6.0, 5.0], [0.5, 5.0], [0.0, -1.0]])  # 1.4 vs 6, 0.5 vs 1.95, 1 vs 2.0
    assert nearest_capsules(points, np.zeros(3, int), capsules).tolist() == [1, 0, 0]


def test_clothing_takes_the_part_of_the_nearest_body_capsule() -> None:
    # Every body capsule far off the canvas except the neck (head) at the top and the left thigh
    # (lower body) at the bottom; the foreground is a column between them.
    far = [[500.0, 500.0]] * len(BODY_CAPSULE_NAMES)
    starts, ends, radii = list(far), list(far), [1.0] * len(BODY_CAPSULE_NAMES)
    neck, thigh = BODY_CAPSULE_NAMES.index("neck"), BODY_CAPSULE_NAMES.index("thigh_l")
    starts[neck], ends[neck], radii[neck] = [10.0, 2.0], [10.0, 6.0], 2.0
    starts[thigh], ends[thigh], radii[thigh] = [10.0, 20.0], [10.0, 30.0], 3.0
    frames = np.zeros((1, 32, 20), np.uint8)
    frames[0, 2:30, 9:12] = 255
    labels = raw_part_labels(frames, _capsules(starts, ends, radii))[0]
    assert (labels[frames[0] == 0] == 0).all()
    assert (labels[2:8, 10] == HEAD).all() and (labels[18:30, 10] == LOW).all()
    # Row 10 (centre 10.5): 4.5 / 2 from the neck, 9.5 / 3 from the thigh: head; row 14: lower body.
    assert labels[10, 10] == HEAD and labels[14, 10] == LOW


@pytest.fixture(scope="module")
def datasets(ray_cluster, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth-truth")
    config = replace(CONFIG, workers=2)
    return {
        "with": generate_dataset(config, root / "with" / "synthetic", ground_truth=True),
        "without": generate_dataset(config, root / "without" / "synthetic"),
    }


def _file_digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _read_all(truth: GroundTruth, dataset: SilhouetteDataset) -> dict:
    return {(e.subject, e.type, e.view): truth.read(e.subject, e.type, e.view) for e in dataset.entries}


def test_ground_truth_at_generation_leaves_the_dataset_byte_identical(datasets) -> None:
    with_truth, without = datasets["with"], datasets["without"]
    assert [p.read_bytes() for p in list_shards(with_truth)] == [p.read_bytes() for p in list_shards(without)]
    assert read_metadata(with_truth).fingerprint == read_metadata(without).fingerprint
    assert ground_truth_path(with_truth).is_dir() and not ground_truth_path(without).exists()
    truth = GroundTruth(with_truth)
    dataset = SilhouetteDataset(with_truth)
    assert len(truth) == len(dataset) == 12
    for record, expected in subject_ground_truth(CONFIG, "002"):
        stored = truth.read(record.subject, record.type, record.view)
        np.testing.assert_array_equal(stored.labels, expected.labels)
        np.testing.assert_array_equal(stored.joints, expected.joints)
        assert stored.joint_names == JOINT_NAMES


def test_writing_ground_truth_later_changes_nothing_in_the_dataset(datasets) -> None:
    path = datasets["without"]
    before, fingerprint = _file_digests(path), read_metadata(path).fingerprint
    write_ground_truth(path, workers=2)
    assert _file_digests(path) == before
    assert validate_dataset(path).fingerprint == fingerprint
    dataset = SilhouetteDataset(path)
    later = _read_all(GroundTruth(path), dataset)
    at_generation = _read_all(GroundTruth(datasets["with"]), dataset)
    for key, truth in later.items():
        np.testing.assert_array_equal(truth.labels, at_generation[key].labels)
        np.testing.assert_array_equal(truth.joints, at_generation[key].joints)
    with pytest.raises(DataError, match="already exists"):
        write_ground_truth(path)


def test_a_dataset_that_renders_differently_is_refused(datasets, tmp_path) -> None:
    copy = tmp_path / "reseeded"
    shutil.copytree(datasets["without"], copy)
    metadata = read_metadata(copy)
    metadata.extra["synth"]["seed"] = 8  # the metadata now claims another seed than the frames have
    pq.write_metadata(schema_with_metadata(asdict(metadata)), copy / METADATA_FILE)
    with pytest.raises(DataError, match=r"sequence 00[12]/nm-01/000 does not re-render as stored"):
        write_ground_truth(copy)
    assert not ground_truth_path(copy).exists()
    # Ground truth of one dataset is not read as another's.
    shutil.copytree(ground_truth_path(datasets["with"]), ground_truth_path(copy))
    pq.write_metadata(
        schema_with_metadata(asdict(replace(metadata, fingerprint="0" * 64))), copy / METADATA_FILE
    )
    with pytest.raises(DataError, match="ground truth of another dataset"):
        GroundTruth(copy)


def _cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "landmarkgait.pipelines.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_cli_writes_ground_truth_and_refuses_in_one_line(datasets, ray_cluster, tmp_path) -> None:
    copy = tmp_path / "cli" / "synthetic"
    shutil.copytree(datasets["with"], copy)
    result = _cli(
        "data", "synth-ground-truth", str(copy), "--workers", "1", env={"RAY_ADDRESS": ray_cluster.address}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {ground_truth_path(copy)}" in result.stdout
    assert len(GroundTruth(copy)) == 12
    again = _cli("data", "synth-ground-truth", str(copy))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    not_synthetic = tmp_path / "plain"
    shutil.copytree(copy, not_synthetic)
    metadata = read_metadata(not_synthetic)
    del metadata.extra["synth"]
    pq.write_metadata(schema_with_metadata(asdict(metadata)), not_synthetic / METADATA_FILE)
    refused = _cli("data", "synth-ground-truth", str(not_synthetic))
    assert refused.returncode == 2 and "no 'synth' key" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
