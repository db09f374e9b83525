"""OpenGait pretreatment on hand-made frames whose crop, resize and centring can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from landmarkgait.data.errors import DataError
from landmarkgait.data.pretreatment import MIN_FRAME_SUM, align_labels, pretreat_sequence


def _frame(height: int, width: int, rows: slice, columns: slice, value: int = 255) -> np.ndarray:
    image = np.zeros((height, width), np.uint8)
    image[rows, columns] = value
    return image


def _expected_block(columns: slice) -> np.ndarray:
    expected = np.zeros((64, 64), np.uint8)
    expected[:, columns] = 255
    return expected


def test_crop_and_centre_without_resize() -> None:
    # Content spans exactly 64 rows, so the resize is the identity and only crop/centre act.
    # Columns 30..39 carry the mass; the cumulative mass first exceeds half at column 35, so
    # the 64 columns 3..66 are cut and the block lands at 27..36.
    frame = _frame(100, 90, slice(10, 74), slice(30, 40))
    result = pretreat_sequence([frame])
    assert result.dropped == 0
    np.testing.assert_array_equal(result.frames, _expected_block(slice(27, 37))[None])


def test_centre_near_the_border_pads_with_zeros() -> None:
    # Centre column 7: the window would start left of the image, so 32 zero columns are added on
    # each side first; the person ends up centred exactly as in the previous case.
    frame = _frame(80, 90, slice(0, 64), slice(2, 12))
    np.testing.assert_array_equal(pretreat_sequence([frame]).frames[0], _expected_block(slice(27, 37)))
    right_edge = _frame(80, 90, slice(16, 80), slice(80, 90))
    np.testing.assert_array_equal(pretreat_sequence([right_edge]).frames[0], _expected_block(slice(27, 37)))


def test_resize_to_height_keeping_aspect_ratio() -> None:
    # 32 content rows of a 48-wide image scale x2 to 64 x 96: the 16-column block becomes 32
    # columns (resized 32..63) plus one soft cubic column on each side. Its half-mass column is 48,
    # so resized columns 16..79 are cut: the block covers output columns 16..47, centred on 31.5.
    frame = _frame(70, 48, slice(20, 52), slice(16, 32))
    out = pretreat_sequence([frame]).frames[0]
    assert out.shape == (64, 64)
    np.testing.assert_array_equal(out[:, 17:47], 255)
    assert out[:, :15].max() == 0 and out[:, 49:].max() == 0
    edges = out[:, [15, 16, 47, 48]]
    assert ((edges > 0) & (edges < 255)).all()  # interpolated, not nearest-neighbour
    np.testing.assert_array_equal(out, out[:, ::-1])  # centred: mirror-symmetric about 31.5
    np.testing.assert_array_equal(out, np.repeat(out[:1], 64, axis=0))  # every row scaled alike


def test_blank_and_faint_frames_are_dropped_and_counted() -> None:
    person = _frame(100, 90, slice(10, 74), slice(30, 40))
    faint = np.zeros((100, 90), np.uint8)
    faint.flat[: MIN_FRAME_SUM // 255] = 255  # 39 pixels: sum 9945 <= 10000
    just_enough = np.zeros((100, 90), np.uint8)
    just_enough[50, :40] = 255  # 40 pixels: sum 10200 > 10000; one row, 40 columns wide
    result = pretreat_sequence([person, np.zeros((100, 90), np.uint8), faint, person, just_enough])
    assert result.dropped == 2
    assert result.frames.shape == (3, 64, 64)
    np.testing.assert_array_equal(result.frames[0], result.frames[1])


def test_frames_without_a_centre_column_are_dropped() -> None:
    # OpenGait rejects a centre at column 0 (``if not x_center``): all mass in the first column.
    first_column = _frame(64, 1, slice(0, 64), slice(0, 1))
    first_column = np.concatenate([first_column, np.zeros((64, 63), np.uint8)], axis=1)
    # A line one pixel wide and 200 tall resizes to zero columns: dropped instead of crashing.
    needle = _frame(200, 1, slice(0, 200), slice(0, 1))
    result = pretreat_sequence([first_column, needle])
    assert (result.dropped, result.frames.shape) == (2, (0, 64, 64))


def test_bad_arguments() -> None:
    with pytest.raises(DataError, match="frame 1: expected a uint8 grayscale image"):
        pretreat_sequence([np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(DataError, match="img_size must be an even integer"):
        pretreat_sequence([], img_size=63)


def test_geometry_cuts_the_silhouette_exactly_as_pretreatment() -> None:
    # The geometry computed from a frame, applied to that frame, gives the stored pixels; so does
    # it for any frame shape the cases above use (no padding, padding, resize).
    rng = np.random.default_rng(0)
    frames = [
        _frame(100, 90, slice(10, 74), slice(30, 40)),
        _frame(80, 90, slice(0, 64), slice(2, 12)),
        _frame(70, 48, slice(20, 52), slice(16, 32)),
        (rng.random((120, 70)) < 0.3).astype(np.uint8) * 255,
    ]
    result = pretreat_sequence(frames)
    assert result.kept == (0, 1, 2, 3)
    for frame, geometry, stored in zip(frames, result.geometries, result.frames, strict=True):
        np.testing.assert_array_equal(geometry.apply(frame), stored)
    assert [g.padding for g in result.geometries[:3]] == [0, 32, 0]


def test_kept_frames_are_the_input_positions_of_the_output() -> None:
    person = _frame(100, 90, slice(10, 74), slice(30, 40))
    blank = np.zeros((100, 90), np.uint8)
    result = pretreat_sequence([blank, person, blank, person])
    assert result.kept == (1, 3) and len(result.geometries) == 2


def test_points_follow_the_pixels() -> None:
    # No resize: columns 30..39 land at 27..36, rows 10..73 at 0..63.
    geometry = pretreat_sequence([_frame(100, 90, slice(10, 74), slice(30, 40))]).geometries[0]
    np.testing.assert_allclose(geometry.map_points([[30, 10], [39, 73]]), [[27, 0], [36, 63]])
    # Padded (centre 7): the block still lands at 27..36.
    geometry = pretreat_sequence([_frame(80, 90, slice(0, 64), slice(2, 12))]).geometries[0]
    np.testing.assert_allclose(geometry.map_points([[2, 0], [11, 63]]), [[27, 0], [36, 63]])
    # x2 resize: raw pixel 16 covers resized pixels 32 and 33 (centre 32.5), cut from 16: 16.5;
    # raw pixel 31 covers 62 and 63: 46.5.
    geometry = pretreat_sequence([_frame(70, 48, slice(20, 52), slice(16, 32))]).geometries[0]
    np.testing.assert_allclose(geometry.map_points([[16, 20], [31, 51]]), [[16.5, 0.5], [46.5, 62.5]])


def test_labels_are_cut_like_the_silhouette_and_stay_crisp() -> None:
    # A x2 resize of a block whose left half is label 1 and right half label 2: every output
    # pixel takes the label of the raw pixel it comes from (nearest), no blend (3) appears.
    frame = _frame(70, 48, slice(20, 52), slice(16, 32))
    labels = np.zeros(frame.shape, np.uint8)
    labels[20:52, 16:24], labels[20:52, 24:32] = 1, 2
    result = pretreat_sequence([frame])
    foreground = result.frames >= 128
    aligned = align_labels(labels[None], 3, result.geometries, foreground)[0]
    expected = np.zeros((64, 64), np.uint8)
    expected[:, 16:32], expected[:, 32:48] = 1, 2
    np.testing.assert_array_equal(aligned, np.where(foreground[0], expected, 0))
    assert set(np.unique(aligned)) == {0, 1, 2}
