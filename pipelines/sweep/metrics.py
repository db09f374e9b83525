"""Names of the metrics a sweep can optimise, and how stage reports become Tune results.

A pipeline trial runs up to three stages that report overlapping names (every stage has a
``loss/reconstruction``), so a trial's Tune results qualify each name with its stage:
``recognition/eval/rank1/NM``, ``landmark/loss/reconstruction``, and carry the stage's
iteration as ``<stage>/iteration`` (ASHA's default time attribute). This module knows those
names and checks a sweep's metric against them before any trial starts; it runs nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from landmarkgait.data.evaluation.names import summary_metric_pattern
from landmarkgait.models.registry import KEYPOINT_TRUTH, PART_TRUTH, SCHEDULES, STAGES, stage_spec
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.metric_names import (
    KEYPOINT_METRICS,
    PART_METRIC,
    PART_MIOU,
    QUALITY_METRICS,
    SEQUENCES_WITHOUT_SOURCE,
    STAGE_METRICS_ALWAYS,
)

LEARNING_RATE = re.compile(r"lr/group\d+")


def qualified(stage: str, name: str) -> str:
    """``recognition/eval/rank1/NM``: a stage's metric under its schedule's name, so a sweep over
    ``model.recognition_branches`` compares the holistic baseline and LandmarkGait on one metric."""
    return f"{stage_spec(stage).schedule_name}/{name}"


def split_qualified(metric: str) -> tuple[str, str]:
    """``recognition/eval/rank1/NM`` -> (``recognition``, ``eval/rank1/NM``), or a ConfigError."""
    stage, _, name = metric.partition("/")
    if stage not in SCHEDULES or not name:
        raise ConfigError(
            f"search.metric {metric!r}: expected <stage>/<metric> with stage one of {', '.join(SCHEDULES)}, "
            f"e.g. recognition/eval/rank1/NM or landmark/loss/reconstruction"
        )
    return stage, name


def stage_reports(stage: str, name: str, protocol: str) -> bool:
    """Whether ``stage`` reports a metric called ``name`` during training or evaluation."""
    if name in STAGE_METRICS_ALWAYS or LEARNING_RATE.fullmatch(name):
        return True
    spec = stage_spec(stage)
    if name.startswith("loss/") and name.removeprefix("loss/") in spec.loss_names():
        return True
    if spec.quality and name in QUALITY_METRICS:
        return True
    if KEYPOINT_TRUTH in spec.ground_truth and name in KEYPOINT_METRICS:
        return True  # only on datasets with ground truth: a trial without it never reports them
    if PART_TRUTH in spec.ground_truth and PART_METRIC.fullmatch(name):
        return True
    if spec.evaluates and name == SEQUENCES_WITHOUT_SOURCE:  # networks with a transport only
        return True
    return (
        spec.evaluates
        and name.startswith("eval/")
        and summary_metric_pattern(protocol).fullmatch(name.removeprefix("eval/")) is not None
    )


def check_metric(metric: str, protocol: str, what: str = "search.metric") -> str:
    """Validate a qualified metric name; returns its stage. Errors list what the stage reports."""
    stage, name = split_qualified(metric)
    if not stage_reports(stage, name, protocol):
        spec = stage_spec(stage)
        examples = [*STAGE_METRICS_ALWAYS[:2], *(f"loss/{term}" for term in spec.loss_names())]
        if spec.evaluates:
            examples += ["eval/rank1/<condition>", "eval/mAP/<condition>", "eval/rank1/<condition>/<view>"]
        if spec.quality:
            examples += list(QUALITY_METRICS)
        if KEYPOINT_TRUTH in spec.ground_truth:
            examples += list(KEYPOINT_METRICS)
        if PART_TRUTH in spec.ground_truth:
            examples += [PART_MIOU, f"{PART_MIOU}/<condition>", "quality/part_iou/<part>"]
        raise ConfigError(
            f"{what} {metric!r}: no trial reports it; the {stage} stage reports "
            f"{', '.join(qualified(stage, example) for example in examples)} (protocol {protocol})"
        )
    return stage


def stage_result(report: Mapping[str, Any]) -> dict[str, float]:
    """A worker's ``ray.train.report`` dict -> stage-qualified numeric Tune result (empty if no stage)."""
    stage = report.get("stage")
    if stage not in STAGES:
        return {}
    return {
        qualified(stage, name): float(value)
        for name, value in report.items()
        if name != "stage" and _is_number(value)
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))
