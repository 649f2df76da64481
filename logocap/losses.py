"""Losses of the center-offset model (docs/reference/logocap_metrics_ecosystem.md §1.3).

Targets arrive packed with their weights (the Keras ``y_true`` of one output):
``heatmaps`` = ``[target (K+1), weight (K+1)]``, ``offsets`` = ``[target (2K), weight (2K)]``.

- :class:`HeatmapLoss`: weighted MSE, ``mean(weight * (pred - target)^2)`` over pixels and
  channels (weight 1 on the Gaussian support, 0.1 on the background, 0 where ignored).
- :class:`OffsetLoss`: smooth-L1 with ``beta = 1/9`` (DEKR / LOGO-CAP), weighted by
  ``1 / sqrt(area)``, summed and divided by the number of positive entries (weight > 0).
- The reference's factors: heatmap 1.0, offsets 0.01 (:data:`LOSS_WEIGHTS`).
"""
from __future__ import annotations

import keras
import tensorflow as tf

#: Loss factors of the reference (heatmap 1.0, offsets 0.01).
LOSS_WEIGHTS = {"heatmaps": 1.0, "offsets": 0.01}
SMOOTH_L1_BETA = 1.0 / 9.0


@keras.saving.register_keras_serializable(package="logocap")
class HeatmapLoss(keras.losses.Loss):
    def __init__(self, name="heatmap_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        c = tf.shape(y_pred)[-1]
        target, weight = y_true[..., :c], y_true[..., c:]
        err = weight * tf.square(tf.cast(y_pred, tf.float32) - target)
        return tf.reduce_mean(err, axis=[1, 2, 3])


@keras.saving.register_keras_serializable(package="logocap")
class OffsetLoss(keras.losses.Loss):
    def __init__(self, beta: float = SMOOTH_L1_BETA, name="offset_loss", **kwargs):
        super().__init__(name=name, reduction="sum", **kwargs)
        self.beta = float(beta)

    def call(self, y_true, y_pred):
        c = tf.shape(y_pred)[-1]
        target, weight = y_true[..., :c], y_true[..., c:]
        diff = tf.abs(tf.cast(y_pred, tf.float32) - target)
        sl1 = tf.where(diff < self.beta, 0.5 * diff ** 2 / self.beta, diff - 0.5 * self.beta)
        positives = tf.maximum(tf.reduce_sum(tf.cast(weight > 0, tf.float32)), 1.0)
        # one value per sample whose batch sum is the normalised total
        return tf.reduce_sum(weight * sl1, axis=[1, 2, 3]) / positives

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


__all__ = ["HeatmapLoss", "LOSS_WEIGHTS", "OffsetLoss", "SMOOTH_L1_BETA"]
