"""Label tables, mirroring, class weights and both weighting strategies by hand."""
import numpy as np
import pytest
import tensorflow as tf

from segmentation import labels as L
from segmentation.losses import SegmentationCE, class_pixel_counts, class_weights


def test_tables_follow_the_reference_rows():
    assert L.PART_NAMES[16] == "head" and L.TO_THESIS13[16] == 1 and L.TO_VAROL15[16] == 1
    assert L.THESIS13_NAMES[L.TO_THESIS13[23]] == "Fingers"
    assert L.THESIS13_NAMES[L.TO_THESIS13[12]] == "Toes"
    assert L.VAROL15_NAMES[L.TO_VAROL15[18]] == "rUpArm"          # rightArm
    assert sorted(set(L.TO_THESIS13)) == list(range(13))
    assert sorted(set(L.TO_VAROL15)) == list(range(15))
    for table in (L.TO_THESIS13, L.TO_COARSE5, L.TO_BODY2):
        # a mirror swaps sides but not groups (the groups merge left and right)...
        np.testing.assert_array_equal(table[L.MIRROR_SWAP], table)
    # ...while Varol's classes keep sides: mirroring changes rUpArm into lUpArm
    assert L.VAROL15_NAMES[L.TO_VAROL15[L.MIRROR_SWAP[18]]] == "lUpArm"


def test_mirror_twice_is_identity_and_swaps_listed_pairs():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (6, 8, 3), np.uint8)
    labels = rng.integers(0, 25, (6, 8)).astype(np.uint8)
    labels[0, 0] = 255
    joints = rng.uniform(0, 7, (24, 2))
    i1, l1, j1 = L.mirror(image, labels, joints)
    assert l1[0, 7] == 255
    for a, b in L.MIRROR_PAIRS:
        assert L.MIRROR_SWAP[a] == b and L.MIRROR_SWAP[b] == a
    assert l1[2, 7 - 3] == L.MIRROR_SWAP[labels[2, 3]]
    np.testing.assert_allclose(j1[L.JOINT_NAMES.index("R_Hip")],
                               [7 - joints[1, 0], joints[1, 1]])          # L_Hip moved to R_Hip
    i2, l2, j2 = L.mirror(i1, l1, j1)
    np.testing.assert_array_equal(i2, image)
    np.testing.assert_array_equal(l2, labels)
    np.testing.assert_allclose(j2, joints)
    assert sum(int(L.MIRROR_SWAP[i] != i) for i in range(25)) == 18


def test_class_weights_by_hand():
    maps = [np.array([[0, 0, 0, 1]]), np.array([[0, 2, 2, 2]])]
    counts, present = class_pixel_counts(maps, num_classes=4)
    np.testing.assert_array_equal(counts, [4, 1, 3, 0])
    np.testing.assert_array_equal(present, [8, 4, 4, 0])
    np.testing.assert_allclose(class_weights(counts, "w1"), [0.5, 0.875, 0.625, 1.0])
    # median freq: freq = [4/8, 1/4, 3/4] -> median 0.5 -> [1, 2, 2/3]; absent class -> 0
    np.testing.assert_allclose(class_weights(counts, "median_freq", present), [1, 2, 2 / 3, 0])
    # w2: A = C / 4 = [1, .25, .75]; B = [1, 4, 4/3]; mean 19/9; std (population)
    b = np.array([1, 4, 4 / 3])
    w = b * np.exp(-0.25 * (b - b.mean()) / b.std())
    np.testing.assert_allclose(class_weights(counts, "w2"), list(w) + [0])
    with pytest.raises(ValueError, match="method"):
        class_weights(counts, "w3")


def test_outer_and_direct_strategies_by_hand():
    logits = np.array([[[[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]]], np.float32)     # (1, 1, 2, 3)
    labels = np.array([[[0, 1]]], np.int32)
    w = np.array([0.5, 2.0, 1.0])

    def ce(z, y):
        return -(z[y] - np.log(np.exp(z).sum()))

    z = logits[0, 0]
    plain = SegmentationCE(3)(labels, logits).numpy()
    np.testing.assert_allclose(plain, (ce(z[0], 0) + ce(z[1], 1)) / 2, rtol=1e-6)
    outer = SegmentationCE(3, class_weights=w, weighting_mode="outer")(labels, logits).numpy()
    np.testing.assert_allclose(outer, (0.5 * ce(z[0], 0) + 2.0 * ce(z[1], 1)) / 2, rtol=1e-6)
    direct = SegmentationCE(3, class_weights=w, weighting_mode="direct")(labels, logits).numpy()
    np.testing.assert_allclose(direct, (ce(z[0] * w, 0) + ce(z[1] * w, 1)) / 2, rtol=1e-6)
    ignored = SegmentationCE(3)(np.array([[[0, 255]]]), logits).numpy()
    np.testing.assert_allclose(ignored, ce(z[0], 0), rtol=1e-6)


def test_labels_are_resized_nearest_with_tf1_semantics_and_remapped():
    labels = np.arange(16).reshape(1, 4, 4) % 3
    logits = np.zeros((1, 2, 2, 3), np.float32)
    logits[..., 0] = 10.0                                  # predicts class 0 everywhere
    loss = SegmentationCE(3)(labels, logits).numpy()
    # TF1 nearest (no half pixel): rows/cols 0 and 2 -> labels [[0, 2], [2, 1]]
    small = tf.raw_ops.ResizeNearestNeighbor(images=labels[..., None], size=[2, 2],
                                             align_corners=False, half_pixel_centers=False)
    np.testing.assert_array_equal(small.numpy()[0, ..., 0], [[0, 2], [2, 1]])
    per = -np.log(np.exp(0.0) / (np.exp(10.0) + 2))
    expected = (3 * per + np.log(np.exp(10.0) + 2) - 10.0) / 4
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    body = SegmentationCE(2, remap=L.TO_BODY2)(np.array([[[0, 16]]]),
                                               np.array([[[[5.0, 0.0], [0.0, 5.0]]]], np.float32))
    assert float(body) < 0.01


def test_icnet_trains_one_step_with_the_three_branch_loss_and_loads_npy(tmp_path):
    import keras

    from segmentation.losses import ICNET_LAMBDAS
    from segmentation.model import ICNet, load_icnet_npy

    model = ICNet(25, input_shape=(65, 65, 3))
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), loss=[SegmentationCE(25)] * 3,
                  loss_weights=list(ICNET_LAMBDAS))
    x = np.random.default_rng(0).normal(0, 50, (2, 65, 65, 3)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 25, (2, 65, 65)).astype(np.int32)
    y[:, :5] = 255
    logs = model.train_on_batch(x, (y, y, y), return_dict=True)
    assert np.isfinite(logs["loss"])
    # caffe-tensorflow dict: {layer: {param: array}}, Cityscapes classifier with 19 classes
    rng = np.random.default_rng(2)
    data = {"conv1_sub1": {"weights": rng.normal(size=(3, 3, 3, 32)).astype(np.float32)},
            "conv1_sub1_bn": {k: rng.normal(size=32).astype(np.float32)
                              for k in ("scale", "offset", "mean", "variance")},
            "conv6_cls": {"weights": np.zeros((1, 1, 128, 19), np.float32),
                          "biases": np.zeros(19, np.float32)}}
    path = tmp_path / "icnet_cityscapes_bnnomerge.npy"
    np.save(path, data, allow_pickle=True)
    from reprokit.weights import WeightLoadError

    with pytest.raises(WeightLoadError, match="conv6_cls"):       # strict by default
        load_icnet_npy(model, str(path))
    report = load_icnet_npy(model, str(path), strict=False)
    np.testing.assert_array_equal(model.get_layer("conv1_sub1").kernel.numpy(),
                                  data["conv1_sub1"]["weights"])
    np.testing.assert_array_equal(model.get_layer("conv1_sub1_bn").moving_variance.numpy(),
                                  data["conv1_sub1_bn"]["variance"])
    assert ("conv6_cls/kernel", (1, 1, 128, 25), (1, 1, 128, 19)) in report.mismatched
    fresh = load_icnet_npy(model, str(path), strict=False, exclude=("conv6_cls",))
    assert {"conv6_cls/weights", "conv6_cls/biases"} <= set(fresh.skipped) and not fresh.mismatched
