"""Pipeline pieces against hand-computed cases (docs/reference/handpose.md §2)."""
import numpy as np
import pytest
import tensorflow as tf

from handpose.codec import detect_keypoints, trafo_coords
from handpose.pipeline import (calc_center_bb, crop_boxes, crop_image_from_xy, crop_scale,
                               single_obj_scoremap)


def _logits(fg):
    fg = np.asarray(fg, np.float32)
    return np.stack([np.zeros_like(fg), np.where(fg > 0, 4.0, -4.0) * 1.0 + fg], -1)[None]


def test_single_object_bridges_gaps_up_to_ten_pixels_only():
    fg = np.zeros((60, 60), np.float32)
    fg[10:20, 5:15] = 1.0      # blob A with the strongest pixel
    fg[12, 7] = 2.0
    fg[10:20, 24:30] = 1.0     # blob B: 10 px from A (col 14 -> col 24) -> joined
    fg[40:50, 40:50] = 1.0     # blob C: far away -> dropped
    fg[10:20, 40:45] = 1.0     # blob D: 11 px from B (col 29 -> col 40) -> dropped
    mask = single_obj_scoremap(_logits(fg)).numpy()[0]
    assert mask[15, 10] == 1 and mask[15, 27] == 1
    assert mask[45, 45] == 0 and mask[15, 42] == 0
    assert mask[15, 19] == 0   # the gap itself is background


def test_center_and_size_of_the_box_and_fallback():
    m = np.zeros((2, 50, 60))
    m[0, 10:21, 30:41] = 1      # rows 10..20, cols 30..40
    m[0, 25, 35] = 1            # rows 10..25
    center, size = calc_center_bb(m)
    np.testing.assert_allclose(center[0], (17.5, 35.0))
    assert size[0] == 15.0      # max(25 - 10, 40 - 30)
    np.testing.assert_allclose(center[1], (160, 160))
    assert size[1] == 100
    np.testing.assert_allclose(crop_scale([100.0, 10.0, 2000.0]), [2.048, 5.0, 0.25])


def test_crop_box_keeps_the_fractional_centre_and_side_as_hand3d():
    # hand3d: side = 256 / scale (float), y1 = c - side // 2 (floor of a float), y2 = y1 + side;
    # the centre is never cast to int (the old int cast moved crops by up to 1 px)
    box = crop_boxes([[100.7, 50.2]], [3.0], (240, 320)).numpy()[0]
    side = 256 / 3.0                                   # 85.333..., floor(side / 2) = 42
    want = [(100.7 - 42) / 240, (50.2 - 42) / 320, (100.7 - 42 + side) / 240,
            (50.2 - 42 + side) / 320]
    np.testing.assert_allclose(box, want, rtol=1e-6)
    # a centre with a fractional part must move the crop: int casting would make these equal
    a = crop_boxes([[100.0, 50.0]], [2.0], (240, 320)).numpy()
    b = crop_boxes([[100.5, 50.5]], [2.0], (240, 320)).numpy()
    np.testing.assert_allclose((b - a) * [240, 320, 240, 320], [[0.5, 0.5, 0.5, 0.5]], atol=1e-4)


def test_crop_then_trafo_round_trip_and_detect_keypoints():
    img = np.zeros((1, 240, 320, 1), np.float32)
    img[0, 120, 200, 0] = 1.0
    center, scale = np.array([[120.0, 200.0]]), np.array([1.0])
    crop = crop_image_from_xy(img, center, scale).numpy()
    rc = detect_keypoints(crop)
    back = trafo_coords(rc, center, scale)
    # crop_and_resize samples y1 + i * (side * (H-1)/H) / 255: within a pixel of the original
    assert np.abs(back[0, 0] - [120, 200]).max() <= 1.0
    s = np.zeros((1, 8, 8, 2))
    s[0, 3, 5, 0] = 1
    s[0, 7, 0, 1] = 1
    np.testing.assert_array_equal(detect_keypoints(s)[0], [[3, 5], [7, 0]])
    np.testing.assert_allclose(trafo_coords([[[128, 128], [0, 0]]], [[50, 60]], [2.0])[0],
                               [[50, 60], [-14, -4]])
