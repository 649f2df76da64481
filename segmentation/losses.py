"""Segmentation losses and class weights of the thesis (Sec. 3.1) and its reference codes.

* :class:`SegmentationCE`: sparse softmax cross-entropy on logits of any resolution. Labels
  are resized nearest-neighbour to the logits (TF1 ``resize_nearest_neighbor``,
  ``align_corners=False``, no half-pixel centres: hellochick ``prepare_label``); pixels whose
  label is ``ignore_label`` or ``>= num_classes`` are dropped and the mean is over valid pixels
  (hellochick ``create_loss``). Optional class weights with the thesis' two strategies and an
  optional label remap (the hourglass' progressive ground truth).
* ICNet's total loss is three of these with Keras ``loss_weights`` = lambdas
  (:data:`ICNET_LAMBDAS`).
* :func:`class_weights`: W1, W2 and median-frequency balancing from training pixel counts.

Strategies (thesis Sec. 3.1, docs/reference/segmentation.md Addendum):
    ``outer``: ``L = -sum_i w_i y_i log softmax(x)_i`` (tkuanlun ``weighted_loss``): the weight
    of the true class multiplies its CE term; the mean is over pixels, not normalised by the
    weights. ``direct``: ``L = -sum_i y_i log softmax(w * x)_i``: the weights multiply the
    logits class by class.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from reprokit.codecs.labels import LabelCodec

#: hellochick ``train.py`` LAMBDA1..3 (every version); the ICNet paper option is (0.4, 0.4, 1.0).
ICNET_LAMBDAS = (0.16, 0.4, 1.0)
ICNET_LAMBDAS_PAPER = (0.4, 0.4, 1.0)
WEIGHTING_MODES = ("outer", "direct")
WEIGHTINGS = ("w1", "w2", "median_freq")


def resize_labels_nearest(labels, size):
    """TF1 ``resize_nearest_neighbor`` (align_corners=False, half_pixel_centers=False) of
    integer labels ``(N, H, W)`` to ``size``."""
    x = tf.cast(labels, tf.int32)[..., None]
    y = tf.raw_ops.ResizeNearestNeighbor(images=x, size=size, align_corners=False,
                                         half_pixel_centers=False)
    return y[..., 0]


@keras.saving.register_keras_serializable(package="segmentation")
class SegmentationCE(keras.losses.Loss):
    """Sparse softmax CE over valid pixels, labels resized to the logits (see module doc).

    Args:
        num_classes: logits channels.
        ignore_label: label id to skip (255).
        class_weights: optional length-``num_classes`` weights (:func:`class_weights`).
        weighting_mode: ``"outer"`` or ``"direct"`` (how the weights enter).
        remap: optional table applied to the labels first (e.g. ``labels.TO_BODY2``).
    """

    def __init__(self, num_classes: int, ignore_label: int = 255, class_weights=None,
                 weighting_mode: str = "outer", remap=None, name: str = "segmentation_ce", **kwargs):
        super().__init__(name=name, **kwargs)
        if weighting_mode not in WEIGHTING_MODES:
            raise ValueError(f"weighting_mode must be one of {WEIGHTING_MODES}, got {weighting_mode!r}")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"class_weights needs {num_classes} entries, got {len(class_weights)}")
        self.num_classes, self.ignore_label, self.weighting_mode = num_classes, ignore_label, weighting_mode
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.remap = None if remap is None else [int(v) for v in np.asarray(remap)]
        # reprokit's LabelCodec owns remapping: ids past the table and the ignore label map
        # to the ignore label, which the mask below drops
        self._table = None if remap is None else LabelCodec(
            int(max(self.remap)) + 1, self.remap, ignore_label).table.astype(np.int32)

    def call(self, y_true, y_pred):
        logits = tf.cast(y_pred, tf.float32)
        labels = tf.cast(y_true, tf.int32)
        if labels.shape.rank == 4:
            labels = labels[..., 0]
        labels = resize_labels_nearest(labels, tf.shape(logits)[1:3])
        valid = labels >= 0
        if self._table is not None:
            labels = tf.gather(tf.constant(self._table), tf.clip_by_value(labels, 0, 255))
        valid &= (labels != self.ignore_label) & (labels < self.num_classes)
        safe = tf.where(valid, labels, 0)
        w = None if self.class_weights is None else tf.constant(self.class_weights, tf.float32)
        if w is not None and self.weighting_mode == "direct":
            logits = logits * w
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
        if w is not None and self.weighting_mode == "outer":
            ce = ce * tf.gather(w, safe)
        mask = tf.cast(valid, tf.float32)
        # one scalar per batch: hellochick averages over the valid pixels of the whole batch
        total = tf.reduce_sum(ce * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
        return tf.fill(tf.shape(logits)[:1], total)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "ignore_label": self.ignore_label, "class_weights": self.class_weights,
                "weighting_mode": self.weighting_mode, "remap": self.remap}


def class_pixel_counts(labels_iter, num_classes: int = 25, ignore_label: int = 255):
    """Pixel counts per class over an iterable of label maps.

    Returns:
        ``(counts, present_pixels)``: ``counts[c]`` = pixels of class ``c``;
        ``present_pixels[c]`` = total (non-ignored) pixels of the images that contain ``c``
        (the denominator of SegNet's median-frequency balancing).
    """
    counts = np.zeros(num_classes, np.int64)
    present = np.zeros(num_classes, np.int64)
    for labels in labels_iter:
        lab = np.asarray(labels).ravel()
        lab = lab[(lab != ignore_label) & (lab < num_classes)]
        c = np.bincount(lab, minlength=num_classes)[:num_classes]
        counts += c
        present += np.where(c > 0, lab.size, 0)
    return counts, present


def class_weights(counts, method: str = "w1", present_pixels=None) -> np.ndarray:
    """Class weights from training-set pixel counts ``C`` (thesis Sec. 3.1).

    * ``"w1"`` (inverse frequency): ``W_i = 1 - C_i / sum_j C_j``.
    * ``"w2"`` (exponential): ``A = C / max(C)``, ``B = 1 / A``,
      ``W = B exp(-(1/4) (B - mean(B)) / std(B))`` (population std; the thesis' extraction
      prints "B = 1/B", read as ``B = 1/A``).
    * ``"median_freq"`` (SegNet-Tutorial): ``freq_c = C_c / present_pixels_c``,
      ``W_c = median(freq) / freq_c``.

    Classes with no pixels get weight 0 under ``w2`` and ``median_freq`` (their formulas divide
    by the count) and are left out of the mean, std and median.
    """
    c = np.asarray(counts, np.float64)
    if method == "w1":
        return 1.0 - c / c.sum()
    seen = c > 0
    out = np.zeros_like(c)
    if method == "w2":
        b = c.max() / c[seen]
        std = b.std()
        out[seen] = b * np.exp(-0.25 * (b - b.mean()) / (std if std > 0 else 1.0))
        return out
    if method == "median_freq":
        if present_pixels is None:
            raise ValueError("median_freq needs present_pixels (see class_pixel_counts)")
        freq = c[seen] / np.asarray(present_pixels, np.float64)[seen]
        out[seen] = np.median(freq) / freq
        return out
    raise ValueError(f"method must be one of {WEIGHTINGS}, got {method!r}")


__all__ = ["ICNET_LAMBDAS", "ICNET_LAMBDAS_PAPER", "WEIGHTING_MODES", "SegmentationCE", "WEIGHTINGS",
           "class_pixel_counts", "class_weights", "resize_labels_nearest"]
