import numpy as np
import pytest
import tensorflow as tf

from reprokit.codecs import GaussianHeatmapCodec, LabelCodec
from reprokit.data import AffineCrop
from reprokit.synthetic import HUMAN16, render_figure


def _roundtrip(codec, kp):
    vis = np.ones(len(kp), np.float32)
    hm, w = codec.encode_keypoints(tf.constant(kp, tf.float32), tf.constant(vis))
    assert w.numpy().min() == 1.0
    return codec.decode(hm.numpy())[0]


@pytest.mark.parametrize("rounding", ["none", "round"])
def test_grid_keypoints_come_back_exactly(rounding):
    codec = GaussianHeatmapCodec((256, 256), (64, 64), 1.0, peak_rounding=rounding)
    rng = np.random.default_rng(0)
    kp = rng.integers(1, 63, (16, 2)).astype(np.float32) * 4  # on the heatmap grid
    np.testing.assert_array_equal(_roundtrip(codec, kp), kp)


@pytest.mark.parametrize("rounding, bound", [("none", 0.25), ("round", 0.5), ("floor", 0.5)])
def test_off_grid_keypoints_within_documented_bound(rounding, bound):
    codec = GaussianHeatmapCodec((256, 256), (64, 64), 1.0, peak_rounding=rounding,
                                 patch_size=None if rounding == "none" else 7)
    rng = np.random.default_rng(1)
    kp = rng.uniform(8, 248, (500, 2)).astype(np.float32)
    err = np.abs(_roundtrip(codec, kp) - kp) / 4.0  # heatmap pixels
    assert err.max() <= bound + 1e-6
    assert err.mean() < bound  # and not biased to the bound


def test_floor_rounding_without_offset_is_biased_like_the_reference_without_plus_half():
    kp = np.random.default_rng(2).uniform(8, 248, (400, 2)).astype(np.float32)
    biased = GaussianHeatmapCodec(peak_rounding="floor", patch_size=9, decode_offset=0.0)
    fair = GaussianHeatmapCodec(peak_rounding="floor", patch_size=9)
    mean_biased = ((_roundtrip(biased, kp) - kp) / 4).mean()
    mean_fair = ((_roundtrip(fair, kp) - kp) / 4).mean()
    assert mean_biased < -0.3 and abs(mean_fair) < 0.1


def test_patch_size_limits_support_and_out_of_frame_gets_zero_weight():
    codec = GaussianHeatmapCodec(peak_rounding="floor", patch_size=9)
    kp = tf.constant([[100.0, 100.0], [-30.0, 10.0], [300.0, 5.0]])
    hm, w = codec.encode_keypoints(kp, tf.constant([1.0, 1.0, 1.0]))
    hm, w = hm.numpy(), w.numpy()
    assert (hm[..., 0] > 0).sum() == 81 and hm[25, 25, 0] == 1.0
    np.testing.assert_array_equal(w, [1, 0, 0])
    assert hm[..., 1:].max() == 0
    # invisible keypoints: no heatmap, zero weight
    hm2, w2 = codec.encode_keypoints(kp[:1], tf.constant([0.0]))
    assert hm2.numpy().max() == 0 and w2.numpy()[0] == 0


def test_decode_maps_back_through_the_inverse_crop_within_the_bound():
    codec = GaussianHeatmapCodec((256, 256), (64, 64), 1.0)
    aug = AffineCrop((256, 256), scale_range=(0.8, 1.2), rotation_range=(-40, 40))
    fig = render_figure(HUMAN16, (300, 400), seed=4)
    ex = {"image": tf.constant(fig["image"]), "keypoints": tf.constant(fig["keypoints"]),
          "visible": tf.constant(fig["visible"]),
          "meta": {"center": tf.constant(fig["center"]), "scale": tf.constant(fig["scale"]),
                   "transform": tf.eye(3)}}
    for seed in range(5):
        out = codec(aug(ex, tf.constant([seed, 1], tf.int64)))
        kp, _ = codec.decode(out["heatmaps"].numpy()[None], out["meta"]["transform"].numpy()[None])
        keep = out["target_weight"].numpy() > 0
        # 0.25 heatmap px per crop axis = 1 crop px per axis; rotated back, at most sqrt(2) crop
        # px in Euclidean distance, times original pixels per crop pixel
        m = out["meta"]["transform"].numpy()
        orig_per_crop = abs(np.linalg.det(m[:2, :2])) ** -0.5
        err = np.linalg.norm(kp[0][keep] - fig["keypoints"][keep], axis=-1)
        assert err.max() <= np.sqrt(2) * orig_per_crop + 1e-3
        assert err.mean() <= 1.0 * orig_per_crop  # about 0.77 expected: E|f - 0.25| = 0.5 crop px per axis


def test_label_codec_remaps_and_keeps_ignore():
    codec = LabelCodec(3, remap=[0, 1, 1, 2, 2], ignore_label=255)
    labels = np.array([[0, 1, 2], [3, 4, 255], [7, 0, 1]], np.uint8)
    expect = np.array([[0, 1, 1], [2, 2, 255], [255, 0, 1]])
    np.testing.assert_array_equal(codec.remap(labels), expect)
    np.testing.assert_array_equal(codec({"labels": tf.constant(labels)})["labels"].numpy(), expect)
    assert codec.one_hot(tf.constant([255, 2])).numpy().tolist() == [[0, 0, 0], [0, 0, 1]]
    np.testing.assert_array_equal(codec.decode(np.eye(3)[[2, 0]]), [2, 0])
    with pytest.raises(ValueError, match=r"\[5\]"):
        LabelCodec(3, remap=[0, 5])
