"""Typed configurations of the LandmarkGait networks, one dataclass per stage.

A config is plain data: it is validated once when created (bad values raise
``ModelConfigError`` naming the field), flattened with ``to_dict()`` for MLflow params, and
read by the model builders. It must not build modules or know about presets (``landmarkgait.models.presets``).

Field names and their official (``configs/landmarkgait/*.yaml``) equivalents:

``NetworkConfig`` (every stage)
    height, width          input silhouette size (``height``, ``width``), both divisible by 4
``ModelConfig`` (the LandmarkGait stages; LandmarkNet, ``landmarknet_cfg.landmark_cfg``)
    channels               LandmarkNet encoder/refiner channels (``channels``), also ParsingNet's
    num_landmark           landmarks per frame (``num_landmark``), >= 3
    inv_std                inverse std of the Gaussian heatmaps (``inv_std``)
    transport_shift        frames between a frame and its transport source (hard-coded 8)
    freeze_landmark_encoder  freeze LandmarkNet's encoder and predictor (``freeze_half``)
``ParsingConfig`` (stages 2 and 3) adds
    dilation_kernel        mask dilation kernel size (``kernel_size``)
    mask_threshold         part mask threshold as a fraction of the peak (hard-coded 0.9)
    grouping               landmark grouping while training: "official" or "mean"
    eval_grouping          landmark grouping in eval mode: "official" or "mean"
``PMBCConfig`` (PMBC-Net: stage 3 and the holistic baseline)
    pmbconv_channels       PMBC-Net channels (``channels_PMBConv``)
    num_classes            training subjects (``class_num``)
    num_parts, gem_p       GeM horizontal pooling bins and initial p (hard-coded 96 and 6.5)
    head                   "bn" (BatchNorm1d + SeparateFCs, the official default) or "bnneck"
                           (``SeparateBNNecks``)
``RecognitionConfig`` (stage 3) is a ParsingConfig and a PMBCConfig, and adds
    freeze_parsing         freeze ParsingNet's refiner (``freeze_half_bodypart``)
    roll_up, roll_low      parts-mixup batch offsets of upper / lower body (``roll_up``, ``roll_low``)
``HolisticConfig`` (the paper's baseline, PMBC-Net on the silhouette only) is a PMBCConfig
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from landmarkgait.models.errors import ModelConfigError

GROUPINGS = ("official", "mean")
HEADS = ("bn", "bnneck")

# Fewest frames between a frame and its transport source for the transport to mean anything: at 0
# every frame is its own source (each part is transported from the frame itself), at 1-2 the body has
# barely moved. The official 30-frame clips with a shift of 8 have 8.
MIN_TRANSPORT_DISTANCE = 3


def transport_distance(shift: int, frames: int) -> int:
    """Frames between a frame and its transport source in a clip of ``frames`` frames.

    LandmarkNet takes the source by a cyclic roll of ``shift`` along time, so the distance is the
    cyclic one, ``min(shift mod T, T - shift mod T)``; 0 means the roll is the identity.
    """
    offset = shift % frames
    return min(offset, frames - offset)


def _require(condition: bool, key: str, expected: str, value: Any) -> None:
    if not condition:
        raise ModelConfigError(f"model config '{key}': expected {expected}, got {value!r}")


def _check_channels(key: str, value: Any) -> None:
    _require(
        isinstance(value, tuple) and len(value) == 3 and all(_is_int(c) and c > 0 for c in value),
        key,
        "three positive integers",
        value,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class NetworkConfig:
    """What every network's config has: its input size, validation, and flattening."""

    stage: ClassVar[str]

    height: int = 64
    width: int = 44

    def __post_init__(self) -> None:
        for key in ("channels", "pmbconv_channels"):
            if isinstance(getattr(self, key, None), list):
                object.__setattr__(self, key, tuple(getattr(self, key)))
        self.validate()

    def validate(self) -> None:
        """Raise ``ModelConfigError`` naming the first field that cannot build a network."""
        for key in ("height", "width"):
            value = getattr(self, key)
            _require(_is_int(value) and value >= 4 and value % 4 == 0, key, "a multiple of 4", value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML types (tuples as lists), keyed by field name, plus ``stage``."""
        values = {
            field.name: list(value) if isinstance(value, tuple) else value
            for field in dataclasses.fields(self)
            for value in [getattr(self, field.name)]
        }
        return {"stage": self.stage, **values}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))


@dataclass(frozen=True)
class ModelConfig(NetworkConfig):
    """LandmarkNet settings shared by the LandmarkGait stages (see the module docstring)."""

    stage: ClassVar[str] = "landmark"

    channels: tuple[int, int, int] = (32, 64, 128)
    num_landmark: int = 25
    inv_std: float = 10.0
    transport_shift: int = 8
    freeze_landmark_encoder: bool = False

    def validate(self) -> None:
        super().validate()
        _check_channels("channels", self.channels)
        _require(
            _is_int(self.num_landmark) and self.num_landmark >= 3,
            "num_landmark",
            "an integer >= 3 (head, upper and lower body need one landmark each)",
            self.num_landmark,
        )
        _require(isinstance(self.inv_std, int | float) and self.inv_std > 0, "inv_std", "> 0", self.inv_std)
        _require(_is_int(self.transport_shift), "transport_shift", "an integer", self.transport_shift)
        _require(
            isinstance(self.freeze_landmark_encoder, bool),
            "freeze_landmark_encoder",
            "true or false",
            self.freeze_landmark_encoder,
        )


@dataclass(frozen=True)
class LandmarkConfig(ModelConfig):
    """Stage 1, LandmarkNet (silhouette -> landmarks): everything trains."""

    stage: ClassVar[str] = "landmark"


@dataclass(frozen=True)
class ParsingConfig(ModelConfig):
    """Stage 2, ParsingNet (landmarks -> head / upper / lower body masks)."""

    stage: ClassVar[str] = "parsing"

    freeze_landmark_encoder: bool = True
    dilation_kernel: int = 3
    mask_threshold: float = 0.9
    grouping: str = "official"
    eval_grouping: str = "mean"

    def validate(self) -> None:
        super().validate()
        _require(
            _is_int(self.dilation_kernel) and self.dilation_kernel >= 1 and self.dilation_kernel % 2 == 1,
            "dilation_kernel",
            "an odd integer >= 1",
            self.dilation_kernel,
        )
        _require(
            isinstance(self.mask_threshold, int | float) and 0 < self.mask_threshold < 1,
            "mask_threshold",
            "a fraction in (0, 1)",
            self.mask_threshold,
        )
        for key in ("grouping", "eval_grouping"):
            _require(getattr(self, key) in GROUPINGS, key, " or ".join(GROUPINGS), getattr(self, key))


@dataclass(frozen=True)
class PMBCConfig(NetworkConfig):
    """PMBC-Net settings, shared by the LandmarkGait recognition network and the holistic baseline.

    ``maps`` is how many H/2-row feature maps are stacked before GeM pooling.
    """

    maps: ClassVar[int] = 1

    pmbconv_channels: tuple[int, int, int] = (32, 64, 128)
    num_classes: int = 74
    num_parts: int = 32
    gem_p: float = 6.5
    head: str = "bn"

    @property
    def pooled_height(self) -> int:
        """Rows of the map GeM pools: ``maps`` maps of H/2 rows each."""
        return self.maps * (self.height // 2)

    def validate(self) -> None:
        super().validate()
        _check_channels("pmbconv_channels", self.pmbconv_channels)
        _require(_is_int(self.num_classes) and self.num_classes >= 1, "num_classes", ">= 1", self.num_classes)
        _require(
            _is_int(self.num_parts) and self.num_parts >= 1 and self.pooled_height % self.num_parts == 0,
            "num_parts",
            f"a divisor of {self.pooled_height} ({self.maps} x height / 2 pooled rows)",
            self.num_parts,
        )
        _require(isinstance(self.gem_p, int | float) and self.gem_p > 0, "gem_p", "> 0", self.gem_p)
        _require(self.head in HEADS, "head", " or ".join(HEADS), self.head)


@dataclass(frozen=True)
class RecognitionConfig(ParsingConfig, PMBCConfig):
    """Stage 3, PMBC-Net recognition on silhouettes, parsed parts and mixed parts."""

    stage: ClassVar[str] = "recognition"
    maps: ClassVar[int] = 3  # whole body, parsed parts, mixed parts

    num_parts: int = 96
    freeze_parsing: bool = True
    roll_up: int = 3
    roll_low: int = 6

    def validate(self) -> None:
        super().validate()
        _require(
            isinstance(self.freeze_parsing, bool), "freeze_parsing", "true or false", self.freeze_parsing
        )
        for key in ("roll_up", "roll_low"):
            _require(_is_int(getattr(self, key)), key, "an integer", getattr(self, key))


@dataclass(frozen=True)
class HolisticConfig(PMBCConfig):
    """The paper's baseline: PMBC-Net on the silhouette alone, no landmarks, parts or mixup.

    One H/2-row map, so its default 32 bins pool one row each, as the recognition network's 96.
    """

    stage: ClassVar[str] = "holistic"
