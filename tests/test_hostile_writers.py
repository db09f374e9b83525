"""Hostile destinations and inputs, round two (#35 items 1-2), through the real ``landmarkgait`` CLI.

One output rule for every writer (``data/destination.py``): nothing existing is replaced without
``--overwrite``, ``--overwrite`` replaces only regular files and folders landmarkgait marked,
devices and FIFOs are never written to, ``.`` and the working folder's ancestors never replaced,
read-only commands create nothing. One input rule for every reader (``data/input_files.py``):
regular files only (a FIFO returns at once instead of blocking), bounded size and JSON depth,
frame sizes against a pixel budget before decoding; config names follow the data-key rule.

Every case runs the console script as a subprocess with a timeout and expects exit code 2,
exactly one error line naming the path, key or value at fault, no traceback, no change to the
inputs and nothing created outside the case's (empty) working folder. Nearly all fail before
Ray or MLflow start; one convert-video case starts a loopback Ray.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from data_helpers import make_records, write_opengait_pkl_tree

from landmarkgait.data.format import METADATA_FILE, METADATA_KEY, SCHEMA
from landmarkgait.data.input_files import MAX_FRAME_PIXELS_VARIABLE
from landmarkgait.data.writer import write_dataset

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
QUICKSTART = REPO / "ray_configs" / "quickstart.yaml"
DEVICE = Path("/dev/null")
# A FIFO with no writer blocked readers forever: every case must answer well within this (each
# takes 1-3 s on an idle machine; the margin is for a loaded CI runner).
TIMEOUT_S = 120


def _tree_with(root: Path, name: str, make: object) -> Path:
    """``root/<subject>/<type>/<view>/<name>`` made by ``make(path)``; returns the tree's root."""
    folder = root / "001" / "nm-01" / "000"
    folder.mkdir(parents=True)
    make(folder / name)  # type: ignore[operator]
    return root


def _deep_metadata_dataset(dataset: Path, out: Path) -> Path:
    """A copy of ``dataset`` whose metadata JSON nests 500 levels deep in ``extra``."""
    shutil.copytree(dataset, out)
    value = pq.read_schema(dataset / METADATA_FILE).metadata[METADATA_KEY.encode()].decode()
    deep = value.rstrip()[:-1] + ', "deep": ' + "[" * 500 + "]" * 500 + "}"
    json.loads(deep)  # valid JSON: only its depth is at fault
    pq.write_metadata(SCHEMA.with_metadata({METADATA_KEY: deep}), out / METADATA_FILE)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dataset, a pickle tree, a folder and files not ours, FIFOs where files are expected."""
    root = tmp_path_factory.mktemp("writers")
    records = make_records()
    dataset = write_dataset(records, root / "dataset", name="tiny", source="test")
    pickles = root / "pickles"
    write_opengait_pkl_tree(pickles, records)
    foreign = root / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("months of work\n")
    plain = root / "plain.txt"
    plain.write_text("not ours to replace\n")
    fifo = root / "fifo"
    os.mkfifo(fifo)
    fifo_shard = root / "fifo-shard"
    shutil.copytree(dataset, fifo_shard)
    os.mkfifo(fifo_shard / "part-99999.parquet")
    small_png = root / "small-png"
    _tree_with(small_png, "0.png", lambda path: cv2.imwrite(str(path), np.full((200, 200), 255, np.uint8)))
    videos = root / "videos"
    videos.mkdir()
    os.mkfifo(videos / "stuck.avi")
    (videos / "manifest.csv").write_text("subject,type,view,path\n001,nm-01,000,stuck.avi\n")
    writer = cv2.VideoWriter(str(videos / "walk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(3):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    bad_sweep = root / "sweep.yaml"
    bad_sweep.write_text(
        yaml.safe_dump(
            {
                "name": "../escape",
                "base": str(QUICKSTART),
                "search": {"space": {"model.num_landmark": {"grid": [20]}}, "metric": "recognition/rank1/NM"},
            }
        )
    )
    return {
        "root": root,
        "dataset": dataset,
        "pickles": pickles,
        "foreign": foreign,
        "plain": plain,
        "fifo": fifo,
        "fifo_shard": fifo_shard,
        "fifo_pkl": _tree_with(root / "fifo-pkl", "000.pkl", os.mkfifo),
        "zero_pkl": _tree_with(root / "zero-pkl", "000.pkl", lambda path: path.symlink_to("/dev/zero")),
        "fifo_png": _tree_with(root / "fifo-png", "0.png", os.mkfifo),
        "small_png": small_png,
        "manifest": videos / "manifest.csv",
        "walk": videos / "walk.avi",
        "deep": _deep_metadata_dataset(dataset, root / "deep-metadata"),
        "bad_sweep": bad_sweep,
        "missing_db": root / "no" / "such" / "dir" / "x.db",
    }


RUN = "0123456789abcdef0123456789abcdef"
REPORT = ["report", "--experiment", "x", "--tracking-uri", "sqlite:///{missing_db}"]

# (case id, argv with {placeholders} from the fixture, text the one error line must contain,
#  extra environment)
CASES: list[tuple[str, list[str], str, dict[str, str]]] = [
    # output rule: an existing path is not replaced without --overwrite
    ("export-pkl-over-a-folder", ["data", "export-pkl", "{dataset}", "{foreign}"], "already exists", {}),
    ("preview-over-a-file", ["data", "preview", "{dataset}", "--out", "{plain}"], "already exists", {}),
    ("gei-csv-over-a-file", ["baseline", "gei", "{dataset}", "--csv", "{plain}"], "already exists", {}),
    (
        "export-over-a-file",
        ["export", "--run", RUN, "--format", "torchscript", "{plain}"],
        "already exists",
        {},
    ),
    ("report-over-a-folder", [*REPORT, "--out", "{foreign}"], "already exists", {}),
    # --overwrite replaces only what landmarkgait wrote and marked
    (
        "export-pkl-overwrite-foreign",
        ["data", "export-pkl", "{dataset}", "{foreign}", "--overwrite"],
        "not a folder written by landmarkgait",
        {},
    ),
    (
        "convert-pkl-overwrite-foreign",
        ["data", "convert-pkl", "{pickles}", "{foreign}", "--overwrite"],
        "not a folder written by landmarkgait",
        {},
    ),
    (
        "embed-overwrite-foreign",
        ["embed", str(QUICKSTART), "--run", RUN, "{dataset}", "--out", "{foreign}", "--overwrite"],
        "not a folder written by landmarkgait",
        {},
    ),
    (
        "report-overwrite-foreign",
        [*REPORT, "--out", "{foreign}", "--overwrite"],
        "not a folder written by landmarkgait",
        {},
    ),
    (
        "export-pkl-overwrite-a-file",
        ["data", "export-pkl", "{dataset}", "{plain}", "--overwrite"],
        "is a regular file, not a folder written by landmarkgait",
        {},
    ),
    (
        "preview-onto-a-folder",
        ["data", "preview", "{dataset}", "--out", "{foreign}", "--overwrite"],
        "is a folder",
        {},
    ),
    # '.' and the working folder's ancestors
    ("export-pkl-into-dot", ["data", "export-pkl", "{dataset}", ".", "--overwrite"], "working folder", {}),
    (
        "export-pkl-into-parent",
        ["data", "export-pkl", "{dataset}", "..", "--overwrite"],
        "working folder",
        {},
    ),
    (
        "synth-into-dot",
        ["data", "synth", "--out", ".", "--subjects", "2", "--overwrite"],
        "working folder",
        {},
    ),
    # devices and FIFOs are never written to, --overwrite or not
    (
        "export-onto-a-device",
        ["export", "--run", RUN, "--format", "torchscript", str(DEVICE)],
        "character device",
        {},
    ),
    (
        "export-pkl-onto-a-device",
        ["data", "export-pkl", "{dataset}", str(DEVICE), "--overwrite"],
        "character device",
        {},
    ),
    (
        "synth-videos-onto-a-device",
        ["data", "synth-videos", "--out", str(DEVICE), "--overwrite"],
        "character device",
        {},
    ),
    (
        "preview-onto-a-device",
        ["data", "preview", "{dataset}", "--out", str(DEVICE), "--overwrite"],
        "character device",
        {},
    ),
    ("export-pkl-onto-a-fifo", ["data", "export-pkl", "{dataset}", "{fifo}", "--overwrite"], "FIFO", {}),
    (
        "gei-heatmap-onto-a-fifo",
        ["baseline", "gei", "{dataset}", "--heatmap", "{fifo}", "--overwrite"],
        "FIFO",
        {},
    ),
    # read-only commands create nothing
    ("report-missing-sqlite", REPORT, "does not exist", {}),
    (
        "identify-missing-store",
        ["identify", "--run", RUN, "--gallery", "{dataset}", "{dataset}:001/nm-01/000"],
        "does not exist",
        {},
    ),
    (
        "report-experiment-names-a-path",
        ["report", "--experiment", "../../escape", "--tracking-uri", "sqlite:///{missing_db}"],
        "cannot name a report folder",
        {},
    ),
    # input rule: FIFOs, devices, depth and pixel budgets
    ("inspect-fifo-shard", ["data", "inspect", "{fifo_shard}"], "FIFO", {}),
    ("inspect-deep-metadata", ["data", "inspect", "{deep}"], "nested deeper than", {}),
    ("convert-pkl-fifo", ["data", "convert-pkl", "{fifo_pkl}", "out", "--workers", "1"], "FIFO", {}),
    (
        "convert-pkl-device",
        ["data", "convert-pkl", "{zero_pkl}", "out", "--workers", "1"],
        "character device",
        {},
    ),
    ("convert-frames-fifo", ["data", "convert-frames", "{fifo_png}", "out", "--workers", "1"], "FIFO", {}),
    (
        "convert-frames-over-pixel-budget",
        ["data", "convert-frames", "{small_png}", "out", "--workers", "1"],
        "exceed the budget",
        {MAX_FRAME_PIXELS_VARIABLE: "10000"},
    ),
    ("convert-video-fifo", ["data", "convert-video", "{manifest}", "out"], "FIFO", {}),
    ("config-is-a-fifo", ["run", "{fifo}"], "a FIFO (named pipe), not a regular file", {}),
    ("sweep-config-is-a-fifo", ["sweep", "{fifo}"], "{fifo}", {}),
    ("import-checkpoint-fifo", ["import", str(QUICKSTART), "--stage", "landmark", "{fifo}"], "FIFO", {}),
    ("gei-partition-fifo", ["baseline", "gei", "{dataset}", "--partition", "{fifo}"], "FIFO", {}),
    ("partition-is-a-fifo", ["run", str(QUICKSTART), "--set", "data.partition={fifo}"], "data.partition", {}),
    (
        "partition-is-a-folder",
        ["run", str(QUICKSTART), "--set", "data.partition={root}"],
        "data.partition",
        {},
    ),
    # names from configs follow the data-key rule
    (
        "name-traversal",
        ["train", str(QUICKSTART), "--stage", "landmark", "--set", "name=../../../../tmp/x/ESCAPED"],
        "config key 'name'",
        {},
    ),
    ("name-empty", ["run", str(QUICKSTART), "--set", "name=''"], "config key 'name'", {}),
    ("name-newline", ["run", str(QUICKSTART), "--set", 'name="a\\nb"'], "control character", {}),
    ("name-too-long", ["run", str(QUICKSTART), "--set", f"name={'x' * 200}"], "at most 128", {}),
    ("experiment-with-slash", ["run", str(QUICKSTART), "--experiment", "a/b"], "experiment", {}),
    ("sweep-name-traversal", ["sweep", "{bad_sweep}"], "'../escape'", {}),
]


def fill(words: list[str], inputs: dict[str, Path]) -> list[str]:
    return [word.format(**{key: str(value) for key, value in inputs.items()}) for word in words]


def snapshot(root: Path) -> dict[Path, tuple[int, int, int]]:
    """Every path below ``root`` with its type, size and modification time (nothing is opened)."""
    states = {}
    for path in root.rglob("*"):
        status = path.lstat()
        states[path] = (stat.S_IFMT(status.st_mode), status.st_size, status.st_mtime_ns)
    return states


def run_case(argv: list[str], env: dict[str, str], work: Path, home: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "LANDMARKGAIT_HOME": str(home), "MLFLOW_TRACKING_URI": "", **env}
    return subprocess.run(
        [str(BIN / "landmarkgait"), *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=work,
        env=environment,
    )


def assert_one_line_and_nothing_written(
    result: subprocess.CompletedProcess, named: str, before: dict, inputs: dict[str, Path], tmp_path: Path
) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("landmarkgait: error:")]
    assert len(errors) == 1 and named in errors[0], result.stderr[-2000:]
    assert snapshot(inputs["root"]) == before  # no input replaced, touched or added to
    assert list(tmp_path.rglob("*")) == [tmp_path / "work"]  # no home, no output, no staging
    assert stat.S_ISCHR(DEVICE.stat().st_mode)
    assert not Path("/tmp/x/ESCAPED").exists()


@pytest.mark.parametrize(
    ("argv", "named", "env"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_hostile_destination_or_input_is_one_line_and_writes_nothing(
    argv: list[str], named: str, env: dict[str, str], inputs: dict[str, Path], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(inputs["root"])
    result = run_case(fill(argv, inputs), env, work, tmp_path / "home")  # a hang ends in TimeoutExpired
    assert_one_line_and_nothing_written(result, fill([named], inputs)[0], before, inputs, tmp_path)


def test_a_video_over_the_pixel_budget_is_refused_before_decoding(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    """The video's declared frame size is checked before a frame is decoded (starts a loopback Ray)."""
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(inputs["root"])
    argv = ["data", "convert-video", str(inputs["walk"]), "out", "--strict", "--workers", "1"]
    result = run_case(argv, {MAX_FRAME_PIXELS_VARIABLE: "10000"}, work, tmp_path / "home")
    assert_one_line_and_nothing_written(
        result, "320x240 = 76800 pixels exceed the budget", before, inputs, tmp_path
    )


def test_overwrite_replaces_what_landmarkgait_wrote(inputs: dict[str, Path], tmp_path: Path) -> None:
    """The other side of the rule: a marked output is replaced with --overwrite (and only with it)."""
    out = tmp_path / "pkl"
    command = [
        str(BIN / "landmarkgait"),
        "data",
        "export-pkl",
        str(inputs["dataset"]),
        str(out),
        "--workers",
        "1",
    ]
    for extra, code in (([], 0), ([], 2), (["--overwrite"], 0)):
        result = subprocess.run(
            [*command, *extra], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path
        )
        assert result.returncode == code, result.stderr[-2000:]
    assert (out / ".landmarkgait-output").is_file() and (out / "001" / "nm-01" / "000" / "000.pkl").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pkl"]  # nothing retired or staged left


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40 and len({case[0] for case in CASES}) == len(CASES)
