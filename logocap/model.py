"""The center-offset baseline (LOGO-CAP supplement §2; DEKR-style): backbone, heatmap head and
offset head at stride 4.

docs/reference/logocap_metrics_ecosystem.md §1.2: the backbone's four HRNet branches are
upsampled to stride 4 and concatenated (W32: 480 channels); the heatmap head is 1x1 conv (32
channels for W32, 48 for W48) -> BN -> ReLU -> 1x1 conv to 17 keypoints + 1 person centre; the
offset head is 1x1 conv (256) -> BN -> ReLU -> 1x1 conv to 17 x (dx, dy). The stacked-hourglass
backbone option (reference §1.8) uses the last stack's 256-channel features of a Newell
hourglass with a stride-4 stem (:func:`hourglass.model.build_stacked_hourglass`).

Input: RGB normalised with the ImageNet mean / std (:func:`normalize`), sides multiples of 32
(HRNet) or 64 (hourglass, 4 levels after the stride-4 stem).
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from hourglass.model import build_stacked_hourglass
from logocap.hrnet import build_hrnet, upsample_concat

NUM_KEYPOINTS = 17
#: ImageNet RGB statistics (the reference's ``T.Normalize``; timm's HRNet was trained on them).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
BACKBONES = ("w32", "w48", "hourglass", "smoke")
#: Width of the heatmap head's hidden layer per backbone (reference §1.2: 32 for W32, 48 for W48).
HEAT_HIDDEN = {"w32": 32, "w48": 48, "hourglass": 32, "smoke": 32}
OFFSET_HIDDEN = 256
BN = {"momentum": 0.9, "epsilon": 1e-5}


def normalize(image):
    """uint8 / float RGB 0-255 -> ImageNet-normalised float32 (TF op)."""
    mean, std = (tf.constant(v, tf.float32) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return (tf.cast(image, tf.float32) / 255.0 - mean) / std


def _backbone(inp, backbone, hourglass_kwargs):
    if backbone in ("w32", "w48", "smoke"):
        net = build_hrnet(backbone, tuple(inp.shape[1:]), name=f"hrnet_{backbone}")
        return upsample_concat(net(inp))
    kw = {"num_stacks": 1, "num_features": 128, "depth": 4, **(hourglass_kwargs or {})}
    stacks = kw.pop("num_stacks")
    net = build_stacked_hourglass(stacks, 1, stem="newell", input_shape=tuple(inp.shape[1:]),
                                  name="hourglass_backbone", **kw)
    last = net.get_layer(f"stack{stacks - 1}_fc_relu")     # the last stack's features
    return keras.Model(net.input, last.output, name="hourglass_features")(inp)


def _head(x, hidden, out, name):
    x = layers.Conv2D(hidden, 1, use_bias=False, name=f"{name}.conv")(x)
    x = layers.BatchNormalization(name=f"{name}.bn", **BN)(x)
    x = layers.ReLU(name=f"{name}.relu")(x)
    return layers.Conv2D(out, 1, name=f"{name}.out")(x)


def build_center_offset(backbone: str = "w32", input_shape=(512, 512, 3), name: str | None = None,
                        hourglass_kwargs: dict | None = None) -> keras.Model:
    """The vanilla center-offset model: ``{"heatmaps": (N, H/4, W/4, 18), "offsets": (N, H/4,
    W/4, 34)}`` from a normalised image ``(N, H, W, 3)``."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    inp = keras.Input(input_shape, name="image")
    feat = _backbone(inp, backbone, hourglass_kwargs)
    heat = _head(feat, HEAT_HIDDEN[backbone], NUM_KEYPOINTS + 1, "heatmap_head")
    off = _head(feat, OFFSET_HIDDEN, 2 * NUM_KEYPOINTS, "offset_head")
    heat = layers.Identity(name="heatmaps")(heat)
    off = layers.Identity(name="offsets")(off)
    return keras.Model(inp, {"heatmaps": heat, "offsets": off}, name=name or f"center_offset_{backbone}")


__all__ = ["BACKBONES", "IMAGENET_MEAN", "IMAGENET_STD", "build_center_offset", "normalize"]
