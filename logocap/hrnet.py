"""HRNet backbones (W32, W48) for the bottom-up models, with timm's layer names.

Reference: Sun et al., "Deep High-Resolution Representation Learning" (CVPR 2019; TPAMI 2020),
the backbone of LOGO-CAP (supplement, source 002 in docs/reference/README.md; facts:
docs/reference/logocap_metrics_ecosystem.md §1.2). The architecture and the layer names are
those of timm's ``hrnet_w32`` / ``hrnet_w48`` built with ``features_only=True,
feature_location=""`` (timm 1.0.31 ``timm/models/hrnet.py``, blocks from
``timm/models/resnet.py``): a stem of two stride-2 3x3 convs (64 channels), ``layer1`` (4
bottlenecks, 256 channels), then stages 2-4 of 1 / 4 / 3 high-resolution modules with 2 / 3 / 4
branches of 4 basic blocks each (W32: 32 / 64 / 128 / 256 channels at strides 4-32), joined
by transitions and fused after every module (1x1 conv + BN + nearest upsampling from lower
resolutions, chains of stride-2 3x3 convs from higher ones, sum, ReLU). Every Keras layer is
named by its timm module path (``stage3.2.fuse_layers.1.0.0.0``), so :func:`convert_timm` maps a
state dict by name. Parameter counts equal timm's: W32 29,305,536, W48 65,325,120.

Deviations:
    None in the computation. PyTorch's symmetric ``padding=1`` of the 3x3 convs is written as
    ``ZeroPadding2D(1)`` + a ``valid`` conv (TF ``SAME`` pads 0 / 1 at stride 2 on even sides;
    the ICNet lesson of docs/fidelity.md). BN momentum 0.9 in Keras terms = PyTorch's 0.1.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from reprokit.layers import FusedBatchNormalization, NearestUpSampling2D
from reprokit.weights import assign_weights, load_state_dict

#: timm ``cfg_cls`` of the two backbones the supplement uses: stage -> (modules, block, blocks
#: per branch, channels per branch); stage 1 is ``layer1``.
CONFIGS = {
    "w32": {"stem": 64, "stem2": 64, "stage1": (1, "bottleneck", (4,), (64,)),
            "stage2": (1, "basic", (4, 4), (32, 64)),
            "stage3": (4, "basic", (4, 4, 4), (32, 64, 128)),
            "stage4": (3, "basic", (4, 4, 4, 4), (32, 64, 128, 256))},
    "w48": {"stem": 64, "stem2": 64, "stage1": (1, "bottleneck", (4,), (64,)),
            "stage2": (1, "basic", (4, 4), (48, 96)),
            "stage3": (4, "basic", (4, 4, 4), (48, 96, 192)),
            "stage4": (3, "basic", (4, 4, 4, 4), (48, 96, 192, 384))},
    # not a paper network: the same topology, narrower and shallower, for CPU smoke runs and
    # tests (half of W32's widths, two blocks per branch, one module per stage: 1.4M params;
    # the 8-channel version of 0.27M did not get past AP 0.01 in 1200 steps)
    "smoke": {"stem": 16, "stem2": 16, "stage1": (1, "bottleneck", (2,), (16,)),
              "stage2": (1, "basic", (2, 2), (16, 32)),
              "stage3": (1, "basic", (2, 2, 2), (16, 32, 64)),
              "stage4": (1, "basic", (2, 2, 2, 2), (16, 32, 64, 128))},
}
#: timm ``hrnet_w32`` / ``hrnet_w48`` with ``features_only=True, feature_location=""`` (the
#: issue's measurement with timm 1.0.31; asserted by the tests).
TIMM_PARAMS = {"w32": 29_305_536, "w48": 65_325_120}
BN = {"momentum": 0.9, "epsilon": 1e-5}
EXPANSION = {"basic": 1, "bottleneck": 4}


def _conv(x, filters, kernel, stride, name):
    if kernel == 3:
        x = layers.ZeroPadding2D(1, name=f"{name}.pad")(x)
    return layers.Conv2D(filters, kernel, stride, use_bias=False, name=name)(x)


def _bn(x, name, relu=False):
    x = FusedBatchNormalization(name=name, **BN)(x)
    return layers.ReLU(name=f"{name}.relu")(x) if relu else x


def _block(x, kind, planes, stride, name, downsample):
    """timm ``BasicBlock`` / ``Bottleneck`` (cardinality 1, base width 64)."""
    shortcut = x
    if kind == "basic":
        y = _bn(_conv(x, planes, 3, stride, f"{name}.conv1"), f"{name}.bn1", relu=True)
        y = _bn(_conv(y, planes, 3, 1, f"{name}.conv2"), f"{name}.bn2")
    else:
        y = _bn(_conv(x, planes, 1, 1, f"{name}.conv1"), f"{name}.bn1", relu=True)
        y = _bn(_conv(y, planes, 3, stride, f"{name}.conv2"), f"{name}.bn2", relu=True)
        y = _bn(_conv(y, planes * 4, 1, 1, f"{name}.conv3"), f"{name}.bn3")
    if downsample:
        shortcut = _bn(_conv(x, planes * EXPANSION[kind], 1, stride, f"{name}.downsample.0"),
                       f"{name}.downsample.1")
    y = layers.Add(name=f"{name}.add")([y, shortcut])
    return layers.ReLU(name=f"{name}.relu")(y)


def _blocks(x, kind, in_ch, planes, count, name):
    out_ch = planes * EXPANSION[kind]
    for b in range(count):
        x = _block(x, kind, planes, 1, f"{name}.{b}", downsample=(b == 0 and in_ch != out_ch))
    return x, out_ch


def _transition(xs, pre, cur, name):
    """timm ``_make_transition_layer``: keep / re-width the existing branches, grow new ones
    from the lowest-resolution one with stride-2 3x3 convs."""
    out = []
    for i, c in enumerate(cur):
        if i < len(pre):
            if c != pre[i]:
                out.append(_bn(_conv(xs[i], c, 3, 1, f"{name}.{i}.0"), f"{name}.{i}.1", relu=True))
            else:
                out.append(xs[i])
        else:
            y = xs[-1]
            for j in range(i + 1 - len(pre)):
                c_out = c if j == i - len(pre) else pre[-1]
                y = _bn(_conv(y, c_out, 3, 2, f"{name}.{i}.{j}.0"), f"{name}.{i}.{j}.1", relu=True)
            out.append(y)
    return out


def _module(xs, kind, blocks, channels, name):
    """timm ``HighResolutionModule`` (``multi_scale_output=True``, fuse by sum)."""
    ys = []
    for i, (x, count, c) in enumerate(zip(xs, blocks, channels)):
        y, _ = _blocks(x, kind, int(x.shape[-1]), c, count, f"{name}.branches.{i}")
        ys.append(y)
    if len(ys) == 1:
        return ys
    out = []
    for i in range(len(ys)):
        terms = []
        for j in range(len(ys)):
            p = f"{name}.fuse_layers.{i}.{j}"
            if j > i:
                t = _bn(_conv(ys[j], channels[i], 1, 1, f"{p}.0"), f"{p}.1")
                terms.append(NearestUpSampling2D(2 ** (j - i), interpolation="nearest",
                                                  name=f"{p}.2")(t))
            elif j == i:
                terms.append(ys[j])
            else:
                t = ys[j]
                for k in range(i - j):
                    last = k == i - j - 1
                    t = _bn(_conv(t, channels[i] if last else channels[j], 3, 2, f"{p}.{k}.0"),
                            f"{p}.{k}.1", relu=not last)
                terms.append(t)
        out.append(layers.ReLU(name=f"{name}.fuse_act.{i}")(layers.Add(name=f"{name}.fuse.{i}")(terms)))
    return out


def build_hrnet(width: str = "w32", input_shape=(None, None, 3), name: str | None = None) -> keras.Model:
    """HRNet-W32 or -W48 (or ``"smoke"``, a narrow, shallow HRNet for CPU tests): RGB (ImageNet-normalised) ``(N, H, W, 3)`` -> the four branch outputs
    ``[stride 4, 8, 16, 32]`` (W32: 32 / 64 / 128 / 256 channels). ``H`` and ``W`` should be
    multiples of 32 (the fuse layers add nearest-upsampled maps to their neighbours)."""
    if width not in CONFIGS:
        raise ValueError(f"width must be one of {sorted(CONFIGS)}, got {width!r}")
    cfg = CONFIGS[width]
    inp = keras.Input(input_shape, name="image")
    x = _bn(_conv(inp, cfg["stem"], 3, 2, "conv1"), "bn1", relu=True)
    x = _bn(_conv(x, cfg["stem2"], 3, 2, "conv2"), "bn2", relu=True)
    _, kind, blocks, chans = cfg["stage1"]
    x, out_ch = _blocks(x, kind, cfg["stem2"], chans[0], blocks[0], "layer1")
    xs, pre = [x], [out_ch]
    for s in (2, 3, 4):
        modules, kind, blocks, chans = cfg[f"stage{s}"]
        cur = [c * EXPANSION[kind] for c in chans]
        xs = _transition(xs, pre, cur, f"transition{s - 1}")
        for m in range(modules):
            xs = _module(xs, kind, blocks, chans, f"stage{s}.{m}")
        pre = cur
    outs = [layers.Identity(name=f"branch{i + 1}")(x) for i, x in enumerate(xs)]
    return keras.Model(inp, outs, name=name or f"hrnet_{width}")


@keras.saving.register_keras_serializable(package="logocap")
class ResizeLike(layers.Layer):
    """Bilinear resize of ``x`` to the spatial size of ``ref`` (half-pixel centres =
    PyTorch's ``align_corners=False``); works with unknown input sizes."""

    def call(self, x, ref):
        return tf.image.resize(x, tf.shape(ref)[1:3], "bilinear")

    def compute_output_shape(self, x_shape, ref_shape):
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


def upsample_concat(branches, name: str = "concat"):
    """The bottom-up feature of LOGO-CAP / DEKR: every branch bilinearly upsampled to the
    stride-4 size (``align_corners=False``) and concatenated (W32: 480 channels)."""
    ups = [branches[0]] + [ResizeLike(name=f"{name}.up{i}")(b, branches[0])
                           for i, b in enumerate(branches[1:], start=1)]
    return layers.Concatenate(name=name)(ups)


def timm_state_dict_to_keras(state_dict) -> dict:
    """``{"layer/param": array}`` for :func:`reprokit.weights.assign_weights` from a timm HRNet
    state dict (OIHW kernels to HWIO; BN weight / bias / running stats)."""
    out, skipped = {}, []
    for key, value in state_dict.items():
        value = np.asarray(value, np.float32)
        layer, _, param = key.rpartition(".")
        if param == "num_batches_tracked" or layer.startswith(("incre_modules", "downsamp_modules",
                                                                 "final_layer", "classifier")):
            skipped.append(key)
            continue
        if param == "weight" and value.ndim == 4:
            out[f"{layer}/kernel"] = value.transpose(2, 3, 1, 0)
        else:
            out[f"{layer}/" + {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                               "running_var": "moving_variance"}[param]] = value
    return out, skipped


def convert_timm(model: keras.Model, source, strict: bool = True):
    """Load timm / official HRNet ImageNet weights (a state dict, ``.npz``, or ``.pth`` with
    torch; ``torch.load(weights_only=True)``) into :func:`build_hrnet`'s model by layer name.
    The classification head (``incre_modules``, ``downsamp_modules``, ``final_layer``,
    ``classifier``) is skipped and listed. Returns the :class:`reprokit.weights.LoadReport`."""
    where = source if isinstance(source, str) else "state_dict"
    state = load_state_dict(source) if isinstance(source, str) else source
    weights, skipped = timm_state_dict_to_keras(state)
    return assign_weights(model, weights, strict=strict, skipped=skipped, source=where)


__all__ = ["CONFIGS", "ResizeLike", "TIMM_PARAMS", "build_hrnet", "convert_timm", "timm_state_dict_to_keras",
           "upsample_concat"]
