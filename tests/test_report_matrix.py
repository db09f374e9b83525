"""``report --matrix``: trained-on × tested-on rank-1 over runs and datasets, as files and in MLflow.

The MLflow side is a real SQLite store holding runs shaped as the pipeline and ``evaluate --run``
log them: recognition stage runs (their own dataset's fingerprint, config params, ``eval/``
metrics) and ``evaluation`` runs nested under them (another dataset's fingerprint), in two
experiments; the report is the real CLI. No dataset is needed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_helpers import run_cli
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.config import TrackingSection
from landmarkgait.pipelines.report.matrix import MATRIX_KIND, headline_rank1
from landmarkgait.pipelines.tracking.tags import TAG_DATA, TAG_EVALUATED_RUN, TAG_KIND, TAG_NOTE, TAG_STAGE
from landmarkgait.pipelines.tracking.tracker import Tracker

CASIA = "sha256:" + "c" * 64
OUMVLP = "sha256:" + "0" * 64
LG25 = "LandmarkGait (25 landmarks)"
HOLISTIC = "Holistic (PMBC-Net on silhouettes only)"


def params(dataset: str, protocol: str, **more: object) -> dict[str, object]:
    return {
        "data.path": f"/data/{dataset}",
        "evaluation.protocol": protocol,
        "evaluation.metric": "euc",
        "evaluation.max_frames": None,
        "model.num_landmark": 25,
        **more,
    }


def trained(tracker: Tracker, fingerprint: str, config: dict[str, object], rank1: dict[str, float]) -> str:
    run_id = tracker.create_run(
        "recognition", {TAG_KIND: "stage", TAG_STAGE: "recognition", TAG_DATA: fingerprint}, params=config
    )
    tracker.log_metrics(run_id, {f"eval/rank1/{c}": v for c, v in rank1.items()}, step=10)
    tracker.log_metrics(run_id, {"eval/rank1/NM/000": 1.0}, step=10)  # per-view metrics are not conditions
    tracker.finish(run_id)
    return run_id


def evaluated(
    tracker: Tracker, source: str, fingerprint: str | None, config: dict[str, object], rank1: dict[str, float]
) -> str:
    tags = {TAG_KIND: "evaluation", TAG_EVALUATED_RUN: source}
    if fingerprint:
        tags[TAG_DATA] = fingerprint
    run_id = tracker.create_run("evaluation", tags, params=config, parent_run_id=source)
    tracker.log_metrics(run_id, {f"eval/rank1/{c}": v for c, v in rank1.items()}, step=0)
    tracker.finish(run_id)
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Experiment ``on-casia``: two seeds of LandmarkGait and one holistic run trained on CASIA-B,
    the seeds also evaluated on OU-MVLP (seed 0 twice: the newer counts), the holistic run only
    from embeddings (no dataset named: left out); experiment ``on-oumvlp``: one run trained on
    OU-MVLP and evaluated on CASIA-B."""
    home = tmp_path_factory.mktemp("matrix-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LANDMARKGAIT_HOME", str(home))
        uri = f"sqlite:///{home / 'mlflow.db'}"
        casia = Tracker.connect(TrackingSection(tracking_uri=uri, experiment="on-casia"))
        casia_b, oumvlp = params("casia-b", "casia_b"), params("oumvlp", "oumvlp")
        seed0 = trained(casia, CASIA, {**casia_b, "seed": 0}, {"NM": 90.0, "BG": 80.0, "CL": 70.0})
        seed1 = trained(casia, CASIA, {**casia_b, "seed": 1}, {"NM": 92.0, "BG": 82.0, "CL": 72.0})
        holistic = trained(
            casia,
            CASIA,
            {**casia_b, "model.recognition_branches": "holistic"},
            {"NM": 95.0, "BG": 85.0, "CL": 60.0},
        )
        evaluated(casia, seed0, OUMVLP, oumvlp, {"NM": 30.0})
        newest = evaluated(casia, seed0, OUMVLP, oumvlp, {"NM": 35.0})
        other_seed = evaluated(casia, seed1, OUMVLP, oumvlp, {"NM": 25.0})
        evaluated(casia, holistic, None, oumvlp, {"NM": 99.0})
        unfinished = casia.create_run(
            "evaluation", {TAG_KIND: "evaluation", TAG_EVALUATED_RUN: seed1, TAG_DATA: CASIA}
        )
        casia.log_metrics(unfinished, {"eval/rank1/NM": 0.0}, step=0)

        ou = Tracker.connect(TrackingSection(tracking_uri=uri, experiment="on-oumvlp"))
        on_ou = trained(ou, OUMVLP, oumvlp, {"NM": 88.0})
        back = evaluated(ou, on_ou, CASIA, casia_b, {"NM": 40.0, "BG": 30.0, "CL": 20.0})
        Tracker.connect(TrackingSection(tracking_uri=uri, experiment="empty"))
        yield {
            "uri": uri,
            "home": str(home),
            "seed0": seed0,
            "seed1": seed1,
            "holistic": holistic,
            "newest": newest,
            "other_seed": other_seed,
            "on_ou": on_ou,
            "back": back,
            "experiment": casia.experiment_id,
        }


def test_the_headline_is_the_mean_over_conditions_or_the_single_rank1() -> None:
    assert headline_rank1({"eval/rank1/NM": 90.0, "eval/rank1/CL": 70.0, "eval/rank1/NM/000": 1.0}) == (
        80.0,
        {"NM": 90.0, "CL": 70.0},
    )
    assert headline_rank1({"eval/rank1": 42.0, "eval/mAP": 10.0}) == (42.0, {})
    assert headline_rank1({"eval/mAP/NM": 10.0}) is None


def test_the_matrix_of_two_experiments_in_files_json_and_mlflow(
    store: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "matrix"
    result = run_cli(
        "report",
        "--matrix",
        *("--experiment", "on-casia", "--experiment", "on-oumvlp"),
        *("--out", str(out), "--tracking-uri", store["uri"], "--json"),
        timeout_s=900,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    columns = [(column["tested_on"], column["evaluation"]) for column in report["columns"]]
    assert columns == [("oumvlp", "oumvlp/euc"), ("casia-b", "casia_b/euc")]  # by fingerprint
    rows = {(row["trained_on"], row["method"]): row["cells"] for row in report["rows"]}
    assert list(rows) == [("oumvlp", LG25), ("casia-b", HOLISTIC), ("casia-b", LG25)]

    seeds = rows[("casia-b", LG25)]
    assert seeds[1]["n"] == 2 and math.isclose(seeds[1]["rank1"], 81.0)  # (80 + 82) / 2
    assert math.isclose(seeds[1]["rank1_std"], math.sqrt(2))
    assert seeds[0]["n"] == 2 and math.isclose(seeds[0]["rank1"], 30.0)  # seed 0's newer 35, seed 1's 25
    assert set(seeds[0]["runs"]) == {store["newest"], store["other_seed"]}
    assert rows[("casia-b", HOLISTIC)] == [
        None,
        {"rank1": 80.0, "rank1_std": None, "n": 1, "runs": [store["holistic"]]},
    ]
    assert rows[("oumvlp", LG25)][0]["rank1"] == 88.0 and math.isclose(
        rows[("oumvlp", LG25)][1]["rank1"], 30.0
    )

    assert set(report["files"]) == {"matrix.md", "matrix.csv", "matrix.png"}
    markdown = (out / "matrix.md").read_text()
    assert (
        "| casia-b (cccccc) · LandmarkGait (25 landmarks) | 30.00 ± 7.07 (n=2) | **81.00 ± 1.41 (n=2)** |"
        in markdown
    )
    assert "| casia-b (cccccc) · Holistic (PMBC-Net on silhouettes only) | – | **80.00** |" in markdown
    lines = list(csv.DictReader(io.StringIO((out / "matrix.csv").read_text())))
    assert len(lines) == 5
    back = next(line for line in lines if line["trained_on"] == "oumvlp" and line["tested_on"] == "casia-b")
    assert (back["trained_fingerprint"], back["tested_fingerprint"]) == (OUMVLP, CASIA)
    assert (back["rank-1 NM"], back["rank-1 CL"], back["run_ids"]) == ("40.0", "20.0", store["back"])
    assert (out / "matrix.png").read_bytes().startswith(b"\x89PNG")
    assert (out / ".landmarkgait-output").is_file()  # an output --overwrite may replace

    client = MlflowClient(tracking_uri=store["uri"])
    (run,) = client.search_runs([store["experiment"]], f"tags.`{TAG_KIND}` = '{MATRIX_KIND}'")
    assert run.data.tags[TAG_NOTE].endswith(markdown.split("\n\n", 2)[2])
    assert run.info.run_id == report["mlflow_run_id"] and run.info.status == "FINISHED"
    logged = {item.path for item in client.list_artifacts(run.info.run_id, "matrix")}
    assert logged == {"matrix/matrix.md", "matrix/matrix.csv", "matrix/matrix.png"}


def test_the_text_output_prints_the_table_and_an_existing_folder_needs_overwrite(
    store: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "matrix"
    args = [
        "report",
        "--matrix",
        "--experiment",
        "on-oumvlp",
        "--out",
        str(out),
        "--tracking-uri",
        store["uri"],
    ]
    first = run_cli(*args, timeout_s=900)
    assert first.returncode == 0, first.stderr
    assert "| oumvlp (000000) · LandmarkGait (25 landmarks) | **88.00** | 30.00 |" in first.stdout
    assert f"written: {out / 'matrix.md'}" in first.stdout
    again = run_cli(*args, timeout_s=900)
    assert again.returncode == 2 and "already exists (pass --overwrite" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "abc"], "--matrix reads the runs and evaluations of experiments"),
        (["--experiment", "empty"], "experiment empty has no finished, evaluated recognition run"),
    ],
)
def test_a_matrix_without_runs_is_one_line_and_writes_nothing(
    store: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "matrix"
    result = run_cli(
        "report", "--matrix", *args, "--out", str(out), "--tracking-uri", store["uri"], timeout_s=900
    )
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    client = MlflowClient(tracking_uri=store["uri"])
    empty = client.get_experiment_by_name("empty").experiment_id
    assert client.search_runs([empty]) == []
