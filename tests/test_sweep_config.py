"""Sweep configs: validation before any trial starts, and their translation to Ray Tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import REPO, run_cli
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.sweep.config import load_sweep
from landmarkgait.pipelines.sweep.search import (
    fitting_concurrency,
    param_space,
    search_algorithm,
    trial_scheduler,
)


def write(tmp_path: Path, **sweep: Any) -> Path:
    """A sweep over the quickstart config, with the given keys replacing the defaults."""
    config = {
        "name": "s",
        "base": str(REPO / "ray_configs" / "quickstart.yaml"),
        "search": {
            "space": {"model.num_landmark": {"grid": [20, 25]}},
            "metric": "recognition/eval/rank1/NM",
        },
    }
    for key, value in sweep.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_shipped_sweep_configs_load() -> None:
    quick = load_sweep(REPO / "ray_configs" / "sweep_quickstart.yaml")
    assert quick.sweep.search.expected_trials() >= 4
    paper = load_sweep(REPO / "ray_configs" / "sweep_landmarks.yaml")
    assert paper.sweep.search.space["model.num_landmark"].values == [20, 25, 30, 35]
    assert paper.base.scaling.use_gpu


def test_benchmark_sweep_is_the_papers_table_on_one_schedule() -> None:
    """Holistic, then LandmarkGait with 25 (the paper's count, first), 20 and 30 landmarks: points,
    three seeds each, with the default synthetic dataset and the same recognition schedule in every
    trial."""
    loaded = load_sweep(REPO / "ray_configs" / "sweep_benchmark.yaml")
    search = loaded.sweep.search
    assert search.expected_trials() == 12
    assert param_space(loaded) == {
        "point": tune.grid_search([0, 1, 2, 3]),
        "seed": tune.grid_search([0, 1, 2]),
    }
    configs = [loaded.trial_config(search.trial_params({"point": index})) for index in range(4)]
    assert [config.model.stages for config in configs] == [
        ("holistic",),
        *[("landmark", "parsing", "recognition")] * 3,
    ]
    assert [config.model.num_landmark for config in configs[1:]] == [25, 20, 30]
    assert len({repr(config.stages.recognition) for config in configs}) == 1
    synthetic = configs[0].data.synthetic
    assert (synthetic.subjects, len(synthetic.views)) == (124, 11)
    assert configs[0].evaluation.protocol == "casia_b"


def test_points_cross_the_space_and_become_config_keys(tmp_path: Path) -> None:
    points = [{"model.recognition_branches": "holistic"}, {"model.num_landmark": 20}]
    loaded = load_sweep(
        write(
            tmp_path,
            search={"space": {"stages.recognition.loss.triplet": {"grid": [0.5, 1.0]}}, "points": points},
        )
    )
    search = loaded.sweep.search
    assert search.expected_trials() == 4
    assert search.searched_keys() == [
        "model.recognition_branches",
        "model.num_landmark",
        "stages.recognition.loss.triplet",
    ]
    params = search.trial_params({"point": 1, "stages.recognition.loss.triplet": 0.5})
    assert params == {"model.num_landmark": 20, "stages.recognition.loss.triplet": 0.5}
    config = loaded.trial_config(params)
    assert (config.model.num_landmark, config.stages.recognition.loss.triplet) == (20, 0.5)


def test_trial_config_applies_searched_values(tmp_path: Path) -> None:
    loaded = load_sweep(write(tmp_path))
    config = loaded.trial_config({"model.num_landmark": 20, "stages.recognition.loss.triplet": 0.5})
    assert config.model.num_landmark == 20
    assert config.stages.recognition.loss.triplet == 0.5
    assert loaded.base.model.num_landmark == 25  # the base is untouched


def test_scheduler_defaults_to_the_metric_stage_iteration(tmp_path: Path) -> None:
    loaded = load_sweep(write(tmp_path, scheduler={"type": "asha", "grace_period": 20}))
    assert loaded.time_attr == "recognition/iteration"
    assert loaded.max_t == loaded.base.stages.recognition.total_iter
    scheduler = trial_scheduler(loaded)
    assert isinstance(scheduler, ASHAScheduler)


def test_search_space_translates_to_tune_domains(tmp_path: Path) -> None:
    space = {
        "model.num_landmark": {"choice": [20, 30]},
        "stages.recognition.loss.triplet": {"uniform": [0.1, 2.0]},
        "stages.recognition.optimizer.lr": {"loguniform": [1.0e-4, 1.0e-2]},
        "stages.recognition.sampler.frames": {"randint": [11, 15]},
    }
    loaded = load_sweep(write(tmp_path, search={"algorithm": "random", "space": space, "num_samples": 3}))
    domains = param_space(loaded)
    assert isinstance(domains["model.num_landmark"], tune.search.sample.Categorical)
    assert isinstance(domains["stages.recognition.optimizer.lr"], tune.search.sample.Float)
    assert loaded.sweep.search.expected_trials() == 3


def test_optuna_search_is_built_with_the_concurrency_limit(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    space = {"stages.recognition.loss.triplet": {"uniform": [0.1, 2.0]}}
    loaded = load_sweep(write(tmp_path, search={"algorithm": "optuna", "space": space, "num_samples": 4}))
    searcher = search_algorithm(loaded, max_concurrent=2)
    assert type(searcher).__name__ == "ConcurrencyLimiter"
    assert searcher.max_concurrent == 2


def test_concurrency_is_lowered_to_what_the_cluster_fits(tmp_path: Path) -> None:
    # quickstart: one worker of 2 CPUs per trial
    loaded = load_sweep(write(tmp_path, search={"max_concurrent_trials": 4}))
    assert fitting_concurrency(loaded, {"CPU": 2.0}) == 1
    assert fitting_concurrency(loaded, {"CPU": 16.0}) == 4
    assert fitting_concurrency(loaded, {"CPU": 1.0}) == 1  # waits for the cluster to grow


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            {"search": {"space": {"model.num_landmarks": {"grid": [20, 25]}}}},
            r"unknown config key 'model.num_landmarks' in .*search.space; valid keys at model: .*num_landmark",
        ),
        ({"search": {"space": {}}}, r"space and points are empty"),
        (
            {"search": {"space": {}, "points": [{"model.num_landmark": 2}]}},
            r"search.points\[0\] model.num_landmark=2.*num_landmark",
        ),
        (
            {"search": {"points": [{"model.num_landmark": 20}]}},
            r"points\[0\]: key 'model.num_landmark' is also in space",
        ),
        ({"search": {"points": [{}]}}, r"points\[0\]: expected a non-empty mapping"),
        (
            {"search": {"algorithm": "random", "space": {}, "points": [{"model.num_landmark": 20}]}},
            r"points: needs algorithm grid",
        ),
        (
            {"search": {"metric": "recognition/eval/rank5/NM"}},
            r"'recognition/eval/rank5/NM': no trial reports it",
        ),
        ({"search": {"metric": "rank1"}}, r"expected <stage>/<metric>"),
        ({"search": {"mode": "maximise"}}, r"mode must be min or max, got 'maximise'"),
        (
            {"search": {"space": {"model.num_landmark": {"grid": [20, 2]}}}},
            r"model.num_landmark=2.*num_landmark",
        ),
        ({"search": {"space": {"model.num_landmark": {"grid": ["many"]}}}}, r"model.num_landmark.*expected"),
        (
            {"search": {"space": {"stages.recognition.loss.triplet": {"uniform": [0.1, 1.0]}}}},
            r"'uniform' needs algorithm random or optuna",
        ),
        ({"search": {"space": {"model.num_landmark": {"uniform": [3, 1]}}}}, r"low < high"),
        ({"scheduler": {"type": "hyperband"}}, r"type must be one of fifo, asha"),
        ({"searhc": {}}, r"unknown config key 'searhc'"),
    ],
)
def test_bad_sweep_config_is_rejected_with_the_key(tmp_path: Path, sweep: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path, **sweep))


def test_cli_rejects_a_bad_sweep_before_any_trial(tmp_path: Path) -> None:
    """One line on stderr, exit 2, and nothing started: no MLflow store, no Ray storage."""
    home = tmp_path / "home"
    path = write(tmp_path, search={"metric": "landmark/eval/rank1/NM"})
    result = run_cli("sweep", str(path), env={"LANDMARKGAIT_HOME": str(home)}, timeout_s=120)
    assert result.returncode == 2
    assert "'landmark/eval/rank1/NM': no trial reports it" in result.stderr
    assert "Traceback" not in result.stderr
    assert not home.exists()


def test_resume_without_an_earlier_sweep_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli(
        "sweep", str(write(tmp_path)), "--resume", env={"LANDMARKGAIT_HOME": str(home)}, timeout_s=120
    )
    assert result.returncode == 2
    assert "--resume: no sweep named 's'" in result.stderr
    assert "Traceback" not in result.stderr
