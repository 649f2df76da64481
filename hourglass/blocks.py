"""The residual blocks of the CV701 study (and PRM, HRU), their options and registry.

Each block maps ``(x, out_channels, name, options)`` to a tensor (Keras functional API); the
builder in :mod:`hourglass.model` picks one by name from :data:`BLOCKS`. References and
deviations: :mod:`hourglass.model`; docs/reference/hourglass.md §3, §6, §7.
"""
from __future__ import annotations

import dataclasses
import math

import keras
from keras import layers

from reprokit.layers import FusedBatchNormalization, NearestUpSampling2D

# BatchNorm as in PyTorch: momentum 0.1 (Keras 0.9), eps 1e-5 (docs/reference/hourglass.md §7).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """Knobs of the block variants that are not the variant name itself.

    Attributes:
        ds_dw_bias: bias on the depthwise conv of a depthwise-separable pair; ``None`` = the
            variant's default: ``ds3`` has none (single bias, 2.80M as CV701 Table 1 prints),
            every other variant has one (``ds_all``: 2.92M); docs/reference/hourglass.md §3.
        ds_pw_bias: bias on the pointwise conv.
        prm_base_width: PRM ``baseWidth`` (pyramid width D = floor(out / baseWidth)); 9 as in
            PyraNet ``PRM.lua``.
        prm_cardinality: PRM ``cardinality`` (number of pyramid levels C); 4 as in ``PRM.lua``.
    """

    ds_dw_bias: bool | None = None
    ds_pw_bias: bool = True
    prm_base_width: int = 9
    prm_cardinality: int = 4


# ----------------------------------------------------------------------------- helpers
def _uniform(fan_in: int):
    """PyTorch's default for conv kernels and biases: ``U(+-1/sqrt(fan_in))``.

    kaiming_uniform(a=sqrt(5)) gives the bound ``sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in)``.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def conv(x, filters: int, kernel_size: int, name: str, strides: int = 1, dilation: int = 1,
         use_bias: bool = True):
    """Conv2D with PyTorch padding semantics and initialisation.

    Stride 1 uses ``'same'`` (symmetric for odd kernels); stride > 1 pads ``kernel_size // 2`` on
    every side and uses ``'valid'``, as PyTorch does (Keras ``'same'`` would pad 2/3 for a 7x7
    stride-2 conv and shift ported weights; docs/reference/feasibility.md §3).
    """
    fan_in = x.shape[-1] * kernel_size * kernel_size
    padding = "same"
    if strides > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                         dilation_rate=dilation, use_bias=use_bias, name=name,
                         kernel_initializer=_uniform(fan_in), bias_initializer=_uniform(fan_in))(x)


def separable(x, filters: int, name: str, dilation: int = 1, dw_bias: bool | None = True,
              pw_bias: bool = True):
    """Depthwise 3x3 (``{name}_dw``) then pointwise 1x1 (``{name}_pw``), nothing in between.

    Separate layers, not ``SeparableConv2D``, so each may carry its own bias (§7).
    """
    dw_bias = True if dw_bias is None else dw_bias
    x = layers.DepthwiseConv2D(3, padding="same", dilation_rate=dilation, use_bias=dw_bias,
                               name=f"{name}_dw", depthwise_initializer=_uniform(9),
                               bias_initializer=_uniform(9))(x)
    return conv(x, filters, 1, f"{name}_pw", use_bias=pw_bias)


def bn_relu(x, name: str):
    x = FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _skip(x, out_channels: int, name: str):
    """Identity if the channels match, else a 1x1 projection with bias (no BN, no ReLU)."""
    if x.shape[-1] == out_channels:
        return x
    return conv(x, out_channels, 1, f"{name}_skip")


# ----------------------------------------------------------------------------- blocks
# Every block: (x, out_channels, name, options) -> tensor; mid = out / 2 (bearpaw "planes").
def bottleneck_block(x, out_channels, name, options, dilation=1, skip=True, ds=()):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1, plus the skip.

    Newell et al. 2016, Fig. 4 left; bearpaw ``Bottleneck`` with expansion 2. ``ds`` lists the
    convs (1, 2, 3) replaced by depthwise-separable pairs (CV701 Fig. 4b/4c).
    """
    mid = out_channels // 2
    y = bn_relu(x, f"{name}_1")
    y = (separable(y, mid, f"{name}_conv1", 1, options.ds_dw_bias, options.ds_pw_bias) if 1 in ds
         else conv(y, mid, 1, f"{name}_conv1"))
    y = bn_relu(y, f"{name}_2")
    y = (separable(y, mid, f"{name}_conv2", dilation, options.ds_dw_bias, options.ds_pw_bias)
         if 2 in ds else conv(y, mid, 3, f"{name}_conv2", dilation=dilation))
    y = bn_relu(y, f"{name}_3")
    y = (separable(y, out_channels, f"{name}_conv3", 1, options.ds_dw_bias, options.ds_pw_bias)
         if 3 in ds else conv(y, out_channels, 1, f"{name}_conv3"))
    if not skip:
        return y
    return layers.Add(name=f"{name}_add")([_skip(x, out_channels, name), y])


def dilated_block(x, out_channels, name, options):
    """Bottleneck with dilation 2 on the 3x3 (CV701 Sec. 3.4.1, Fig. 4a)."""
    return bottleneck_block(x, out_channels, name, options, dilation=2)


def no_skip_block(x, out_channels, name, options):
    """Bottleneck without the residual addition or projection (CV701 Sec. 3.4.3, Fig. 3b)."""
    return bottleneck_block(x, out_channels, name, options, skip=False)


def ds_all_block(x, out_channels, name, options):
    """All three convs as 3x3 depthwise-separable pairs (CV701 Sec. 3.4.4, Fig. 4b)."""
    return bottleneck_block(x, out_channels, name, options, ds=(1, 2, 3))


def ds3_block(x, out_channels, name, options):
    """Only the 3x3 conv depthwise-separable (CV701 Sec. 3.4.4, Fig. 4c); single bias by default."""
    if options.ds_dw_bias is None:
        options = dataclasses.replace(options, ds_dw_bias=False)
    return bottleneck_block(x, out_channels, name, options, ds=(2,))


def _two_layer_block(x, out_channels, name, options, separable_convs: bool, dilation: int = 1):
    mid = out_channels // 2
    y = bn_relu(x, f"{name}_1")
    y = (separable(y, mid, f"{name}_conv1", dilation, options.ds_dw_bias, options.ds_pw_bias)
         if separable_convs else conv(y, mid, 3, f"{name}_conv1", dilation=dilation))
    y = bn_relu(y, f"{name}_2")
    y = (separable(y, out_channels, f"{name}_conv2", dilation, options.ds_dw_bias, options.ds_pw_bias)
         if separable_convs else conv(y, out_channels, 3, f"{name}_conv2", dilation=dilation))
    return layers.Add(name=f"{name}_add")([_skip(x, out_channels, name), y])


def two_ds_block(x, out_channels, name, options):
    """BN-ReLU-DS(in->mid)-BN-ReLU-DS(mid->out) + skip (CV701 Fig. 4d).

    Gives 2,373,856 parameters for hg2, not the report's 1.90M, which no runnable network
    reaches (docs/reference/hourglass.md §3).
    """
    return _two_layer_block(x, out_channels, name, options, separable_convs=True)


def two_ds_dilated_block(x, out_channels, name, options):
    """``two_ds`` with dilation 2 on both depthwise convs (CV701 Sec. 3.4.5, Fig. 4e)."""
    return _two_layer_block(x, out_channels, name, options, separable_convs=True, dilation=2)


def two_conv_block(x, out_channels, name, options):
    """BN-ReLU-Conv3x3(in->mid)-BN-ReLU-Conv3x3(mid->out) + skip (CV701 Sec. 3.4.6, Fig. 4f)."""
    return _two_layer_block(x, out_channels, name, options, separable_convs=False)


def prm_block(x, out_channels, name, options):
    """Pyramid residual module, PRM-A (Yang et al. 2017, Fig. 3; PyraNet ``PRM.lua``).

    ``skip + Conv1x1(ReLU(BN(main + pyramid)))``: main = BN-ReLU-1x1(in->mid)-BN-ReLU-3x3;
    pyramid = BN-ReLU-1x1(in->D)-BN-ReLU, then the sum over C levels of
    resize(2^(-c/C)) -> 3x3(D->D) -> resize back, then BN-ReLU-1x1(D->mid). Each branch has its
    own pre-activation BN (254,396 parameters for 256->256 with D = 28, C = 4; §6). The skip is a
    BN-ReLU-1x1 projection when channels change.
    """
    mid = out_channels // 2
    d = out_channels // options.prm_base_width
    h, w = x.shape[1], x.shape[2]
    main = conv(bn_relu(x, f"{name}_main_1"), mid, 1, f"{name}_main_conv1")
    main = conv(bn_relu(main, f"{name}_main_2"), mid, 3, f"{name}_main_conv2")
    pyr = conv(bn_relu(x, f"{name}_pyr_1"), d, 1, f"{name}_pyr_conv1")
    pyr = bn_relu(pyr, f"{name}_pyr_2")
    levels = []
    for c in range(1, options.prm_cardinality + 1):
        ratio = 2.0 ** (-c / options.prm_cardinality)
        size = (max(1, int(h * ratio)), max(1, int(w * ratio)))
        y = layers.Resizing(*size, interpolation="bilinear", name=f"{name}_pyr{c}_down")(pyr)
        y = conv(y, d, 3, f"{name}_pyr{c}_conv")
        levels.append(layers.Resizing(h, w, interpolation="bilinear", name=f"{name}_pyr{c}_up")(y))
    pyr = levels[0] if len(levels) == 1 else layers.Add(name=f"{name}_pyr_sum")(levels)
    pyr = conv(bn_relu(pyr, f"{name}_pyr_3"), mid, 1, f"{name}_pyr_conv2")
    y = layers.Add(name=f"{name}_merge")([main, pyr])
    y = conv(bn_relu(y, f"{name}_3"), out_channels, 1, f"{name}_conv3")
    if x.shape[-1] == out_channels:
        skip = x
    else:
        skip = conv(bn_relu(x, f"{name}_skip_1"), out_channels, 1, f"{name}_skip")
    return layers.Add(name=f"{name}_add")([skip, y])


def hru_block(x, out_channels, name, options):
    """Hourglass residual unit (Chu et al. 2017, Fig. 4; pose-attention ``ResidualPool.lua``).

    bottleneck + skip + pooling branch BN-ReLU-MaxPool2-3x3(in->out)-BN-ReLU-3x3-upsample x2
    (1,395,712 parameters for 256->256; docs/reference/hourglass.md §6).
    """
    y = bottleneck_block(x, out_channels, name, options)
    p = bn_relu(x, f"{name}_pool_1")
    p = layers.MaxPooling2D(2, name=f"{name}_pool")(p)
    p = conv(p, out_channels, 3, f"{name}_pool_conv1")
    p = conv(bn_relu(p, f"{name}_pool_2"), out_channels, 3, f"{name}_pool_conv2")
    p = NearestUpSampling2D(2, interpolation="nearest", name=f"{name}_pool_up")(p)
    return layers.Add(name=f"{name}_hru_add")([y, p])


#: Block variants by name (plain dict; docs/style.md habit 2).
BLOCKS = {
    "bottleneck": bottleneck_block,
    "dilated": dilated_block,
    "no_skip": no_skip_block,
    "ds_all": ds_all_block,
    "ds3": ds3_block,
    "two_ds": two_ds_block,
    "two_ds_dilated": two_ds_dilated_block,
    "two_conv": two_conv_block,
    "prm": prm_block,
    "hru": hru_block,
}


__all__ = ["BLOCKS", "BN_EPSILON", "BN_MOMENTUM", "BlockOptions", "bn_relu", "bottleneck_block",
           "conv", "dilated_block", "ds3_block", "ds_all_block", "hru_block", "no_skip_block",
           "prm_block", "separable", "two_conv_block", "two_ds_block", "two_ds_dilated_block"]
