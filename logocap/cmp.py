"""The convolutional message passing (CMP) net of LOGO-CAP and its attentive batch norm.

Facts of the released code (``cherubicXN/logocap`` @39d104f, measured by running it: golden file
``tests/data/parity/logocap_head.npz``; docs/reference/logocap_metrics_ecosystem.md §1.2):

- input: the 64-channel embedding sampled at the 11 x 11 local KEM of each of the 17 initial
  keypoints, ``(N, 11, 11, 17 * 64)`` (channel ``k * 64 + c``);
- 3x3 convs (no bias, "same" padding) to 512, 256 and 128 channels, each followed by a norm and
  ReLU; the norm of the 256-channel conv is :class:`AttentiveBatchNorm` with 20 affine
  transforms (``AN_NUM_AFFINE``), the others plain batch norm (``USE_AN: [False, True,
  False]``);
- a 1x1 conv (with bias) to 17 channels: one 11 x 11 keypoint attention map (KAM) per keypoint.

:class:`AttentiveBatchNorm` (arXiv 1908.01259, the reference's ``AttnBatchNorm2d`` with
``use_rsd=True, use_bn=False``): batch norm without its own affine, then per instance an
attention over 20 affine transforms, ``a = hsigmoid(W_att . (mean / sqrt(var + 1e-3)))`` from
the per-channel spatial mean and unbiased variance of the input, and ``out = (a . gamma) *
norm(x) + (a . beta)`` with ``gamma, beta`` of shape ``(20, C)``; ``hsigmoid(x) = relu6(x + 3) /
6``. Initialisation as the reference: ``gamma ~ N(1, 0.1)``, ``beta ~ N(0, 0.1)``, the attention
conv Kaiming-normal (fan out).

Training on padded instances: both layers take a ``mask`` ``(N,)`` (True for the instances the
reference would keep); batch statistics are computed over the kept instances only, so padding
never changes the normalisation (the reference concatenates the kept instances instead).
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

#: Channel widths and attentive-norm switches of the CMP convs (reference ``CONV_MSG_PASSING``).
WIDTHS = (512, 256, 128)
USE_AN = (False, True, False)
NUM_AFFINE = 20
#: PyTorch BatchNorm2d defaults (momentum 0.1 = Keras 0.9, eps 1e-5).
BN = {"momentum": 0.9, "epsilon": 1e-5}


def hsigmoid(x):
    return tf.nn.relu6(x + 3.0) / 6.0


@keras.saving.register_keras_serializable(package="logocap")
class AttentiveBatchNorm(layers.Layer):
    """Batch norm with an attention-weighted mixture of ``num_affine`` affine transforms
    (module docstring). ``call(x, training, mask)``; ``mask`` ``(N,)`` selects the instances
    whose statistics count in training."""

    def __init__(self, num_affine: int = NUM_AFFINE, eps_var: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.num_affine = int(num_affine)
        self.eps_var = float(eps_var)
        self.supports_masking = True           # ``mask`` selects instances for the statistics
        self.norm = layers.BatchNormalization(center=False, scale=False, name="bn", **BN)

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.norm.build(input_shape)
        self.attention = self.add_weight(
            name="attention", shape=(c, self.num_affine),
            initializer=keras.initializers.RandomNormal(0.0, (2.0 / self.num_affine) ** 0.5))
        self.gamma = self.add_weight(name="gamma", shape=(self.num_affine, c),
                                     initializer=keras.initializers.RandomNormal(1.0, 0.1))
        self.beta = self.add_weight(name="beta", shape=(self.num_affine, c),
                                    initializer=keras.initializers.RandomNormal(0.0, 0.1))

    def call(self, x, training=None, mask=None):
        bn_mask = None
        if mask is not None:
            bn_mask = tf.broadcast_to(tf.reshape(tf.cast(mask, tf.bool), [-1, 1, 1]), tf.shape(x)[:3])
        out = self.norm(x, training=training, mask=bn_mask)
        mean, var = tf.nn.moments(x, axes=[1, 2])
        n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
        var = var * n / tf.maximum(n - 1.0, 1.0)                      # torch.var_mean: unbiased
        att = hsigmoid(tf.matmul(mean * tf.math.rsqrt(var + self.eps_var), self.attention))
        weight = tf.matmul(att, self.gamma)[:, None, None, :]
        bias = tf.matmul(att, self.beta)[:, None, None, :]
        return weight * out + bias

    def get_config(self):
        return {**super().get_config(), "num_affine": self.num_affine, "eps_var": self.eps_var}


@keras.saving.register_keras_serializable(package="logocap")
class ConvMessagePassing(layers.Layer):
    """The CMP net: ``(N, 11, 11, K * E)`` sampled embeddings -> ``(N, 11, 11, K)`` KAMs."""

    def __init__(self, num_keypoints: int = 17, widths=WIDTHS, use_an=USE_AN,
                 num_affine: int = NUM_AFFINE, **kwargs):
        super().__init__(**kwargs)
        self.num_keypoints = int(num_keypoints)
        self.widths = tuple(int(w) for w in widths)
        self.use_an = tuple(bool(a) for a in use_an)
        self.num_affine = int(num_affine)
        self.supports_masking = True
        self.convs, self.norms = [], []
        for i, (width, an) in enumerate(zip(self.widths, self.use_an)):
            self.convs.append(layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}"))
            self.norms.append(AttentiveBatchNorm(num_affine, name=f"norm{i}") if an
                              else layers.BatchNormalization(name=f"norm{i}", **BN))
        self.out = layers.Conv2D(self.num_keypoints, 1, name="kam")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)
            norm.build(shape)
        self.out.build(shape)

    def call(self, x, training=None, mask=None):
        bn_mask = None
        if mask is not None:
            bn_mask = tf.broadcast_to(tf.reshape(tf.cast(mask, tf.bool), [-1, 1, 1]), tf.shape(x)[:3])
        for conv, norm, an in zip(self.convs, self.norms, self.use_an):
            x = conv(x)
            x = norm(x, training=training, mask=mask if an else bn_mask)
            x = tf.nn.relu(x)
        return self.out(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_keypoints,)

    def get_config(self):
        return {**super().get_config(), "num_keypoints": self.num_keypoints, "widths": self.widths,
                "use_an": self.use_an, "num_affine": self.num_affine}


__all__ = ["AttentiveBatchNorm", "ConvMessagePassing", "NUM_AFFINE", "USE_AN", "WIDTHS", "hsigmoid"]
