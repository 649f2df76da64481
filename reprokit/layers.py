"""Layers shared by more than one package."""
from __future__ import annotations

import keras
import tensorflow as tf


def _biased_factor(x, c: int):
    """``(n - 1) / n`` for the ``n = size / c`` values per channel of ``x``: a Python float when
    the shape is static (two graph nodes instead of nine per layer, issue 18), else a tensor."""
    if x.shape.is_fully_defined():
        n = x.shape.num_elements() // c
        return (n - 1) / n if n > 1 else 0.0   # n = 1: the kernel's 0 / 0; Keras's biased one is 0
    n = tf.cast(tf.size(x, out_type=tf.int64) // c, tf.float32)
    return tf.where(n > 1.0, (n - 1.0) / tf.maximum(n, 1.0), 0.0)


def fused_training_moments(x, gamma=None, beta=None, epsilon: float = 1e-3, var_scale=1.0):
    """Batch normalisation of a channels-last rank-4 float32 ``x`` with its own batch statistics,
    in one ``FusedBatchNormV3`` kernel (and one gradient kernel): ``(output, mean, variance *
    var_scale)``.

    The maths of Keras 3's ``BatchNormalization`` in training: ``(x - mean) / sqrt(var + eps)
    * gamma + beta`` with the biased batch variance, which is also the variance returned (the
    kernel returns the Bessel-corrected one; it is rescaled by ``(n - 1) / n``, folded into
    ``var_scale``). Keras 3 builds the same from ~15 separate ops per layer and ~40 in the
    gradient (issue 18: the hourglass training step 0.81x and its first step 0.71x with this
    kernel; docs/performance.md).
    """
    c = int(x.shape[-1])
    scale = tf.ones([c], tf.float32) if gamma is None else tf.cast(gamma, tf.float32)
    offset = tf.zeros([c], tf.float32) if beta is None else tf.cast(beta, tf.float32)
    empty = tf.zeros([0], tf.float32)
    y, mean, var, *_ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=empty, variance=empty, epsilon=epsilon,
        exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
    factor = _biased_factor(x, c)
    if isinstance(factor, float) and factor > 0.0 and isinstance(var_scale, float):
        return y, mean, var * (factor * var_scale)
    # n = 1: the kernel's variance is 0 / 0 (NaN); multiply_no_nan makes it Keras's 0
    return y, mean, tf.math.multiply_no_nan(var, factor * var_scale)


def fusable(layer, inputs, mask=None) -> bool:
    """Whether a BatchNormalization ``layer`` can normalise ``inputs`` with
    :func:`fused_training_moments`: rank 4, channels last, no mask, no renorm, not synchronized."""
    rank = inputs.shape.rank
    return (rank == 4 and layer.axis in (-1, 3) and mask is None
            and not getattr(layer, "renorm", False) and not getattr(layer, "synchronized", False))


@keras.saving.register_keras_serializable(package="reprokit")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same arguments, weights and results) that trains
    rank-4 channels-last inputs through one fused kernel (:func:`fused_training_moments`);
    inference and every other case are Keras's own code."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and fusable(self, inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)    # as Keras: float16 / bfloat16 inputs upcast
        m = float(self.momentum)
        # the moving variance's (1 - m) is folded into the kernel variance's rescaling
        out, mean, var_part = fused_training_moments(
            x, self.gamma if self.scale else None, self.beta if self.center else None,
            self.epsilon, var_scale=1.0 - m)
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + var_part)
        return tf.cast(out, inputs.dtype)


@keras.saving.register_keras_serializable(package="reprokit")
class SwitchableBatchNormalization(FusedBatchNormalization):
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
        fused = None
        if training and self.trainable:
            if fusable(self, x, mask):
                fused, mean, var = fused_training_moments(tf.cast(x, tf.float32), gamma, beta,
                                                          self.epsilon)
            else:
                mean, var = tf.nn.moments(tf.cast(x, tf.float32), axes)
            m = self.momentum
            upd = tf.cast(self.update_moving_stats, tf.float32)
            self.moving_mean.assign(self.moving_mean * (1 - upd * (1 - m)) + upd * (1 - m) * mean)
            self.moving_variance.assign(
                self.moving_variance * (1 - upd * (1 - m)) + upd * (1 - m) * var)
        else:
            mean, var = self.moving_mean, self.moving_variance
        if fused is not None:
            return tf.cast(fused, self.compute_dtype)
        out = tf.nn.batch_normalization(tf.cast(x, tf.float32), mean, var,
                                        None if beta is None else tf.cast(beta, tf.float32),
                                        None if gamma is None else tf.cast(gamma, tf.float32),
                                        self.epsilon)
        return tf.cast(out, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "update_moving_stats": self._init_update,
                "train_affine": self._init_affine}


@keras.saving.register_keras_serializable(package="reprokit")
class NearestUpSampling2D(keras.layers.UpSampling2D):
    """``keras.layers.UpSampling2D`` (same arguments and results) whose nearest-neighbour case
    is one ``ResizeNearestNeighbor`` kernel (half-pixel centres: output pixel ``i`` copies input
    ``i // size``, exactly what Keras's two ``repeat`` calls give) and one gradient kernel,
    instead of ~33 graph nodes and two copies (issue 18: every node is traced, optimised and
    instantiated before the first step); its gradient is a reshape and two sums, which XLA
    compiles. Other interpolations, ``channels_first`` and unknown
    spatial sizes are Keras's own code."""

    def call(self, inputs):
        h, w = inputs.shape[1], inputs.shape[2]
        if (self.interpolation != "nearest" or self.data_format != "channels_last"
                or h is None or w is None):
            return super().call(inputs)
        return _nearest_upsample(inputs, h, w, *self.size)


def _nearest_upsample(x, h: int, w: int, fh: int, fw: int):
    """``ResizeNearestNeighbor`` by integer factors with its gradient written as a block sum
    (reshape + two ``reduce_sum``, in the order Keras's ``repeat`` gradients add): XLA has no
    ``ResizeNearestNeighborGrad`` kernel, so the resize's own gradient breaks ``--jit``."""

    @tf.custom_gradient
    def up(x):
        y = tf.raw_ops.ResizeNearestNeighbor(images=x, size=[h * fh, w * fw],
                                             align_corners=False, half_pixel_centers=True)

        def grad(dy):
            c = x.shape[3] if x.shape[3] is not None else tf.shape(dy)[3]
            blocks = tf.reshape(dy, [-1, h, fh, w, fw, c])
            # Keras repeats rows, then columns: its gradient sums the columns first
            return tf.reduce_sum(tf.reduce_sum(blocks, axis=4), axis=2)

        return y, grad

    return up(x)
