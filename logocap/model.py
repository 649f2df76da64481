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
import numpy as np
import tensorflow as tf
from keras import layers

from hourglass.model import build_stacked_hourglass
from logocap.adaptation_train import LogocapModel
from logocap.cmp import ConvMessagePassing
from logocap.hrnet import build_hrnet, upsample_concat
from reprokit.layers import FusedBatchNormalization

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
    x = FusedBatchNormalization(name=f"{name}.bn", **BN)(x)
    x = layers.ReLU(name=f"{name}.relu")(x)
    return layers.Conv2D(out, 1, name=f"{name}.out")(x)


def heads(feat, backbone: str, embedding: int = 0) -> dict:
    """The heads on stride-4 backbone features: ``heatmaps`` (17 + centre), ``offsets`` (34)
    and, when ``embedding`` > 0, LOGO-CAP's embedding head (1x1 conv -> BN -> ReLU, 64 channels
    in the reference's ``DIM_EMBEDDING``)."""
    out = {"heatmaps": layers.Identity(name="heatmaps")(
               _head(feat, HEAT_HIDDEN[backbone], NUM_KEYPOINTS + 1, "heatmap_head")),
           "offsets": layers.Identity(name="offsets")(
               _head(feat, OFFSET_HIDDEN, 2 * NUM_KEYPOINTS, "offset_head"))}
    if embedding:
        x = layers.Conv2D(embedding, 1, use_bias=False, name="embedding_head.conv")(feat)
        x = FusedBatchNormalization(name="embedding_head.bn", **BN)(x)
        out["embedding"] = layers.ReLU(name="embedding")(x)
    return out


def build_center_offset(backbone: str = "w32", input_shape=(512, 512, 3), name: str | None = None,
                        hourglass_kwargs: dict | None = None, embedding: int = 0) -> keras.Model:
    """The vanilla center-offset model: ``{"heatmaps": (N, H/4, W/4, 18), "offsets": (N, H/4,
    W/4, 34)}`` from a normalised image ``(N, H, W, 3)`` (plus ``"embedding"`` ``(N, H/4, W/4,
    embedding)`` when ``embedding`` > 0: LOGO-CAP's network, :func:`build_logocap`)."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    inp = keras.Input(input_shape, name="image")
    feat = _backbone(inp, backbone, hourglass_kwargs)
    return keras.Model(inp, heads(feat, backbone, embedding), name=name or f"center_offset_{backbone}")


#: LOGO-CAP's embedding width (reference ``CONV_MSG_PASSING.DIM_EMBEDDING``).
EMBEDDING = 64
#: PyTorch parameters of the released LOGO-CAP ``Model`` without its backbone (heads, embedding,
#: CMP), counted by building it from ``experiments/logocap-hrnet-w{32,48}-coco.yaml``
#: (cherubicXN/logocap @39d104f; tests/data/parity/README.md, ``logocap_head.npz``).
REFERENCE_HEAD_PARAMS = {"w32": 6_685_893, "w48": 6_782_213}
#: ``(embedding width, CMP widths)`` per backbone: the reference's 64 and 512 / 256 / 128
#: (``CONV_MSG_PASSING``) for W32, W48 and the hourglass; the narrow ``smoke`` backbone gets a
#: CMP narrowed like itself (16 and 128 / 64 / 32), so that a CPU step takes a second.
CMP_WIDTHS = {"w32": (EMBEDDING, (512, 256, 128)), "w48": (EMBEDDING, (512, 256, 128)),
              "hourglass": (EMBEDDING, (512, 256, 128)), "smoke": (16, (128, 64, 32))}


def build_logocap(backbone: str = "w32", input_shape=(512, 512, 3), name: str | None = None,
                  hourglass_kwargs: dict | None = None, **adaptation):
    """LOGO-CAP: the center-offset network with the embedding head, and the CMP net
    (:class:`logocap.adaptation_train.LogocapModel`; ``adaptation``: its keyword arguments, e.g.
    ``global_size``)."""
    embedding, widths = CMP_WIDTHS[backbone]
    net = build_center_offset(backbone, input_shape, f"{name or 'logocap_' + backbone}_net",
                              hourglass_kwargs, embedding)
    cmp = ConvMessagePassing(NUM_KEYPOINTS, widths, name="cmp")
    cmp.build((None, 11, 11, NUM_KEYPOINTS * embedding))
    return LogocapModel(net, cmp, name=name or f"logocap_{backbone}", **adaptation)


#: The reference's head modules (``cherubicXN/logocap`` ``models/model.py``) -> our layers.
_REFERENCE_HEADS = {"transition_cls.0": "heatmap_head.conv", "transition_cls.1": "heatmap_head.bn",
                    "final_layer_cls": "heatmap_head.out", "transition_reg.0": "offset_head.conv",
                    "transition_reg.1": "offset_head.bn", "final_layer_reg": "offset_head.out",
                    "transition_embedding.0": "embedding_head.conv",
                    "transition_embedding.1": "embedding_head.bn"}
#: ``joints_mlp`` (the CMP ``nn.Sequential``) indices -> ``(kind, index)`` in ours.
_REFERENCE_CMP = {"0": ("conv", 0), "1": ("norm", 0), "3": ("conv", 1), "4": ("norm", 1),
                  "6": ("conv", 2), "7": ("norm", 2), "9": ("out", 0)}


def _assign(var, value, name):
    value = np.asarray(value, np.float32)
    if tuple(var.shape) != value.shape:
        raise ValueError(f"{name}: shape {value.shape} does not fit {var.path} {tuple(var.shape)}")
    var.assign(value)


def _assign_conv(layer, arrays, prefix):
    _assign(layer.kernel, np.transpose(arrays[f"{prefix}.weight"], (2, 3, 1, 0)), f"{prefix}.weight")
    if layer.use_bias:
        _assign(layer.bias, arrays[f"{prefix}.bias"], f"{prefix}.bias")


def _assign_bn(layer, arrays, prefix, affine=True):
    if affine:
        _assign(layer.gamma, arrays[f"{prefix}.weight"], f"{prefix}.weight")
        _assign(layer.beta, arrays[f"{prefix}.bias"], f"{prefix}.bias")
    _assign(layer.moving_mean, arrays[f"{prefix}.running_mean"], f"{prefix}.running_mean")
    _assign(layer.moving_variance, arrays[f"{prefix}.running_var"], f"{prefix}.running_var")


def load_reference_heads(net, cmp, arrays: dict) -> list[str]:
    """Assign the heads and the CMP net of a LOGO-CAP state dict (``{name: numpy array}``, the
    reference's module names, PyTorch layouts) to ``net`` (the heads, any backbone) and
    ``cmp``. Returns the names it used; a missing name or a wrong shape raises, naming it.
    The offset head's last layer is negated (the reference's offsets point the other way)."""
    used = []
    for ref, ours in _REFERENCE_HEADS.items():
        layer = net.get_layer(ours)
        if ref == "final_layer_reg":
            # the reference regresses pixel - keypoint, we regress keypoint - pixel
            # (logocap.targets): the last layer is linear, so its negation converts exactly
            _assign_conv(layer, {f"{ref}.{k}": -np.asarray(arrays[f"{ref}.{k}"]) for k in ("weight", "bias")}, ref)
            used += [f"{ref}.weight", f"{ref}.bias"]
        elif isinstance(layer, layers.Conv2D):
            _assign_conv(layer, arrays, ref)
            used += [f"{ref}.weight"] + ([f"{ref}.bias"] if layer.use_bias else [])
        else:
            _assign_bn(layer, arrays, ref)
            used += [f"{ref}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
    for idx, (kind, i) in _REFERENCE_CMP.items():
        ref = f"joints_mlp.{idx}"
        if kind in ("conv", "out"):
            layer = cmp.convs[i] if kind == "conv" else cmp.out
            _assign_conv(layer, arrays, ref)
            used += [f"{ref}.weight"] + ([f"{ref}.bias"] if layer.use_bias else [])
            continue
        norm = cmp.norms[i]
        if hasattr(norm, "num_affine"):                   # AttentiveBatchNorm
            _assign_bn(norm.norm, arrays, ref, affine=False)
            _assign(norm.gamma, arrays[f"{ref}.weight_"], f"{ref}.weight_")
            _assign(norm.beta, arrays[f"{ref}.bias_"], f"{ref}.bias_")
            att = np.asarray(arrays[f"{ref}.attn_weights.attention.0.weight"])[:, :, 0, 0].T
            _assign(norm.attention, att, f"{ref}.attn_weights.attention.0.weight")
            used += [f"{ref}.{k}" for k in ("running_mean", "running_var", "weight_", "bias_",
                                            "attn_weights.attention.0.weight")]
        else:
            _assign_bn(norm, arrays, ref)
            used += [f"{ref}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
    return used


__all__ = ["BACKBONES", "CMP_WIDTHS", "EMBEDDING", "REFERENCE_HEAD_PARAMS", "load_reference_heads", "IMAGENET_MEAN", "IMAGENET_STD", "build_center_offset",
           "build_logocap", "heads", "normalize"]
