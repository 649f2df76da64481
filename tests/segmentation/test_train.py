"""Segmentation input pipeline (normalisation, mirror with swap, scale + ignore padding) and
confusion-matrix evaluation on extracted synthetic SURREAL frames."""
import numpy as np
import pytest
import tensorflow as tf

from segmentation import labels as L
from segmentation.data import extract_frames
from segmentation.synthetic import write_synthetic_surreal
from segmentation.evaluate import evaluate_segmentation
from segmentation.pipeline import mirror_tf, normalize, random_scale_crop, segmentation_dataset


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = write_synthetic_surreal(str(tmp_path_factory.mktemp("s")), "train", 1, 4, (120, 160), 5)
    return extract_frames(root, str(tmp_path_factory.mktemp("f")), "train", size=(64, 64),
                          progress=False)


def test_normalisation_per_network():
    px = tf.constant([[[10.0, 20.0, 30.0]]])
    np.testing.assert_allclose(normalize(px, "icnet").numpy()[0, 0],
                               [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)
    np.testing.assert_array_equal(normalize(px, "segnet").numpy(), px.numpy())
    np.testing.assert_allclose(normalize(px, "hourglass").numpy()[0, 0, 0], (10 / 255 - 0.485) / 0.229,
                               rtol=1e-6)


def test_mirror_tf_matches_numpy_mirror_and_scale_pads_with_ignore():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (8, 10, 3)).astype(np.uint8)
    labels = rng.integers(0, 25, (8, 10)).astype(np.int32)
    labels[0, 0] = 255
    ti, tl = mirror_tf(tf.constant(image), tf.constant(labels))
    ni, nl = L.mirror(image, labels)
    np.testing.assert_array_equal(ti.numpy(), ni)
    np.testing.assert_array_equal(tl.numpy(), nl)
    small_i, small_l = random_scale_crop(tf.constant(image), tf.constant(labels), [1, 2], (8, 10),
                                         scale_range=(0.5, 0.5))
    lab = small_l.numpy()
    assert lab.shape == (8, 10) and (lab == 255).sum() >= 8 * 10 - 4 * 5
    assert set(np.unique(lab[lab != 255])) <= set(range(25))


def test_dataset_and_evaluation_report(frames):
    ds = segmentation_dataset(frames, "segnet", 2, training=True, mirror=True, scale=True)
    x, y = next(iter(ds))
    assert x.shape == (2, 64, 64, 3) and y.shape == (2, 64, 64) and y.dtype == tf.int32

    class Oracle:
        """Returns one-hot logits of the true labels: a perfect segmenter."""

        def __call__(self, x, training=False):
            self.i = getattr(self, "i", 0)
            import cv2

            labs = [cv2.imread(p, cv2.IMREAD_UNCHANGED)
                    for p in frames["label_path"][self.i:self.i + len(x)]]
            self.i += len(x)
            return tf.one_hot(np.stack(labs), 25) * 10.0

    report = evaluate_segmentation(Oracle(), frames, "segnet", batch_size=3,
                                   group_table=L.TO_THESIS13)
    assert report["pixel_accuracy"] == 1.0 and report["mIoU"] == 1.0
    assert report["confusion"].sum() == len(frames["image_path"]) * 64 * 64
    assert report["groups"]["pixel_accuracy"] == 1.0 and len(report["groups"]["iou"]) == 13
