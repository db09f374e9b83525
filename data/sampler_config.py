"""How training batches are drawn: P x K triplet batches of fixed-length clips.

The pipeline config's ``stages.<stage>.sampler`` section (one definition), read by
``data.loader.TrainBatchLoader`` (OpenGait's TripletSampler + collate). Validated when created;
errors name the field. Importable without torch or the Parquet layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from landmarkgait.data.errors import DataError

# OpenGait's training frame samplers: a contiguous clip, or frames drawn without order.
TRAIN_SAMPLE_TYPES = ("fixed_ordered", "fixed_unordered")


@dataclass(frozen=True)
class SamplerConfig:
    """``subjects_per_batch`` (P) subjects, ``sequences_per_subject`` (K) sequences each, clips of
    ``frames`` frames drawn as ``sample_type``."""

    subjects_per_batch: int = 8
    sequences_per_subject: int = 8
    frames: int = 30
    sample_type: str = "fixed_ordered"

    def __post_init__(self) -> None:
        if self.sample_type not in TRAIN_SAMPLE_TYPES:
            raise DataError(
                f"sample_type must be one of {', '.join(TRAIN_SAMPLE_TYPES)}, got {self.sample_type!r}"
            )
        for name in ("subjects_per_batch", "sequences_per_subject", "frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"{name} must be >= 1, got {value!r}")

    @property
    def batch_size(self) -> int:
        return self.subjects_per_batch * self.sequences_per_subject
