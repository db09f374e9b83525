"""PNG summaries of a batch: what each stage sees and produces, for MLflow artifacts.

``render_summary(outputs, sils)`` returns ``{name: PNG bytes}``, one labelled panel per quantity:
for every sequence a row of input frames and, for a stage output, the row the stage made of them
right below, so each output is read against its input. Frames are upscaled with nearest
neighbour (each pixel stays a sharp block) and every colour is explained by a legend. Plain
NumPy + OpenCV, deterministic (same inputs, same bytes); no training logic here.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from landmarkgait.models.grouping import height_order, part_sizes
from landmarkgait.models.stages import repeat_short_sequences

SCALE = 3  # a frame pixel becomes SCALE x SCALE image pixels
GAP = 4  # between frames and between the rows of a sequence
SEQUENCE_GAP = 14  # between sequences
MARGIN = 10
FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_SCALE = 0.5
TITLE_SCALE = 0.6
TEXT_COLOUR = (20, 20, 20)
LINE_HEIGHT = 20

PART_NAMES = ("head", "upper body", "lower body")
# RGB colours of the head, upper and lower body (masks and grouped landmarks).
PART_COLOURS = np.array([[230, 60, 60], [60, 200, 60], [60, 110, 240]], dtype=np.uint8)
# Stage 1 does not group landmarks: they get a colour that is none of the parts'.
LANDMARK_COLOUR = np.array([250, 200, 0], dtype=np.uint8)
DOT_RADIUS = 4
SYMBOL_SIZE = 13  # legend swatches and the room a legend dot takes
# Silhouettes under the landmarks are dimmed to this grey so the dots stand out.
DIMMED = 0.6

# Greyscale outputs shown under their input: key -> (panel title, row label).
GREY_OUTPUTS = {
    "reconstruction": ("reconstruction from the landmarks", "reconstruction"),
    "part_reconstruction": ("part reconstruction (max of the three coarse parts)", "parts rebuilt"),
    "mixed_parts": ("mixed parts (parts mixup)", "mixed parts"),
}

# A legend entry: ("dot" | "swatch", RGB colour, text).
LegendItem = tuple[str, np.ndarray, str]


def _frames(tensor: torch.Tensor, sequences: int, frames: int) -> np.ndarray:
    """``[N, T, h, w]`` -> float32 NumPy ``[n, t, h, w]`` of the first sequences / frames."""
    return tensor.detach()[:sequences, :frames].float().cpu().numpy()


def _grey(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] ``[...]`` -> uint8 RGB ``[..., 3]``, upscaled on the last two axes."""
    grey = (np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
    return _upscale(np.repeat(grey[..., None], 3, axis=-1))


def _upscale(images: np.ndarray) -> np.ndarray:
    """``[..., h, w, 3]`` -> ``[..., SCALE h, SCALE w, 3]`` by nearest neighbour."""
    return np.repeat(np.repeat(images, SCALE, axis=-3), SCALE, axis=-2)


def _parts(head: np.ndarray, up: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Head / upper / lower body masks in colour (later parts drawn over earlier ones), upscaled."""
    image = np.zeros((*head.shape, 3), dtype=np.float32)
    for mask, colour in zip((head, up, low), PART_COLOURS.astype(np.float32), strict=True):
        image = np.where(mask[..., None] > 0, colour * np.clip(mask[..., None], 0, 1), image)
    return _upscale(image.astype(np.uint8))


def landmark_groups(landmarks: torch.Tensor) -> np.ndarray:
    """Body group of every landmark, ``[N, L, T, 2]`` -> ``[N, L]`` (0 head, 1 upper, 2 lower body).

    The grouping ParsingNet applies in eval mode with its default ``eval_grouping`` ("mean"):
    each sample's landmarks sorted by mean height and split into the ``part_sizes`` groups.
    """
    order = height_order(landmarks.permute(0, 2, 1, 3), "mean", per_sample=True).cpu().numpy()
    sizes = part_sizes(landmarks.shape[1])
    groups = np.empty(order.shape, dtype=np.int64)
    for sample, ranked in enumerate(order):
        groups[sample, ranked] = np.repeat(np.arange(3), sizes)
    return groups


def _draw_landmarks(
    images: np.ndarray, landmarks: np.ndarray, colours: np.ndarray, grid: tuple[int, int]
) -> np.ndarray:
    """Dots on upscaled frames ``[n, t, SH, SW, 3]`` at ``landmarks`` ``[n, L, t, 2]``.

    Coordinates are in [-1, 1] over the heatmap ``grid`` (h, w): -1 and 1 are the centres of its
    first and last cells, each covering ``H / h`` frame pixels. ``colours`` is ``[n, L, 3]``.
    """
    drawn = images.copy()
    n, t, height, width, _ = images.shape
    cell_y, cell_x = height / grid[0], width / grid[1]
    for i in range(n):
        for j in range(t):
            frame = np.ascontiguousarray(drawn[i, j])
            for (x, y), colour in zip(landmarks[i, :, j], colours[i], strict=True):
                # Fixed point (4 fraction bits) keeps the sub-pixel position.
                centre = (
                    round(16 * (((x + 1) / 2 * (grid[1] - 1) + 0.5) * cell_x - 0.5)),
                    round(16 * (((y + 1) / 2 * (grid[0] - 1) + 0.5) * cell_y - 0.5)),
                )
                _dot(frame, centre, colour, shift=4)
            drawn[i, j] = frame
    return drawn


def _dot(canvas: np.ndarray, centre: tuple[int, int], colour: np.ndarray, shift: int = 0) -> None:
    """A filled dot with a dark rim, visible on white silhouettes and on black background alike."""
    radius = DOT_RADIUS << shift
    cv2.circle(canvas, centre, radius, tuple(int(c) for c in colour), -1, cv2.LINE_AA, shift)
    cv2.circle(canvas, centre, radius, TEXT_COLOUR, 1, cv2.LINE_AA, shift)


def _text(canvas: np.ndarray, text: str, left: int, top: int, scale: float = TEXT_SCALE) -> None:
    """``text`` with its top-left corner at (left, top)."""
    (_, height), _ = cv2.getTextSize(text, FONT, scale, 1)
    cv2.putText(canvas, text, (left, top + height), FONT, scale, TEXT_COLOUR, 1, cv2.LINE_AA)


def _text_width(text: str, scale: float = TEXT_SCALE) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _legend_width(legend: Sequence[LegendItem]) -> int:
    return sum(SYMBOL_SIZE + 6 + _text_width(text) + 2 * MARGIN for _, _, text in legend)


def _panel(
    title: str, sequences: list[list[tuple[str, np.ndarray]]], legend: Sequence[LegendItem]
) -> np.ndarray:
    """One labelled image: ``sequences`` holds per sequence its rows (label, frames ``[t, H, W, 3]``).

    Layout, top to bottom: title, frame numbers, the sequences' rows (labels on the left), legend.
    """
    t, height, width, _ = sequences[0][0][1].shape
    labels = [f"sequence {k + 1}" for k in range(len(sequences))]
    labels += [label for rows in sequences for label, _ in rows]
    label_width = max(_text_width(label) for label in labels) + 2 * MARGIN
    rows = sum(len(block) for block in sequences)
    grid_width = t * (width + GAP) - GAP
    grid_height = rows * (height + GAP) + len(sequences) * (SEQUENCE_GAP - GAP) - SEQUENCE_GAP
    top = MARGIN + 2 * LINE_HEIGHT + 12
    canvas_width = (
        max(label_width + grid_width + MARGIN, _text_width(title, TITLE_SCALE), _legend_width(legend))
        + MARGIN
    )
    canvas_height = top + grid_height + (LINE_HEIGHT + 2 * MARGIN if legend else MARGIN)
    canvas = np.full((canvas_height, canvas_width, 3), 255, dtype=np.uint8)
    _text(canvas, title, MARGIN, MARGIN, TITLE_SCALE)
    for column in range(t):
        left = label_width + column * (width + GAP)
        name = f"frame {column + 1}"
        _text(canvas, name, left + (width - _text_width(name)) // 2, MARGIN + LINE_HEIGHT + 8)
    y = top
    for sequence, block in enumerate(sequences):
        for index, (label, frames) in enumerate(block):
            lines = [f"sequence {sequence + 1}", label] if index == 0 else [label]
            first = y + (height - len(lines) * LINE_HEIGHT) // 2
            for line, text in enumerate(lines):
                _text(canvas, text, MARGIN, first + line * LINE_HEIGHT)
            for column in range(t):
                left = label_width + column * (width + GAP)
                canvas[y : y + height, left : left + width] = frames[column]
            y += height + GAP
        y += SEQUENCE_GAP - GAP
    _draw_legend(canvas, legend, canvas_height - MARGIN - LINE_HEIGHT)
    return canvas


def _draw_legend(canvas: np.ndarray, legend: Sequence[LegendItem], top: int) -> None:
    """Legend entries side by side from the left margin, a symbol then its text."""
    left = MARGIN
    middle = top + LINE_HEIGHT // 2
    for kind, colour, text in legend:
        if kind == "dot":  # as drawn on the frames
            _dot(canvas, (left + SYMBOL_SIZE // 2, middle), colour)
        else:
            half = SYMBOL_SIZE // 2
            corner = (left + SYMBOL_SIZE - 1, middle + half)
            cv2.rectangle(canvas, (left, middle - half), corner, tuple(int(c) for c in colour), -1)
        left += SYMBOL_SIZE + 6
        (_, height), _ = cv2.getTextSize(text, FONT, TEXT_SCALE, 1)
        _text(canvas, text, left, middle - height // 2)
        left += _text_width(text) + 2 * MARGIN


def to_png(image: np.ndarray) -> bytes:
    """RGB uint8 ``[H, W, 3]`` -> PNG bytes."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return encoded.tobytes()


def _landmark_panel(outputs: dict[str, torch.Tensor], frames: np.ndarray) -> np.ndarray:
    """Landmarks as dots on the dimmed input ``[n, t, H, W]``: by body group once the stage groups
    them (stage 2 on, told by its part masks), in one neutral colour before (stage 1 has no groups)."""
    n, t = frames.shape[:2]
    landmarks = outputs["landmarks"].detach()[:n, :, :t].float().cpu()
    if "head" in outputs:
        colours = PART_COLOURS[landmark_groups(landmarks)]
        title = "landmarks on the input, coloured by body group (split by mean height)"
        legend = [("dot", colour, name) for colour, name in zip(PART_COLOURS, PART_NAMES, strict=True)]
    else:
        colours = np.broadcast_to(LANDMARK_COLOUR, (*landmarks.shape[:2], 3))
        title = "landmarks on the input"
        legend = [("dot", LANDMARK_COLOUR, "landmark (not grouped before stage 2)")]
    grid = tuple(outputs["heatmap"].shape[-2:])
    dots = _draw_landmarks(_grey(frames * DIMMED), landmarks.numpy(), colours, grid)
    return _panel(title, [[("landmarks", dots[i])] for i in range(n)], legend)


def _against_input(
    title: str, inputs: np.ndarray, label: str, images: np.ndarray, legend: Sequence[LegendItem] = ()
) -> np.ndarray:
    """A panel with, per sequence, its input row and below it ``images`` ``[n, t, H, W, 3]``."""
    return _panel(
        title,
        [[("input", frames), (label, made)] for frames, made in zip(inputs, images, strict=True)],
        legend,
    )


def render_summary(
    outputs: dict[str, torch.Tensor], sils: torch.Tensor, max_sequences: int = 4, max_frames: int = 6
) -> dict[str, bytes]:
    """PNGs of a batch: ``silhouettes`` (the input), ``landmarks`` (dots over the input), and each
    next to the input: ``reconstruction``, and when present ``part_reconstruction``, ``parts``
    (head red, upper body green, lower body blue) and ``mixed_parts``.

    ``outputs`` is a model's output for ``sils`` ``[N, T, H, W]``.
    """
    n = min(max_sequences, sils.shape[0])
    repeated = repeat_short_sequences(sils)
    t = min(max_frames, repeated.shape[1])
    frames = _frames(repeated, n, t)
    inputs = _grey(frames)
    panels = {"silhouettes": _panel("input silhouettes", [[("input", row)] for row in inputs], ())}
    if "landmarks" in outputs:  # the holistic baseline has no landmarks
        panels["landmarks"] = _landmark_panel(outputs, frames)
    for key, (title, label) in GREY_OUTPUTS.items():
        if key in outputs:
            panels[key] = _against_input(title, inputs, label, _grey(_frames(outputs[key], n, t)))
    if "head" in outputs:
        masks = _parts(*(_frames(outputs[key], n, t) for key in ("head", "up", "low")))
        legend = [("swatch", colour, name) for colour, name in zip(PART_COLOURS, PART_NAMES, strict=True)]
        panels["parts"] = _against_input("part masks", inputs, "parts", masks, legend)
    return {name: to_png(panel) for name, panel in panels.items()}
