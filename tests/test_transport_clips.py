"""Clips on which LandmarkNet's transport is the identity are refused, near-identity ones warned about,
and evaluation counts the test sequences too short for a distinct transport source.

On a clip of T frames, a frame's transport source is the frame ``transport_shift`` steps away
(cyclic). With T dividing the shift every frame is its own source and the part masks become whole
silhouettes: the benchmark trained recognition like that on 8-frame clips before 2026-12-07.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.writer import write_dataset
from landmarkgait.models.config import MIN_TRANSPORT_DISTANCE, transport_distance
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.worker.evaluation import sequences_without_transport_source

REPO = Path(__file__).resolve().parents[1]
BENCHMARK = REPO / "ray_configs" / "benchmark.yaml"


@pytest.mark.parametrize(
    ("shift", "frames", "distance"),
    [(8, 8, 0), (8, 4, 0), (8, 16, 8), (8, 12, 4), (8, 10, 2), (8, 9, 1), (8, 30, 8), (8, 5, 2), (3, 8, 3)],
)
def test_transport_distance_is_cyclic(shift: int, frames: int, distance: int) -> None:
    assert transport_distance(shift, frames) == distance


@pytest.mark.parametrize("stage", ["landmark", "parsing", "recognition"])
def test_identity_roll_is_refused_naming_the_key(stage: str) -> None:
    with pytest.raises(ConfigError, match=rf"'stages\.{stage}\.sampler\.frames'.*own transport source"):
        load_config(BENCHMARK, [f"stages.{stage}.sampler.frames=8"])


def test_identity_roll_through_the_shift_override_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"transport_shift 24 is a multiple of 12"):
        load_config(BENCHMARK, ["model.overrides={transport_shift: 24}"])


def test_near_identity_roll_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="landmarkgait.pipelines.config"):
        load_config(BENCHMARK, ["stages.recognition.sampler.frames=10"])
    (record,) = caplog.records
    assert "stages.recognition.sampler.frames" in record.getMessage()
    assert "only 2 frame(s)" in record.getMessage()


def test_shipped_clips_are_far_from_the_identity(caplog: pytest.LogCaptureFixture) -> None:
    for name in ("benchmark", "quickstart", "casia_b", "oumvlp", "cluster_demo"):
        with caplog.at_level(logging.WARNING, logger="landmarkgait.pipelines.config"):
            config = load_config(REPO / "ray_configs" / f"{name}.yaml")
        for stage in config.model.stages:
            shift = config.model.network_config(stage)["transport_shift"]
            frames = config.stages.of(stage).sampler.frames
            assert transport_distance(shift, frames) >= MIN_TRANSPORT_DISTANCE, (name, stage)
    assert not caplog.records


def test_holistic_baseline_has_no_transport_to_check() -> None:
    config = load_config(
        BENCHMARK,
        ["model.recognition_branches=holistic", "stages.recognition.sampler.frames=8"],
    )
    assert config.model.stages == ("holistic",)


def test_evaluation_counts_sequences_too_short_for_a_source(tmp_path: Path) -> None:
    lengths = {"001": 4, "002": 8, "003": 12, "004": 30, "005": 2}
    records = [
        SequenceRecord(subject, "nm-01", "000", _frames(length)) for subject, length in lengths.items()
    ]
    dataset = SilhouetteDataset(write_dataset(records, tmp_path / "dataset", name="clips", source="test"))
    everyone = tuple(lengths)
    # All frames: 4, 8 and 2 divide 8.
    assert sequences_without_transport_source(dataset, everyone, 8, None) == 3
    # The first 8 frames only: 12 and 30 become 8 as well.
    assert sequences_without_transport_source(dataset, everyone, 8, 8) == 5
    # Only the test subjects count.
    assert sequences_without_transport_source(dataset, ("003", "004"), 8, None) == 0


def _frames(count: int) -> np.ndarray:
    return np.full((count, 64, 44), 255, dtype=np.uint8)
