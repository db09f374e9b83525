"""Embeddings independent of the batch, and the visual summaries."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from landmarkgait.models import ModelConfigError, build_model
from landmarkgait.models.inference import embed
from landmarkgait.models.samples import walking_silhouettes as walkers
from landmarkgait.models.visualize import render_summary


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
def test_render_summary_makes_one_png_grid_per_quantity(stage, names):
    model = build_model(stage, "micro", height=32, width=24).eval()
    sils = walkers(3, 10, 32, 24)
    with torch.no_grad():
        images = render_summary(model(sils), sils, max_sequences=2, max_frames=4)
    assert set(images) == names
    for png in images.values():
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (2 * 32 + 2, 4 * 24 + 3 * 2, 3)
    silhouettes = cv2.imdecode(np.frombuffer(images["silhouettes"], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(silhouettes[:32, :24] > 127, sils[0, 0].numpy() > 0.5)
