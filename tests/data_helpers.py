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
