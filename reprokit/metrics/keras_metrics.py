"""Thin ``keras.metrics`` wrappers: they only accumulate sufficient statistics.

The final numbers are computed with the same formulas as the numpy functions, and tests check
that both agree.
"""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="reprokit")
class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a confusion matrix; reports mIoU or pixel accuracy.

    Args:
        num_classes: number of classes.
        ignore_label: ground-truth id skipped. Defaults to 255.
        result_metric: ``"mIoU"`` (nanmean of per-class IoU) or ``"pixel_accuracy"``.

    ``y_true``: int labels ``(B, H, W)``; ``y_pred``: logits or probabilities ``(B, H, W, C)``.
    """

    def __init__(self, num_classes: int, ignore_label: int = 255, result_metric: str = "mIoU",
                 name: str | None = None, **kwargs):
        if result_metric not in ("mIoU", "pixel_accuracy"):
            raise ValueError(f"result_metric must be 'mIoU' or 'pixel_accuracy', got {result_metric!r}")
        super().__init__(name=name or result_metric, **kwargs)
        self.num_classes, self.ignore_label, self.result_metric = num_classes, ignore_label, result_metric
        self.matrix = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                        dtype="float64", name="confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        gt = tf.reshape(tf.cast(y_true, tf.int64), [-1])
        pred = tf.reshape(tf.argmax(y_pred, axis=-1), [-1])
        keep = tf.logical_and(tf.logical_and(gt >= 0, gt < self.num_classes), gt != self.ignore_label)
        gt, pred = tf.boolean_mask(gt, keep), tf.boolean_mask(pred, keep)
        counts = tf.math.bincount(gt * self.num_classes + pred, minlength=self.num_classes ** 2,
                                  maxlength=self.num_classes ** 2, dtype=tf.float64)
        self.matrix.assign_add(tf.reshape(counts, (self.num_classes, self.num_classes)))

    def result(self):
        cm = tf.convert_to_tensor(self.matrix)
        tp = tf.linalg.diag_part(cm)
        if self.result_metric == "pixel_accuracy":
            return tf.math.divide_no_nan(tf.reduce_sum(tp), tf.reduce_sum(cm))
        denom = tf.reduce_sum(cm, 0) + tf.reduce_sum(cm, 1) - tp
        valid = denom > 0
        return tf.reduce_mean(tf.boolean_mask(tp, valid) / tf.boolean_mask(denom, valid))

    def reset_state(self):
        self.matrix.assign(tf.zeros_like(self.matrix))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "ignore_label": self.ignore_label, "result_metric": self.result_metric}


@keras.saving.register_keras_serializable(package="reprokit")
class HeatmapPCK(keras.metrics.Metric):
    """Training-time PCK from heatmap argmaxes (anibali/bearpaw ``accuracy``).

    Distances between the argmax of the prediction and of the target heatmap, divided by
    ``heatmap_width * norm_fraction`` (anibali: ``64 / 10``), compared with ``< threshold``
    (0.5); keypoints whose target heatmap is all zero are skipped. Per-keypoint accuracies are
    accumulated over the epoch and averaged over keypoints that had samples.
    Reference: reference/hourglass.md §2.2 ("Training-time acc").
    """

    def __init__(self, num_keypoints: int, threshold: float = 0.5, norm_fraction: float = 0.1,
                 name: str = "pck", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_keypoints, self.threshold, self.norm_fraction = num_keypoints, threshold, norm_fraction
        self.hits = self.add_variable(shape=(num_keypoints,), initializer="zeros", dtype="float64", name="hits")
        self.counts = self.add_variable(shape=(num_keypoints,), initializer="zeros", dtype="float64", name="counts")

    @staticmethod
    def _argmax_xy(hm):
        shape = tf.shape(hm)
        flat = tf.reshape(tf.transpose(hm, [0, 3, 1, 2]), [shape[0], shape[3], -1])
        idx = tf.argmax(flat, axis=-1, output_type=tf.int32)
        return tf.cast(tf.stack([idx % shape[2], idx // shape[2]], -1), tf.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        width = tf.cast(tf.shape(y_true)[2], tf.float64)
        d = tf.norm(self._argmax_xy(y_pred) - self._argmax_xy(y_true), axis=-1) / (width * self.norm_fraction)
        valid = tf.cast(tf.reduce_max(y_true, axis=[1, 2]) > 0, tf.float64)
        self.hits.assign_add(tf.reduce_sum(tf.cast(d < self.threshold, tf.float64) * valid, 0))
        self.counts.assign_add(tf.reduce_sum(valid, 0))

    def result(self):
        has = self.counts > 0
        return tf.reduce_mean(tf.boolean_mask(self.hits, has) / tf.boolean_mask(self.counts, has))

    def reset_state(self):
        self.hits.assign(tf.zeros_like(self.hits))
        self.counts.assign(tf.zeros_like(self.counts))

    def get_config(self):
        return {**super().get_config(), "num_keypoints": self.num_keypoints,
                "threshold": self.threshold, "norm_fraction": self.norm_fraction}
