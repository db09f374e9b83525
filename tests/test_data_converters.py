"""Converters over real process pools: pkl -> Parquet -> pkl is bit-exact; bad items are reported."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from data_helpers import make_records, write_opengait_pkl_tree

from landmarkgait.data.converters.from_frames import convert_frame_tree
from landmarkgait.data.converters.from_pkl import convert_pkl_tree
from landmarkgait.data.converters.to_pkl import export_pkl_tree
from landmarkgait.data.destination import MARKER_FILE
from landmarkgait.data.errors import DataError
from landmarkgait.data.format import read_metadata
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.validation import validate_dataset


def _add_bad_items(root: Path) -> dict[str, str]:
    """Items convert-pkl must skip, with the words its reason must contain."""
    evil = root / "009" / "nm-01" / "000"
    evil.mkdir(parents=True)
    (evil / "000.pkl").write_bytes(
        pickle.dumps(type("X", (), {"__reduce__": lambda s: (os.system, ("true",))})())
    )
    floats = root / "009" / "nm-01" / "090"
    floats.mkdir(parents=True)
    (floats / "090.pkl").write_bytes(pickle.dumps(np.zeros((2, 64, 64), np.float32)))
    wrong_size = root / "009" / "nm-02" / "000"
    wrong_size.mkdir(parents=True)
    (wrong_size / "000.pkl").write_bytes(pickle.dumps(np.zeros((2, 32, 32), np.uint8)))
    two_files = root / "009" / "nm-02" / "090"
    two_files.mkdir(parents=True)
    for name in ("a.pkl", "b.pkl"):
        (two_files / name).write_bytes(pickle.dumps(np.zeros((2, 64, 64), np.uint8)))
    (root / "009" / "bg-01" / "000").mkdir(parents=True)
    return {
        str(evil): "000.pkl: refused pickle: pickle references posix.system",
        str(floats): "090.pkl: expected a uint8 array [T, H, W], got float32 (2, 64, 64)",
        str(wrong_size): "000.pkl: frame size 32x32 differs from the dataset's 64x64",
        str(two_files): "holds 2 .pkl files",
        str(root / "009" / "bg-01" / "000"): "no *.pkl files",
    }


def test_pkl_to_parquet_to_pkl_is_bit_exact_and_bad_items_are_reported(tmp_path: Path) -> None:
    records = make_records(seed=1)
    originals = write_opengait_pkl_tree(tmp_path / "pkl", records)
    expected_reasons = _add_bad_items(tmp_path / "pkl")

    report = convert_pkl_tree(tmp_path / "pkl", tmp_path / "ds", workers=2, sequences_per_shard=4)

    assert (report.num_sequences, report.num_frames) == (len(records), sum(len(r.frames) for r in records))
    assert {item.location: item.reason for item in report.skipped}.keys() == expected_reasons.keys()
    for item in report.skipped:
        assert expected_reasons[item.location] in item.reason
    metadata = validate_dataset(tmp_path / "ds")
    assert metadata.name == "ds" and metadata.source.startswith("opengait-pkl:")
    assert metadata.extra["conversion"]["skipped_sequences"] == 5
    dataset = SilhouetteDataset(tmp_path / "ds")
    keys = [(e.subject, e.type, e.view) for e in dataset.entries]
    assert keys == sorted((r.subject, r.type, r.view) for r in records)  # tree order: sorted names

    export = export_pkl_tree(tmp_path / "ds", tmp_path / "back", workers=2)
    assert export.num_files == len(records)
    exported = sorted(p.relative_to(tmp_path / "back") for p in (tmp_path / "back").rglob("*") if p.is_file())
    marker = Path(MARKER_FILE)  # what --overwrite looks for; OpenGait lists subjects by its partition
    assert exported == sorted([marker, *(p.relative_to(tmp_path / "pkl") for p in originals)])
    for original in originals:
        assert (
            tmp_path / "back" / original.relative_to(tmp_path / "pkl")
        ).read_bytes() == original.read_bytes()

    again = convert_pkl_tree(tmp_path / "back", tmp_path / "ds2", workers=2)
    assert again.skipped == ()
    assert read_metadata(tmp_path / "ds2").fingerprint == metadata.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back", "ds", "ds2", "pkl"]  # no staging left


def test_strict_mode_writes_nothing(tmp_path: Path) -> None:
    write_opengait_pkl_tree(tmp_path / "pkl", make_records(subjects=("001",), views=("000",)))
    _add_bad_items(tmp_path / "pkl")
    with pytest.raises(DataError, match=r"5 sequences could not be converted \(strict mode\), first: .*009"):
        convert_pkl_tree(tmp_path / "pkl", tmp_path / "ds", workers=2, strict=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkl"]


def test_nothing_to_convert(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no <subject>/<type>/<view>/\*.pkl files found"):
        convert_pkl_tree(tmp_path / "empty", tmp_path / "ds")
    with pytest.raises(DataError, match="missing: source directory does not exist"):
        convert_frame_tree(tmp_path / "missing", tmp_path / "ds")


def _walker_frame(column: int, height: int = 120, width: int = 160) -> np.ndarray:
    image = np.zeros((height, width), np.uint8)
    cv2.ellipse(image, (column, 60), (12, 45), 0, 0, 360, 255, -1)
    return cv2.GaussianBlur(image, (5, 5), 1.5)


def test_frame_tree_is_pretreated_in_name_order(tmp_path: Path) -> None:
    src = tmp_path / "frames"
    sequence = src / "001" / "nm-01" / "090"
    sequence.mkdir(parents=True)
    # Names sort differently from creation order; a blank frame is dropped; a GEI is ignored.
    frames = {
        "f-03.png": _walker_frame(40),
        "f-01.png": _walker_frame(80),
        "f-02.png": np.zeros((120, 160), np.uint8),
    }
    frames["f-10.png"] = _walker_frame(150)
    for name, image in frames.items():
        cv2.imwrite(str(sequence / name), image)
    cv2.imwrite(str(sequence / "gei.png"), np.full((120, 160), 255, np.uint8))
    blank = src / "001" / "nm-01" / "180"
    blank.mkdir(parents=True)
    cv2.imwrite(str(blank / "0.png"), np.zeros((120, 160), np.uint8))
    broken = src / "002" / "nm-01" / "000"
    broken.mkdir(parents=True)
    (broken / "0.png").write_bytes(b"not a png")

    report = convert_frame_tree(src, tmp_path / "ds", workers=2)

    assert (report.num_sequences, report.num_frames, report.dropped_frames) == (1, 3, 1)
    reasons = {item.location: item.reason for item in report.skipped}
    assert reasons == {
        str(blank): "all 1 frames dropped by pretreatment (blank, or no centre column)",
        str(broken): f"{broken / '0.png'}: cannot decode image",
    }
    in_name_order = [frames[name] for name in sorted(frames)]
    expected = pretreat_sequence(in_name_order).frames
    dataset = SilhouetteDataset(tmp_path / "ds")
    np.testing.assert_array_equal(dataset[dataset.find("001", "nm-01", "090")].frames, expected)
    assert dataset.metadata.extra["conversion"] == {
        "command": "convert-frames",
        "img_size": 64,
        "skipped_sequences": 2,
        "dropped_frames": 1,
    }
