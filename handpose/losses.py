"""hand3d's training losses (docs/reference/handpose.md §3).

* :class:`PoseNetLoss`: every stage's score map is upsampled to the 256 crop with the legacy
  bilinear resize; per sample and keypoint ``rms = sqrt(mean_hw (pred - gt)^2)``; a stage
  loss is ``sum(vis * rms) / (sum(vis) + 0.001)``; Keras sums the stages (loss per output).
* :class:`HandSegLoss`: mean softmax cross-entropy over all pixels between logits upsampled to
  the crop and one-hot ``[background, hand]``.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from handpose.model import bilinear_resize


@keras.saving.register_keras_serializable(package="handpose")
class PoseNetLoss(keras.losses.Loss):
    """Visibility-weighted per-keypoint RMS of one stage's score map.

    ``y_true``: ``(N, 256, 256, K + K)`` = Gaussian maps and the visibility broadcast (the
    second half's value at any pixel), or just ``(N, 256, 256, K)`` maps, in which case a
    keypoint counts as visible when its map is not all zero (hand3d zeroes invisible maps).
    ``y_pred``: ``(N, h, w, K)`` at the network's resolution; resized with ``resize`` mode.
    """

    def __init__(self, crop_size: int = 256, resize: str = "legacy", name: str = "posenet_loss",
                 **kwargs):
        super().__init__(name=name, reduction="sum", **kwargs)
        self.crop_size, self.resize = int(crop_size), resize

    def call(self, y_true, y_pred):
        y_pred = bilinear_resize(y_pred, [self.crop_size, self.crop_size], self.resize)
        y_true = tf.cast(y_true, y_pred.dtype)
        k = y_pred.shape[-1]
        if y_true.shape[-1] == 2 * k:
            maps, vis = y_true[..., :k], y_true[:, 0, 0, k:]
        else:
            maps = y_true
            vis = tf.cast(tf.reduce_max(maps, axis=[1, 2]) > 0, y_pred.dtype)
        rms = tf.sqrt(tf.reduce_mean(tf.square(y_pred - maps), axis=[1, 2]))      # (N, K)
        # one value per batch (Keras "sum" reduction keeps it as is)
        return tf.reduce_sum(vis * rms) / (tf.reduce_sum(vis) + 0.001) / tf.cast(
            tf.shape(rms)[0], y_pred.dtype) * tf.ones([tf.shape(rms)[0]], y_pred.dtype)

    def get_config(self):
        return {**super().get_config(), "crop_size": self.crop_size, "resize": self.resize}


@keras.saving.register_keras_serializable(package="handpose")
class HandSegLoss(keras.losses.Loss):
    """Mean pixel softmax cross-entropy; ``y_true`` is the hand mask ``(N, H, W)`` in {0, 1}."""

    def __init__(self, name: str = "handseg_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels = tf.cast(tf.round(y_true), tf.int32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
        return tf.reduce_mean(ce, axis=[1, 2])


__all__ = ["HandSegLoss", "PoseNetLoss"]
