"""The MLflow facade without Ray: filter quoting, the named queries on a SQLite store, and how a
plan's stage finds its upstream run."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_helpers import MlflowServer

from landmarkgait.pipelines.config import TrackingSection
from landmarkgait.pipelines.errors import PipelineError, TrackingUnavailable
from landmarkgait.pipelines.plan_types import StageTask
from landmarkgait.pipelines.tracking import filters
from landmarkgait.pipelines.tracking.tags import (
    TAG_CHECKPOINT_SHA256,
    TAG_ITERATION,
    TAG_KIND,
    TAG_PIPELINE,
    TAG_STAGE,
    TAG_STAGE_KEY,
    TAG_SWEEP,
    TAG_TRIAL,
    stage_link_tag,
)
from landmarkgait.pipelines.tracking.tracker import Tracker


def test_filter_values_are_quoted_so_that_mlflow_reads_them_back() -> None:
    assert filters.quoted("abc") == "'abc'"
    assert filters.quoted("it's") == '"it\'s"'
    with pytest.raises(ValueError, match="both quote"):
        filters.quoted('it\'s "odd"')
    assert (
        filters.trial_runs("s1", "t1")
        == "tags.`landmarkgait.sweep_run_id` = 's1' and tags.`landmarkgait.trial_id` = 't1'"
    )


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Tracker:
    root = tmp_path_factory.mktemp("tracking")
    return Tracker.connect(
        TrackingSection(tracking_uri=f"sqlite:///{root / 'mlflow.db'}", experiment="facade")
    )


def test_stage_runs_are_found_by_stage_key_pipeline_and_imported_file(
    tracker: Tracker, tmp_path: Path
) -> None:
    parent = tracker.create_run("pipeline", {TAG_KIND: "pipeline"})
    stage_tags = {TAG_KIND: "stage", TAG_STAGE: "landmark", TAG_STAGE_KEY: "key1", TAG_PIPELINE: parent}
    run_id = tracker.create_run(
        "landmark", {**stage_tags, TAG_CHECKPOINT_SHA256: "f00d"}, {"seed": 3}, parent
    )
    assert tracker.find_finished_stage_run("landmark", "key1") is None
    assert tracker.imported_run("landmark", "key1", "f00d") is None
    checkpoint = tmp_path / "LandmarkNet-00004.pt"
    checkpoint.write_bytes(b"weights")
    tracker.log_checkpoint(run_id, checkpoint)
    tracker.set_tags(run_id, {TAG_ITERATION: 4})
    tracker.finish(run_id)

    found = tracker.find_finished_stage_run("landmark", "key1")
    assert found is not None and found.run_id == run_id and found.iteration == 4
    assert found.params == {"seed": "3"} and found.tags[TAG_STAGE_KEY] == "key1"
    assert tracker.imported_run("landmark", "key1", "f00d") == run_id
    assert [run.run_id for run in tracker.stage_runs_of_pipeline(parent, finished_only=True)] == [run_id]
    assert tracker.get_run(f"runs:/{run_id}/model").run_id == run_id
    assert tracker.checkpoint_path(run_id, tmp_path / "download").read_bytes() == b"weights"
    assert tracker.read_text_artifact(run_id, "evaluation/latest/rank1_table.txt") is None


def test_trial_runs_of_a_sweep_reopen_and_link_their_stages(tracker: Tracker) -> None:
    sweep = tracker.create_run("sweep", {TAG_KIND: "sweep"})
    first = tracker.create_run(
        "trial-1",
        {TAG_SWEEP: sweep, TAG_TRIAL: "t_1", stage_link_tag("landmark"): "run-l"},
        parent_run_id=sweep,
    )
    second = tracker.create_run("trial-2", {TAG_SWEEP: sweep, TAG_TRIAL: "t_2"}, parent_run_id=sweep)
    assert {run.run_id for run in tracker.trial_runs(sweep)} == {first, second}
    trial = tracker.trial_run(sweep, "t_1")
    assert trial is not None and trial.run_id == first and trial.stage_links() == {"landmark": "run-l"}
    assert tracker.trial_run(sweep, "t_3") is None
    tracker.finish(first, "KILLED")
    tracker.reopen(first)
    assert tracker.get_run(first).status == "RUNNING"


def test_a_stage_after_a_trained_one_starts_from_the_run_trained_before_it() -> None:
    first = StageTask("parsing", "key2", upstream_run_id="landmark-run")
    trained_next = first.followed_by("recognition", "key3", reuse_run_id=None)
    assert first.upstream_run(None) == "landmark-run"
    assert trained_next.upstream_run_id is None
    assert trained_next.upstream_run("parsing-run") == "parsing-run"
    reused = StageTask("landmark", "key1", None, reuse_run_id="landmark-run")
    assert reused.followed_by("parsing", "key2", None).upstream_run("landmark-run") == "landmark-run"


def test_an_unreachable_server_is_one_line_naming_it(tmp_path: Path) -> None:
    server = MlflowServer(tmp_path)
    server.start()
    try:
        tracker = Tracker.connect(
            TrackingSection(tracking_uri=server.uri, experiment="outage", http_retries=1)
        )
        run_id = tracker.create_run("stage", {TAG_KIND: "stage"})
        # An answer from the server (no such run) is not an outage.
        with pytest.raises(PipelineError, match="not found") as answered:
            tracker.get_run("0" * 32)
        assert not isinstance(answered.value, TrackingUnavailable)
        server.stop()
        with pytest.raises(TrackingUnavailable, match=f"MLflow tracking server {server.uri} unreachable"):
            tracker.log_metrics(run_id, {"loss/total": 1.0}, step=1)
    finally:
        server.stop()
