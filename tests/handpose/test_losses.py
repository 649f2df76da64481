import numpy as np
import pytest

from handpose.losses import HandSegLoss, PoseNetLoss


def test_posenet_loss_is_visibility_weighted_rms_after_legacy_upsampling():
    pred = np.zeros((2, 4, 4, 2), np.float32)
    pred[..., 0] = 0.5                              # constant map -> upsampled constant
    gt = np.zeros((2, 32, 32, 2), np.float32)
    gt[0, ..., 1] = 1.0                             # sample 0, kp 1: rms = 1 (pred 0)
    vis = np.zeros((2, 32, 32, 2), np.float32)
    vis[0, ..., 0] = 1.0                            # sample 0 kp 0 visible: rms = 0.5
    vis[0, ..., 1] = 1.0                            # sample 0 kp 1 visible: rms = 1
    vis[1, ..., 0] = 1.0                            # sample 1 kp 0 visible: rms = 0.5
    loss = PoseNetLoss(crop_size=32)(np.concatenate([gt, vis], -1), pred)
    assert float(loss) == pytest.approx((0.5 + 1.0 + 0.5) / (3 + 0.001), rel=1e-5)


def test_handseg_loss_is_mean_pixel_cross_entropy():
    logits = np.zeros((1, 2, 2, 2), np.float32)
    logits[..., 1] = np.log(3.0)                    # p(hand) = 0.75
    mask = np.array([[[1, 1], [0, 0]]], np.float32)
    expected = -(2 * np.log(0.75) + 2 * np.log(0.25)) / 4
    assert float(HandSegLoss()(mask, logits)) == pytest.approx(expected, rel=1e-5)
