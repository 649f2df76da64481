"""Targets equal to LOGO-CAP's released target generators, executed (golden file
``tests/data/parity/logocap_targets.npz``; its README section says how it was produced): the
windowed Gaussians, the shared heatmap weight with the keep mask, the 8 x 8 offset squares
around the truncated centre, the painting order and overlap rule, the 1/sqrt(area) weights and
the 32^2 centre rule, on six seeded scenes (overlapping people, small people, points outside
the map, an ignored region)."""
import os

import numpy as np
import pytest

from logocap.targets import encode_targets

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "data", "parity", "logocap_targets.npz")


@pytest.mark.parametrize("case", range(6))
def test_targets_equal_the_released_generators(case):
    g = np.load(GOLDEN)
    c = f"c{case}_"
    res = int(g["res"])
    kp, flags = g[c + "keypoints"], g[c + "flags"]
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        kp * 4, flags, g[c + "area_aug"], np.ones(len(kp), np.float32), 1 - g[c + "keep"],
        (res, res), 4, g[c + "area_orig"]))
    np.testing.assert_allclose(heat, g[c + "heatmaps"].transpose(1, 2, 0), atol=1e-6)
    for ch in range(18):                  # one weight map for every channel
        np.testing.assert_allclose(heat_w[..., ch], g[c + "heat_weight"][0], atol=1e-7)
    # the reference stores pixel - keypoint and subtracts it; we store keypoint - pixel
    np.testing.assert_allclose(off, -g[c + "offsets"].transpose(1, 2, 0), atol=2e-5)
    np.testing.assert_allclose(off_w, g[c + "offset_weight"].transpose(1, 2, 0), rtol=1e-6)
    assert (g[c + "offset_weight"] > 0).any() and (g[c + "heatmaps"][17] > 0).any() or case == 5


def test_an_image_without_people_has_empty_finite_targets():
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        np.zeros((3, 17, 2)), np.zeros((3, 17)), np.zeros(3), np.zeros(3), np.zeros((16, 16)), (16, 16)))
    assert (heat == 0).all() and (heat_w == 0.1).all() and (off == 0).all() and (off_w == 0).all()
