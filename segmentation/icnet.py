"""ICNet (hellochick/ICNet-tensorflow ``ICNet_BN``) for 25-class body-part segmentation.

Reference: Borrego Carazo (2018), thesis Sec. 3.2 (source 003 in docs/reference/README.md);
hellochick/ICNet-tensorflow ``model.py`` / ``network.py`` (layer names, topology, caffe
``interp`` sizes, BN switches, SAME padding of the stride-2 convs). Measured facts and the
spec: ``docs/reference/segmentation.md`` §1.2 and "Spec for our Keras implementation" §A, §H.

Deviations:
    Layer names replace hellochick's ``/`` (``conv2_1/relu``) with ``_`` (Keras names cannot
    contain ``/``); :func:`load_icnet_npy` maps the ``.npy`` keys, which never use ``/``.
"""
from __future__ import annotations

import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from reprokit.layers import SwitchableBatchNormalization
from reprokit.safeload import load_npy
from reprokit.weights import assign_weights

NUM_CLASSES = 25
#: hellochick ``network.py`` batch_normalization: momentum 0.95, epsilon 1e-5.
ICNET_BN = {"momentum": 0.95, "epsilon": 1e-5}
#: ICNet's image mean, BGR order (hellochick ``IMG_MEAN``), subtracted from BGR input.
ICNET_MEAN_BGR = (103.939, 116.779, 123.68)


# --------------------------------------------------------------------------------- ICNet
def caffe_interp_size(size: int, shrink: float | None = None, zoom: float | None = None) -> int:
    """hellochick ``interp``: shrink ``(h - 1) * s + 1``, zoom ``h + (h - 1) * (z - 1)``, truncated."""
    if shrink is not None:
        size = (size - 1) * shrink + 1
    if zoom is not None:
        size = size + (size - 1) * (zoom - 1)
    return int(size)


def _static_hw(t):
    """``t``'s spatial size as Python ints when known (keeps shapes static in every trace,
    e.g. a SavedModel export), else the dynamic ``tf.shape``."""
    hw = t.shape[1:3]
    return list(hw) if None not in hw else tf.shape(t)[1:3]


def _interp_hw(hw, shrink, zoom):
    if isinstance(hw, list):                 # static: the same float32 arithmetic in numpy
        return [int(_interp_hw_np(v, shrink, zoom)) for v in hw]
    out = tf.cast(hw, tf.float32)
    if shrink is not None:
        out = (out - 1.0) * shrink + 1.0
    if zoom is not None:
        out = out + (out - 1.0) * (zoom - 1.0)
    return tf.cast(out, tf.int32)            # truncation, as int() in the reference


def _interp_hw_np(v, shrink, zoom):
    out = np.float32(v)
    if shrink is not None:
        out = (out - np.float32(1.0)) * np.float32(shrink) + np.float32(1.0)
    if zoom is not None:
        out = out + (out - np.float32(1.0)) * (np.float32(zoom) - np.float32(1.0))
    return np.int32(out)


@keras.saving.register_keras_serializable(package="segmentation")
class CaffeInterp(layers.Layer):
    """Bilinear resize with ``align_corners=True`` to the caffe ``interp`` size (shrink or zoom
    factor), or to the spatial size of a second input (``call(x, like)``)."""

    def __init__(self, shrink: float | None = None, zoom: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.shrink, self.zoom = shrink, zoom

    def call(self, x, like=None):
        size = _static_hw(like) if like is not None else _interp_hw(_static_hw(x),
                                                                    self.shrink, self.zoom)
        # ResizeBilinear returns float32 for every input: cast back (mixed precision)
        return tf.cast(tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=True,
                                                 half_pixel_centers=False), x.dtype)

    def compute_output_shape(self, x_shape, like_shape=None):
        if like_shape is not None:
            return (x_shape[0], like_shape[1], like_shape[2], x_shape[-1])
        hw = [None if d is None else caffe_interp_size(d, self.shrink, self.zoom)
              for d in x_shape[1:3]]
        return (x_shape[0], *hw, x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "shrink": self.shrink, "zoom": self.zoom}


@keras.saving.register_keras_serializable(package="segmentation")
class ResizeAdd(layers.Layer):
    """hellochick ``add``: resize input 0 to input 1's size (bilinear, TF1 legacy
    ``align_corners=False``), then sum. Absorbs the off-by-one sizes of non-``32k+1`` inputs."""

    def call(self, a, b):
        a = tf.raw_ops.ResizeBilinear(images=a, size=_static_hw(b), align_corners=False,
                                      half_pixel_centers=False)
        return tf.cast(a, b.dtype) + b

    def compute_output_shape(self, a_shape, b_shape):
        return b_shape


@keras.saving.register_keras_serializable(package="segmentation")
class PyramidAvgPool(layers.Layer):
    """ICNet_BN pyramid pooling branch: average pool with kernel = stride = ``floor(h / bins)``
    (VALID), then bilinear resize (align_corners) back to the input size."""

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.bins = int(bins)

    def call(self, x):
        hw = _static_hw(x)
        k = self._static_k(x)       # the kernel depends on the input size: a static one
        pooled = tf.nn.avg_pool2d(x, ksize=k, strides=k, padding="VALID")
        return tf.cast(tf.raw_ops.ResizeBilinear(images=pooled, size=hw, align_corners=True,
                                                 half_pixel_centers=False), x.dtype)

    def compute_output_shape(self, shape):
        return shape

    def _static_k(self, x):
        h, w = x.shape[1], x.shape[2]
        if h is None or w is None:
            raise ValueError("PyramidAvgPool needs a static spatial size (build ICNet with a "
                             "fixed input_shape)")
        return [max(h // self.bins, 1), max(w // self.bins, 1)]

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


def _bn(x, name, relu):
    x = SwitchableBatchNormalization(name=name, **ICNET_BN)(x)
    return layers.ReLU(name=name.replace("_bn", "") + "_relu" if relu else None)(x) if relu else x


def _icnet_conv(x, filters, k, name, strides=1, dilation=1, bn=True, relu=True, bias=False,
                same=False):
    """hellochick conv + BN (+ ReLU).

    ``same=True`` is hellochick's ``padding='SAME'`` (the three stem convs and the three
    stride-2 convs of the full-resolution branch): TF ``SAME`` pads ``(k - 1) // 2`` before and
    the rest after, so a stride-2 3x3 conv on an even side pads 0 before and 1 after. Every
    other 3x3 conv follows one of hellochick's explicit ``zero_padding`` layers (symmetric
    ``dilation * (k // 2)``) and runs ``VALID``.
    """
    if k > 1 and not same:
        pad = dilation * (k // 2)
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, k, strides=strides, dilation_rate=dilation,
                      padding="same" if same else "valid", use_bias=bias, name=name)(x)
    if bn:
        x = SwitchableBatchNormalization(name=f"{name}_bn", **ICNET_BN)(x)
        if relu:
            x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def _bottleneck(x, name, mid, out, fs, stride=1, dilation=1, project=False):
    """1x1 reduce (cbr) -> 3x3 (cbr, dilated) -> 1x1 increase (cb) + shortcut, ReLU after add."""
    shortcut = (_icnet_conv(x, out * fs, 1, f"{name}_1x1_proj", strides=stride, relu=False)
                if project else x)
    y = _icnet_conv(x, mid * fs, 1, f"{name}_1x1_reduce", strides=stride)
    y = _icnet_conv(y, mid * fs, 3, f"{name}_3x3", dilation=dilation)
    y = _icnet_conv(y, out * fs, 1, f"{name}_1x1_increase", relu=False)
    y = layers.Add(name=name)([shortcut, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def ICNet(num_classes: int = NUM_CLASSES, filter_scale: int = 1, input_shape=(321, 321, 3),
          pool_bins=(1, 2, 3, 4), name: str | None = None) -> keras.Model:
    """ICNet_BN of hellochick/ICNet-tensorflow (docs/reference/segmentation.md §1.2, spec §A.1).

    Args:
        num_classes: 25 (SURREAL: background + 24 SMPL parts).
        filter_scale: 1 (the pruned ICNet of the released Cityscapes weights; 6,738,955
            parameters at 25 classes) or 2 (the "doubled filters" ablation, 26,812,363).
            Multiplies every conv except the three classifiers.
        input_shape: ``(H, W, 3)`` BGR minus :data:`ICNET_MEAN_BGR`; sizes ``32k + 1`` give
            clean maps (321 -> 21 / 41 / 81; 320 -> 19 / 39 / 79).
        pool_bins: pyramid pooling bins; ICNet_BN uses 1, 2, 3 and 4 (the layer named
            ``conv5_3_pool6`` pools h/4), summed with conv5_3 (no concat, no 1x1).

    Returns:
        ``keras.Model`` with outputs ``[sub4_out (H/16), sub24_out (H/8), conv6_cls (H/4)]``,
        logits; every BatchNorm is a :class:`reprokit.layers.SwitchableBatchNormalization`
        (``update_moving_stats``, ``train_affine``; momentum 0.95, eps 1e-5).
    """
    if filter_scale not in (1, 2):
        raise ValueError(f"filter_scale must be 1 or 2, got {filter_scale!r}")
    fs = filter_scale
    inputs = keras.Input(input_shape, name="data")
    # 1/2 branch: stem, conv2_x, conv3_1 on the half-resolution image
    x = CaffeInterp(shrink=0.5, name="data_sub2")(inputs)
    x = _icnet_conv(x, 32 * fs, 3, "conv1_1_3x3_s2", strides=2, same=True)
    x = _icnet_conv(x, 32 * fs, 3, "conv1_2_3x3", same=True)
    x = _icnet_conv(x, 64 * fs, 3, "conv1_3_3x3", same=True)
    x = layers.ZeroPadding2D(1, name="padding0")(x)
    x = layers.MaxPooling2D(3, 2, padding="valid", name="pool1_3x3_s2")(x)
    x = _bottleneck(x, "conv2_1", 32, 128, fs, project=True)
    x = _bottleneck(x, "conv2_2", 32, 128, fs)
    x = _bottleneck(x, "conv2_3", 32, 128, fs)
    f2 = _bottleneck(x, "conv3_1", 64, 256, fs, stride=2, project=True)
    # 1/4 branch: continues from conv3_1 at half its resolution
    x = CaffeInterp(shrink=0.5, name="conv3_1_sub4")(f2)
    for i in (2, 3, 4):
        x = _bottleneck(x, f"conv3_{i}", 64, 256, fs)
    x = _bottleneck(x, "conv4_1", 128, 512, fs, dilation=2, project=True)
    for i in range(2, 7):
        x = _bottleneck(x, f"conv4_{i}", 128, 512, fs, dilation=2)
    x = _bottleneck(x, "conv5_1", 256, 1024, fs, dilation=4, project=True)
    x = _bottleneck(x, "conv5_2", 256, 1024, fs, dilation=4)
    x = _bottleneck(x, "conv5_3", 256, 1024, fs, dilation=4)
    names = {1: "conv5_3_pool1", 2: "conv5_3_pool2", 3: "conv5_3_pool3", 4: "conv5_3_pool6"}
    pooled = [PyramidAvgPool(b, name=names.get(b, f"conv5_3_pool_b{b}"))(x) for b in pool_bins]
    x = layers.Add(name="conv5_3_sum")([x, *pooled])
    x = _icnet_conv(x, 256 * fs, 1, "conv5_4_k1")
    x = CaffeInterp(zoom=2, name="conv5_4_interp")(x)
    sub4_out = layers.Conv2D(num_classes, 1, name="sub4_out")(x)
    # CFF 1: F1 (1/4 branch, upsampled) with F2 (conv3_1)
    a = _icnet_conv(x, 128 * fs, 3, "conv_sub4", dilation=2, relu=False)
    b = _icnet_conv(f2, 128 * fs, 1, "conv3_1_sub2_proj", relu=False)
    x = layers.ReLU(name="sub24_sum_relu")(ResizeAdd(name="sub24_sum")(a, b))
    x = CaffeInterp(zoom=2, name="sub24_sum_interp")(x)
    sub24_out = layers.Conv2D(num_classes, 1, name="sub24_out")(x)
    # full-resolution branch
    y = _icnet_conv(inputs, 32 * fs, 3, "conv1_sub1", strides=2, same=True)
    y = _icnet_conv(y, 32 * fs, 3, "conv2_sub1", strides=2, same=True)
    y = _icnet_conv(y, 64 * fs, 3, "conv3_sub1", strides=2, same=True)
    y = _icnet_conv(y, 128 * fs, 1, "conv3_sub1_proj", relu=False)
    # CFF 2
    a = _icnet_conv(x, 128 * fs, 3, "conv_sub2", dilation=2, relu=False)
    x = layers.ReLU(name="sub12_sum_relu")(ResizeAdd(name="sub12_sum")(a, y))
    x = CaffeInterp(zoom=2, name="sub12_sum_interp")(x)
    cls = layers.Conv2D(num_classes, 1, name="conv6_cls")(x)
    return keras.Model(inputs, [sub4_out, sub24_out, cls], name=name or f"icnet_fs{fs}")


def icnet_predict(model, images_bgr_minus_mean, size=None):
    """Inference as hellochick: ``conv6_cls`` upsampled (bilinear, align_corners) to ``size``
    (default: the input size), then argmax. Returns int32 ``(N, H, W)``."""
    out = model(images_bgr_minus_mean, training=False)
    logits = out[-1] if isinstance(out, (list, tuple)) else out
    size = size or tuple(images_bgr_minus_mean.shape[1:3])
    up = tf.raw_ops.ResizeBilinear(images=logits, size=size, align_corners=True,
                                   half_pixel_centers=False)
    return tf.argmax(up, -1, output_type=tf.int32).numpy()


def icnet_preprocess(rgb_uint8):
    """RGB uint8 -> BGR float minus :data:`ICNET_MEAN_BGR` (hellochick's reader)."""
    x = np.asarray(rgb_uint8, np.float32)[..., ::-1]
    return x - np.asarray(ICNET_MEAN_BGR, np.float32)


def load_icnet_npy(model, path: str, strict: bool = True, exclude=()):
    """Load a caffe-tensorflow ``.npy`` dict (``{layer: {param: array}}``, hellochick's
    ``icnet_cityscapes_*_bnnomerge.npy``) by layer name: conv ``weights``/``biases``; BN
    ``scale``/``offset``/``mean``/``variance``.

    The file is read with :func:`reprokit.safeload.load_npy`: its pickled dict is rebuilt from
    numpy arrays and containers only, and a file that names any other callable is refused
    before anything runs (``np.load(allow_pickle=True)`` would run it).

    Args:
        strict: raise :class:`reprokit.weights.WeightLoadError` unless every array is used and
            every weight assigned with its shape (the default, as every loader here).
        exclude: layer names whose arrays are skipped and whose weights may stay unassigned,
            e.g. ``("sub4_out", "sub24_out", "conv6_cls")`` to start the 25-class SURREAL
            classifiers fresh from the 19-class Cityscapes weights.

    Returns:
        :class:`reprokit.weights.LoadReport`.
    """

    data = load_npy(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a pickled dict of layers, got {type(data).__name__}")
    names = {"weights": "kernel", "biases": "bias", "scale": "gamma", "offset": "beta",
             "mean": "moving_mean", "variance": "moving_variance"}
    exclude = tuple(exclude)
    weights, unused = {}, []
    for layer, params in data.items():
        layer = layer if isinstance(layer, str) else layer.decode()
        if not isinstance(params, dict):
            raise ValueError(f"{path}: layer {layer!r} holds a {type(params).__name__}, expected "
                             "a dict of parameters")
        for param, value in params.items():
            key = param if isinstance(param, str) else param.decode()
            if layer in exclude or key not in names:
                unused.append(f"{layer}/{key}")
            else:
                weights[f"{layer}/{names[key]}"] = np.asarray(value, np.float32)
    return assign_weights(model, weights, strict=strict, skipped=unused, source=path,
                          allow_missing=[rf"^{re.escape(name)}/" for name in exclude])


__all__ = ["CaffeInterp", "ICNET_BN", "ICNET_MEAN_BGR", "ICNet", "NUM_CLASSES", "PyramidAvgPool",
           "ResizeAdd", "caffe_interp_size", "icnet_predict", "icnet_preprocess",
           "load_icnet_npy"]
