"""The checks of data: a run's dataset beside what the reference preset expects of one.

From the reference config: square frames of its input height (what OpenGait's pretreatment writes)
that its cut turns into its input size, sequences at least as long as its training clip, OpenGait's
alignment, and the test set of its protocol (``effects.TEST_SETS``); from the run: the facts of
its dataset (``facts``), or UNKNOWN findings naming why there are none.
"""

from __future__ import annotations

from collections.abc import Callable

from landmarkgait.data.transforms import cut_width
from landmarkgait.pipelines.config import PipelineConfig
from landmarkgait.pipelines.doctor.diagnosis import DIFFERS, SAME, UNKNOWN, Finding, Subject
from landmarkgait.pipelines.doctor.effects import (
    MAX_CENTRE_OFFSET,
    MIN_SILHOUETTE_SPAN,
    TEST_SETS,
    TestSetExpectation,
)
from landmarkgait.pipelines.doctor.facts import DatasetFacts


def expected_frame_width(height: int, width: int) -> int:
    """The frame width whose cut (``cut_width``) leaves ``width`` columns; square frames first, as
    OpenGait's pretreatment writes them (64 -> 44)."""
    for candidate in (height, *range(width, 4 * width + 1)):
        if candidate - 2 * cut_width(candidate) == width:
            return candidate
    return width


def data_findings(run: Subject, reference: PipelineConfig) -> list[Finding]:
    """The run's dataset against what the reference expects of one; UNKNOWN without a dataset."""
    ref_net = reference.model.network_config(reference.model.stages[-1])
    height, width = ref_net["height"], ref_net["width"]
    frame_width = expected_frame_width(height, width)
    clip = reference.stages.of(reference.model.stages[-1]).sampler.frames
    synthetic = reference.data.synthetic is not None
    expected = TEST_SETS.get(reference.evaluation.protocol)
    checks: dict[str, tuple[str, Callable[[DatasetFacts], tuple[str, bool]]]] = {
        "synthetic": (
            "synthetic" if synthetic else "the paper's dataset",
            lambda d: (
                "synthetic (landmarkgait data synth)" if d.synthetic else "not synthetic",
                d.synthetic != synthetic,
            ),
        ),
        "frame_size": (
            f"{height}×{frame_width}",
            lambda d: (
                f"{d.frame_height}×{d.frame_width}",
                (d.frame_height, d.frame_width) != (height, frame_width),
            ),
        ),
        "cutting": (
            f"{height}×{frame_width} cut {cut_width(frame_width)} per side to {height}×{width}",
            lambda d: _cutting(d, run.config, frame_width),
        ),
        "lengths": (f"at least {clip} frames (its clips)", lambda d: _lengths(d, run.config, clip)),
        "alignment": (
            f"span >= {MIN_SILHOUETTE_SPAN:.0%} of the height, <= {MAX_CENTRE_OFFSET:g} columns off centre",
            _alignment,
        ),
    }
    if expected is not None:
        checks["test_set"] = (
            f"{expected.dataset}: {expected.test_subjects} subjects, {expected.views} views, "
            f"{len(expected.types)} types",
            lambda d: _test_set(d, expected),
        )
    findings = []
    for key, (reference_value, check) in checks.items():
        if run.dataset is None:
            findings.append(Finding(key, run.dataset_note, reference_value, UNKNOWN))
        else:
            value, differs = check(run.dataset)
            findings.append(Finding(key, value, reference_value, DIFFERS if differs else SAME))
    return findings


def _cutting(data: DatasetFacts, config: PipelineConfig, reference_width: int) -> tuple[str, bool]:
    net = config.model.network_config(config.model.stages[-1])
    cut = cut_width(data.frame_width)
    cut_size = (data.frame_height, data.frame_width - 2 * cut)
    fits = cut_size == (net["height"], net["width"])
    value = f"{data.frame_height}×{data.frame_width} cut {cut} per side to {cut_size[0]}×{cut_size[1]}"
    if not fits:
        value += f", but the network takes {net['height']}×{net['width']}"
    return value, not fits or cut != cut_width(reference_width)


def _lengths(data: DatasetFacts, config: PipelineConfig, clip: int) -> tuple[str, bool]:
    value = f"min {data.length_min}, median {data.length_median:g}, max {data.length_max}"
    short = data.shorter_than.get(clip, 0.0)
    own = config.stages.of(config.model.stages[-1]).sampler.frames
    if short:
        value += f"; {short:.0%} shorter than the reference's {clip}-frame clips"
    if own != clip and data.shorter_than.get(own):
        value += f"; {data.shorter_than[own]:.0%} shorter than this run's {own}-frame clips"
    return value, short > 0


def _alignment(data: DatasetFacts) -> tuple[str, bool]:
    if data.silhouette_span is None or data.centre_offset is None:
        return "no silhouette in the sampled frames", True
    value = (
        f"span {data.silhouette_span:.0%} of the height, {data.centre_offset:.1f} columns off centre "
        f"({data.sampled_frames} sampled frames)"
    )
    return value, data.silhouette_span < MIN_SILHOUETTE_SPAN or data.centre_offset > MAX_CENTRE_OFFSET


def _test_set(data: DatasetFacts, expected: TestSetExpectation) -> tuple[str, bool]:
    value = f"{data.test_subjects} subjects, {len(data.test_views)} views, {len(data.test_types)} types"
    missing = sorted(set(expected.types) - set(data.test_types))
    if missing:
        value += f" (no {', '.join(missing)})"
    differs = (
        data.test_subjects != expected.test_subjects
        or len(data.test_views) != expected.views
        or set(data.test_types) != set(expected.types)
    )
    return value, differs
