"""Which subjects train and which test: OpenGait partition JSON files and the default CASIA-B split.

A partition names subjects (and, for Gait3D, its probe sequences by key); the reader decides
which sequences exist. It must not sample or read frames.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import MAX_JSON_BYTES, check_json_depth, read_regular_text
from landmarkgait.data.quoting import quote_value
from landmarkgait.data.reader import SilhouetteDataset

log = logging.getLogger(__name__)

# CASIA-B's customary split (used by OpenGait's CASIA-B.json): subjects 001-074 train, 075-124 test.
CASIA_B_TRAIN_SUBJECTS = 74


@dataclass(frozen=True)
class Partition:
    """Training and test subjects; disjoint, each sorted. ``probe_set``: the test sequences that are
    probes, as ``<subject>-<type>-<view>`` keys, for protocols that list them (Gait3D's PROBE_SET)."""

    train_set: tuple[str, ...]
    test_set: tuple[str, ...]
    probe_set: tuple[str, ...] = ()


def parse_partition(value: Any, where: str) -> Partition:
    """Check an OpenGait partition object (``{"TRAIN_SET": [...], "TEST_SET": [...]}``, and Gait3D's
    optional ``"PROBE_SET"``). GREW's lists its challenge probes as a test subject named ``probe``."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: a partition must be a JSON object with TRAIN_SET and TEST_SET")
    sets = {}
    for key in ("TRAIN_SET", "TEST_SET"):
        subjects = value.get(key)
        if not isinstance(subjects, list):
            raise DataError(
                f"{where}: key '{key}' must be a list of subject names, got {quote_value(subjects)}"
            )
        for position, subject in enumerate(subjects):
            if not isinstance(subject, str):
                raise DataError(f"{where}: {key}[{position}] must be a string, got {quote_value(subject)}")
        sets[key] = tuple(sorted(set(subjects)))
    overlap = sorted(set(sets["TRAIN_SET"]) & set(sets["TEST_SET"]))
    if overlap:
        raise DataError(f"{where}: subjects in both TRAIN_SET and TEST_SET: {', '.join(overlap[:10])}")
    probes = value.get("PROBE_SET", [])
    if not isinstance(probes, list):
        raise DataError(
            f"{where}: key 'PROBE_SET' must be a list of sequence keys, got {quote_value(probes)}"
        )
    for position, key in enumerate(probes):
        if not isinstance(key, str):
            raise DataError(f"{where}: PROBE_SET[{position}] must be a string, got {quote_value(key)}")
    return Partition(
        train_set=sets["TRAIN_SET"], test_set=sets["TEST_SET"], probe_set=tuple(sorted(set(probes)))
    )


def partition_metadata(partition: Partition) -> dict[str, list[str]]:
    """The partition as the JSON object a dataset's metadata stores under ``partition``."""
    value = {"TRAIN_SET": list(partition.train_set), "TEST_SET": list(partition.test_set)}
    return value | ({"PROBE_SET": list(partition.probe_set)} if partition.probe_set else {})


def load_partition(json_path: Path) -> Partition:
    """Read an OpenGait partition JSON file."""
    json_path = Path(json_path)
    text = read_regular_text(json_path, "partition file", MAX_JSON_BYTES)
    check_json_depth(text, f"{json_path}: partition file")
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DataError(f"{json_path}: partition file is not valid JSON: {error}") from error
    return parse_partition(value, str(json_path))


def resolve_partition(dataset: SilhouetteDataset, json_path: Path | None = None) -> Partition:
    """The partition to use for ``dataset``, restricted to subjects it contains.

    Taken from ``json_path`` if given, else from the dataset's metadata (``extra["partition"]``),
    else the CASIA-B default (first 74 subjects in sorted order train, the rest test). Listed
    subjects missing from the dataset are dropped with a warning, as OpenGait drops them.
    """
    present = dataset.subjects
    if json_path is not None:
        partition = load_partition(json_path)
        where = str(json_path)
    elif "partition" in dataset.metadata.extra:
        where = f"{dataset.path} metadata 'partition'"
        partition = parse_partition(dataset.metadata.extra["partition"], where)
    else:
        if len(present) <= CASIA_B_TRAIN_SUBJECTS:
            raise DataError(
                f"{dataset.path}: has {len(present)} subjects and no partition; the default CASIA-B split "
                f"trains on the first {CASIA_B_TRAIN_SUBJECTS} and needs more to test on: pass a partition JSON"
            )
        log.info(
            "no partition given: using the CASIA-B split (first %d subjects train)", CASIA_B_TRAIN_SUBJECTS
        )
        return Partition(present[:CASIA_B_TRAIN_SUBJECTS], present[CASIA_B_TRAIN_SUBJECTS:])
    available = set(present)
    missing = [s for s in (*partition.train_set, *partition.test_set) if s not in available]
    if missing:
        log.warning(
            "%s lists %d subjects absent from %s (ignored): %s",
            where,
            len(missing),
            dataset.path,
            ", ".join(missing[:10]),
        )
    result = Partition(
        train_set=tuple(s for s in partition.train_set if s in available),
        test_set=tuple(s for s in partition.test_set if s in available),
        probe_set=partition.probe_set,
    )
    if not result.train_set:
        raise DataError(f"{where}: none of the TRAIN_SET subjects is in {dataset.path}")
    unassigned = available - set(result.train_set) - set(result.test_set)
    if unassigned:
        log.info("%d subjects of %s are in neither set (unused)", len(unassigned), dataset.path)
    return result
