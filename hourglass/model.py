"""Stacked hourglass network with every block variant of the CV701 study (plus PRM and HRU).

Reference:
    Newell, Yang, Deng, "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016
    (topology, Fig. 3-4); the CV701 Assignment-4 report, Sec. 3.4 and Table 1 (block variants);
    bearpaw/pytorch-pose ``pose/models/hourglass.py`` = anibali/pytorch-stacked-hourglass
    ``model.py`` (what the CV701 numbers were trained with; default stem "bearpaw");
    princeton-vl/pytorch_stacked_hourglass ``models/posenet.py`` (stem "newell");
    Yang et al. ICCV 2017 (PRM) and Chu et al. CVPR 2017 (HRU). Measured facts and the spec:
    ``docs/reference/hourglass.md`` §1-§3, §6, §7.

Layout (timm order): spec tables, initialisers and conv helpers, blocks and their registry,
stems, the builder.

Deviations:
    * PRM's fractional max-pooling (``nn.SpatialFractionalMaxPooling`` in PyraNet) is replaced by
      a bilinear resize to ``floor(H * 2^(-c/C))``; it has no parameters, so counts are exact.
    * Initialisers follow PyTorch's defaults (``U(+-1/sqrt(fan_in))`` for kernels and biases), so
      freshly built models match the reference statistically, not value for value.
"""
from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf
from keras import layers

#: anibali ``datasets/mpii.py`` RGB mean (docs/reference/hourglass.md §2.2), subtracted by the
#: anibali / CV701 recipe; the std is unused there. princeton-vl subtracts nothing.
MPII_MEAN = (0.4404, 0.4440, 0.4327)


def normalize_image(image, mean=None):
    """The hourglass input: uint8 RGB -> float32 in [0, 1], minus ``mean`` if given (anibali
    ``color_normalize`` with :data:`MPII_MEAN`; princeton-vl: ``/ 255`` only). Used by training,
    evaluation and prediction alike."""
    x = tf.cast(image, tf.float32) / 255.0
    if mean is not None:
        x = x - tf.constant(mean, tf.float32)
    return x

# BatchNorm as in PyTorch: momentum 0.1 (Keras 0.9), eps 1e-5 (docs/reference/hourglass.md §7).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

STEMS = ("bearpaw", "newell", "patchify")


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
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
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
    p = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_pool_up")(p)
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


# ----------------------------------------------------------------------------- network
def _blocks(x, out_channels, name, block, options, num_blocks):
    for i in range(num_blocks):
        x = block(x, out_channels, f"{name}_r{i}", options)
    return x


def _stem(x, stem, block, options, num_features, stride=2, pool=True):
    """7x7/2 conv (3x3/2 for patchify) + BN + ReLU, block, max-pool, two blocks (to 64x64).

    bearpaw: block(64->128), pool, block(128->2f), block(2f->2f) (the ``layer2`` planes quirk,
    +160,512 parameters over Newell); newell: block(64->128), pool, block(128->128),
    block(128->2f) (docs/reference/hourglass.md §1.2, §2.1).
    """
    width = 2 * num_features
    if stem == "patchify":
        x = conv(x, 64, 3, "stem_conv", strides=stride)   # CV701 Sec. 3.4.2
    else:
        x = conv(x, 64, 7, "stem_conv", strides=stride)
    x = bn_relu(x, "stem")
    x = block(x, 128, "stem_block1", options)
    if pool:
        x = layers.MaxPooling2D(2, name="stem_pool")(x)
    if stem == "newell":
        x = block(x, 128, "stem_block2", options)
        return block(x, width, "stem_block3", options)
    x = block(x, width, "stem_block2", options)
    return block(x, width, "stem_block3", options)


def _hourglass(x, n, name, block, options, num_blocks):
    """Recursive hourglass (Newell et al. 2016, Fig. 3): 3n + 1 block positions."""
    channels = x.shape[-1]
    up1 = _blocks(x, channels, f"{name}{n}_up1", block, options, num_blocks)
    low = layers.MaxPooling2D(2, name=f"{name}{n}_pool")(x)
    low = _blocks(low, channels, f"{name}{n}_low1", block, options, num_blocks)
    if n > 1:
        low = _hourglass(low, n - 1, name, block, options, num_blocks)
    else:
        low = _blocks(low, channels, f"{name}{n}_low2", block, options, num_blocks)
    low = _blocks(low, channels, f"{name}{n}_low3", block, options, num_blocks)
    low = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}{n}_up")(low)
    return layers.Add(name=f"{name}{n}_add")([up1, low])


def build_stacked_hourglass(num_stacks: int = 2, num_keypoints: int = 16, block: str = "bottleneck",
                            stem: str = "bearpaw", num_features: int = 128, depth: int = 4,
                            num_blocks: int = 1, input_shape=(256, 256, 3),
                            block_options: BlockOptions | None = None,
                            name: str | None = None, *, stem_stride: int = 2,
                            stem_pool: bool = True, head_name: str = "heatmaps",
                            aux_heads: dict | None = None) -> keras.Model:
    """Build the stacked hourglass with intermediate supervision.

    Reference: Newell et al. 2016, Sec. 3; CV701 report Sec. 3.1 and Table 1; spec in
    docs/reference/hourglass.md §7.

    Args:
        num_stacks: hourglasses; one heatmap output per stack. Defaults to 2 (CV701 baseline).
        num_keypoints: heatmap channels. Defaults to 16 (MPII).
        block: a key of :data:`BLOCKS`. Defaults to ``"bottleneck"``.
        stem: ``"bearpaw"`` (default; what CV701 ran), ``"newell"`` (princeton-vl / Newell) or
            ``"patchify"`` (3x3 stride-2 stem conv, CV701 Sec. 3.4.2, bearpaw otherwise).
        num_features: bottleneck "planes"; the trunk has ``2 * num_features`` channels. Defaults
            to 128 (bearpaw ``num_feats``; a 256-channel trunk as in Newell).
        depth: hourglass recursion depth (4: 64 -> 4 px at 256 input).
        num_blocks: blocks per hourglass position and in each stack head (bearpaw ``num_blocks``).
        input_shape: ``(H, W, 3)``; H and W must be divisible by ``4 * 2**depth``.
        block_options: :class:`BlockOptions` (depthwise biases, PRM widths).
        name: model name; defaults to ``hg{num_stacks}_{block}_{stem}``.
        stem_stride, stem_pool: the stem's first conv stride and its max-pool. ``1`` and
            ``False`` keep the input resolution (the thesis' segmentation hourglass,
            docs/reference/segmentation.md Addendum); neither changes the parameter count.
        head_name: output layer suffix (``stack{s}_<head_name>``).
        aux_heads: ``{name: channels}`` parallel 1x1 heads per stack on the same features,
            each with its own remap conv into the next stack's input (the thesis' joint
            branch). ``num_keypoints`` may be a per-stack sequence (progressive ground truth).

    Returns:
        A ``keras.Model`` mapping ``(N, H, W, 3)`` float images to a list of ``num_stacks``
        tensors ``(N, H/4, W/4, num_keypoints)`` named ``stack{s}_heatmaps`` (with
        ``aux_heads``, each stack's main output is followed by its auxiliary outputs
        ``stack{s}_<name>``). Keras unwraps a one-element output list, so a 1-stack model
        returns the bare tensor; use :func:`stack_outputs` to always get a list.

    Deviations:
        See the module docstring (PRM pooling, initialiser statistics).
    """
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; valid: {sorted(BLOCKS)}")
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; valid: {list(STEMS)}")
    per_stack = ([num_keypoints] * num_stacks if isinstance(num_keypoints, int)
                 else list(num_keypoints))
    if len(per_stack) != num_stacks:
        raise ValueError(f"num_keypoints needs one entry per stack ({num_stacks}), got "
                         f"{num_keypoints!r}")
    for arg, value in (("num_stacks", num_stacks), ("num_features", num_features),
                       ("depth", depth), ("num_blocks", num_blocks), *(
                           ("num_keypoints", k) for k in per_stack)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (H, W, 3), got {input_shape!r}")
    down = stem_stride * (2 if stem_pool else 1)
    factor = down * 2 ** depth
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(f"input height and width must be divisible by {down} * 2**depth = "
                         f"{factor}, got {tuple(input_shape[:2])}")
    options = block_options or BlockOptions()
    fn = BLOCKS[block]
    inputs = keras.Input(input_shape, name="image")
    x = _stem(inputs, stem, fn, options, num_features, stem_stride, stem_pool)
    width = 2 * num_features
    outputs = []
    for s in range(num_stacks):
        y = _hourglass(x, depth, f"stack{s}_hg", fn, options, num_blocks)
        y = _blocks(y, width, f"stack{s}_res", fn, options, num_blocks)
        y = bn_relu(conv(y, width, 1, f"stack{s}_fc_conv"), f"stack{s}_fc")
        heads = [(head_name, per_stack[s])] + list((aux_heads or {}).items())
        scores = [conv(y, c, 1, f"stack{s}_{h}") for h, c in heads]
        outputs += scores
        if s < num_stacks - 1:
            x = layers.Add(name=f"stack{s}_merge")([
                x, conv(y, width, 1, f"stack{s}_merge_features"),
                *(conv(sc, width, 1, f"stack{s}_merge_{h}") for (h, _), sc in zip(heads, scores))])
    return keras.Model(inputs, outputs, name=name or f"hg{num_stacks}_{block}_{stem}")


def stack_outputs(outputs) -> list:
    """The per-stack heatmaps as a list, also for 1-stack models (Keras unwraps singletons)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def fuse_stacks(outputs, stack_weights):
    """Weighted sum of the stack heatmaps, ``sum_s w_s * hm_s`` (CV701 weighted-sum rows, Table 1).

    Args:
        outputs: per-stack heatmaps (list of arrays or tensors of equal shape).
        stack_weights: one weight per stack, e.g. ``(0.3, 0.7)``.
    """
    outputs = stack_outputs(outputs)
    if len(stack_weights) != len(outputs):
        raise ValueError(f"need one weight per stack ({len(outputs)}), got {tuple(stack_weights)}")
    return sum(w * o for w, o in zip(stack_weights, outputs))
