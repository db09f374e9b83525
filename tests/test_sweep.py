"""``landmarkgait sweep`` on a real Ray cluster, tracked by a real MLflow server.

Trials are micro pipelines on the session's micro dataset. The sweeps search recognition-only
keys, so stages 1-2 train once for the whole module and every later trial reuses them; only the
repeats sweep's second seed (the seed is in every stage key) trains its own.
"""

from __future__ import annotations

import csv
import json
import signal
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import RayHead, cli_process, run_cli, wait_until, write_micro_config
from mlflow.tracking import MlflowClient

from landmarkgait.pipelines.sweep.metrics import stage_reports

pytestmark = pytest.mark.slow

TRIPLET = "stages.recognition.loss.triplet"
CROSS_ENTROPY = "stages.recognition.loss.cross_entropy"


def write_sweep(directory: Path, base: Path, name: str, **sections: Any) -> Path:
    """A sweep YAML next to its base config (the base is referenced relatively)."""
    sweep = {"name": name, "base": base.name, **sections}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def micro_base(directory: Path, dataset: Path, tracking: str, experiment: str, recognition: dict) -> Path:
    """Micro pipeline with one 0.5-CPU worker per trial; ``recognition`` overrides its stage section."""
    path = write_micro_config(
        directory / "base.yaml",
        dataset,
        tracking,
        experiment,
        num_workers=1,
        storage_path=directory / "ray_results",
    )
    config = yaml.safe_load(path.read_text())
    config["name"] = "micro"
    config["stages"]["recognition"].update(recognition)
    path.write_text(yaml.safe_dump(config))
    return path


def sweep_json(stdout: str) -> dict:
    """The ``--json`` outcome (Tune prints its progress tables to stdout before it)."""
    return json.loads(stdout[stdout.rindex('{\n  "best_trial_run_id"') :])


def runs_of(client: MlflowClient, experiment: str, query: str) -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], filter_string=query, max_results=1000) if found else []


@pytest.fixture(scope="module")
def shared_base(tmp_path_factory: pytest.TempPathFactory, micro_dataset: Path, mlflow_server: str) -> Path:
    directory = tmp_path_factory.mktemp("sweeps")
    return micro_base(
        directory, micro_dataset, mlflow_server, "sweeps", {"total_iter": 6, "log_iter": 2, "save_iter": 6}
    )


@pytest.fixture(scope="module")
def triplet_sweep(ray_cluster: RayHead, shared_base: Path) -> dict:
    """Three trials over the triplet weight (as points), two at a time, FIFO, optimising NM rank-1."""
    path = write_sweep(
        shared_base.parent,
        shared_base,
        "triplet",
        search={
            # As points (whole settings, as in sweep_benchmark.yaml); the other sweeps use space.
            "points": [{TRIPLET: 0.5}, {TRIPLET: 1.0}, {TRIPLET: 2.0}],
            "metric": "recognition/eval/rank1/NM",
            "mode": "max",
            "max_concurrent_trials": 2,
        },
    )
    result = run_cli("sweep", str(path), "--json", "--ray-address", ray_cluster.address, timeout_s=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sweep_json(result.stdout)


def test_every_trial_is_a_child_run_with_params_metrics_and_stage_links(
    triplet_sweep: dict, mlflow_server: str
) -> None:
    client = MlflowClient(mlflow_server)
    sweep_run = client.get_run(triplet_sweep["sweep_run_id"])
    assert sweep_run.data.tags["landmarkgait.kind"] == "sweep"
    assert sweep_run.info.status == "FINISHED"
    trials = runs_of(client, "sweeps", f"tags.`landmarkgait.sweep_run_id` = '{sweep_run.info.run_id}'")
    assert len(trials) == 3
    assert sorted(float(run.data.params[TRIPLET]) for run in trials) == [0.5, 1.0, 2.0]
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == sweep_run.info.run_id
        assert run.info.status == "FINISHED"
        assert 0.0 <= run.data.metrics["recognition/eval/rank1/NM"] <= 100.0
        assert "eval/rank1/BG" in run.data.metrics
        for stage in ("landmark", "parsing", "recognition"):
            linked = client.get_run(run.data.tags[f"landmarkgait.run.{stage}"])
            assert linked.data.tags["landmarkgait.stage"] == stage
        assert "recognition:" in run.data.tags["mlflow.note.content"]


def test_report_table_is_exactly_the_logged_metrics_with_a_gei_row(
    triplet_sweep: dict, mlflow_server: str, tmp_path: Path
) -> None:
    sweep_run_id = triplet_sweep["sweep_run_id"]
    command = ("report", "--sweep", sweep_run_id, "--tracking-uri", mlflow_server, "--json")
    result = run_cli(*command, "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(result.stdout[result.stdout.index("{") :])
    rows = document["rows"]
    assert rows[0]["method"].startswith("GEI") and len(rows) == 4  # GEI + one row per trial
    # A trial's row names what it swept, not the other ~90 config values its run logs.
    assert sorted(row["method"] for row in rows[1:]) == [
        f"LandmarkGait (6 landmarks) [triplet={weight}]" for weight in (0.5, 1.0, 2.0)
    ]
    client = MlflowClient(mlflow_server)
    for row in rows:
        logged = client.get_run(row["run_id"]).data.metrics
        for condition in ("NM", "BG", "CL"):
            assert row["rank1"][condition] == logged[f"eval/rank1/{condition}"]
            assert row["mAP"][condition] == logged[f"eval/mAP/{condition}"]
    gei = client.get_run(rows[0]["run_id"])
    assert gei.data.tags["landmarkgait.kind"] == "baseline"
    assert gei.data.tags["mlflow.parentRunId"] == sweep_run_id
    table = (tmp_path / "report" / "results.csv").read_text().splitlines()
    assert len(table) == 5 and table[0].startswith("method,rank-1 NM")
    assert float(table[1].split(",")[1]) == rows[0]["rank1"]["NM"]
    for name in ("rank1.png", "learning_curves.png"):
        assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logged = {item.path for item in client.list_artifacts(sweep_run_id, "report")}
    assert {
        f"report/{name}" for name in ("results.md", "results.csv", "rank1.png", "learning_curves.png")
    } <= logged
    again = run_cli(*command, "--out", str(tmp_path / "again"))
    assert json.loads(again.stdout[again.stdout.index("{") :])["rows"][0]["run_id"] == gei.info.run_id


def test_recognition_only_sweep_trains_stages_one_and_two_once(
    triplet_sweep: dict, mlflow_server: str
) -> None:
    client = MlflowClient(mlflow_server)
    trials = triplet_sweep["trials"]
    for stage in ("landmark", "parsing"):
        assert len({trial["stage_runs"][stage] for trial in trials}) == 1
        assert len(runs_of(client, "sweeps", f"tags.`landmarkgait.stage` = '{stage}'")) == 1
    assert len({trial["stage_runs"]["recognition"] for trial in trials}) == 3


def test_sweep_logs_summary_plot_and_tags_the_best_trial(triplet_sweep: dict, mlflow_server: str) -> None:
    client = MlflowClient(mlflow_server)
    sweep_run_id = triplet_sweep["sweep_run_id"]
    artifacts = {item.path for item in client.list_artifacts(sweep_run_id, "sweep")}
    assert {"sweep/summary.csv", "sweep/metric_vs_params.png", "sweep/sweep.yaml"} <= artifacts
    rows = Path(triplet_sweep["summary_csv"]).read_text().splitlines()
    assert len(rows) == 4 and TRIPLET in rows[0] and "recognition/eval/rank1/NM" in rows[0]
    best = triplet_sweep["best_trial_run_id"]
    metrics = {trial["run_id"]: trial["metric"] for trial in triplet_sweep["trials"]}
    assert metrics[best] == max(metrics.values())
    assert client.get_run(sweep_run_id).data.tags["landmarkgait.sweep.best_trial_run_id"] == best
    tagged = [
        run_id for run_id in metrics if client.get_run(run_id).data.tags["landmarkgait.sweep.best"] == "true"
    ]
    assert tagged == [best]


def test_every_metric_a_stage_logs_is_one_a_sweep_accepts(triplet_sweep: dict, mlflow_server: str) -> None:
    """The metric check of sweep configs knows every name the stages really report."""
    client = MlflowClient(mlflow_server)
    trial = triplet_sweep["trials"][0]
    for stage, run_id in trial["stage_runs"].items():
        names = [
            name for name in client.get_run(run_id).data.metrics if not name.startswith(("time/", "resume/"))
        ]
        assert names
        assert [name for name in names if not stage_reports(stage, name, "casia_b")] == []


def test_asha_stops_a_trial_that_falls_behind(
    ray_cluster: RayHead, shared_base: Path, mlflow_server: str
) -> None:
    """Cross-entropy weighted x50 makes the total loss far worse at the first rung: ASHA stops it."""
    path = write_sweep(
        shared_base.parent,
        shared_base,
        "asha",
        search={
            "space": {CROSS_ENTROPY: {"grid": [1.0, 50.0]}},
            "metric": "recognition/loss/total",
            "mode": "min",
            "max_concurrent_trials": 1,
        },
        scheduler={"type": "asha", "grace_period": 2, "reduction_factor": 2},
    )
    result = run_cli("sweep", str(path), "--json", "--ray-address", ray_cluster.address, timeout_s=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcome = sweep_json(result.stdout)
    by_weight = {trial["params"][CROSS_ENTROPY]: trial for trial in outcome["trials"]}
    assert by_weight[1.0]["outcome"] == "finished"
    assert by_weight[50.0]["outcome"] == "stopped_early"
    client = MlflowClient(mlflow_server)
    stopped = client.get_run(by_weight[50.0]["run_id"])
    assert stopped.info.status == "KILLED"
    history = client.get_metric_history(stopped.info.run_id, "recognition/loss/total")
    # Stopped at the first rung (iteration 2); Tune's graceful stop may let one more report through.
    assert history and history[0].step == 2 and max(point.step for point in history) < 6
    recognition = client.get_run(by_weight[50.0]["stage_runs"]["recognition"])
    assert recognition.info.status == "KILLED"
    assert outcome["best_trial_run_id"] == by_weight[1.0]["run_id"]


def test_resume_continues_an_interrupted_optuna_sweep_without_rerunning_finished_trials(
    ray_cluster: RayHead, shared_base: Path, mlflow_server: str, tmp_path: Path
) -> None:
    """Optuna samples the space; the resumed sweep restores its state and runs only the rest."""
    pytest.importorskip("optuna")
    path = write_sweep(
        shared_base.parent,
        shared_base,
        "resume",
        search={
            "algorithm": "optuna",
            "space": {TRIPLET: {"uniform": [0.1, 2.0]}},
            "metric": "recognition/eval/rank1/NM",
            "num_samples": 2,
            "max_concurrent_trials": 1,
        },
    )
    client = MlflowClient(mlflow_server)
    args = ("sweep", str(path), "--json", "--ray-address", ray_cluster.address)
    log = tmp_path / "first.log"
    query = "tags.`landmarkgait.kind` = 'sweep' and attributes.run_name LIKE 'resume-%'"
    with cli_process(*args, log=log) as process:

        def first_trial_finished() -> bool:
            sweeps = runs_of(client, "sweeps", query)
            if process.poll() is not None or not sweeps:
                return process.poll() is not None
            trials = runs_of(
                client, "sweeps", f"tags.`landmarkgait.sweep_run_id` = '{sweeps[0].info.run_id}'"
            )
            return any(run.info.status == "FINISHED" for run in trials)

        wait_until(first_trial_finished, 600, "the first trial to finish")
        assert process.poll() is None, log.read_text()[-3000:]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=180) == 130, log.read_text()[-3000:]
    (sweep_run,) = runs_of(client, "sweeps", query)
    assert sweep_run.info.status == "KILLED"
    before = runs_of(client, "sweeps", f"tags.`landmarkgait.sweep_run_id` = '{sweep_run.info.run_id}'")
    finished_before = {
        run.data.tags["landmarkgait.trial_id"]: run.info.run_id
        for run in before
        if run.info.status == "FINISHED"
    }
    assert len(finished_before) == 1
    recognition_before = len(runs_of(client, "sweeps", "tags.`landmarkgait.stage` = 'recognition'"))

    result = run_cli(*args, "--resume", timeout_s=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcome = sweep_json(result.stdout)
    assert outcome["sweep_run_id"] == sweep_run.info.run_id
    assert len(outcome["trials"]) == 2
    assert all(trial["outcome"] == "finished" and trial["metric"] is not None for trial in outcome["trials"])
    weights = [trial["params"][TRIPLET] for trial in outcome["trials"]]
    assert all(0.1 <= weight <= 2.0 for weight in weights) and weights[0] != weights[1]
    for trial_id, run_id in finished_before.items():
        (trial,) = [trial for trial in outcome["trials"] if trial["trial_id"] == trial_id]
        assert trial["run_id"] == run_id
        assert (
            client.get_run(run_id).info.end_time
            == next(run for run in before if run.info.run_id == run_id).info.end_time
        )
    # Only the unfinished trial trained a recognition stage after the resume.
    assert (
        len(runs_of(client, "sweeps", "tags.`landmarkgait.stage` = 'recognition'")) <= recognition_before + 1
    )
    assert client.get_run(sweep_run.info.run_id).info.status == "FINISHED"


# -- repeats: one point at two seeds, and the report over them --------------------------------


@pytest.fixture(scope="module")
def repeats_sweep(ray_cluster: RayHead, shared_base: Path, triplet_sweep: dict) -> dict:
    """One point of the triplet sweep at seeds 0 and 1: seed 0 is that sweep's trial (every stage
    reused, nothing trains), seed 1 trains its own three stages."""
    path = write_sweep(
        shared_base.parent,
        shared_base,
        "repeats",
        search={
            "points": [{TRIPLET: 1.0}],
            "repeats": 2,
            "metric": "recognition/eval/rank1/NM",
            "max_concurrent_trials": 2,
        },
    )
    result = run_cli("sweep", str(path), "--json", "--ray-address", ray_cluster.address, timeout_s=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sweep_json(result.stdout)


def test_repeats_are_child_runs_of_one_method_with_distinct_seeds(
    repeats_sweep: dict, triplet_sweep: dict, mlflow_server: str
) -> None:
    client = MlflowClient(mlflow_server)
    sweep_run_id = repeats_sweep["sweep_run_id"]
    trials = runs_of(client, "sweeps", f"tags.`landmarkgait.sweep_run_id` = '{sweep_run_id}'")
    assert len(trials) == 2
    assert sorted(run.data.params["seed"] for run in trials) == ["0", "1"]
    assert sorted(run.data.tags["landmarkgait.seed"] for run in trials) == ["0", "1"]
    assert {run.data.tags["landmarkgait.method"] for run in trials} == {"LandmarkGait (6 landmarks)"}
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == sweep_run_id
        assert run.info.status == "FINISHED"
        assert float(run.data.params[TRIPLET]) == 1.0
    assert client.get_run(sweep_run_id).data.params["sweep.repeats"] == "2"
    by_seed = {trial["params"]["seed"]: trial for trial in repeats_sweep["trials"]}
    # The seed is in every stage key: seed 0 reuses the triplet sweep's runs of this point, seed 1
    # trained its own three stages, from other initial weights on other batches.
    (same_point,) = [trial for trial in triplet_sweep["trials"] if trial["params"][TRIPLET] == 1.0]
    assert by_seed[0]["stage_runs"] == same_point["stage_runs"]
    for stage in ("landmark", "parsing", "recognition"):
        assert by_seed[1]["stage_runs"][stage] != by_seed[0]["stage_runs"][stage]
        losses = [
            [point.value for point in client.get_metric_history(trial["stage_runs"][stage], "loss/total")]
            for trial in (by_seed[0], by_seed[1])
        ]
        assert losses[0] and losses[1] and losses[0] != losses[1]


def test_report_over_repeats_shows_n_2_and_a_standard_deviation(
    repeats_sweep: dict, mlflow_server: str, tmp_path: Path
) -> None:
    sweep_run_id = repeats_sweep["sweep_run_id"]
    command = ("report", "--sweep", sweep_run_id, "--tracking-uri", mlflow_server, "--json")
    result = run_cli(*command, "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    gei, method = json.loads(result.stdout[result.stdout.index("{") :])["rows"]
    assert gei["n"] == 1 and gei["rank1_std"]["NM"] is None
    assert method["method"] == "LandmarkGait (6 landmarks) [triplet=1.0]"  # the seed is not a method
    assert method["n"] == 2 and sorted(run["seed"] for run in method["runs"]) == [0, 1]
    client = MlflowClient(mlflow_server)
    logged = [client.get_run(run["run_id"]).data.metrics for run in method["runs"]]
    for condition in ("NM", "BG", "CL"):
        values = [metrics[f"eval/rank1/{condition}"] for metrics in logged]
        assert method["rank1"][condition] == pytest.approx(statistics.fmean(values))
        assert method["rank1_std"][condition] == pytest.approx(statistics.stdev(values))
    markdown = (tmp_path / "report" / "results.md").read_text()
    assert "| method | n | rank-1 NM |" in markdown
    assert f"| {method['method']} | 2 | " in markdown and " ± " in markdown
    (line,) = [
        line
        for line in csv.DictReader((tmp_path / "report" / "results.csv").open())
        if line["method"] == method["method"]
    ]
    assert line["rank-1 NM n"] == "2" and float(line["rank-1 NM std"]) == pytest.approx(
        method["rank1_std"]["NM"]
    )
    # Merging the report's own CSV back changes nothing: a run listed twice counts once.
    merged = run_cli(
        *command, "--merge", str(tmp_path / "report" / "results.csv"), "--out", str(tmp_path / "merged")
    )
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    rows = json.loads(merged.stdout[merged.stdout.index("{") :])["rows"]
    assert [row["n"] for row in rows] == [1, 2] and rows[1]["rank1"] == method["rank1"]
