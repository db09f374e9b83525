"""Small deterministic inputs for the data-layer tests (tests/test_data_*.py).

Sequences are short and few so every test file runs in seconds; the CLI is run as a real
subprocess, the way users run it.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from landmarkgait.data.format import SequenceRecord
from landmarkgait.data.synth.config import SynthConfig

REPO = Path(__file__).resolve().parents[1]


def make_records(
    subjects: Sequence[str] = ("001", "002", "003"),
    types: Sequence[str] = ("nm-01", "nm-02", "bg-01"),
    views: Sequence[str] = ("000", "090"),
    *,
    min_frames: int = 2,
    max_frames: int = 9,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> list[SequenceRecord]:
    """One sequence per (subject, type, view) in sorted order, random uint8 frames of random length."""
    rng = np.random.default_rng(seed)
    return [
        SequenceRecord(
            subject,
            type_,
            view,
            rng.integers(0, 256, (int(rng.integers(min_frames, max_frames + 1)), *size), dtype=np.uint8),
        )
        for subject in subjects
        for type_ in types
        for view in views
    ]


def write_opengait_pkl_tree(root: Path, records: Sequence[SequenceRecord]) -> list[Path]:
    """Write ``root/<subject>/<type>/<view>/<view>.pkl`` exactly as OpenGait's pretreatment does."""
    paths = []
    for record in records:
        directory = root / record.subject / record.type / record.view
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{record.view}.pkl"
        with open(path, "wb") as handle:
            pickle.dump(np.asarray(list(record.frames)), handle)
        paths.append(path)
    return paths


def run_cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    """``landmarkgait ARGS`` as a subprocess (``python -m landmarkgait.pipelines.cli``), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "landmarkgait.pipelines.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        **kwargs,
    )


def write_synthetic_with_truth(path: Path, config: SynthConfig) -> Path:
    """A synthetic dataset at ``path`` and its ground truth beside it, written in-process (no Ray)
    by the generator's own functions."""
    from landmarkgait.data.format import read_metadata, shard_file_name
    from landmarkgait.data.synth.generator import IMAGE_SIZE, default_partition, subject_ground_truth
    from landmarkgait.data.synth.truth_files import ground_truth_path, write_truth_metadata, write_truth_shard
    from landmarkgait.data.writer import write_dataset

    items = {subject: subject_ground_truth(config, subject) for subject in config.subject_names}
    write_dataset(
        (record for subject in config.subject_names for record, _ in items[subject]),
        path,
        name="tiny",
        source="test",
        extra_metadata={"partition": default_partition(config.subject_names), "synth": config.to_metadata()},
    )
    folder = ground_truth_path(path)
    folder.mkdir()
    for subject, pairs in items.items():
        write_truth_shard(pairs, folder / shard_file_name(int(subject)))
    write_truth_metadata(folder, read_metadata(path).fingerprint, IMAGE_SIZE)
    return path
