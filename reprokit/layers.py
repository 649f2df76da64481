"""Layers shared by more than one package."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="reprokit")
class SwitchableBatchNormalization(keras.layers.BatchNormalization):
    """BatchNorm with the two run-time switches of hellochick/ICNet-tensorflow ``network.py``.

    ``update_moving_stats``: while training, whether the moving mean/variance are updated.
    ``train_affine``: whether gamma/beta receive gradients. While training the layer always
    normalises with *batch* statistics (the reference's ``is_training=True``), so with
    ``update_moving_stats=False`` it uses batch statistics while the moving averages stay frozen
    (docs/reference/segmentation.md §1.4). The switches are non-trainable variables, so flipping them
    (``BatchNormPhase`` callback) needs no retracing and the optimizer state stays aligned.

    Deviations:
        A frozen affine receives zero gradients instead of being removed from the trainable
        set; optimizers with momentum or decoupled weight decay can still move it slightly.
        With plain SGD (ICNet's optimiser) and the phase starting frozen, it stays exact.
    """

    def __init__(self, update_moving_stats: bool = True, train_affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._init_update, self._init_affine = bool(update_moving_stats), bool(train_affine)

    def build(self, input_shape):
        super().build(input_shape)
        # Plain tf.Variables, not Keras weights: the switches are run-time state, so they stay
        # out of count_params() (ICNet's exact counts, docs/reference/segmentation.md §H) and of
        # weight files; BatchNormPhase derives them from the optimizer step after a resume.
        self.update_moving_stats = tf.Variable(float(self._init_update), trainable=False,
                                               name="update_moving_stats")
        self.train_affine = tf.Variable(float(self._init_affine), trainable=False,
                                        name="train_affine")

    def set_switches(self, update_moving_stats: bool | None = None, train_affine: bool | None = None):
        if update_moving_stats is not None:
            self.update_moving_stats.assign(float(update_moving_stats))
        if train_affine is not None:
            self.train_affine.assign(float(train_affine))

    def call(self, inputs, training=None, mask=None):
        x = tf.cast(inputs, self.compute_dtype)
        axes = [i for i in range(len(x.shape)) if i != self.axis % len(x.shape)]
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        affine_on = tf.cast(self.train_affine, tf.bool)
        if gamma is not None:
            gamma = tf.where(affine_on, gamma, tf.stop_gradient(gamma))
        if beta is not None:
            beta = tf.where(affine_on, beta, tf.stop_gradient(beta))
        if training and self.trainable:
            mean, var = tf.nn.moments(tf.cast(x, tf.float32), axes)
            m = self.momentum
            upd = tf.cast(self.update_moving_stats, tf.float32)
            self.moving_mean.assign(self.moving_mean * (1 - upd * (1 - m)) + upd * (1 - m) * mean)
            self.moving_variance.assign(
                self.moving_variance * (1 - upd * (1 - m)) + upd * (1 - m) * var)
        else:
            mean, var = self.moving_mean, self.moving_variance
        out = tf.nn.batch_normalization(tf.cast(x, tf.float32), mean, var,
                                        None if beta is None else tf.cast(beta, tf.float32),
                                        None if gamma is None else tf.cast(gamma, tf.float32),
                                        self.epsilon)
        return tf.cast(out, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "update_moving_stats": self._init_update,
                "train_affine": self._init_affine}
