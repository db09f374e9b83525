"""``landmarkgait doctor``: every difference known to move results, with its source, and the warnings
that a run's evaluation cannot be compared with the paper.

Real CLI subprocesses on real Parquet datasets (two small ones written here: one prepared as
OpenGait's pretreatment prepares silhouettes, one "own preprocessing": 128×128 frames, off-centre
silhouettes, sequences shorter than the paper's clips) and a real SQLite MLflow store holding
runs shaped as the pipeline logs them; the pipeline run's description is made by the driver's own
``summarise``. No training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cluster_helpers import REPO, run_cli

from landmarkgait.data.format import SequenceRecord, read_metadata
from landmarkgait.data.writer import write_dataset
from landmarkgait.pipelines.config import TrackingSection, load_config
from landmarkgait.pipelines.doctor.subjects import examine, subject_of_run
from landmarkgait.pipelines.tracking.tags import (
    TAG_DATA,
    TAG_EVALUATED_RUN,
    TAG_KIND,
    TAG_NOTE,
    TAG_STAGE,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker

PAPER = REPO / "ray_configs" / "casia_b.yaml"
RUN_NAME = "bench · 25 landmarks · abc123"


def write_silhouettes(
    path: Path, size: int, frames: int, rows: tuple[int, int], columns: tuple[int, int]
) -> Path:
    """4 subjects (2 train, 2 test) × nm-01 / nm-05 × 2 views, every frame one rectangle."""
    frame = np.zeros((size, size), dtype=np.uint8)
    frame[rows[0] : rows[1], columns[0] : columns[1]] = 255
    records = [
        SequenceRecord(subject, kind, view, np.repeat(frame[None], frames, axis=0))
        for subject in ("001", "002", "003", "004")
        for kind in ("nm-01", "nm-05")
        for view in ("000", "090")
    ]
    partition = {"TRAIN_SET": ["001", "002"], "TEST_SET": ["003", "004"]}
    return write_dataset(
        records, path, name=path.name, source="test", extra_metadata={"partition": partition}
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """LANDMARKGAIT_HOME of this module (MLflow artifacts), for this process and the CLI's."""
    home = tmp_path_factory.mktemp("doctor-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LANDMARKGAIT_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def aligned(home: Path) -> Path:
    """As OpenGait's pretreatment writes: 64×64, full height, centred on the middle column; 40 frames."""
    return write_silhouettes(home / "aligned", 64, 40, (0, 64), (26, 38))


@pytest.fixture(scope="module")
def own_preprocessing(home: Path) -> Path:
    """128×128, a silhouette over half the height and off centre, 10 frames per sequence."""
    return write_silhouettes(home / "own", 128, 10, (20, 90), (10, 30))


def doctor(*args: str) -> dict:
    result = run_cli("doctor", *args, "--json", timeout_s=900)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_what(findings: list[dict]) -> dict[str, dict]:
    return {finding["what"]: finding for finding in findings}


def test_a_config_shows_each_difference_its_source_and_the_evaluation_warnings(aligned: Path) -> None:
    report = doctor(
        str(PAPER),
        *("--set", f"data.path={aligned}"),
        *("--set", "stages.recognition.total_iter=300"),
        *("--set", "stages.recognition.sampler.subjects_per_batch=4"),
        *("--set", "model.overrides.head=bnneck"),
        *("--set", "evaluation.max_frames=20"),
    )
    assert report["reference"] == "ray_configs/casia_b.yaml"  # the paper preset of its protocol
    differences = by_what(report["differences"])
    assert set(differences) == {
        "recognition iterations",
        "recognition learning-rate steps",
        "recognition P×K batch",
        "embedding head",
    }
    iterations = differences["recognition iterations"]
    assert (iterations["value"], iterations["reference"]) == ("300", "80000")
    steps = differences["recognition learning-rate steps"]
    assert steps["value"] == "×0.1 at 70000 of 300 (never reached)"
    assert "OpenGait issue #239" in iterations["source"] and iterations["why"]
    assert differences["recognition P×K batch"]["value"] == "4×8"
    assert "#237" in differences["embedding head"]["source"]
    assert differences["embedding head"]["value"].startswith("bnneck")

    warnings = by_what(report["warnings"])
    assert set(warnings) == {"test frames", "test set"}
    assert warnings["test frames"]["value"] == "the first 20 frames"
    assert (
        warnings["test set"]["value"]
        == "2 subjects, 2 views, 2 types (no bg-01, bg-02, cl-01, cl-02, nm-02, nm-03, nm-04, nm-06)"
    )
    assert "50 subjects" in warnings["test set"]["reference"]

    same = by_what(report["same"])
    for agreed in (
        "identical-view exclusion",
        "transform / cutting",
        "silhouette size",
        "silhouette alignment",
        "sequence length",
        "landmark grouping at evaluation",
        "landmark training sampler",
        "parsing iterations",
    ):
        assert agreed in same, agreed
    assert same["silhouette alignment"]["value"].startswith("span 100% of the height, 0.0 columns off centre")
    assert report["unchecked"] == []


def test_own_preprocessing_shows_in_size_cutting_lengths_and_alignment(own_preprocessing: Path) -> None:
    report = doctor(str(PAPER), "--set", f"data.path={own_preprocessing}")
    differences = by_what(report["differences"])
    assert set(differences) == {
        "silhouette size",
        "transform / cutting",
        "sequence length",
        "silhouette alignment",
    }
    assert differences["silhouette size"]["value"] == "128×128"
    assert differences["transform / cutting"]["value"] == (
        "128×128 cut 20 per side to 128×88, but the network takes 64×44"
    )
    assert "100% shorter than the reference's 30-frame clips" in differences["sequence length"]["value"]
    assert differences["silhouette alignment"]["value"].startswith("span 55% of the height, 44.0 columns off")
    assert "#31" in differences["silhouette alignment"]["source"]


def test_the_paper_preset_against_itself_differs_in_nothing_and_says_what_it_could_not_read() -> None:
    result = run_cli("doctor", str(PAPER), "--against", "casia_b", timeout_s=900)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "No difference known to move results." in text
    assert "## Not checked" in text and "/data/casia-b-parquet is not on this machine" in text
    assert "## Same as the reference" in text and "iterations (landmark, parsing, recognition)" in text


@pytest.fixture(scope="module")
def store(home: Path, aligned: Path, own_preprocessing: Path) -> dict[str, str]:
    """Runs as the pipeline logs them: a recognition stage run (resolved config, dataset
    fingerprint, a name), its cross-dataset evaluation run, and a run whose dataset changed since."""
    uri = f"sqlite:///{home / 'mlflow.db'}"
    tracker = Tracker.connect(TrackingSection(tracking_uri=uri, experiment="doctor"))
    config = load_config(PAPER, [f"data.path={aligned}", "stages.recognition.total_iter=300"])
    runs = {"uri": uri}
    for key, fingerprint in (
        ("stage", read_metadata(aligned).fingerprint),
        ("changed", "sha256:" + "0" * 64),
    ):
        run_id = tracker.create_run(
            RUN_NAME if key == "stage" else "changed data",
            {TAG_KIND: "stage", TAG_STAGE: "recognition", TAG_DATA: fingerprint},
            params=config.flat_params(),
        )
        tracker.log_text(run_id, config.to_yaml(), "config/resolved.yaml")
        tracker.log_metrics(
            run_id, {"eval/rank1/NM": 50.0, "eval/rank1/BG": 40.0, "eval/rank1/CL": 30.0}, step=300
        )
        tracker.finish(run_id)
        runs[key] = run_id
    other = load_config(PAPER, [f"data.path={own_preprocessing}", "evaluation.max_frames=20"])
    runs["evaluation"] = tracker.create_run(
        f"evaluation on {own_preprocessing.name}",
        {
            TAG_KIND: "evaluation",
            TAG_EVALUATED_RUN: runs["stage"],
            TAG_DATA: read_metadata(own_preprocessing).fingerprint,
        },
        params=other.flat_params(),
        parent_run_id=runs["stage"],
    )
    tracker.finish(runs["evaluation"])
    runs["experiment_id"] = tracker.experiment_id
    return runs


def test_a_run_is_read_by_id_or_by_its_name(store: dict[str, str]) -> None:
    by_id = doctor(store["stage"], "--tracking-uri", store["uri"])
    by_name = doctor(RUN_NAME, "--tracking-uri", store["uri"])
    assert by_id["subject"] == f"run {store['stage']} ({RUN_NAME})" == by_name["subject"]
    assert by_id == by_name
    assert [finding["what"] for finding in by_id["differences"]] == [
        "recognition iterations",
        "recognition learning-rate steps",
    ]
    assert [finding["what"] for finding in by_id["warnings"]] == ["test set"]


def test_a_cross_dataset_evaluation_is_its_trained_run_on_its_own_data_and_evaluation(
    store: dict[str, str],
) -> None:
    tracker = Tracker.of_run(store["uri"], store["evaluation"])
    diagnosis = examine(subject_of_run(tracker, store["evaluation"]), None)
    assert diagnosis.notes == (f"a cross-dataset evaluation of run {store['stage']}, trained on other data",)
    assert {f.what for f in diagnosis.differences} >= {"recognition iterations", "silhouette alignment"}
    assert {f.what for f in diagnosis.warnings} == {"test frames", "test set"}

    changed = examine(subject_of_run(tracker, store["changed"]), None)
    assert "now holds dataset" in changed.dataset and changed.unchecked
    assert {f.status for f in changed.unchecked} == {"unknown"} and not changed.warnings


def test_the_pipeline_runs_description_carries_the_doctors_summary(store: dict[str, str]) -> None:
    from landmarkgait.pipelines.driver.run import summarise

    tracker = Tracker.of_run(store["uri"], store["stage"])
    parent = tracker.create_run(
        "pipeline", {TAG_KIND: "pipeline", stage_link_tag("recognition"): store["stage"]}
    )
    summarise(tracker, parent, {"recognition": store["stage"]}, [])
    note = tracker.get_run(parent).tags[TAG_NOTE]
    assert (
        f"**Doctor** (against `ray_configs/casia_b.yaml`; details: `landmarkgait doctor {store['stage']}`)"
        in note
    )
    assert "2 differences known to move results, 1 reason the evaluation is not comparable" in note
    assert "- iterations: recognition 300 (reference: 80000). OpenGait issue #239" in note
    assert "- not comparable: test set: 2 subjects" in note


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no such run", "--tracking-uri", "{uri}"], "no MLflow run is named 'no such run'"),
        (
            [str(PAPER), "--against", "no_such_preset"],
            "--against 'no_such_preset': no preset no_such_preset.yaml",
        ),
    ],
)
def test_a_missing_run_or_preset_is_one_line(store: dict[str, str], args: list[str], message: str) -> None:
    result = run_cli("doctor", *(arg.format(uri=store["uri"]) for arg in args), timeout_s=900)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert os.environ.get("LANDMARKGAIT_HOME")  # the module's home, never ~/.landmarkgait
