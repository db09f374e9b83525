"""Model configs, presets, state_dict compatibility with the official code, and config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from landmarkgait import models
from landmarkgait.models import ModelConfigError, build_model, list_presets, resolve_config
from landmarkgait.models.config import RecognitionConfig
from landmarkgait.models.grouping import OFFICIAL_SPLITS, part_sizes

REFERENCE = Path(models.__file__).parent / "reference"


def test_presets_are_listed_and_paper_matches_the_official_configs():
    assert list_presets() == ["micro", "paper", "small"]
    config = resolve_config("recognition", "paper")
    assert isinstance(config, RecognitionConfig)
    assert (config.height, config.width, config.channels, config.pmbconv_channels) == (
        64,
        44,
        (32, 64, 128),
        (32, 64, 128),
    )
    assert (config.num_landmark, config.inv_std, config.roll_up, config.roll_low) == (25, 10.0, 3, 6)
    assert (config.gem_p, config.num_parts, config.num_classes) == (6.5, 96, 74)
    assert config.freeze_landmark_encoder and config.freeze_parsing
    assert not resolve_config("landmark", "paper").freeze_landmark_encoder
    assert resolve_config("parsing", "paper").freeze_landmark_encoder


def test_to_dict_is_flat_plain_data_and_round_trips():
    config = resolve_config("recognition", "small", num_landmark=30, channels=[8, 8, 16])
    values = config.to_dict()
    assert values["stage"] == "recognition"
    assert values["channels"] == [8, 8, 16] and values["num_landmark"] == 30
    assert json.loads(json.dumps(values)) == values
    rebuilt = RecognitionConfig(**{k: v for k, v in values.items() if k != "stage"})
    assert rebuilt == config
    assert set(values) - {"stage"} == set(RecognitionConfig.field_names())


@pytest.mark.parametrize("stage", ["landmark", "parsing", "recognition"])
def test_paper_state_dict_matches_the_official_key_list(stage):
    reference = json.loads((REFERENCE / f"state_dict_keys_{stage}.json").read_text())
    model = build_model(stage, "paper")
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert shapes == reference["state_dict"]
    trainable = sorted(name for name, p in model.named_parameters() if p.requires_grad)
    assert trainable == reference["trainable"]


def test_bnneck_head_has_the_official_bnneck_parameters():
    model = build_model("recognition", "micro", head="bnneck")
    keys = {key for key in model.state_dict() if key.startswith("BNNecks")}
    assert keys == {
        "BNNecks.fc_bin",
        "BNNecks.bn1d.weight",
        "BNNecks.bn1d.bias",
        "BNNecks.bn1d.running_mean",
        "BNNecks.bn1d.running_var",
        "BNNecks.bn1d.num_batches_tracked",
    }
    assert not any(key.startswith(("Bn.", "Head1.")) for key in model.state_dict())


@pytest.mark.parametrize(
    ("stage", "preset", "overrides", "named"),
    [
        ("landmark", "paper", {"num_landmark": 2}, "num_landmark"),
        ("landmark", "paper", {"height": 62}, "height"),
        ("parsing", "paper", {"width": 42}, "width"),
        ("landmark", "huge", {}, "huge"),
        ("body", "paper", {}, "body"),
        ("landmark", "paper", {"num_clases": 10}, "num_clases"),
        ("recognition", "paper", {"num_parts": 7}, "num_parts"),
        ("parsing", "paper", {"grouping": "random"}, "grouping"),
        ("recognition", "paper", {"channels": (8, 16)}, "channels"),
        ("recognition", "paper", {"head": "arcface"}, "head"),
        ("parsing", "paper", {"dilation_kernel": 4}, "dilation_kernel"),
    ],
)
def test_bad_configs_raise_an_error_naming_the_key(stage, preset, overrides, named):
    with pytest.raises(ModelConfigError, match=named):
        build_model(stage, preset, **overrides)


def test_overrides_of_later_stages_are_skipped_for_earlier_ones():
    # a pipeline passes one set of overrides to every stage
    overrides = {"num_landmark": 20, "num_classes": 10, "grouping": "mean"}
    assert resolve_config("landmark", "micro", **overrides).num_landmark == 20
    assert resolve_config("parsing", "micro", **overrides).grouping == "mean"
    assert resolve_config("recognition", "micro", **overrides).num_classes == 10


def test_wrong_input_size_is_a_clear_error():
    model = build_model("landmark", "micro")
    with pytest.raises(ModelConfigError, match=r"\[N, T, 64, 44\]"):
        model(torch.zeros(1, 4, 64, 64))


def test_official_group_sizes_are_kept_and_every_count_gets_three_groups():
    assert {count: part_sizes(count) for count in OFFICIAL_SPLITS} == {
        20: (1, 8, 11),
        25: (2, 10, 13),
        30: (2, 14, 14),
        35: (4, 14, 17),
    }
    assert part_sizes(3) == (1, 1, 1)
    assert part_sizes(10) == (1, 4, 5)
    assert part_sizes(50) == (4, 20, 26)
    for count in range(3, 80):
        sizes = part_sizes(count)
        assert sum(sizes) == count and min(sizes) >= 1


def test_every_stage_spec_is_complete_and_consistent():
    from landmarkgait.models.losses import LOSS_TERMS
    from landmarkgait.models.registry import (
        LOSS_TERM_LOGS,
        RECOGNITION_BRANCHES,
        SCHEDULES,
        STAGE_SPECS,
        STAGES,
        pipeline_stages,
    )

    assert set(LOSS_TERMS) == set(LOSS_TERM_LOGS)
    for name, spec in STAGE_SPECS.items():
        assert spec.name == name == spec.config_class.stage
        assert set(spec.loss_terms) <= set(LOSS_TERMS)
        assert spec.upstream is None or STAGES.index(spec.upstream) < STAGES.index(name)
        assert spec.schedule_name in SCHEDULES
        assert isinstance(build_model(name, "micro"), spec.network_class())
        assert spec.checkpoint_file(7) == f"{spec.save_name}-00007.pt"
    assert RECOGNITION_BRANCHES == ("all", "holistic")
    assert pipeline_stages("all") == ("landmark", "parsing", "recognition")
    assert pipeline_stages("holistic") == ("holistic",)
    assert all(STAGE_SPECS[pipeline_stages(branches)[-1]].evaluates for branches in RECOGNITION_BRANCHES)
