import numpy as np
import pytest
import tensorflow as tf

from reprokit.data import AffineCrop, ChannelScale, ColorJitter, Compose, affine_matrix, apply_affine, hflip
from reprokit.data.meta import DatasetMeta, flip_pairs_to_index
from reprokit.synthetic import HUMAN16, MARKER_COLOR, render_figure

FLIP = flip_pairs_to_index(HUMAN16.flip_pairs, 16)
META = DatasetMeta("synthetic-human", HUMAN16.joint_names, HUMAN16.flip_pairs,
                   class_names=HUMAN16.part_names, class_swap_pairs=HUMAN16.part_swap_pairs)


def _example(seed, size=(200, 260), markers=True):
    fig = render_figure(HUMAN16, size, seed, joint_markers=markers)
    return {"image": tf.constant(fig["image"]), "keypoints": tf.constant(fig["keypoints"]),
            "visible": tf.constant(fig["visible"]), "labels": tf.constant(fig["labels"]),
            "meta": {"center": tf.constant(fig["center"]), "scale": tf.constant(fig["scale"]),
                     "transform": tf.eye(3)}}


def _on_marker(image, xy, tol=1):
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = image[max(0, y - tol):y + tol + 1, max(0, x - tol):x + tol + 1].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(MARKER_COLOR)).max(-1) < 60).any())


@pytest.mark.parametrize("seed", range(6))
def test_visible_keypoints_land_on_their_markers_after_random_affine_and_flip(seed):
    aug = AffineCrop((256, 256), scale_std=0.25, scale_range=(0.75, 1.25), rotation_std=30,
                     rotation_range=(-60, 60), rotation_prob=1.0, translate=0.05, flip_prob=0.5,
                     flip_index=FLIP, label_swap=META.label_swap)
    ex = _example(seed)
    out = aug(ex, tf.constant([seed, 7], tf.int64))
    image, kp, vis = out["image"].numpy(), out["keypoints"].numpy(), out["visible"].numpy()
    inside = (kp[:, 0] >= 1) & (kp[:, 0] < 255) & (kp[:, 1] >= 1) & (kp[:, 1] < 255)
    checked = [j for j in range(16) if vis[j] and inside[j]]
    assert len(checked) >= 8
    for j in checked:
        assert _on_marker(image, kp[j]), f"keypoint {j} at {kp[j]} is not on its marker"
    # and the markers' original positions map through meta["transform"] to the same points
    # (up to the flip permutation)
    orig = ex["keypoints"].numpy()
    mapped = np.c_[orig, np.ones(16)] @ out["meta"]["transform"].numpy().T
    mapped = mapped[:, :2] / mapped[:, 2:]
    np.testing.assert_allclose(np.sort(mapped, 0), np.sort(kp, 0), atol=1e-3)


def test_flip_twice_is_identity_and_swaps_labels():
    ex = _example(3)
    once = hflip(ex, META.flip_index, META.label_swap)
    twice = hflip(once, META.flip_index, META.label_swap)
    for key in ("image", "visible", "labels"):
        np.testing.assert_array_equal(twice[key].numpy(), ex[key].numpy())
    np.testing.assert_allclose(twice["keypoints"].numpy(), ex["keypoints"].numpy(), atol=1e-4)
    np.testing.assert_allclose(twice["meta"]["transform"].numpy(), np.eye(3), atol=1e-6)
    # left/right part ids swap: the flipped map equals swap(mirror(map))
    lbl = ex["labels"].numpy()
    np.testing.assert_array_equal(once["labels"].numpy(), META.label_swap[lbl[:, ::-1]])
    r_forearm, l_forearm = HUMAN16.part_names.index("r_forearm"), HUMAN16.part_names.index("l_forearm")
    assert META.label_swap[r_forearm] == l_forearm
    # keypoints: r_ankle (0) of the flipped example is the mirrored l_ankle (5)
    w = lbl.shape[1]
    np.testing.assert_allclose(once["keypoints"].numpy()[0],
                               [w - 1 - ex["keypoints"].numpy()[5, 0], ex["keypoints"].numpy()[5, 1]])


def test_label_maps_stay_integer_and_padding_gets_ignore_label():
    ex = _example(1, markers=False)
    ids = set(np.unique(ex["labels"].numpy()))
    # zoom out strongly and rotate so that the crop reaches beyond the image
    m = affine_matrix(ex["meta"]["center"], ex["meta"]["scale"] * 2.5, (128, 128), rotation=33.0)
    out = apply_affine(ex, m, (128, 128), ignore_label=255)
    labels = out["labels"].numpy()
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) <= ids | {255}
    assert (labels == 255).any()
    # image padding is black; only the bilinear fringe along the border differs
    assert (out["image"].numpy()[labels == 255] == 0).all(-1).mean() > 0.95


def test_affine_matrix_maps_centre_to_output_centre_and_scales():
    m = affine_matrix([100.0, 50.0], 1.0, (64, 32)).numpy()
    np.testing.assert_allclose(m @ [100, 50, 1], [16, 32, 1], atol=1e-5)
    np.testing.assert_allclose(m[:2, :2], np.diag([32 / 200, 64 / 200]), atol=1e-7)
    # flipping mirrors about the output's last column: x -> 31 - x
    mf = affine_matrix([100.0, 50.0], 1.0, (64, 32), flip=True).numpy()
    np.testing.assert_allclose(mf @ [100, 50, 1], [15, 32, 1], atol=1e-5)


def test_photometric_transforms_are_seeded_and_keep_geometry():
    ex = _example(2, markers=False)
    aug = Compose([ChannelScale(0.8, 1.2), ColorJitter(0.2, (0.7, 1.3), (0.7, 1.3), 0.05)])
    a, b = aug(ex, tf.constant([1, 2], tf.int64)), aug(ex, tf.constant([1, 2], tf.int64))
    c = aug(ex, tf.constant([1, 3], tf.int64))
    np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    assert not np.array_equal(a["image"].numpy(), c["image"].numpy())
    np.testing.assert_array_equal(a["labels"].numpy(), ex["labels"].numpy())
    np.testing.assert_array_equal(a["keypoints"].numpy(), ex["keypoints"].numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({"output_size": (0, 10)}, "output_size"),
    ({"output_size": (8, 8), "scale_range": (1.2, 0.8)}, "scale_range"),
    ({"output_size": (8, 8), "flip_prob": 0.5}, "flip_index"),
    ({"output_size": (8, 8), "rotation_prob": 1.5}, "rotation_prob"),
])
def test_affine_crop_rejects_bad_arguments_with_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AffineCrop(**kwargs)


def test_dataset_meta_validates_pairs():
    with pytest.raises(ValueError, match="more than one flip pair"):
        DatasetMeta("bad", ("a", "b", "c"), flip_pairs=((0, 1), (1, 2)))
    assert flip_pairs_to_index(((0, 2),), 3) == (2, 1, 0)
