"""What the synthetic benchmark generates: ``SynthConfig``, CASIA-B's types, views and split sizes.

Kept apart from the generator (and free of torch, Ray and the Parquet layer) because the pipeline
config embeds a ``SynthConfig`` as its ``data.synthetic`` section, which the CLI validates in under
a second. This module must not generate anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from landmarkgait.data.errors import DataError

CASIA_B_TYPES: tuple[str, ...] = (
    *(f"nm-{i:02d}" for i in range(1, 7)),
    "bg-01",
    "bg-02",
    "cl-01",
    "cl-02",
)
CASIA_B_VIEWS: tuple[str, ...] = tuple(f"{angle:03d}" for angle in range(0, 181, 18))
# CASIA-B's split: the first 74 of 124 subjects train, the other 50 test.
CASIA_B_TRAIN_SUBJECTS, CASIA_B_SUBJECTS = 74, 124
_MAX_FRAMES_LIMIT = 1000


@dataclass(frozen=True)
class SynthConfig:
    """Arguments of the synthetic benchmark; invalid values raise ``DataError`` naming the argument.

    ``render_size`` is the square render window in pixels before pretreatment to 64x64;
    ``artefacts`` scales segmentation artefacts (0 = clean silhouettes); ``workers`` bounds the
    number of parallel Ray tasks (None = all CPUs) and does not change the output.
    """

    subjects: int = CASIA_B_SUBJECTS
    types: tuple[str, ...] = CASIA_B_TYPES
    views: tuple[str, ...] = CASIA_B_VIEWS
    min_frames: int = 30
    max_frames: int = 100
    seed: int = 0
    render_size: int = 128
    artefacts: float = 1.0
    workers: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _checked_subset("types", self.types, CASIA_B_TYPES))
        object.__setattr__(self, "views", _checked_subset("views", self.views, CASIA_B_VIEWS))
        _check_int("subjects", self.subjects, 2, 999, "(a train and a test subject at least)")
        _check_int("min_frames", self.min_frames, 1, _MAX_FRAMES_LIMIT)
        _check_int("max_frames", self.max_frames, 1, _MAX_FRAMES_LIMIT)
        if self.min_frames > self.max_frames:
            raise DataError(
                f"min_frames ({self.min_frames}) must not be greater than max_frames ({self.max_frames})"
            )
        _check_int("seed", self.seed, 0, 2**32 - 1)  # the range of every seed of the tool
        _check_int("render_size", self.render_size, 64, 512)
        if not isinstance(self.artefacts, (int, float)) or not 0.0 <= float(self.artefacts) <= 3.0:
            raise DataError(f"artefacts must be a number in [0, 3], got {self.artefacts!r}")
        if self.workers is not None:
            _check_int("workers", self.workers, 1, 4096)

    @property
    def subject_names(self) -> tuple[str, ...]:
        return tuple(f"{number:03d}" for number in range(1, self.subjects + 1))

    def to_metadata(self) -> dict[str, Any]:
        """The arguments that determine the content (``workers`` does not), JSON-serialisable."""
        values = asdict(self)
        del values["workers"]
        return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}


def _checked_subset(name: str, values: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise DataError(f"{name} must be a list of strings from {', '.join(allowed)}, got {values!r}")
    chosen = tuple(values)
    if not chosen:
        raise DataError(f"{name} must not be empty; choose from {', '.join(allowed)}")
    for value in chosen:
        if value not in allowed:
            raise DataError(f"{name}: unknown value {value!r}; expected one of {', '.join(allowed)}")
    if len(set(chosen)) != len(chosen):
        raise DataError(f"{name}: duplicate values in {', '.join(chosen)}")
    return tuple(value for value in allowed if value in chosen)  # canonical order


def _check_int(name: str, value: Any, low: int, high: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise DataError(
            f"{name} must be an integer in [{low}, {high}]{' ' + why if why else ''}, got {value!r}"
        )
