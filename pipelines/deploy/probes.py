"""Probes for ``identify``: a video, a folder of frames or a dataset sequence -> network input.

Every kind ends as the network's input, float ``[T, H, W]`` in [0, 1], through the same steps as
the datasets it is compared with: silhouettes (from the video by ``data.video``, or the frames
as they are) -> OpenGait's pretreatment -> the silhouette transform. A probe's name is what the
user typed, so results can be matched to the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkgait.data.converters.from_frames import read_grayscale
from landmarkgait.data.errors import DataError
from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.transforms import silhouette_transform
from landmarkgait.data.video.sources import VIDEO_SUFFIXES
from landmarkgait.models.stages import MIN_FRAMES

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class Probe:
    name: str
    frames: np.ndarray  # float32 [T, H, W] in [0, 1]

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def load_probe(reference: str, img_size: int) -> Probe:
    """The probe ``reference`` names: an existing video file or frame folder, else ``DATASET:s/t/v``."""
    path = Path(reference)
    if path.is_dir():
        frames = _frame_folder(path)
    elif path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise DataError(
                f"probe {reference}: expected a video ({', '.join(VIDEO_SUFFIXES)}), a folder of frames "
                "or DATASET:subject/type/view"
            )
        frames = _video(path)
    elif ":" in reference:
        return _dataset_sequence(reference)
    else:
        raise DataError(
            f"probe {reference}: no such file or folder (nor a DATASET:subject/type/view reference)"
        )
    pretreated = pretreat_sequence(frames, img_size).frames
    return _checked(reference, silhouette_transform(pretreated))


def _checked(name: str, frames: np.ndarray) -> Probe:
    if frames.shape[0] < MIN_FRAMES:
        raise DataError(
            f"probe {name}: {frames.shape[0]} frame(s) with a person after pretreatment, the network needs "
            f">= {MIN_FRAMES}"
        )
    return Probe(name, frames)


def _frame_folder(path: Path) -> list[np.ndarray]:
    files = sorted(file for file in path.iterdir() if file.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise DataError(f"probe {path}: folder holds no frames ({', '.join(FRAME_SUFFIXES)})")
    return [read_grayscale(file) for file in files]


def _video(path: Path) -> list[np.ndarray]:
    """The person masks of the video, extracted as ``data convert-video`` does with its defaults."""
    from landmarkgait.data.video.settings import SubtractionSettings
    from landmarkgait.data.video.silhouettes import extract_silhouettes

    return list(extract_silhouettes(path, SubtractionSettings()).frames)


def _dataset_sequence(reference: str) -> Probe:
    dataset_path, _, key = reference.rpartition(":")
    parts = key.split("/")
    if len(parts) != 3:
        raise DataError(f"probe {reference}: expected DATASET:subject/type/view, got key {key!r}")
    dataset = SilhouetteDataset(dataset_path)
    record = dataset[dataset.find(*parts)]
    return _checked(reference, silhouette_transform(record.frames))
