"""SegNet-basic (tkuanlun350/Tensorflow-SegNet) for 25-class body-part segmentation.

Reference: Borrego Carazo (2018), thesis Sec. 3.3 (source 003 in docs/reference/README.md);
tkuanlun350/Tensorflow-SegNet ``model.py``. Measured facts and the spec:
``docs/reference/segmentation.md`` §2.1 and "Spec for our Keras implementation" §A, §H.

Deviations:
    SegNet's orthogonal initialiser flattens kernels as Keras does (``(k k C_in, C_out)``),
    not tkuanlun's ``(k, k C_in C_out)``; gain 1.1 as in the reference.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from reprokit.layers import FusedBatchNormalization
from reprokit.weights import assign_weights

NUM_CLASSES = 25


@keras.saving.register_keras_serializable(package="segmentation")
class LocalResponseNorm(layers.Layer):
    """``tf.nn.lrn``: ``x / (bias + alpha * sum_{|c'-c| <= r} x_{c'}^2) ** beta``."""

    def __init__(self, depth_radius=5, bias=1.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, x):
        # float32 inside: TF has no bfloat16 LRN kernel on CPU (--precision mixed_bfloat16)
        y = tf.nn.local_response_normalization(tf.cast(x, "float32"), self.depth_radius,
                                               self.bias, self.alpha, self.beta)
        return tf.cast(y, x.dtype)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="segmentation")
class MaxPoolWithArgmax(layers.Layer):
    """2x2/2 SAME max-pool returning ``(pooled, argmax)``; indices flattened over
    ``(N, H, W, C)`` (``include_batch_in_index=True``)."""

    #: ``MaxPoolWithArgmax`` has no XLA kernel and no TFLite builtin: ``--jit`` and
    #: ``export --format tflite`` refuse SegNet (:mod:`reprokit.execution`, :mod:`reprokit.export`).
    xla_compatible = False
    tflite_builtin = False

    def call(self, x):
        pooled, idx = tf.nn.max_pool_with_argmax(x, 2, 2, "SAME", include_batch_in_index=True)
        return pooled, idx

    def compute_output_shape(self, shape):
        hw = [None if d is None else -(-d // 2) for d in shape[1:3]]
        out = (shape[0], *hw, shape[3])
        return out, out


@keras.saving.register_keras_serializable(package="segmentation")
class MaxUnpool(layers.Layer):
    """Index unpooling: scatter every value to its argmax position in the pre-pool tensor
    (shape of ``like``); every other position is zero. Differentiable w.r.t. the values."""

    def call(self, x, argmax, like):
        shape = tf.shape(like, out_type=tf.int64)
        flat = tf.scatter_nd(tf.reshape(argmax, [-1, 1]), tf.reshape(x, [-1]),
                             [tf.reduce_prod(shape)])
        return tf.reshape(flat, shape)

    def compute_output_shape(self, x_shape, argmax_shape, like_shape):
        return like_shape


@keras.saving.register_keras_serializable(package="segmentation")
class DeconvToSize(layers.Conv2DTranspose):
    """tkuanlun's ``deconv_layer``: a 2x2 stride-2 ``conv2d_transpose`` (SAME) whose output has
    the spatial size of a second input ``like`` (the encoder map before the matching pool).

    tkuanlun passes ``output_shape`` explicitly (CamVid: 45x60, 90x120, 180x240, 360x480), so
    after an odd side (45 -> pool -> 23) the transposed conv returns 45, not 46. TF's
    ``conv2d_transpose`` to an odd ``2n - 1`` is the ``2n`` result without its last row /
    column (SAME pads 0 before, 1 after), which is what this layer returns: ``call(x, like)``
    crops Keras' ``2n`` output to ``like``'s size. Without ``like`` it is a plain
    ``Conv2DTranspose``.
    """

    def call(self, inputs, like=None):
        y = super().call(inputs)
        if like is None:
            return y
        hw = tf.shape(like)[1:3]
        return y[:, :hw[0], :hw[1], :]

    def compute_output_shape(self, inputs_shape, like_shape=None):
        out = super().compute_output_shape(inputs_shape)
        if like_shape is None:
            return out
        return (out[0], like_shape[1], like_shape[2], out[3])


def _orthogonal():
    return keras.initializers.Orthogonal(gain=1.1)


def SegNetBasic(num_classes: int = NUM_CLASSES, filters: int = 64, unpool: str = "argmax",
                decoder_bias: bool = False, input_shape=(None, None, 3),
                name: str | None = None) -> keras.Model:
    """SegNet-basic (docs/reference/segmentation.md §2.1, spec §A.2).

    Input LRN on raw 0-255 RGB; four encoder blocks (7x7 conv with bias, BN without gamma/beta
    (momentum 0.999, eps 1e-3), ReLU, 2x2 max-pool with argmax); four decoder blocks (upsample,
    7x7 conv, BN, no ReLU); a 1x1 classifier with bias.

    Args:
        filters: 64 (SegNet-basic) or 128 (the thesis' "doubled filters").
        unpool: ``"argmax"`` (index unpooling, what the thesis describes) or ``"deconv"``
            (tkuanlun's 2x2 stride-2 transposed conv without bias, bilinear-initialised, to
            the size of the encoder map before the matching pool, as tkuanlun's hard-coded
            CamVid shapes: 360x480 gives up4 45x60, not 46x60; any input size works).
        decoder_bias: bias in the decoder convs (tkuanlun: yes; the thesis' wording: no).
            ``SegNetBasic(unpool="deconv", decoder_bias=True)`` is tkuanlun exactly
            (1,483,033 parameters at 64 filters).
    """
    if unpool not in ("argmax", "deconv"):
        raise ValueError(f"unpool must be 'argmax' or 'deconv', got {unpool!r}")
    bn = {"momentum": 0.999, "epsilon": 1e-3, "center": False, "scale": False}
    inputs = keras.Input(input_shape, name="image")
    x = LocalResponseNorm(name="norm1")(inputs)
    skips = []
    for i in range(1, 5):
        x = layers.Conv2D(filters, 7, padding="same", kernel_initializer=_orthogonal(),
                          name=f"conv{i}")(x)
        x = layers.ReLU(name=f"conv{i}_relu")(FusedBatchNormalization(name=f"conv{i}_bn", **bn)(x))
        pre = x
        x, idx = MaxPoolWithArgmax(name=f"pool{i}")(x)
        skips.append((pre, idx))
    for i in range(4, 0, -1):
        pre, idx = skips[i - 1]
        if unpool == "argmax":
            x = MaxUnpool(name=f"unpool{i}")(x, idx, pre)
        else:
            x = DeconvToSize(filters, 2, strides=2, padding="same", use_bias=False,
                             kernel_initializer=BilinearDeconvInit(), name=f"up{i}")(x, pre)
        x = layers.Conv2D(filters, 7, padding="same", use_bias=decoder_bias,
                          kernel_initializer=_orthogonal(), name=f"conv_decode{i}")(x)
        x = FusedBatchNormalization(name=f"conv_decode{i}_bn", **bn)(x)
    out = layers.Conv2D(num_classes, 1, kernel_initializer=keras.initializers.HeNormal(),
                        name="conv_classifier")(x)
    return keras.Model(inputs, out, name=name or f"segnet_basic_{filters}_{unpool}")


@keras.saving.register_keras_serializable(package="segmentation")
class BilinearDeconvInit(keras.initializers.Initializer):
    """tkuanlun ``get_deconv_filter``: a bilinear kernel on the channel diagonal."""

    def __call__(self, shape, dtype=None):
        k, _, out_c, in_c = shape
        f = np.ceil(k / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        grid = np.ogrid[:k, :k]
        bil = (1 - abs(grid[0] / f - c)) * (1 - abs(grid[1] / f - c))
        w = np.zeros(shape, np.float32)
        for i in range(min(out_c, in_c)):
            w[:, :, i, i] = bil
        return tf.constant(w, dtype=dtype or tf.float32)


def segnet_tkuanlun_to_keras(variables, ema: bool = True):
    """tkuanlun's SegNet variables -> :func:`SegNetBasic` weight paths (same TF layouts).

    ``conv{i}/ort_weights``, ``conv{i}/biases``, ``conv{i}/conv{i}_bn/moving_{mean,variance}``,
    ``up{i}/up_filter`` (``(2, 2, out, in)``, the Keras ``Conv2DTranspose`` layout),
    ``conv_decode{i}/...`` and ``conv_classifier/{weights,biases}`` (tkuanlun ``model.py``
    ``inference``). With ``ema`` (the default, what tkuanlun's ``test()`` restores through
    ``ExponentialMovingAverage.variables_to_restore``), a variable's
    ``<name>/ExponentialMovingAverage`` shadow is used when the checkpoint has one. Optimizer
    slots and ``global_step`` are returned as skipped.

    Returns:
        ``(weights, skipped)``: ``{keras path: array}`` and the source keys not converted.
    """
    leaf = {"ort_weights": "kernel", "weights": "kernel", "biases": "bias", "up_filter": "kernel",
            "moving_mean": "moving_mean", "moving_variance": "moving_variance"}
    weights, skipped = {}, []
    shadow = "/ExponentialMovingAverage"
    for key in variables:
        parts = key.split("/")
        if key.endswith(shadow) or parts[-1] not in leaf or len(parts) not in (2, 3):
            skipped.append(key)
            continue
        layer = parts[1] if len(parts) == 3 else parts[0]        # conv1/conv1_bn/moving_mean
        value = variables[key + shadow] if ema and key + shadow in variables else variables[key]
        weights[f"{layer}/{leaf[parts[-1]]}"] = np.asarray(value, np.float32)
    return weights, skipped


def load_segnet_tkuanlun(model, source, strict: bool = True, ema: bool = True):
    """Load a tkuanlun350/Tensorflow-SegNet checkpoint into ``SegNetBasic(unpool="deconv",
    decoder_bias=True)``.

    Args:
        source: a TF checkpoint prefix (read with ``tf.train.load_checkpoint``: tensors only,
            no code) or a dict ``{tkuanlun variable name: array}``.
        ema: use the moving-average shadows as tkuanlun's ``test()`` does
            (:func:`segnet_tkuanlun_to_keras`).

    Returns:
        :class:`reprokit.weights.LoadReport`; strict by default.
    """

    if isinstance(source, str):
        reader = tf.train.load_checkpoint(source)
        variables = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
        where = source
    else:
        variables, where = dict(source), "tkuanlun variables"
    weights, skipped = segnet_tkuanlun_to_keras(variables, ema)
    return assign_weights(model, weights, strict=strict, skipped=skipped, source=where)


__all__ = ["BilinearDeconvInit", "DeconvToSize", "LocalResponseNorm", "MaxPoolWithArgmax",
           "MaxUnpool", "SegNetBasic", "load_segnet_tkuanlun", "segnet_tkuanlun_to_keras"]
