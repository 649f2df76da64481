"""Stacked hourglass network with every block variant of the CV701 study (plus PRM and HRU).

Reference:
    Newell, Yang, Deng, "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016
    (topology, Fig. 3-4); the CV701 Assignment-4 report, Sec. 3.4 and Table 1 (block variants);
    bearpaw/pytorch-pose ``pose/models/hourglass.py`` = anibali/pytorch-stacked-hourglass
    ``model.py`` (what the CV701 numbers were trained with; default stem "bearpaw");
    princeton-vl/pytorch_stacked_hourglass ``models/posenet.py`` (stem "newell");
    Yang et al. ICCV 2017 (PRM) and Chu et al. CVPR 2017 (HRU). Measured facts and the spec:
    ``docs/reference/hourglass.md`` §1-§3, §6, §7.

Layout (timm order): the blocks, their options and registry are in :mod:`hourglass.blocks`;
here are the input normalisation, the stems and the builder.

Deviations:
    * PRM's fractional max-pooling (``nn.SpatialFractionalMaxPooling`` in PyraNet) is replaced by
      a bilinear resize to ``floor(H * 2^(-c/C))``; it has no parameters, so counts are exact.
    * Initialisers follow PyTorch's defaults (``U(+-1/sqrt(fan_in))`` for kernels and biases), so
      freshly built models match the reference statistically, not value for value.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from hourglass.blocks import BLOCKS, BlockOptions, bn_relu, conv
from reprokit.layers import NearestUpSampling2D

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
STEMS = ("bearpaw", "newell", "patchify")

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
    low = NearestUpSampling2D(2, interpolation="nearest", name=f"{name}{n}_up")(low)
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
    if any(side is not None and side % factor for side in input_shape[:2]):   # None: any size
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
