"""OpenGait checkpoints (save, strict / non-strict load, stage chaining) and the optimiser setup."""

from __future__ import annotations

import collections

import pytest
import torch

from landmarkgait.models import ModelConfigError, build_model
from landmarkgait.models.checkpoint import (
    init_from_upstream,
    load_opengait_checkpoint,
    read_checkpoint,
    save_opengait_checkpoint,
)
from landmarkgait.models.optim import build_optimizer, build_scheduler
from landmarkgait.models.training_config import OptimizerConfig


def trained_state(stage: str, **overrides):
    torch.manual_seed(1)
    model = build_model(stage, "micro", **overrides)
    config = OptimizerConfig(lr=1e-3, milestones=[5], gamma=0.5)
    optimizer = build_optimizer(model, stage, config)
    scheduler = build_scheduler(optimizer, config)
    return model, optimizer, scheduler


def test_save_writes_an_opengait_checkpoint_atomically_and_loads_strictly(tmp_path):
    model, optimizer, scheduler = trained_state("recognition")
    path = save_opengait_checkpoint(
        tmp_path / "ckpt" / "LandmarkGait_Recognition-00007.pt", model, optimizer, scheduler, 7
    )
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    checkpoint = torch.load(path, weights_only=True)
    assert (
        set(checkpoint) == {"model", "optimizer", "scheduler", "iteration"} and checkpoint["iteration"] == 7
    )
    torch.manual_seed(2)
    fresh = build_model("recognition", "micro")
    report = load_opengait_checkpoint(fresh, path, strict=True)
    assert not report.missing and not report.unexpected
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_a_ddp_prefixed_state_dict_loads(tmp_path):
    model, *_ = trained_state("landmark")
    prefixed = collections.OrderedDict(("module." + k, v) for k, v in model.state_dict().items())
    fresh = build_model("landmark", "micro")
    load_opengait_checkpoint(fresh, {"model": prefixed, "iteration": 3})
    assert torch.equal(
        fresh.Backbone.refine.model.forward_block[0].bias, model.Backbone.refine.model.forward_block[0].bias
    )


def test_strict_loading_names_what_does_not_fit():
    landmark, *_ = trained_state("landmark")
    with pytest.raises(ModelConfigError, match=r"missing .*refine"):
        load_opengait_checkpoint(build_model("parsing", "micro"), {"model": landmark.state_dict()})
    other = build_model("landmark", "micro", num_landmark=9)
    with pytest.raises(ModelConfigError, match="model_landmark"):
        load_opengait_checkpoint(other, {"model": landmark.state_dict()}, strict=False)


class Payload:
    """Any class outside torch's weights-only allowlist."""


def test_unsafe_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Payload()}, path)
    with pytest.raises(ModelConfigError, match="cannot be read safely") as refused:
        read_checkpoint(path)
    # One line naming the file and the class, without torch's advice to load it unsafely.
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "Payload" in message
    assert "weights_only` set to `False`" not in message


@pytest.mark.parametrize("stage", ["parsing", "recognition"])
def test_a_stage1_checkpoint_initialises_stages_2_and_3(stage):
    landmark, *_ = trained_state("landmark")
    model = build_model(stage, "micro")
    report = init_from_upstream(model, landmark.state_dict())
    assert set(report.loaded) == set(landmark.state_dict())
    assert report.missing and all(not key.startswith("Backbone.") for key in report.missing)
    for key, value in landmark.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_a_stage2_checkpoint_initialises_stage_3_including_its_refiner():
    parsing, *_ = trained_state("parsing")
    model = build_model("recognition", "micro")
    report = init_from_upstream(model, parsing.state_dict())
    assert any(key.startswith("refine.") for key in report.loaded)
    assert torch.equal(
        model.refine.model.forward_block[8].conv.weight, parsing.refine.model.forward_block[8].conv.weight
    )


def test_weights_that_are_not_upstream_are_refused():
    with pytest.raises(ModelConfigError, match="LandmarkNet keys"):
        init_from_upstream(build_model("parsing", "micro"), {"Head0.fc_bin": torch.zeros(1)})


def test_optimizer_groups_and_freezing_follow_the_official_stages():
    for stage in ("landmark", "parsing", "recognition"):
        model = build_model(stage, "micro")
        optimizer = build_optimizer(
            model, stage, OptimizerConfig(lr=1e-3, weight_decay=5e-4, landmark_lr=1e-5)
        )
        names = {id(p): n for n, p in model.named_parameters()}
        groups = [[names[id(p)] for p in group["params"]] for group in optimizer.param_groups]
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert {n for group in groups for n in group} == trainable
        assert all(group["weight_decay"] == 5e-4 for group in optimizer.param_groups)
        if stage == "landmark":
            assert len(groups) == 1 and optimizer.param_groups[0]["lr"] == 1e-3
        else:
            backbone, others = groups
            assert optimizer.param_groups[0]["lr"] == 1e-5 and optimizer.param_groups[1]["lr"] == 1e-3
            assert all(n.startswith("Backbone.refine.") for n in backbone)
            assert not any(n.startswith("Backbone.") for n in others)
    model = build_model("landmark", "micro")
    config = OptimizerConfig(lr=1.0, milestones=[2, 4], gamma=0.1)
    optimizer = build_optimizer(model, "landmark", config)
    scheduler = build_scheduler(optimizer, config)
    rates = []
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ModelConfigError, match="stage"):
        build_optimizer(model, "gait")


@pytest.mark.parametrize("head", ["bn", "bnneck"])
def test_the_class_count_is_read_from_a_recognition_checkpoint(head):
    from landmarkgait.models.recognition import classifier_classes

    model = build_model("recognition", "micro", num_classes=7, head=head)
    assert classifier_classes(model.state_dict()) == 7
    assert classifier_classes(build_model("parsing", "micro").state_dict()) is None
