"""``search.repeats``: a sweep crosses its points with seeds, one trial per seed, validated at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import REPO
from ray import tune
from ray.tune.search.variant_generator import generate_variants

from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.sweep.config import load_sweep
from landmarkgait.pipelines.sweep.search import param_space
from landmarkgait.pipelines.sweep.trial import identity_tags

POINTS = [{"model.recognition_branches": "holistic"}, {"model.num_landmark": 20}]


def write(tmp_path: Path, overrides: dict[str, Any] | None = None, **search: Any) -> Path:
    """A sweep over the quickstart config with ``search`` keys (default: two points, 2 repeats)."""
    config = {
        "name": "s",
        "base": str(REPO / "ray_configs" / "quickstart.yaml"),
        "overrides": overrides or {},
        "search": {"points": POINTS, "repeats": 2, "metric": "recognition/eval/rank1/NM", **search},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_repeats_cross_the_points_with_consecutive_seeds_from_the_base_seed(tmp_path: Path) -> None:
    loaded = load_sweep(write(tmp_path, overrides={"seed": 7}, repeats=3))
    search = loaded.sweep.search
    assert search.expected_trials() == 6
    assert param_space(loaded) == {"point": tune.grid_search([0, 1]), "seed": tune.grid_search([7, 8, 9])}
    assert search.searched_keys() == ["model.recognition_branches", "model.num_landmark", "seed"]
    # Tune's order: every point at the first seed before any at the next one (an interrupted
    # benchmark sweep still has a whole table).
    variants = [(config["point"], config["seed"]) for _, config in generate_variants(param_space(loaded))]
    assert variants == [(0, 7), (1, 7), (0, 8), (1, 8), (0, 9), (1, 9)]
    configs = [loaded.trial_config(search.trial_params(params)) for params in ({"point": 1, "seed": 9},)]
    assert (configs[0].seed, configs[0].model.num_landmark) == (9, 20)


def test_a_trial_is_tagged_with_its_method_and_seed(tmp_path: Path) -> None:
    loaded = load_sweep(write(tmp_path))
    search = loaded.sweep.search
    holistic = loaded.trial_config(search.trial_params({"point": 0, "seed": 1}))
    landmarks = loaded.trial_config(search.trial_params({"point": 1, "seed": 0}))
    assert identity_tags(holistic) == {
        "landmarkgait.method": "Holistic (PMBC-Net on silhouettes only)",
        "landmarkgait.seed": "1",
    }
    assert identity_tags(landmarks) == {
        "landmarkgait.method": "LandmarkGait (20 landmarks)",
        "landmarkgait.seed": "0",
    }


def test_one_repeat_is_the_default_and_adds_no_seed_grid(tmp_path: Path) -> None:
    path = write(tmp_path)
    raw = yaml.safe_load(path.read_text())
    del raw["search"]["repeats"]
    raw["search"]["space"] = {"seed": {"grid": [0, 5]}}  # seeds searched by hand stay possible
    path.write_text(yaml.safe_dump(raw))
    loaded = load_sweep(path)
    assert loaded.sweep.search.repeats == 1
    assert loaded.sweep.search.expected_trials() == 4
    assert param_space(loaded) == {"seed": tune.grid_search([0, 5]), "point": tune.grid_search([0, 1])}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"repeats": 0}, r"search.repeats must be >= 1, got 0"),
        ({"repeats": "three"}, r"repeats"),
        (
            {"points": [{"model.num_landmark": 20, "seed": 3}]},
            r"points\[0\].seed: search.repeats 2 sets the seed",
        ),
        ({"space": {"seed": {"grid": [0, 1]}}}, r"space.seed: search.repeats 2 sets the seed"),
        (
            {"algorithm": "random", "points": [], "space": {"model.num_landmark": {"choice": [20, 25]}}},
            r"search.repeats 2 needs algorithm grid, got 'random'",
        ),
    ],
)
def test_bad_repeats_are_rejected_with_the_key(tmp_path: Path, search: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path, **search))


def test_repeats_whose_last_seed_is_out_of_range_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"search.repeats seed=4294967296"):
        load_sweep(write(tmp_path, overrides={"seed": 2**32 - 2}, repeats=3))
