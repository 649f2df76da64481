import numpy as np
import pytest

from handpose.corruptions import (corruption_sets, gaussian_blur, gaussian_noise, motion_blur,
                                  occlude, occlusion_box, salt_and_pepper)


def _image():
    img = np.zeros((60, 80, 3), np.uint8)
    img[:, 40:] = 200
    return img


def test_motion_blur_is_horizontal_averaging():
    out = motion_blur(_image(), 5)
    assert np.array_equal(out[:, :30], _image()[:, :30]) and np.array_equal(out[0], out[30])
    np.testing.assert_allclose(out[0, 38:43, 0], [40, 80, 120, 160, 200], atol=1)
    v = np.zeros((60, 80, 3), np.uint8)
    v[30:] = 200
    assert np.array_equal(motion_blur(v, 15), v)          # no vertical smearing


def test_gaussian_blur_kernel_sizes_and_validation():
    a, b = gaussian_blur(_image(), 7), gaussian_blur(_image(), 21)
    assert (a[0, 30:50, 0] > 0).sum() < (b[0, 20:60, 0] > 0).sum()
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(_image(), 8)
    with pytest.raises(ValueError, match="uint8"):
        gaussian_blur(_image().astype(np.float32), 7)


def test_occlusion_square_inside_the_expanded_keypoint_box_and_seeded():
    kp = np.array([[20, 10], [40, 30], [90, 90]], np.float32)
    vis = np.array([1, 1, 0])
    x1, y1, x2, y2 = occlusion_box(kp, vis, (60, 80), 0.3, seed=5)
    # box of visible kps: x 20..40, y 10..30 -> +15 % margin: 17..43, 7..33; side 0.3 * 26 = 7.8
    assert 8 - 1 <= x2 - x1 <= 8 + 1 and 8 - 1 <= y2 - y1 <= 8 + 1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    assert 17 - 0.5 <= cx <= 43 + 0.5 and 7 - 0.5 <= cy <= 33 + 0.5
    a = occlude(_image(), kp, vis, 0.3, seed=5)
    assert np.array_equal(a, occlude(_image(), kp, vis, 0.3, seed=5))
    assert (a[y1:y2, x1:x2] == 0).all()
    assert not np.array_equal(a, occlude(_image(), kp, vis, 0.3, seed=6))


def test_noise_is_seeded_and_sets_cover_table_iv():
    img = _image()
    assert np.array_equal(gaussian_noise(img, 10, 1), gaussian_noise(img, 10, 1))
    sp = salt_and_pepper(img, 0.1, 2)
    assert 0.05 < ((sp != img).any(-1)).mean() < 0.15
    names = set(corruption_sets())
    assert {"clean", "occlusion_0.1", "occlusion_0.3", "blur_21", "motion_45"} <= names


def test_table4_numbers_as_printed():
    from handpose.presets import TABLE4_ROWS

    assert TABLE4_ROWS[("standard", 0.0)]["original"] == (16.958, 6.095, 0.733)
    assert TABLE4_ROWS[("S-train*", 0.3)]["mixed"] == (27.717, 6.800, 0.670)
    assert len(TABLE4_ROWS) == 7
