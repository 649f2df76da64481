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
    """Training-time PCK from heatmap argmaxes, as anibali/bearpaw ``accuracy`` reports it.

    Per batch (``utils/evaluation.py``: ``get_preds``, ``calc_dists``, ``dist_acc``,
    ``accuracy``): the argmax of each predicted and target heatmap (first maximum in row-major
    order); a predicted map whose maximum is not ``> 0`` gives the point ``(-1, -1)``
    (``get_preds`` masks it to ``(0, 0)`` in its 1-based frame); a keypoint counts only when
    its target's argmax is at least 1 in both x and y (``target > 1`` in the 1-based frame:
    targets peaking in row 0 or column 0, and all-zero targets, are skipped); the distance
    divided by ``heatmap_width * norm_fraction`` (``64 / 10``) is a hit when ``< threshold``
    (0.5). The batch accuracy is the mean over ``joints`` that had a counted keypoint of their
    hit fraction, or 0 when none had one; :meth:`result` is the batch-size-weighted mean of the
    batch accuracies (``AverageMeter.update(acc[0], batch_size)``), i.e. the "Acc" anibali's
    progress bar and log print.

    Args:
        num_keypoints: heatmap channels.
        joints: channels that enter the mean (anibali ``Mpii.ACC_JOINTS``, bearpaw ``idx``:
            ankles, knees, hips, wrists and elbows; see :data:`hourglass.train`); ``None``: all.
        threshold: 0.5 (``dist_acc``'s default).
        norm_fraction: 0.1 (``norm = output.size(3) / 10``).

    Reference: docs/reference/hourglass.md §2.2 ("Training-time acc"); checked against anibali's
    ``accuracy`` executed on the same heatmaps (``docs/fidelity.md``).
    """

    def __init__(self, num_keypoints: int, joints=None, threshold: float = 0.5,
                 norm_fraction: float = 0.1, name: str = "pck", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_keypoints, self.threshold, self.norm_fraction = num_keypoints, threshold, norm_fraction
        self.joints = None if joints is None else [int(j) for j in joints]
        if self.joints is not None and not all(0 <= j < num_keypoints for j in self.joints):
            raise ValueError(f"joints must be channel indices below {num_keypoints}, got {joints!r}")
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="count")

    @staticmethod
    def _argmax_xy(hm):
        shape = tf.shape(hm)
        flat = tf.reshape(tf.transpose(hm, [0, 3, 1, 2]), [shape[0], shape[3], -1])
        idx = tf.argmax(flat, axis=-1, output_type=tf.int32)
        xy = tf.cast(tf.stack([idx % shape[2], idx // shape[2]], -1), tf.float64)
        positive = tf.reduce_max(flat, axis=-1) > 0
        return tf.where(positive[..., None], xy, -1.0)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if self.joints is not None:
            y_true = tf.gather(y_true, self.joints, axis=-1)
            y_pred = tf.gather(y_pred, self.joints, axis=-1)
        width = tf.cast(tf.shape(y_pred)[2], tf.float64)
        target = self._argmax_xy(y_true)
        d = tf.norm(self._argmax_xy(y_pred) - target, axis=-1) / (width * self.norm_fraction)
        valid = tf.cast(tf.reduce_all(target >= 1.0, axis=-1), tf.float64)      # (B, K)
        hits = tf.reduce_sum(tf.cast(d < self.threshold, tf.float64) * valid, 0)
        counts = tf.reduce_sum(valid, 0)
        has = counts > 0
        acc = tf.math.divide_no_nan(tf.reduce_sum(tf.where(has, hits / tf.maximum(counts, 1.0), 0.0)),
                                    tf.reduce_sum(tf.cast(has, tf.float64)))
        batch = tf.cast(tf.shape(y_pred)[0], tf.float64)
        self.total.assign_add(acc * batch)
        self.count.assign_add(batch)

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "num_keypoints": self.num_keypoints, "joints": self.joints,
                "threshold": self.threshold, "norm_fraction": self.norm_fraction}
