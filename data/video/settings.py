"""How ``convert-video`` extracts silhouettes: the options, checked, with the defaults chosen by measurement.

Why a module of its own: the command line builds its options from these defaults while its parser
is made, before OpenCV is imported (``silhouettes`` needs it). It must not import OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

from landmarkgait.data.errors import DataError

METHODS = ("MOG2", "KNN")
# Foreground thresholds chosen on synthetic videos of subjects 001-002 (benchmarks/video_silhouettes.py
# measures subjects 003-005): MOG2's is in units of the pixel's variance, KNN's in grey levels squared.
DEFAULT_THRESHOLDS = {"MOG2": 32.0, "KNN": 200.0}


@dataclass(frozen=True)
class SubtractionSettings:
    """How silhouettes are extracted; invalid values raise ``DataError`` naming the option.

    ``warm_up``: the first frames, which should show the empty scene (as a camera started before
    the walker enters does): the background model learns from them at full speed. After them it
    learns at ``1 / history`` per frame, slowly on purpose: a walker seen from the front or back
    stays on the same pixels for seconds, and a faster model absorbs the inside of the body into
    the background. ``threshold``: squared distance (in grey levels, MOG2 in units of the pixel's
    variance) above which a pixel is foreground; 0 picks the method's default (MOG2 32, KNN 200),
    measured on held-out synthetic videos by ``benchmarks/video_silhouettes.py``. ``min_area``:
    the smallest person, as a fraction of the frame's area (0.002 = 154 pixels at 320x240).
    ``frame_step``: use every n-th frame only.
    """

    method: str = "MOG2"
    warm_up: int = 20
    history: int = 3000
    threshold: float = 0.0
    min_area: float = 0.002
    frame_step: int = 1

    def __post_init__(self) -> None:
        method = self.method.upper() if isinstance(self.method, str) else self.method
        if method not in METHODS:
            raise DataError(f"--method: unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        object.__setattr__(self, "method", method)
        for name, low, high in (
            ("warm_up", 0, 100_000),
            ("history", 2, 1_000_000),
            ("frame_step", 1, 10_000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise DataError(
                    f"--{name.replace('_', '-')} must be an integer in [{low}, {high}], got {value!r}"
                )
        for name, accepted, meaning in (
            ("min_area", lambda value: 0.0 < value <= 0.5, "a fraction of the frame in (0, 0.5]"),
            (
                "threshold",
                lambda value: 0.0 <= value <= 1e6,
                "0 (the method's default) or a positive squared distance",
            ),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not accepted(value):
                raise DataError(f"--{name.replace('_', '-')} must be {meaning}, got {value!r}")

    @property
    def foreground_threshold(self) -> float:
        return self.threshold or DEFAULT_THRESHOLDS[self.method]
