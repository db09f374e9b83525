"""``report``'s keypoint error and part mIoU columns: shown next to rank-1 when runs logged them.

Rows are built directly (what ``collect.py`` reads from MLflow is checked on a real pipeline run
in ``test_pipeline.py``); the CSV round trip goes through ``report --merge``'s reader.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

from landmarkgait.pipelines.report.collect import Evaluated, MethodRow, ground_truth_quality
from landmarkgait.pipelines.report.merge import read_report_csv
from landmarkgait.pipelines.report.repeats import Spread, aggregate
from landmarkgait.pipelines.report.tables import csv_table, markdown_table, runs_csv
from landmarkgait.pipelines.report.write import stage_quality_curves
from landmarkgait.pipelines.tracking.records import RunRecord
from landmarkgait.pipelines.tracking.tags import stage_link_tag

CONDITIONS = ("NM", "BG", "CL")
EVALUATED = Evaluated("sha256:" + "cd" * 32, "", None, "casia_b", "euc", 20)


def row(method: str, seed: int, nm: float, quality: dict[str, float] | None = None) -> MethodRow:
    rank1 = {"NM": nm, "BG": nm - 10, "CL": nm - 20}
    return MethodRow(
        method=method,
        run_id=f"{method}-{seed}",
        rank1=rank1,
        mean_ap=rank1,
        seed=seed,
        start_time=seed,
        quality=quality or {},
    )


def lines(markdown: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()]


def test_quality_columns_follow_rank1_and_map_and_aggregate_over_seeds() -> None:
    results = aggregate(
        [
            row("GEI", 0, 30.0),
            row("LG", 0, 50.0, {"keypoint error": 20.0, "part mIoU": 60.0}),
            row("LG", 1, 52.0, {"keypoint error": 24.0, "part mIoU": 64.0}),
            row("Holistic", 0, 55.0),
        ],
        CONDITIONS,
    )
    lg = next(result for result in results if result.method == "LG")
    assert lg.quality["keypoint error"] == Spread(22.0, lg.quality["keypoint error"].std, 2)
    table = lines(markdown_table(results, CONDITIONS))
    assert table[0][-2:] == ["keypoint error", "part mIoU"] and table[0][-3] == "mAP mean"
    cells = {line[0]: line for line in table[2:]}
    assert cells["LG"][-2:] == ["22.00 ± 2.83", "62.00 ± 2.83"]
    assert cells["GEI"][-2:] == ["–", "–"] and cells["Holistic"][-2:] == ["–", "–"]

    (header, *_) = list(csv.reader(io.StringIO(csv_table(results, CONDITIONS, EVALUATED))))
    assert header[header.index("mAP mean n") + 1 :][:6] == [
        "keypoint error",
        "keypoint error std",
        "keypoint error n",
        "part mIoU",
        "part mIoU std",
        "part mIoU n",
    ]


def test_a_table_without_ground_truth_has_no_quality_columns() -> None:
    results = aggregate([row("LG", 0, 50.0), row("Holistic", 0, 55.0)], CONDITIONS)
    assert "keypoint error" not in markdown_table(results, CONDITIONS)
    assert "part mIoU" not in csv_table(results, CONDITIONS, EVALUATED)
    assert "keypoint error" not in runs_csv(results, CONDITIONS, EVALUATED)


def test_merged_runs_keep_their_quality(tmp_path: Path) -> None:
    results = aggregate(
        [row("LG", 0, 50.0, {"keypoint error": 20.5, "part mIoU": 61.25}), row("Holistic", 0, 55.0)],
        CONDITIONS,
    )
    path = tmp_path / "runs.csv"
    path.write_text(runs_csv(results, CONDITIONS, EVALUATED))
    merged = {run.method: run for run in read_report_csv(path).rows}
    assert merged["LG"].quality == {"keypoint error": 20.5, "part mIoU": 61.25}
    assert merged["Holistic"].quality == {}


def stage_run(run_id: str, metrics: dict[str, float]) -> RunRecord:
    return RunRecord(run_id, "FINISHED", 0, {}, {}, metrics)


class Runs:
    """A tracker's ``get_run`` over records in memory, counting what it was asked."""

    def __init__(self, *runs: RunRecord) -> None:
        self.runs = {run.run_id: run for run in runs}
        self.asked: list[str] = []

    def get_run(self, run_id: str) -> RunRecord:
        self.asked.append(run_id)
        return self.runs[run_id]


def test_quality_comes_from_the_evaluated_run_else_its_nearest_upstream_run() -> None:
    landmark = stage_run("L", {"quality/keypoint_error": 0.5})
    parsing = stage_run("P", {"quality/keypoint_error": 0.3, "quality/part_miou": 0.6})
    links = {stage_link_tag(stage): run_id for stage, run_id in (("landmark", "L"), ("parsing", "P"))}
    pipeline = RunRecord("pipe", "FINISHED", 0, {**links, stage_link_tag("recognition"): "R"}, {}, {})
    runs = Runs(landmark, parsing)

    measured = stage_run("R", {"quality/keypoint_error": 0.2, "quality/part_miou": 0.7})
    assert ground_truth_quality(runs, pipeline, measured) == {"keypoint error": 20.0, "part mIoU": 70.0}
    assert runs.asked == []  # the evaluated run had both
    assert ground_truth_quality(runs, pipeline, stage_run("R", {})) == {
        "keypoint error": 30.0,
        "part mIoU": 60.0,
    }
    assert runs.asked == ["P"]
    holistic = RunRecord("pipe2", "FINISHED", 0, {stage_link_tag("holistic"): "H"}, {}, {})
    assert ground_truth_quality(runs, holistic, stage_run("H", {})) == {}


class Histories:
    """A tracker's ``metric_history`` over series in memory: ``{(run id, metric): [(step, value)]}``."""

    def __init__(self, series: dict[tuple[str, str], list[tuple[int, float]]]) -> None:
        self.series = series

    def metric_history(self, run_id: str, metric: str) -> list[tuple[int, float]]:
        return self.series.get((run_id, metric), [])


def test_stage_curves_draw_each_runs_stage_quality_logged_more_than_once() -> None:
    landmark_curve = [(300, 0.28), (600, 0.27), (900, 0.25)]
    parsing_curve = [(200, 0.30), (400, 0.35)]
    tracker = Histories(
        {
            ("L0", "quality/keypoint_error"): landmark_curve,
            ("P0", "quality/part_miou"): parsing_curve,
            ("P0", "quality/keypoint_error"): [(400, 0.26)],  # once: a table value, not a curve
            ("L1", "quality/keypoint_error"): [(300, 0.29), (600, 0.28)],
        }
    )
    seeds = [
        dataclasses.replace(
            row("LG", seed, 50.0), stage_run_ids={"landmark": f"L{seed}", "parsing": f"P{seed}"}
        )
        for seed in (0, 1)
    ]
    results = aggregate([*seeds, row("GEI", 0, 30.0)], CONDITIONS)
    curves = stage_quality_curves(tracker, results)
    assert list(curves) == ["LG"]  # GEI has no stage runs
    assert curves["LG"] == [
        {"landmark: quality/keypoint_error": landmark_curve, "parsing: quality/part_miou": parsing_curve},
        {"landmark: quality/keypoint_error": [(300, 0.29), (600, 0.28)]},
    ]
    assert stage_quality_curves(Histories({}), results) == {}
