"""HandSegNet and PoseNet (Zimmermann & Brox 2017) in two variants, with hand3d's layer names.

``variant="hand3d"`` is the architecture of ``lmb-freiburg/hand3d``'s code
(``nets/ColorHandPose3DNetwork.py``), which every released weight file fits;
``variant="paper"`` is the layer table the seed paper (Sibgrapi 104 supplementary, file 000)
describes. Facts and counts: docs/reference/handpose.md §1 (architectures), §8 (parameter counts),
§12 (spec).

* HandSegNet, hand3d: VGG trunk (conv1_1..conv4_4, conv5_1), conv5_2 3x3 -> 128, conv6_1 1x1
  -> 512, conv6_2 1x1 -> 2 logits; 13,601,986 parameters. Paper: the same trunk and a 1x1 conv
  to 2 logits (named ``conv6_2`` too); 12,945,986.
* PoseNet, hand3d: CPM VGG pose trunk (conv4_3..conv4_7 down to 128 = the *encoding*), conv5_1
  1x1 512, conv5_2 1x1 -> 21 (score map 1); two refinement stages on
  ``concat(previous score map, encoding)`` (149 channels): five 7x7 convs (conv6_1..conv6_5), a
  1x1 (conv6_6) and a 1x1 output (conv6_7); stage 3 = conv7_*. 17,518,847 parameters.
  Paper: trunk of 5 x conv512 (conv4_1..conv4_4, conv5_1 = layer 16), ``stage1_out`` 1x1 -> 21
  (layer 17), stage 2 on ``concat(16, 17)`` (533 ch), stage 3 on ``concat(16, 17, 24)``
  (554 ch), five 7x7 convs (``stage{s}_conv{1..5}``) and a 1x1 output ``stage{s}_out``;
  26,202,623.
* ``refinement="separable"`` (the seed paper's "mixed" PoseNet) replaces the 7x7 convs of the
  refinement stages by Keras ``SeparableConv2D`` (one bias): hand3d 9,461,257, paper 13,336,078
  (``separable_outputs=True`` also makes the 1x1 layers separable: 9,461,769 / 13,336,334).

Every conv: stride 1, ``same`` padding, bias, Glorot-uniform kernels, biases 1e-4
(hand3d ``NetworkOps``), leaky ReLU with slope 0.01 except on logits and score maps. Pooling:
2x2 max, stride 2. Inputs are RGB ``image / 255 - 0.5`` (:func:`preprocess`).

Deviations / open points (docs/reference/handpose.md §12): the paper table's layer 17 and the 1x1
"conv to 2" of the paper HandSegNet are assumed 1x1.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

NUM_KEYPOINTS = 21
VARIANTS = ("hand3d", "paper")
RESIZE_MODES = ("legacy", "half_pixel")


def preprocess(image):
    """uint8 RGB -> float32 ``image / 255 - 0.5`` (hand3d ``BinaryDbReader``)."""
    return tf.cast(image, tf.float32) / 255.0 - 0.5


def bilinear_resize(x, size, mode: str = "legacy"):
    """Bilinear resize of NHWC ``x`` to ``size``: ``"legacy"`` = TF1 ``resize_images``
    (``align_corners=False``, no half-pixel centres; what hand3d trained with), ``"half_pixel"``
    = TF2 / Keras. The one place every handpose resize goes through."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    out = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=False,
                                    half_pixel_centers=mode == "half_pixel")
    dtype = tf.as_dtype(x.dtype)
    # float32 for every input: a bfloat16 / float16 input (mixed precision) gets its dtype back
    return tf.cast(out, dtype) if dtype.is_floating and dtype != out.dtype else out


@keras.saving.register_keras_serializable(package="handpose")
class BilinearResize(layers.Layer):
    """Bilinear resize to ``size``; ``mode="legacy"`` is TF1 ``resize_images`` (no half-pixel
    centres, ``align_corners=False``), which hand3d's weights were trained with; ``"half_pixel"``
    is TF2 / Keras ``resize``. For 32 -> 256 the argmax moves by about 3.5 px between the two
    (docs/reference/handpose.md §0.3)."""

    def __init__(self, size, mode: str = "legacy", **kwargs):
        super().__init__(**kwargs)
        if mode not in RESIZE_MODES:
            raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
        self.size, self.mode = (int(size[0]), int(size[1])), mode

    def call(self, x):
        return bilinear_resize(x, self.size, self.mode)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "mode": self.mode}


def _init():
    return {"kernel_initializer": keras.initializers.GlorotUniform(),
            "bias_initializer": keras.initializers.Constant(1e-4)}


def conv(x, filters: int, kernel: int, name: str, act: bool = True, separable: bool = False):
    """hand3d ``conv``/``conv_relu``: stride 1, same padding, bias, leaky ReLU 0.01 if ``act``."""
    if separable:
        x = layers.SeparableConv2D(filters, kernel, padding="same", depth_multiplier=1,
                                   depthwise_initializer=keras.initializers.GlorotUniform(),
                                   pointwise_initializer=keras.initializers.GlorotUniform(),
                                   bias_initializer=keras.initializers.Constant(1e-4), name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, padding="same", name=name, **_init())(x)
    if act:
        x = layers.LeakyReLU(negative_slope=0.01, name=f"{name}_lrelu")(x)
    return x


def _pool(x, name):
    return layers.MaxPooling2D(2, 2, padding="valid", name=name)(x)


def _vgg_front(x, width: float = 1.0):
    """conv1_1 .. conv3_4 with three pools (stride 8); shared by every model here."""
    for block, (n, filters) in enumerate(((2, 64), (2, 128), (4, 256)), start=1):
        for i in range(1, n + 1):
            x = conv(x, _w(filters, width), 3, f"conv{block}_{i}")
        x = _pool(x, f"pool{block}")
    return x


def _w(filters: int, width: float) -> int:
    return max(1, int(round(filters * width)))


def _check(variant, input_shape):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    h, w = input_shape[:2]
    for side in (h, w):
        if side is not None and side % 8:
            raise ValueError(f"input sides must be divisible by 8 (stride 8), got {input_shape!r}")


def build_handsegnet(variant: str = "hand3d", input_shape=(None, None, 3), resize: str = "legacy",
                     name: str | None = None) -> keras.Model:
    """HandSegNet: ``(N, H, W, 3)`` preprocessed image -> ``[logits (N, H/8, W/8, 2),
    upsampled logits (N, H, W, 2)]`` (channel 0 background, 1 hand).

    The upsampled logits use :class:`BilinearResize` (``resize`` mode); with unknown ``H, W`` the
    second output is resized dynamically to the input size.
    """
    _check(variant, input_shape)
    inp = keras.Input(input_shape, name="image")
    x = _vgg_front(inp)
    for i in range(1, 5):
        x = conv(x, 512, 3, f"conv4_{i}")
    x = conv(x, 512, 3, "conv5_1")
    if variant == "hand3d":
        x = conv(x, 128, 3, "conv5_2")
        x = conv(x, 512, 1, "conv6_1")
    logits = conv(x, 2, 1, "conv6_2", act=False)
    if input_shape[0] is not None and input_shape[1] is not None:
        up = BilinearResize(input_shape[:2], resize, name="upsample")(logits)
    else:
        up = DynamicResize(resize, name="upsample")(logits, inp)
    return keras.Model(inp, [logits, up], name=name or f"handsegnet_{variant}")


@keras.saving.register_keras_serializable(package="handpose")
class DynamicResize(layers.Layer):
    """Resize ``x`` to the spatial size of ``reference`` (legacy or half-pixel bilinear)."""

    def __init__(self, mode: str = "legacy", **kwargs):
        super().__init__(**kwargs)
        if mode not in RESIZE_MODES:
            raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, x, reference):
        return bilinear_resize(x, tf.shape(reference)[1:3], self.mode)

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def build_posenet(variant: str = "hand3d", refinement: str = "conv", kernel_size: int = 7,
                  separable_outputs: bool = False, num_keypoints: int = NUM_KEYPOINTS,
                  input_shape=(256, 256, 3), width: float = 1.0,
                  name: str | None = None) -> keras.Model:
    """PoseNet2D: ``(N, 256, 256, 3)`` -> three score maps ``(N, 32, 32, num_keypoints)``.

    Args:
        variant: ``"hand3d"`` (code; released weights) or ``"paper"`` (seed paper's table).
        refinement: ``"conv"`` ("original") or ``"separable"`` ("mixed": SeparableConv2D for
            the refinement stages' k x k convs).
        kernel_size: refinement kernel, 7 in hand3d, CPM and the paper table (3 also studied).
        separable_outputs: with ``"separable"``, make the stages' 1x1 layers separable too.
        width: multiplies the filters of every hidden conv (not the score maps). 1 is the
            model of the papers (and the only width the parameter counts refer to); smaller
            values are for smoke-scale runs on a CPU.
    """
    _check(variant, input_shape)
    if refinement not in ("conv", "separable"):
        raise ValueError(f"refinement must be 'conv' or 'separable', got {refinement!r}")
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    sep = refinement == "separable"
    sep1 = sep and separable_outputs
    inp = keras.Input(input_shape, name="image")
    x = _vgg_front(inp, width)
    maps = []
    if variant == "hand3d":
        x = conv(x, _w(512, width), 3, "conv4_1")
        x = conv(x, _w(512, width), 3, "conv4_2")
        for i in range(3, 7):
            x = conv(x, _w(256, width), 3, f"conv4_{i}")
        encoding = conv(x, _w(128, width), 3, "conv4_7")
        x = conv(encoding, _w(512, width), 1, "conv5_1")
        maps.append(conv(x, num_keypoints, 1, "conv5_2", act=False))
        for stage in (6, 7):
            x = layers.Concatenate(name=f"concat{stage}")([maps[-1], encoding])
            for i in range(1, 6):
                x = conv(x, _w(128, width), kernel_size, f"conv{stage}_{i}", separable=sep)
            x = conv(x, _w(128, width), 1, f"conv{stage}_6", separable=sep1)
            maps.append(conv(x, num_keypoints, 1, f"conv{stage}_7", act=False, separable=sep1))
    else:
        for i in range(1, 5):
            x = conv(x, _w(512, width), 3, f"conv4_{i}")
        features = conv(x, _w(512, width), 3, "conv5_1")                      # layer 16
        maps.append(conv(features, num_keypoints, 1, "stage1_out", act=False))   # layer 17
        for stage in (2, 3):
            x = layers.Concatenate(name=f"stage{stage}_concat")([features, *maps])
            for i in range(1, 6):
                x = conv(x, _w(128, width), kernel_size, f"stage{stage}_conv{i}", separable=sep)
            maps.append(conv(x, num_keypoints, 1, f"stage{stage}_out", act=False, separable=sep1))
    default = f"posenet_{variant}_{'mixed' if sep else 'original'}"
    return keras.Model(inp, maps, name=name or default)


__all__ = ["BilinearResize", "bilinear_resize", "DynamicResize", "NUM_KEYPOINTS", "RESIZE_MODES", "VARIANTS",
           "build_handsegnet", "build_posenet", "conv", "preprocess"]
