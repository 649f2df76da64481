"""Convert PyTorch stacked-hourglass checkpoints into our Keras model (strict by default).

Formats:
    ``bearpaw``: bearpaw/pytorch-pose ``HourglassNet`` = anibali/pytorch-stacked-hourglass ``hg``
        (keys ``conv1``, ``bn1``, ``layer{1,2,3}.0.*``, ``hg.{s}.hg.{level}.{j}.{k}.*``,
        ``res.{s}.{k}.*``, ``fc.{s}.{0,1}``, ``score.{s}``, ``fc_.{s}``, ``score_.{s}``;
        docs/reference/hourglass.md §2.1). Build the model with ``stem="bearpaw"``.
    ``princeton``: princeton-vl/pytorch_stacked_hourglass ``PoseNet`` (keys ``pre.*``,
        ``hgs.{s}.0.{up1,low1,low2...,low3}``, ``features.{s}``, ``outs.{s}``,
        ``merge_features.{s}``, ``merge_preds.{s}``; §1.4). Build with ``stem="newell"``. Its
        ``skip_layer`` of every Residual with equal in/out channels is never used by the forward
        pass; those keys are skipped and listed in the report.

``module.`` / ``model.module.`` prefixes are stripped; ``num_batches_tracked`` is skipped. Only
the bottleneck block exists in these checkpoints.
"""
from __future__ import annotations

import keras
import numpy as np

from reprokit.weights import TORCH_BATCHNORM, LoadReport, assign_weights, load_state_dict, oihw_to_hwio

FORMATS = ("bearpaw", "princeton")

# PyTorch Bottleneck/Residual member -> our block sub-layer suffix.
_BEARPAW_BLOCK = {"bn1": "_1_bn", "conv1": "_conv1", "bn2": "_2_bn", "conv2": "_conv2", "bn3": "_3_bn",
                  "conv3": "_conv3", "downsample.0": "_skip"}
_PRINCETON_BLOCK = {"bn1": "_1_bn", "conv1.conv": "_conv1", "bn2": "_2_bn", "conv2.conv": "_conv2",
                    "bn3": "_3_bn", "conv3.conv": "_conv3", "skip_layer.conv": "_skip"}
# bearpaw hg[level][j]: j = 0 up branch, 1 after the pool, 2 before the upsample, 3 innermost.
_BEARPAW_POS = {0: "up1", 1: "low1", 2: "low3", 3: "low2"}


def _block(prefix: str, layer: str, members: dict) -> dict:
    return {f"{prefix}.{member}": layer + suffix for member, suffix in members.items()}


def bearpaw_layer_map(num_stacks: int, depth: int = 4, num_blocks: int = 1) -> dict[str, str]:
    """PyTorch module path -> Keras layer name for bearpaw/anibali ``hg``."""
    m = {"conv1": "stem_conv", "bn1": "stem_bn"}
    for i in (1, 2, 3):
        m.update(_block(f"layer{i}.0", f"stem_block{i}", _BEARPAW_BLOCK))
    for s in range(num_stacks):
        for level in range(depth):
            for j, pos in _BEARPAW_POS.items():
                if j == 3 and level != 0:
                    continue
                for k in range(num_blocks):
                    m.update(_block(f"hg.{s}.hg.{level}.{j}.{k}", f"stack{s}_hg{level + 1}_{pos}_r{k}",
                                    _BEARPAW_BLOCK))
        for k in range(num_blocks):
            m.update(_block(f"res.{s}.{k}", f"stack{s}_res_r{k}", _BEARPAW_BLOCK))
        m.update({f"fc.{s}.0": f"stack{s}_fc_conv", f"fc.{s}.1": f"stack{s}_fc_bn",
                  f"score.{s}": f"stack{s}_heatmaps", f"fc_.{s}": f"stack{s}_merge_features",
                  f"score_.{s}": f"stack{s}_merge_heatmaps"})
    return m


def princeton_layer_map(num_stacks: int, depth: int = 4) -> dict[str, str]:
    """PyTorch module path -> Keras layer name for princeton-vl ``PoseNet``."""
    m = {"pre.0.conv": "stem_conv", "pre.0.bn": "stem_bn"}
    for idx, name in ((1, "stem_block1"), (3, "stem_block2"), (4, "stem_block3")):
        m.update(_block(f"pre.{idx}", name, _PRINCETON_BLOCK))
    for s in range(num_stacks):
        for n in range(depth, 0, -1):
            prefix = f"hgs.{s}.0." + "low2." * (depth - n)
            for pos in ("up1", "low1", "low3"):
                m.update(_block(prefix + pos, f"stack{s}_hg{n}_{pos}_r0", _PRINCETON_BLOCK))
            if n == 1:
                m.update(_block(prefix + "low2", f"stack{s}_hg1_low2_r0", _PRINCETON_BLOCK))
        m.update(_block(f"features.{s}.0", f"stack{s}_res_r0", _PRINCETON_BLOCK))
        m.update({f"features.{s}.1.conv": f"stack{s}_fc_conv", f"features.{s}.1.bn": f"stack{s}_fc_bn",
                  f"outs.{s}.conv": f"stack{s}_heatmaps",
                  f"merge_features.{s}.conv.conv": f"stack{s}_merge_features",
                  f"merge_preds.{s}.conv.conv": f"stack{s}_merge_heatmaps"})
    return m


def _strip(state_dict):
    out = {}
    for key, value in state_dict.items():
        for prefix in ("model.module.", "module."):
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = np.asarray(value)
    return out


def convert_state_dict(state_dict, model: keras.Model, fmt: str, num_stacks: int | None = None,
                       depth: int = 4, num_blocks: int = 1):
    """Map a PyTorch state_dict onto ``model``'s variable paths, in Keras layouts.

    Returns:
        ``(weights, skipped)``: ``weights`` maps Keras variable paths to arrays (source keys that
        match no layer are kept under their own name, so strict assignment reports them as
        unused); ``skipped`` lists source keys dropped on purpose.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown checkpoint format {fmt!r}; valid: {list(FORMATS)}")
    num_stacks = num_stacks or len(model.outputs)
    layer_map = (bearpaw_layer_map(num_stacks, depth, num_blocks) if fmt == "bearpaw"
                 else princeton_layer_map(num_stacks, depth))
    layers = {layer.name: layer for layer in model.layers}
    weights, skipped = {}, []
    for key, value in _strip(state_dict).items():
        prefix, _, param = key.rpartition(".")
        if param == "num_batches_tracked":
            skipped.append(key)
            continue
        name = layer_map.get(prefix)
        if name is None:
            weights[key] = value
            continue
        if name not in layers:
            if fmt == "princeton" and name.endswith("_skip"):
                skipped.append(key)  # princeton's unused skip_layer (in == out)
            else:
                weights[key] = value
            continue
        layer = layers[name]
        if isinstance(layer, keras.layers.BatchNormalization):
            if param not in TORCH_BATCHNORM:
                weights[key] = value
                continue
            weights[f"{name}/{TORCH_BATCHNORM[param]}"] = value
        elif param == "weight":
            weights[f"{name}/kernel"] = oihw_to_hwio(value) if value.ndim == 4 else value
        elif param == "bias":
            weights[f"{name}/bias"] = value
        else:
            weights[key] = value
    return weights, skipped


def load_checkpoint(model: keras.Model, source, fmt: str, strict: bool = True, depth: int = 4,
                    num_blocks: int = 1) -> LoadReport:
    """Load a checkpoint (state_dict mapping, ``.npz``, or ``.pth``/``.pt`` with torch) into ``model``.

    Raises:
        reprokit.weights.WeightLoadError: in strict mode, naming every unused, missing or
            wrong-shaped key.
    """
    name = source if isinstance(source, str) else "state_dict"
    state_dict = load_state_dict(source) if isinstance(source, str) else source
    if isinstance(state_dict, dict) and "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    weights, skipped = convert_state_dict(state_dict, model, fmt, None, depth, num_blocks)
    return assign_weights(model, weights, strict=strict, skipped=skipped, source=name)
