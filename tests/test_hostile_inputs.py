"""Bad and hostile input through the real ``landmarkgait`` CLI: one line, exit 2, nothing written.

Every case runs the console script as a subprocess and expects exit code 2, exactly one line on
stderr that names the file, key, value or path at fault, no traceback, and no file created
outside what existed before. All of them fail before Ray or MLflow start, so the module is fast.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from data_helpers import make_records, write_opengait_pkl_tree

from landmarkgait.data.writer import write_dataset

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("VIRTUAL_ENV", Path(__file__).resolve().parents[1] / ".venv")) / "bin"
QUICKSTART = REPO / "ray_configs" / "quickstart.yaml"
SWEEP = REPO / "ray_configs" / "sweep_quickstart.yaml"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small dataset, an OpenGait pickle tree, a plain file, a non-UTF-8 config, a bad sweep."""
    root = tmp_path_factory.mktemp("hostile")
    records = make_records()
    dataset = write_dataset(records, root / "dataset", name="tiny", source="test")
    pickles = root / "pickles"
    write_opengait_pkl_tree(pickles, records)
    plain = root / "plain.txt"
    plain.write_text("not a directory\n")
    latin = root / "latin1.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    sweep = root / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "base": str(QUICKSTART),
                "search": {"space": {"model.num_landmark": {"grid": [20]}}, "metric": "recognition/bogus"},
            }
        )
    )
    return {
        "dataset": dataset,
        "pickles": pickles,
        "plain": plain,
        "latin": latin,
        "sweep": sweep,
        "root": root,
    }


# (case id, argv with {placeholders} from the fixture, text the one error line must contain)
CASES = [
    # run / train / evaluate / import: config values
    ("num-landmark-2", ["run", "{q}", "--set", "model.num_landmark=2"], "num_landmark"),
    ("bogus-preset", ["run", "{q}", "--set", "model.preset=bogus"], "preset 'bogus'"),
    ("unknown-override", ["run", "{q}", "--set", "model.overrides={{num_lanmark: 3}}"], "num_lanmark"),
    ("unknown-key", ["run", "{q}", "--set", "model.bogus=1"], "model.bogus"),
    ("no-equals", ["run", "{q}", "--set", "model.num_landmark"], "key.path=value"),
    ("bad-yaml-value", ["run", "{q}", "--set", "model.num_landmark=[1"], "not valid YAML"),
    ("negative-lr", ["run", "{q}", "--set", "stages.recognition.optimizer.lr=-1"], "'lr'"),
    ("negative-milestone", ["run", "{q}", "--set", "stages.parsing.optimizer.milestones=[-5]"], "milestones"),
    ("zero-gamma", ["run", "{q}", "--set", "stages.parsing.optimizer.gamma=0"], "gamma"),
    ("negative-weight", ["run", "{q}", "--set", "stages.landmark.loss.triplet=-2"], "triplet"),
    ("smoothing-1", ["run", "{q}", "--set", "stages.recognition.loss.label_smoothing=1"], "label_smoothing"),
    ("zero-frames", ["run", "{q}", "--set", "stages.landmark.sampler.frames=0"], "frames"),
    (
        "identity-transport",
        ["run", "{q}", "--set", "stages.recognition.sampler.frames=8"],
        "own transport source",
    ),
    ("bad-sample-type", ["run", "{q}", "--set", "stages.landmark.sampler.sample_type=all"], "sample_type"),
    ("zero-total-iter", ["run", "{q}", "--set", "stages.landmark.total_iter=0"], "total_iter"),
    ("string-iter", ["run", "{q}", "--set", "stages.landmark.total_iter=many"], "total_iter"),
    ("one-subject", ["run", "{q}", "--set", "data.synthetic.subjects=1"], "subjects"),
    ("unknown-view", ["run", "{q}", "--set", "data.synthetic.views=['999']"], "999"),
    ("zero-workers", ["run", "{q}", "--set", "scaling.num_workers=0"], "num_workers"),
    ("bad-backend", ["run", "{q}", "--set", "scaling.backend=mpi"], "backend"),
    ("bad-protocol", ["run", "{q}", "--set", "evaluation.protocol=tum"], "protocol"),
    ("too-many-retries", ["run", "{q}", "--set", "tracking.http_retries=50"], "http_retries"),
    ("bad-branches", ["run", "{q}", "--set", "model.recognition_branches=both"], "recognition_branches"),
    ("zero-read-threads", ["run", "{q}", "--set", "data.read_threads=0"], "read_threads"),
    ("empty-experiment", ["run", "{q}", "--experiment", ""], "experiment"),
    ("empty-tracking-uri", ["run", "{q}", "--tracking-uri", ""], "tracking_uri"),
    ("unknown-scheme", ["run", "{q}", "--tracking-uri", "foo://bar"], "foo://bar"),
    (
        "unwritable-sqlite",
        ["run", "{q}", "--tracking-uri", "sqlite:////proc/landmarkgait/x.db"],
        "/proc/landmarkgait",
    ),
    (
        "unwritable-storage",
        ["run", "{q}", "--set", "scaling.storage_path=/proc/landmarkgait"],
        "scaling.storage_path",
    ),
    ("unreachable-ray", ["run", "{q}", "--ray-address", "127.0.0.1:1"], "127.0.0.1:1"),
    (
        "unreachable-ray-client",
        ["train", "{q}", "--stage", "landmark", "--ray-address", "ray://127.0.0.1:1"],
        "ray://127.0.0.1:1",
    ),
    ("missing-config", ["run", "{root}/missing.yaml"], "missing.yaml"),
    ("latin1-config", ["run", "{latin}"], "not UTF-8"),
    ("config-is-dir", ["run", "{root}"], "it is a folder, not a regular file"),
    ("train-bad-key", ["train", "{q}", "--stage", "parsing", "--set", "model.bogus=1"], "model.bogus"),
    (
        "evaluate-bad-key",
        ["evaluate", "{q}", "--run", "0123", "--set", "model.num_landmark=2"],
        "num_landmark",
    ),
    ("import-bad-key", ["import", "{q}", "--stage", "landmark", "x.pt", "--set", "model.preset=x"], "preset"),
    # sweep
    ("sweep-missing", ["sweep", "{root}/missing-sweep.yaml"], "missing-sweep.yaml"),
    ("sweep-bad-metric", ["sweep", "{sweep}"], "recognition/bogus"),
    ("sweep-bad-override", ["sweep", "{s}", "--set", "model.num_landmark=2"], "num_landmark"),
    # data commands
    ("convert-into-itself", ["data", "convert-pkl", "{pickles}", "{pickles}", "--overwrite"], "source"),
    ("convert-inside-source", ["data", "convert-pkl", "{pickles}", "{pickles}/out"], "source"),
    ("convert-under-a-file", ["data", "convert-pkl", "{pickles}", "{plain}/sub"], "plain.txt"),
    (
        "convert-unwritable",
        ["data", "convert-pkl", "{pickles}", "/proc/landmarkgait-out"],
        "landmarkgait-out",
    ),
    ("export-into-itself", ["data", "export-pkl", "{dataset}", "{dataset}", "--overwrite"], "source"),
    ("export-over-source-parent", ["data", "export-pkl", "{dataset}", "{root}", "--overwrite"], "source"),
    ("export-unwritable", ["data", "export-pkl", "{dataset}", "/proc/landmarkgait-pkl"], "landmarkgait-pkl"),
    ("export-missing-source", ["data", "export-pkl", "{root}/nothing", "{root}/out"], "nothing"),
    ("inspect-a-file", ["data", "inspect", "{plain}"], "plain.txt"),
    ("synth-exists", ["data", "synth", "--out", "{dataset}", "--subjects", "2"], "already exists"),
    ("synth-one-subject", ["data", "synth", "--out", "{root}/s1", "--subjects", "1"], "subjects"),
    ("synth-unwritable", ["data", "synth", "--out", "/proc/landmarkgait-synth", "--subjects", "2"], "synth"),
    (
        "preview-unwritable",
        ["data", "preview", "{dataset}", "--out", "/proc/sheet.png"],
        "--out /proc/sheet.png",
    ),
    (
        "preview-under-a-file",
        ["data", "preview", "{dataset}", "--out", "{plain}/sheet.png"],
        "not a directory",
    ),
    ("baseline-missing", ["baseline", "gei", "{root}/nothing"], "nothing"),
    (
        "baseline-csv-unwritable",
        ["baseline", "gei", "{dataset}", "--csv", "/proc/gei.csv"],
        "--csv /proc/gei.csv",
    ),
    # report
    (
        "report-unknown-experiment",
        ["report", "--experiment", "no-such", "--tracking-uri", "sqlite:///{root}/r.db"],
        "no-such",
    ),
    (
        "report-unwritable",
        [
            "report",
            "--experiment",
            "no-such",
            "--tracking-uri",
            "sqlite:///{root}/r.db",
            "--out",
            "/proc/report",
        ],
        "--out /proc/report",
    ),
]


def fill(argv: list[str], inputs: dict[str, Path]) -> list[str]:
    names = {**{key: str(value) for key, value in inputs.items()}, "q": str(QUICKSTART), "s": str(SWEEP)}
    return [word.format(**names) for word in argv]


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(("argv", "named"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_one_clear_line_and_leaves_nothing(
    argv: list[str], named: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    before = snapshot(inputs["root"])
    env = {**os.environ, "LANDMARKGAIT_HOME": str(tmp_path / "home"), "MLFLOW_TRACKING_URI": ""}
    result = subprocess.run(
        [str(BIN / "landmarkgait"), *fill(argv, inputs)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in lines if line.startswith("landmarkgait: error:")]
    assert len(errors) == 1 and named in errors[0], result.stderr[-2000:]
    assert snapshot(inputs["root"]) - before <= {inputs["root"] / "r.db"}  # nothing new beside the inputs
    assert not (tmp_path / "home" / "ray_results").exists()


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40 and len({case[0] for case in CASES}) == len(CASES)
