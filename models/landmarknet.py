"""LandmarkNet (stage 1 backbone): silhouettes -> landmarks -> transported features -> silhouettes.

Every frame is encoded twice in the official code, once as itself and once as the source
of the frame ``transport_shift`` steps later. The encoders are per-frame and unnormalised,
so the source's codes are exactly the frame's codes rolled along time: we encode once and
roll. Parameter names equal the official ``Backbone.*`` names. This module must not know
about body parts or recognition.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from landmarkgait.models.config import ModelConfig
from landmarkgait.models.layers import BasicConv2d, FrameStack


class FrameEncoder(nn.Module):
    """Conv stack ``[B, 1, H, W] -> [B, C2, H/4, W/4]`` (official ``FeatureExtractor`` / ``LandmarkPredictor_1``)."""

    def __init__(self, channels: tuple[int, int, int]):
        super().__init__()
        c0, c1, c2 = channels
        self.model = FrameStack(
            BasicConv2d(1, c0, 7, 1, 3),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c0, c0, 5, 1, 2),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c0, c1, 4, 2, 1),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c1, c1, 3, 1, 1),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c1, c2, 4, 2, 1),
            nn.LeakyReLU(inplace=True),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model(frames)


class SpatialSoftmax(nn.Module):
    """Expected (x, y) of each landmark map under a spatial softmax, in [-1, 1].

    ``pos_x`` / ``pos_y`` are buffers in the official checkpoints; they are built in float64
    and rounded like the official NumPy grid.
    """

    def __init__(self, height: int, width: int):
        super().__init__()
        ys = torch.linspace(-1.0, 1.0, height, dtype=torch.float64)
        xs = torch.linspace(-1.0, 1.0, width, dtype=torch.float64)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        self.register_buffer("pos_x", grid_x.reshape(-1).float())
        self.register_buffer("pos_y", grid_y.reshape(-1).float())

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """``[B, L, h, w]`` -> ``[B, L, 2]``."""
        b, num, h, w = maps.shape
        attention = torch.softmax(maps.reshape(b * num, h * w), dim=-1)
        x = torch.sum(self.pos_x * attention, dim=1, keepdim=True)
        y = torch.sum(self.pos_y * attention, dim=1, keepdim=True)
        return torch.cat([x, y], 1).view(b, num, 2)


class LandmarkPredictor(nn.Module):
    """1x1 conv to one map per landmark, then spatial softmax (official ``LandmarkPredictor_2``)."""

    def __init__(self, in_channels: int, num_landmark: int, height: int, width: int):
        super().__init__()
        self.model_landmark = FrameStack(BasicConv2d(in_channels, num_landmark, 1, 1, 0))
        self.integrater = SpatialSoftmax(height, width)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """``[B, C2, h, w]`` -> landmarks ``[B, L, 2]``."""
        return self.integrater(self.model_landmark(codes))


class Refiner(nn.Module):
    """Decoder ``[B, C2, H/4, W/4] -> [B, 1, H, W]``; ParsingNet's ends with a sigmoid."""

    def __init__(self, channels: tuple[int, int, int], sigmoid: bool):
        super().__init__()
        c0, c1, c2 = channels
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(c2, c2, 4, 2, 1),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c2, c1, 3, 1, 1),
            nn.LeakyReLU(inplace=True),
            nn.ConvTranspose2d(c1, c1, 4, 2, 1),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c1, c0, 5, 1, 2),
            nn.LeakyReLU(inplace=True),
            BasicConv2d(c0, 1, 7, 1, 3),
        ]
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.model = FrameStack(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(features)


@dataclass
class LandmarkCodes:
    """LandmarkNet's view of a batch ``[N, T, H, W]``, per frame, and the transport inputs.

    features      ``[N, T, C2, h, w]`` visual features of each frame (h, w = H/4, W/4)
    landmarks     ``[N, T, L, 2]`` (x, y) in [-1, 1]
    heatmaps      ``[N, T, L, h, w]`` Gaussian heatmap of each landmark
    digged_source ``[N, T, C2, h, w]`` source frame's features with both frames' landmark
                  areas removed; a transport adds the kept landmark areas of the frame itself
    reconstruction ``[N, T, H, W]`` the frame rebuilt from all its landmarks (stage 1 output)
    """

    features: torch.Tensor
    landmarks: torch.Tensor
    heatmaps: torch.Tensor
    digged_source: torch.Tensor
    reconstruction: torch.Tensor


class LandmarkNet(nn.Module):
    """The official ``landmarknet`` backbone with one encoder pass per frame."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        height, width = config.height // 4, config.width // 4
        self.extract_feature = FrameEncoder(config.channels)
        self.extract_landmark_1 = FrameEncoder(config.channels)
        self.extract_landmark_2 = LandmarkPredictor(config.channels[2], config.num_landmark, height, width)
        if config.freeze_landmark_encoder:
            for module in (self.extract_feature, self.extract_landmark_1, self.extract_landmark_2):
                module.requires_grad_(False)
        self.refine = Refiner(config.channels, sigmoid=False)
        # Heatmap grids (not in the official state_dict, hence not persistent).
        self.register_buffer("grid_y", torch.linspace(-1.0, 1.0, height).view(height, 1), persistent=False)
        self.register_buffer("grid_x", torch.linspace(-1.0, 1.0, width).view(1, width), persistent=False)

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, T, H, W]`` -> features ``[N, T, C2, h, w]`` and landmarks ``[N, T, L, 2]``."""
        n, t, h, w = frames.shape
        flat = frames.reshape(n * t, 1, h, w)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_landmark_encoder):
            features = self.extract_feature(flat)
            landmarks = self.extract_landmark_2(self.extract_landmark_1(flat))
        return features.view(n, t, *features.shape[1:]), landmarks.view(n, t, *landmarks.shape[1:])

    def heatmaps(self, landmarks: torch.Tensor) -> torch.Tensor:
        """Gaussian maps ``[..., L, h, w]`` around landmarks ``[..., L, 2]`` (std = 1 / inv_std)."""
        mu_x = landmarks[..., 0, None, None]
        mu_y = landmarks[..., 1, None, None]
        distance = ((self.grid_y - mu_y) ** 2 + (self.grid_x - mu_x) ** 2) * self.config.inv_std**2
        return torch.exp(-distance)

    def source(self, per_frame: torch.Tensor) -> torch.Tensor:
        """The transport source of every frame: the frame ``transport_shift`` steps earlier (cyclic)."""
        return torch.roll(per_frame, shifts=self.config.transport_shift, dims=1)

    def decode(self, mixed: torch.Tensor, refiner: nn.Module) -> torch.Tensor:
        """Run ``refiner`` on features ``[..., C2, h, w]`` -> frames ``[..., H, W]``."""
        lead = mixed.shape[:-3]
        frames = refiner(mixed.reshape(-1, *mixed.shape[-3:]))
        return frames.view(*lead, *frames.shape[-2:])

    def forward(self, frames: torch.Tensor) -> LandmarkCodes:
        features, landmarks = self.encode(frames)
        heatmaps = self.heatmaps(landmarks)
        coverage = torch.sum(heatmaps, 2, keepdim=True)
        digged_source = self.source(features) * (1.0 - self.source(coverage)) * (1.0 - coverage)
        mixed = digged_source + coverage * features
        return LandmarkCodes(
            features=features,
            landmarks=landmarks,
            heatmaps=heatmaps,
            digged_source=digged_source,
            reconstruction=self.decode(mixed, self.refine),
        )
