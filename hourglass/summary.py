"""Model summaries: parameters, FLOPs per image, layer count, and the CV701 params column."""
from __future__ import annotations

import keras
import numpy as np


def count_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass per image (2 x multiply-accumulates of convs; biases added).

    Counts Conv2D and DepthwiseConv2D (the only layers with significant arithmetic here);
    BatchNorm, ReLU, pooling, resizing and additions are left out, as FLOP counters usually do.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                macs = h * w * kh * kw * c_out
            else:
                macs = h * w * kh * kw * layer.input.shape[-1] * c_out
            total += 2 * macs + (h * w * c_out if layer.use_bias else 0)
    return int(total)


def summarize(model: keras.Model) -> dict:
    """Trainable / total parameters, FLOPs per image and number of layers with weights."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"name": model.name, "trainable": trainable, "total": int(model.count_params()),
            "flops": count_flops(model), "weight_layers": sum(1 for l in model.layers if l.weights),
            "layers": len(model.layers)}
