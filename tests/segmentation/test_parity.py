"""Golden parity: ICNet and SegNet against the ORIGINAL code's outputs (tests/data/parity).

hellochick's ``ICNet_BN`` and tkuanlun's SegNet ``inference`` were run (TF1 graph mode, see
``tests/data/parity/README.md``) on weights and inputs drawn from the recipe in each golden
file; here the same weights are regenerated, written in the reference's file format, loaded with
the project's loader and run. Every output must be within 1e-4 of the reference's output scale.
"""
import numpy as np
import pytest
import tensorflow as tf

from segmentation.model import (ICNet, MaxPoolWithArgmax, MaxUnpool, SegNetBasic, icnet_predict,
                                load_icnet_npy, load_segnet_tkuanlun, segnet_tkuanlun_to_keras)
from tests.golden import Golden


def _caffe_npy(golden, path):
    """The golden's ICNet weights as a caffe-tensorflow ``.npy`` dict, hellochick's format."""
    data = {}
    for name, value in golden.arrays.items():
        if name != "x":
            layer, param = name.rsplit("/", 1)
            data.setdefault(layer, {})[param] = value
    np.save(path, data, allow_pickle=True)
    return path


@pytest.mark.parametrize("tag", ["icnet_fs1_128", "icnet_fs1_129", "icnet_fs2_128", "icnet_fs2_129"])
def test_icnet_equals_hellochick(tag, tmp_path):
    """Even sides exercise TF ``SAME`` padding of the stride-2 convs (0 before, 1 after), odd
    sides the symmetric case; fs=2 is the doubled-filters ablation."""
    g = Golden(tag)
    x = g.arrays["x"]
    model = ICNet(g.meta["nc"], filter_scale=g.meta["fs"], input_shape=x.shape[1:])
    assert model.count_params() == g.meta["params_all"]
    report = load_icnet_npy(model, _caffe_npy(g, str(tmp_path / "w.npy")), strict=True)
    assert len(report.loaded) == len(g.arrays) - 1
    sub4, sub24, cls = model(x, training=False)
    g.compare("sub4_out", sub4)
    g.compare("sub24_out", sub24)
    g.compare("conv6_cls", cls)
    up = tf.raw_ops.ResizeBilinear(images=cls, size=x.shape[1:3], align_corners=True,
                                   half_pixel_centers=False)
    g.compare("logits_up", up)
    pred = icnet_predict(model, x)
    g.compare("pred", pred, absolute=0)


@pytest.mark.parametrize("tag", ["segnet_64_360x480", "segnet_128_48x80"])
def test_segnet_equals_tkuanlun(tag):
    """64 filters / 12 classes at CamVid's 360x480 is tkuanlun's own setting: its hard-coded
    deconv shapes make up4 45x60 (not 46x60) after the odd 45 -> 23 pool; 128 / 25 is the
    thesis' doubled-filters SegNet on SURREAL's classes."""
    import keras

    g = Golden(tag)
    x = g.arrays["x"]
    model = SegNetBasic(g.meta["nc"], g.meta["filters"], unpool="deconv", decoder_bias=True,
                        input_shape=x.shape[1:])
    assert model.count_params() == g.meta["params_all"]
    weights = {k: v for k, v in g.arrays.items() if k != "x"}
    report = load_segnet_tkuanlun(model, weights)
    assert len(report.loaded) == len(weights) and not report.skipped
    names = ("up4", "conv_decode4_bn", "up1")
    probe = keras.Model(model.input, [model.output, model.get_layer("pool4").output[1]]
                        + [model.get_layer(n).output for n in names])
    logits, argmax, up4, dec4, up1 = probe(x, training=False)
    g.compare("logits", logits)
    g.compare("up4", up4)
    g.compare("conv_decode4", dec4)
    g.compare("up1", up1)
    g.compare("pool4_argmax", argmax, absolute=0)


def test_segnet_tkuanlun_checkpoint_prefers_the_moving_averages(tmp_path):
    """tkuanlun's test() restores the ExponentialMovingAverage shadows; optimizer slots skip."""
    base = {"conv_classifier/weights": np.ones((1, 1, 4, 3), np.float32),
            "conv_classifier/biases": np.zeros(3, np.float32)}
    variables = dict(base, **{"conv_classifier/weights/ExponentialMovingAverage":
                              np.full((1, 1, 4, 3), 2.0, np.float32),
                              "conv_classifier/weights/Adam": np.zeros((1, 1, 4, 3), np.float32),
                              "global_step": np.array(7)})
    weights, skipped = segnet_tkuanlun_to_keras(variables)
    assert np.all(weights["conv_classifier/kernel"] == 2.0)
    assert sorted(skipped) == ["conv_classifier/weights/Adam",
                               "conv_classifier/weights/ExponentialMovingAverage", "global_step"]
    assert np.all(segnet_tkuanlun_to_keras(variables, ema=False)[0]["conv_classifier/kernel"] == 1.0)


def _numpy_max_pool_argmax(x):
    """2x2/2 SAME max-pool with flat (N, H, W, C) argmax, first maximum in window order."""
    n, h, w, c = x.shape
    oh, ow = -(-h // 2), -(-w // 2)
    pooled = np.zeros((n, oh, ow, c), x.dtype)
    idx = np.zeros((n, oh, ow, c), np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    best, where = None, None
                    for di in range(2):
                        for dj in range(2):
                            r, q = 2 * i + di, 2 * j + dj
                            if r < h and q < w and (best is None or x[b, r, q, ch] > best):
                                best, where = x[b, r, q, ch], ((b * h + r) * w + q) * c + ch
                    pooled[b, i, j, ch], idx[b, i, j, ch] = best, where
    return pooled, idx


@pytest.mark.parametrize("shape", [(2, 6, 8, 3), (1, 5, 7, 2)])
def test_index_unpooling_equals_a_numpy_index_unpool(shape):
    """Independent implementation: scatter every pooled value to its argmax, zeros elsewhere;
    tie-heavy integer inputs and odd sides (the SAME pool's partial windows)."""
    x = np.random.default_rng(0).integers(0, 3, shape).astype(np.float32)
    pooled, idx = MaxPoolWithArgmax()(tf.constant(x))
    ref_pooled, ref_idx = _numpy_max_pool_argmax(x)
    np.testing.assert_array_equal(pooled.numpy(), ref_pooled)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    values = np.random.default_rng(1).standard_normal(ref_pooled.shape).astype(np.float32)
    want = np.zeros(x.size, np.float32)
    want[ref_idx.ravel()] = values.ravel()
    got = MaxUnpool()(tf.constant(values), idx, tf.constant(x))
    np.testing.assert_array_equal(got.numpy(), want.reshape(shape))
