"""``report`` over repeats: a method's seeds as mean ± sample std and n, and report CSVs merged in.

The MLflow side is a real sqlite store holding runs shaped as the pipeline logs them (a pipeline
run linking its evaluated recognition stage run, with config params and eval metrics); the GEI
row's baseline run is created with each experiment, so no dataset is needed.
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest
from cluster_helpers import REPO, run_cli

from landmarkgait.pipelines.config import TrackingSection
from landmarkgait.pipelines.errors import PipelineError
from landmarkgait.pipelines.report.baseline import GEI_METHOD
from landmarkgait.pipelines.report.collect import MethodRow, trial_label
from landmarkgait.pipelines.report.merge import read_report_csv
from landmarkgait.pipelines.report.repeats import Spread, aggregate, spread
from landmarkgait.pipelines.report.sources import RunSource
from landmarkgait.pipelines.report.tables import csv_table, markdown_table
from landmarkgait.pipelines.report.write import write_report
from landmarkgait.pipelines.tracking.tags import (
    TAG_BASELINE,
    TAG_DATA,
    TAG_KIND,
    TAG_PROTOCOL,
    TAG_STAGE,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker

CONDITIONS = ("NM", "BG", "CL")
FINGERPRINT = "sha256:" + "ab" * 32
LG25 = "LandmarkGait (25 landmarks)"
HOLISTIC = "Holistic (PMBC-Net on silhouettes only)"
OLD_REPORT = REPO / "benchmarks" / "results"


def run(
    method: str, seed: int | None, nm: float, bg: float, cl: float, start: int = 0, run_id: str = ""
) -> MethodRow:
    rank1 = {"NM": nm, "BG": bg, "CL": cl}
    return MethodRow(
        method=method,
        run_id=run_id or f"{method}-{seed}-{start}",
        rank1=rank1,
        mean_ap={c: v / 2 for c, v in rank1.items()},
        start_time=start,
        seed=seed,
    )


def test_spread_is_the_mean_the_sample_standard_deviation_and_n() -> None:
    assert spread([30.0, 32.0, 34.0]) == Spread(32.0, 2.0, 3)
    two = spread([45.0, 46.5])
    assert two.mean == 45.75 and math.isclose(two.std, math.sqrt(1.125)) and two.n == 2  # ddof 1
    assert spread([45.41818181818182]) == Spread(45.41818181818182, None, 1)  # exactly as logged
    assert spread([]) is None


def test_seeds_of_a_method_aggregate_and_a_seed_keeps_its_newest_run() -> None:
    rows = [
        run(LG25, 0, 99.0, 99.0, 99.0, start=1),  # replaced by the newer run of seed 0
        run(LG25, 0, 30.0, 20.0, 10.0, start=5),
        run(LG25, 1, 32.0, 21.0, 10.0, start=6),
        run(LG25, 2, 34.0, 22.0, 10.0, start=2),
        run(HOLISTIC, 0, 50.0, 40.0, 30.0, start=3),
    ]
    lg25, holistic = aggregate(rows, CONDITIONS)
    assert (lg25.method, lg25.n, [r.seed for r in lg25.runs]) == (LG25, 3, [0, 1, 2])
    assert lg25.rank1 == {"NM": Spread(32.0, 2.0, 3), "BG": Spread(21.0, 1.0, 3), "CL": Spread(10.0, 0.0, 3)}
    assert lg25.rank1_mean == Spread(21.0, 1.0, 3)  # the spread of each run's mean over conditions
    assert lg25.mean_ap["NM"] == Spread(16.0, 1.0, 3)
    assert lg25.run_id == f"{LG25}-1-6"  # the newest
    assert holistic.n == 1 and holistic.rank1["NM"] == Spread(50.0, None, 1)


def test_the_seed_is_not_part_of_a_sweep_trials_label() -> None:
    swept = {"model.num_landmark": "20", "stages.recognition.loss.triplet": "0.5", "seed": "3"}
    assert trial_label("LandmarkGait (20 landmarks)", swept) == "LandmarkGait (20 landmarks) [triplet=0.5]"


def test_repeated_methods_show_mean_std_and_n_in_markdown_and_csv() -> None:
    rows = [run(LG25, seed, 30.0 + 2 * seed, 20.0 + seed, 10.0) for seed in range(3)]
    rows += [run(HOLISTIC, 0, 50.0, 40.0, 30.0)]
    results = aggregate(rows, CONDITIONS)
    table = markdown_table(results, CONDITIONS)
    assert table.splitlines()[0].startswith("| method | n | rank-1 NM |")
    assert f"| {LG25} | 3 | 32.00 ± 2.00 | 21.00 ± 1.00 | 10.00 ± 0.00 | 21.00 ± 1.00 |" in table
    assert f"| {HOLISTIC} | 1 | 50.00 | 40.00 | 30.00 | 40.00 |" in table  # one run: no ±
    lines = list(csv.DictReader(csv_table(results, CONDITIONS).splitlines()))
    assert lines[0]["method"] == LG25
    assert (lines[0]["rank-1 NM"], lines[0]["rank-1 NM std"], lines[0]["rank-1 NM n"]) == ("32.0", "2.0", "3")
    assert (lines[0]["mAP mean"], lines[0]["mAP mean n"], lines[0]["seeds"]) == ("10.5", "3", "0 1 2")
    assert (lines[1]["rank-1 CL"], lines[1]["rank-1 CL std"], lines[1]["rank-1 CL n"]) == ("30.0", "", "1")


def test_single_runs_read_as_before_repeats(tmp_path: Path) -> None:
    """An older report's CSV, read back, renders the Markdown table that report wrote then."""
    for name in ("results.csv", "results.md"):
        shutil.copy(OLD_REPORT / name, tmp_path / name)
    merged = read_report_csv(tmp_path / "results.csv")
    assert merged.evaluated.fingerprint == "sha256:41e60a694e4b" and merged.evaluated.protocol == "casia_b"
    assert [row.seed for row in merged.rows] == [None] * 5
    table = markdown_table(aggregate(merged.rows, CONDITIONS), CONDITIONS)
    assert table in (OLD_REPORT / "results.md").read_text()


def test_an_older_csv_without_its_results_md_is_refused_naming_it(tmp_path: Path) -> None:
    shutil.copy(OLD_REPORT / "results.csv", tmp_path / "results.csv")
    with pytest.raises(PipelineError, match=r"results.csv: an older report CSV names no dataset.*results.md"):
        read_report_csv(tmp_path / "results.csv")


def test_a_line_of_several_runs_is_refused_without_its_runs_csv(tmp_path: Path) -> None:
    results = aggregate([run(LG25, seed, 30.0 + seed, 20.0, 10.0) for seed in range(2)], CONDITIONS)
    path = tmp_path / "results.csv"
    path.write_text(csv_table(results, CONDITIONS, evaluated=None))
    with pytest.raises(
        PipelineError, match=r"line 2 \(LandmarkGait \(25 landmarks\)\) is the mean of several runs"
    ):
        read_report_csv(path)


# -- merging with MLflow ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('report-store') / 'mlflow.db'}"


def experiment(
    uri: str, name: str, runs: list[tuple[dict[str, str], int, float]], fingerprint: str = FINGERPRINT
) -> Tracker:
    """An experiment of finished pipeline runs: (method params, seed, NM rank-1; BG = NM - 10, CL = NM - 20)."""
    tracker = Tracker.connect(TrackingSection(tracking_uri=uri, experiment=name))
    gei = tracker.create_run(  # the GEI row's run, as report would have computed it
        name="GEI baseline",
        tags={TAG_KIND: "baseline", TAG_BASELINE: "gei", TAG_DATA: fingerprint, TAG_PROTOCOL: "casia_b/euc"},
    )
    tracker.log_metrics(
        gei, {f"eval/{kind}/{c}": 15.0 for kind in ("rank1", "mAP") for c in CONDITIONS}, step=0
    )
    tracker.finish(gei)
    for params, seed, nm in runs:
        stage = tracker.create_run(
            name="recognition",
            tags={TAG_KIND: "stage", TAG_STAGE: "recognition", TAG_DATA: fingerprint},
            params={
                **params,
                "seed": seed,
                "data.path": "/nowhere",
                "evaluation.protocol": "casia_b",
                "evaluation.metric": "euc",
                "evaluation.max_frames": None,
            },
        )
        values = {"NM": nm, "BG": nm - 10, "CL": nm - 20}
        metrics = {f"eval/rank1/{c}": v for c, v in values.items()} | {
            f"eval/mAP/{c}": v / 2 for c, v in values.items()
        }
        tracker.log_metrics(stage, metrics, step=4)
        tracker.log_metrics(stage, {"eval/rank1/NM": nm / 2}, step=2)  # a learning curve
        tracker.finish(stage)
        pipeline = tracker.create_run(
            name="pipeline", tags={TAG_KIND: "pipeline", stage_link_tag("recognition"): stage}
        )
        tracker.finish(pipeline)
    return tracker


LANDMARKS_25 = {"model.num_landmark": "25"}
HOLISTIC_PARAMS = {"model.recognition_branches": "holistic"}


def test_a_report_csv_merges_with_an_experiment_into_one_line_per_method(store: str, tmp_path: Path) -> None:
    """Day 1: seeds 0 and 1 (and holistic), reported; the store is lost. Day 2: seed 2 in another
    experiment, reported with --merge of day 1's results.csv (its runs.csv is read)."""
    day1 = experiment(
        store, "day1", [(LANDMARKS_25, 0, 30.0), (LANDMARKS_25, 1, 32.0), (HOLISTIC_PARAMS, 0, 50.0)]
    )
    first = write_report(day1, tmp_path / "day1")
    assert {"results.md", "results.csv", "runs.csv", "rank1.png", "learning_curves.png"} == set(first.files)
    assert f"| {LG25} | 2 | 31.00 ± 1.41 |" in first.markdown

    day2 = experiment(store, "day2", [(LANDMARKS_25, 2, 34.0)])
    report = write_report(day2, tmp_path / "merged", merge=[tmp_path / "day1" / "results.csv"])
    gei, holistic, lg25 = report.rows
    assert gei.method == GEI_METHOD and gei.n == 1  # from MLflow; day 1's GEI line is not counted again
    assert (holistic.method, holistic.n) == (HOLISTIC, 1)
    assert (lg25.method, lg25.n, [r.seed for r in lg25.runs]) == (LG25, 3, [0, 1, 2])
    assert lg25.rank1["NM"] == Spread(32.0, 2.0, 3) and lg25.rank1["CL"] == Spread(12.0, 2.0, 3)
    assert lg25.curve_run_ids == [lg25.runs[2].run_id]  # only the MLflow run has a history here
    markdown = (tmp_path / "merged" / "results.md").read_text()
    assert "mean ± sample standard deviation over n runs" in markdown and "day1/results.csv" in markdown
    assert f"| {LG25} | 3 | 32.00 ± 2.00 | 22.00 ± 2.00 | 12.00 ± 2.00 | 22.00 ± 2.00 |" in markdown
    table = {line["method"]: line for line in csv.DictReader((tmp_path / "merged" / "results.csv").open())}
    assert (table[LG25]["rank-1 NM std"], table[LG25]["rank-1 NM n"], table[LG25]["seeds"]) == (
        "2.0",
        "3",
        "0 1 2",
    )
    assert table[LG25]["dataset"] == FINGERPRINT and table[LG25]["protocol"] == "casia_b/euc"
    runs = list(csv.DictReader((tmp_path / "merged" / "runs.csv").open()))
    assert sorted(line["seed"] for line in runs if line["method"] == LG25) == ["0", "1", "2"]

    # Several experiments at once give the same line; a run listed twice counts once.
    both = write_report(
        day1, tmp_path / "both", more=[RunSource(day2)], merge=[tmp_path / "day1" / "runs.csv"]
    )
    assert [row.n for row in both.rows] == [1, 1, 3]
    assert both.rows[2].rank1 == lg25.rank1
    assert len(both.rows[2].curve_run_ids) == 3


def test_a_csv_evaluated_on_another_dataset_is_refused_in_one_line_naming_both(
    store: str, tmp_path: Path
) -> None:
    tracker = experiment(store, "other", [(LANDMARKS_25, 0, 30.0)])
    for name in ("results.csv", "results.md"):
        shutil.copy(OLD_REPORT / name, tmp_path / name)
    with pytest.raises(PipelineError) as error:
        write_report(tracker, tmp_path / "out", merge=[tmp_path / "results.csv"])
    message = str(error.value)
    assert "\n" not in message
    assert "dataset sha256:41e60a694e4b with casia_b" in message
    assert f"others on dataset {FINGERPRINT[:19]} with casia_b/euc" in message
    assert not (tmp_path / "out").exists()


def test_runs_of_another_dataset_in_a_second_experiment_are_refused(store: str, tmp_path: Path) -> None:
    first = experiment(store, "first", [(LANDMARKS_25, 0, 30.0)])
    second = experiment(store, "second", [(LANDMARKS_25, 1, 31.0)], fingerprint="sha256:" + "cd" * 32)
    with pytest.raises(
        PipelineError, match=r"was evaluated on dataset sha256:cdcdcd.*others on dataset sha256:ababab"
    ):
        write_report(first, tmp_path / "out", more=[RunSource(second)])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--experiment", "b"],
            "--out DIR is needed when a report joins several experiments or --merge CSVs",
        ),
        (["--merge", "{missing}", "--out", "{out}"], "--merge {missing}: no such file"),
    ],
)
def test_report_cli_refuses_bad_merges_in_one_line_before_mlflow(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    names = {"missing": str(tmp_path / "nowhere.csv"), "out": str(tmp_path / "out")}
    missing_store = f"sqlite:///{tmp_path / 'no' / 'mlflow.db'}"
    args = [
        "report",
        "--experiment",
        "a",
        *(item.format(**names) for item in extra),
        "--tracking-uri",
        missing_store,
    ]
    result = run_cli(*args, env={"LANDMARKGAIT_HOME": str(tmp_path / "home")}, timeout_s=120)
    assert result.returncode == 2, result.stderr
    assert message.format(**names) in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "no").exists()
