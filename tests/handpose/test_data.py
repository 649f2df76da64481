"""RHD reader and hand3d targets on a synthetic RHD written in the real layout."""
import numpy as np
import pytest
import tensorflow as tf

from handpose.data import (RHDReader, crop_keypoints, gaussian_maps, gt_crop_params,
                           read_rhd_annotations, select_hand)
from handpose.synthetic import write_synthetic_rhd
from reprokit.data import build_dataset


@pytest.fixture(scope="module")
def rhd(tmp_path_factory):
    return write_synthetic_rhd(str(tmp_path_factory.mktemp("rhd")), "evaluation", 6,
                               image_size=(96, 96), seed=1)


def test_reader_truncates_uv_and_picks_the_hand_with_more_mask_pixels(rhd):
    rec = read_rhd_annotations(rhd, "evaluation")
    assert rec["uv"].shape == (6, 42, 2) and rec["K"].shape == (6, 3, 3)
    assert np.all(rec["uv"] == np.trunc(rec["uv"]))
    reader = RHDReader(rec)
    batch = next(iter(build_dataset(reader, batch_size=6)))
    side = batch["hand_side"].numpy()
    left = rec["visible"][:, :21].sum(1) > 0
    np.testing.assert_array_equal(side[:, 0] == 1, left)
    # palm = (wrist + middle MCP) / 2 replaces keypoint 0
    hand = np.where(left[:, None, None], rec["uv"][:, :21], rec["uv"][:, 21:])
    np.testing.assert_allclose(batch["keypoints"].numpy()[:, 0], (hand[:, 0] + hand[:, 12]) / 2)
    assert batch["hand_mask"].shape == (6, 96, 96)


def test_select_hand_ties_go_right_and_wrist_option():
    mask = np.zeros((4, 4), np.uint8)
    mask[0, :2] = 3       # 2 left pixels
    mask[1, :2] = 20      # 2 right pixels
    uv = np.arange(84, dtype=np.float32).reshape(42, 2)
    vis = np.ones(42, np.float32)
    uv21, vis21, side, hand = select_hand(mask, uv, vis, use_wrist_coord=True)
    np.testing.assert_array_equal(side.numpy(), [0, 1])
    np.testing.assert_array_equal(uv21.numpy(), uv[21:])
    assert hand.numpy().sum() == 4


def test_gt_crop_and_heatmaps_follow_hand3d():
    uv = np.zeros((21, 2), np.float32)
    uv[12] = (100, 60)                 # centre (row 60, col 100)
    uv[4] = (130, 40)                  # farthest visible: 30 px in u
    vis = np.zeros(21)
    vis[[4, 12]] = 1
    center, scale = gt_crop_params(uv, vis, (240, 320))
    np.testing.assert_allclose(center, (60, 100))
    assert float(scale) == pytest.approx(256 / 60)   # size = 2 * 30 = 60 (>= 50)
    kp = crop_keypoints(uv, center, scale)
    np.testing.assert_allclose(kp[12], (128, 128))
    np.testing.assert_allclose(kp[4], (128 + 30 * 256 / 60, 128 - 20 * 256 / 60), rtol=1e-5)
    maps = gaussian_maps(np.array([[10.7, 20.2], [0.0, 5.0], [50.0, 50.0]]), [1, 1, 0], (64, 64)).numpy()
    assert np.unravel_index(maps[..., 0].argmax(), (64, 64)) == (20, 10)   # int-cast, (row, col)
    assert maps[20, 11, 0] == pytest.approx(np.exp(-1 / 25 ** 2))          # exp(-d^2 / sigma^2)
    assert maps[..., 1].max() == 0 and maps[..., 2].max() == 0              # border / invisible


def test_stb_reader_reorders_projects_and_reads_both_views(tmp_path):
    from handpose.data import STB_TO_RHD, read_stb, stb_project
    from handpose.synthetic import write_synthetic_stb
    from scipy.io import loadmat

    root = write_synthetic_stb(str(tmp_path), frames=2, image_size=(120, 160), seed=2)
    rec = read_stb(root, sequences=("B1Counting",))
    assert len(rec["image_path"]) == 4 and rec["image_path"][2].endswith("BB_right_0.png")
    para = loadmat(tmp_path / "labels" / "B1Counting_BB.mat")["handPara"]
    # RHD keypoint 1 (thumb tip) is STB joint 20; metres
    np.testing.assert_allclose(rec["xyz"][0, 1], para[:, 20, 0] / 1000, rtol=1e-6)
    assert STB_TO_RHD[1] == 20
    # the left-view projection lands on the rendered joints; the right view is shifted by the
    # disparity f * baseline / z
    np.testing.assert_allclose(rec["uv"][0], stb_project(para[:, STB_TO_RHD, 0].T), rtol=1e-5)
    z = para[2, 0, 0]
    np.testing.assert_allclose(rec["uv"][0, :, 0] - rec["uv"][2, :, 0],
                               822.79041 * 120.054 / z, rtol=1e-5)
    assert abs(822.79041 * 120.054 / z - 16) < 1e-6          # a tenth of the 160-px width
    # both views show the hand where their labels put it (the right view stays in frame)
    import cv2

    left, right = (cv2.imread(str(rec["image_path"][i])) for i in (0, 2))
    ul, ur = np.round(rec["uv"][0]).astype(int), np.round(rec["uv"][2]).astype(int)
    assert (ur[:, 0] >= 0).all() and (ur[:, 0] < 160).all()
    np.testing.assert_array_equal(right[ur[:, 1], ur[:, 0]], left[ul[:, 1], ul[:, 0]])
    assert rec["visible"].all()
