"""Videos to silhouettes: ``data synth-videos`` and ``data convert-video`` as users run them.

Real subprocesses (each starts its own loopback-only Ray), real mp4 files written by OpenCV,
real Parquet output; extraction is scored against the ground-truth masks filmed with the videos.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from data_helpers import run_cli

from landmarkgait.data.errors import DataError
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.video.settings import SubtractionSettings
from landmarkgait.data.video.silhouettes import extract_silhouettes
from landmarkgait.data.video.sources import resolve_videos
from landmarkgait.data.video.synthetic import load_ground_truth

SMALL = ("--width", "160", "--height", "120", "--lead-in", "20")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "videos"
    result = run_cli(
        "data", "synth-videos", "--out", out, "--subject-ids", "003", "--types", "nm-01,cl-01",
        "--views", "000,090", "--workers", "2", *SMALL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 4 videos" in result.stdout
    return out


def _static_video(path: Path, frames: int = 30) -> Path:
    """An mp4 of a still room: nothing moves, so there is no person to find."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (160, 120))
    room = np.random.default_rng(0).integers(40, 200, (120, 160, 3), dtype=np.uint8)
    for _ in range(frames):
        writer.write(room)
    writer.release()
    return path


def _mean_iou(video: Path, settings: SubtractionSettings) -> float:
    truth = load_ground_truth(video)
    extracted = extract_silhouettes(video, settings)
    found = np.zeros(truth.shape, dtype=bool)
    found[extracted.indices] = extracted.frames > 0
    present = truth.reshape(len(truth), -1).any(axis=1)
    intersection = (found & truth)[present].sum(axis=(1, 2))
    union = (found | truth)[present].sum(axis=(1, 2))
    return float((intersection / np.maximum(union, 1)).mean())


def test_synthetic_videos_come_with_aligned_ground_truth(videos: Path) -> None:
    for video in sorted(videos.glob("*/*/*.mp4")):
        capture = cv2.VideoCapture(str(video))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        truth = load_ground_truth(video)
        assert truth.shape == (count, 120, 160)
        assert not truth[:20].any() and truth[20:].any(axis=(1, 2)).all()  # the lead-in is the empty room


@pytest.mark.parametrize("method", ["MOG2", "KNN"])
def test_background_subtraction_finds_the_walker(videos: Path, method: str) -> None:
    settings = SubtractionSettings(method=method)
    scores = [_mean_iou(video, settings) for video in sorted(videos.glob("*/*/*.mp4"))]
    assert min(scores) > 0.7, scores


def test_outline_pixels_the_person_covers_less_than_half_of_become_background() -> None:
    from landmarkgait.data.video.silhouettes import _refined_outline

    person, background = np.array([200.0, 40.0, 40.0]), np.array([60.0, 120.0, 60.0])
    coverage = np.zeros((40, 40))
    coverage[10:30, 10:20] = 1.0  # the body
    coverage[10:30, 20] = 0.75  # its right edge, mostly covered
    coverage[10:30, 9] = 0.25  # its left edge, mostly background
    coverage[2:8, 30] = 1.0  # a one-pixel limb with no interior near it
    frame = (coverage[..., None] * person + (1 - coverage[..., None]) * background).astype(np.uint8)
    mask = np.where(coverage > 0, np.uint8(255), np.uint8(0))  # what the subtractor marks
    refined = _refined_outline(mask, frame, np.broadcast_to(background, frame.shape).astype(np.uint8)) > 0
    assert not refined[10:30, 9].any()
    assert refined[10:30, 10:21].all()
    assert refined[2:8, 30].all()
    assert refined.sum() == 20 * 11 + 6


def test_convert_video_tree_gives_the_pretreated_masks(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = run_cli("data", "convert-video", videos, out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 4 sequences" in result.stdout
    dataset = SilhouetteDataset(out)
    assert sorted((e.subject, e.type, e.view) for e in dataset.entries) == [
        ("003", t, v) for t in ("cl-01", "nm-01") for v in ("000", "090")
    ]
    assert dataset.metadata.extra["conversion"]["command"] == "convert-video"
    video = videos / "003" / "nm-01" / "090.mp4"
    expected = pretreat_sequence(list(extract_silhouettes(video, SubtractionSettings()).frames), 64).frames
    np.testing.assert_array_equal(dataset[dataset.find("003", "nm-01", "090")].frames, expected)
    assert run_cli("data", "validate", out).returncode == 0


def test_single_video_and_manifest_give_the_keys_asked_for(videos: Path, tmp_path: Path) -> None:
    video = videos / "003" / "cl-01" / "000.mp4"
    single = run_cli(
        "data", "convert-video", video, tmp_path / "one", "--subject", "alice", "--type", "cl-02",
        "--view", "018", "--workers", "1",
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    assert [(e.subject, e.type, e.view) for e in SilhouetteDataset(tmp_path / "one").entries] == [
        ("alice", "cl-02", "018")
    ]

    manifest = tmp_path / "videos.csv"
    manifest.write_text(f"subject,type,view,path\nbob,nm-05,036,{video}\n")
    items = resolve_videos(manifest)
    assert [(item.key, item.path) for item in items] == [(("bob", "nm-05", "036"), video)]


def test_bad_videos_are_skipped_or_refused_in_one_line(videos: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad"
    (source / "004" / "nm-01").mkdir(parents=True)
    _static_video(source / "004" / "nm-01" / "000.mp4")
    (source / "004" / "nm-01" / "018.mp4").write_bytes(b"")
    (source / "004" / "nm-01" / "036.mp4").write_text("not a video at all\n")
    good = source / "004" / "nm-01" / "090.mp4"
    good.write_bytes((videos / "003" / "nm-01" / "090.mp4").read_bytes())

    lenient = run_cli("data", "convert-video", source, tmp_path / "ok", "--workers", "2")
    assert lenient.returncode == 0, lenient.stderr
    assert "wrote" in lenient.stdout and "1 sequences" in lenient.stdout
    for name, reason in (
        ("000", "no person found"),
        ("018", "the video file is empty (0 bytes)"),
        ("036", "cannot decode"),
    ):
        assert f"{source / '004' / 'nm-01' / name}.mp4: {reason}" in lenient.stdout, lenient.stdout

    strict = run_cli("data", "convert-video", source, tmp_path / "strict", "--strict", "--workers", "2")
    assert strict.returncode == 2
    *warnings, error = strict.stderr.splitlines()  # the skipped videos, then the one-line error
    assert len(warnings) == 3 and "3 sequences could not be converted (strict mode)" in error
    assert "Traceback" not in strict.stderr
    assert not (tmp_path / "strict").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".strict")] == []

    alone = run_cli("data", "convert-video", source / "004" / "nm-01" / "000.mp4", tmp_path / "none")
    assert alone.returncode == 2 and "no person found" in alone.stderr and "Traceback" not in alone.stderr


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("../x,nm-01,000,a.mp4", "line 2: subject '../x'"),
        ("001,..,000,a.mp4", "line 2: type '..'"),
        ("001,nm-01,/etc,a.mp4", "line 2: view '/etc'"),
        ("001,nm-01,000,a.txt", "line 2: path 'a.txt' is not a video"),
    ],
)
def test_manifest_keys_from_data_are_checked_before_they_name_anything(
    tmp_path: Path, row: str, expected: str
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"subject,type,view,path\n{row}\n")
    with pytest.raises(DataError, match=re.escape(expected)):
        resolve_videos(manifest)
    result = run_cli("data", "convert-video", manifest, tmp_path / "out")
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr


def test_bad_options_and_destinations_are_refused_before_work(videos: Path, tmp_path: Path) -> None:
    for options, expected in (
        (("--method", "GMG"), "--method: unknown method 'GMG'"),
        (("--min-area", "0"), "--min-area must be"),
        (("--frame-step", "0"), "--frame-step must be an integer"),
    ):
        result = run_cli("data", "convert-video", videos, tmp_path / "x", *options)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    inside = run_cli("data", "convert-video", videos, videos / "003" / "ds")
    assert inside.returncode == 2 and "lies inside the source" in inside.stderr
    missing = run_cli("data", "convert-video", tmp_path / "nothing", tmp_path / "x")
    assert missing.returncode == 2 and "no such video, folder or manifest" in missing.stderr
