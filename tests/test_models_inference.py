"""Embeddings independent of the batch, and the visual summaries."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from landmarkgait.models import ModelConfigError, build_model
from landmarkgait.models.inference import embed
from landmarkgait.models.samples import walking_silhouettes as walkers
from landmarkgait.models.visualize import LANDMARK_COLOUR, PART_COLOURS, SCALE, render_summary


def test_embeddings_are_what_each_sequence_gets_alone():
    torch.manual_seed(0)
    model = build_model("recognition", "micro", height=32, width=24).train()
    lengths = [5, 7, 5, 9, 7, 5]
    sequences = [walkers(1, t, 32, 24, seed=i)[0] for i, t in enumerate(lengths)]
    batched = embed(model, sequences, batch_size=2)
    assert batched.shape == (6, 8, 8)
    assert model.training  # mode restored
    alone = torch.cat([embed(model, [sequence]) for sequence in sequences])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)
    reordered = embed(model, sequences[::-1], batch_size=4)
    torch.testing.assert_close(reordered, alone.flip(0), rtol=1e-5, atol=1e-5)


def test_embed_refuses_models_and_inputs_it_cannot_embed():
    with pytest.raises(ModelConfigError, match="recognition model"):
        embed(build_model("parsing", "micro"), [torch.zeros(4, 64, 44)])
    with pytest.raises(ModelConfigError, match="sequence 1"):
        embed(build_model("recognition", "micro"), [torch.zeros(4, 64, 44), torch.zeros(64, 44)])


def _decode(png: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _pixels_of(image: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """(row, column) of every pixel of exactly ``colour``."""
    return np.argwhere(np.all(image == colour, axis=-1))


@pytest.mark.parametrize(
    ("stage", "names"),
    [
        ("landmark", {"silhouettes", "landmarks", "reconstruction"}),
        (
            "recognition",
            {"silhouettes", "landmarks", "reconstruction", "part_reconstruction", "parts", "mixed_parts"},
        ),
    ],
)
def test_render_summary_makes_one_labelled_panel_per_quantity(stage, names):
    model = build_model(stage, "micro", height=32, width=24).eval()
    sils = walkers(3, 10, 32, 24)
    with torch.no_grad():
        outputs = model(sils)
    images = render_summary(outputs, sils, max_sequences=2, max_frames=4)
    assert set(images) == names
    assert render_summary(outputs, sils, max_sequences=2, max_frames=4) == images  # deterministic
    for name, png in images.items():
        rows = 2 if name in ("silhouettes", "landmarks") else 4  # outputs sit under their input
        height, width, _ = _decode(png).shape
        # Frames upscaled SCALE times, plus labels on the left and a title above.
        assert height > rows * SCALE * 32 and width > 4 * SCALE * 24 + 60
    # The first input frame, upscaled at least 3 times by nearest neighbour, is in the panel.
    assert SCALE >= 3
    silhouettes = _decode(images["silhouettes"])[..., 0]
    frame = np.repeat(np.repeat((sils[0, 0].numpy() * 255).astype(np.uint8), SCALE, 0), SCALE, 1)
    mismatch = cv2.matchTemplate(silhouettes, frame, cv2.TM_SQDIFF)
    row, column = np.unravel_index(mismatch.argmin(), mismatch.shape)
    assert np.array_equal(silhouettes[row : row + SCALE * 32, column : column + SCALE * 24], frame)


def _grouping_outputs(n: int, t: int, grouped: bool) -> dict[str, torch.Tensor]:
    """Stage outputs for black 32 x 24 frames whose 6 landmarks get higher with their index
    (index 0 lowest), alternating left and right; masks empty when ``grouped``."""
    heights = torch.linspace(0.8, -0.7, 6)
    xs = torch.tensor([-0.5, 0.5] * 3)
    landmarks = torch.stack([xs, heights], dim=-1)[None, :, None].expand(n, 6, t, 2).clone()
    outputs = {
        "reconstruction": torch.zeros(n, t, 32, 24),
        "landmarks": landmarks,
        "heatmap": torch.zeros(n, t, 8, 6),
    }
    if grouped:
        outputs |= {key: torch.zeros(n, t, 32, 24) for key in ("part_reconstruction", "head", "up", "low")}
    return outputs


def _landmark_centres(image: np.ndarray, landmarks: torch.Tensor) -> list[tuple[int, int]]:
    """Where the first frame's landmarks are drawn: -1 / 1 are the centres of the first / last
    cells of the 8 x 6 heatmap grid, each 4 frame pixels = 4 SCALE image pixels."""
    top, left = _pixels_of(image, np.zeros(3, np.uint8)).min(axis=0)  # the first black frame
    cell = 4 * SCALE
    return [
        (int(top + ((y + 1) / 2 * 7 + 0.5) * cell), int(left + ((x + 1) / 2 * 5 + 0.5) * cell))
        for x, y in landmarks[0, :, 0].tolist()
    ]


def test_landmarks_are_dots_coloured_by_body_group_from_stage_2_on():
    sils = torch.zeros(2, 3, 32, 24)
    outputs = _grouping_outputs(2, 3, grouped=True)
    image = _decode(render_summary(outputs, sils)["landmarks"])
    # 6 landmarks: 1 head, 2 upper, 3 lower body, by height (the top one is the last index).
    groups = [2, 2, 2, 1, 1, 0]
    for (row, column), group in zip(_landmark_centres(image, outputs["landmarks"]), groups, strict=True):
        dot = image[row - 1 : row + 2, column - 1 : column + 2].reshape(-1, 3)
        assert (dot == PART_COLOURS[group]).all(), (row, column, group)
    assert not len(_pixels_of(image, LANDMARK_COLOUR))


def test_stage_1_landmarks_are_one_neutral_colour():
    sils = torch.zeros(2, 3, 32, 24)
    outputs = _grouping_outputs(2, 3, grouped=False)
    image = _decode(render_summary(outputs, sils)["landmarks"])
    for row, column in _landmark_centres(image, outputs["landmarks"]):
        assert (image[row, column] == LANDMARK_COLOUR).all()
    assert not any(len(_pixels_of(image, colour)) for colour in PART_COLOURS)


def test_parts_legend_shows_the_three_colours_below_the_frames():
    sils = torch.zeros(2, 3, 32, 24)
    image = _decode(render_summary(_grouping_outputs(2, 3, grouped=True), sils)["parts"])
    bottom_of_frames = _pixels_of(image, np.zeros(3, np.uint8))[:, 0].max()
    for colour in PART_COLOURS:  # the masks are empty: only the legend has the part colours
        swatch = _pixels_of(image, colour)
        assert len(swatch) >= 100 and swatch[:, 0].min() > bottom_of_frames
