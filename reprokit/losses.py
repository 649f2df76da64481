"""Losses shared by the packages.

Heatmap targets come from :class:`reprokit.codecs.GaussianHeatmapCodec`, whose maps are all
zero exactly where the target weight is 0 (a missing, occluded-and-masked or out-of-frame
keypoint) and have a positive peak otherwise. So the per-keypoint target weight can be read off
the target itself, and the loss needs no extra input.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="reprokit")
class HeatmapMSE(keras.losses.Loss):
    """``scale * mean((pred * w - gt * w) ** 2)`` over pixels and keypoints, per sample.

    Args:
        scale: factor in front of the mean. anibali/bearpaw ``JointsMSELoss`` uses 0.5
            (``0.5 * MSE`` per joint averaged over joints, docs/reference/hourglass.md §2.2);
            princeton-vl ``HeatmapLoss`` uses 1 (§1.3).
        target_weight: mask keypoints whose target map is all zero (anibali: occluded joints
            do not enter the loss). ``False`` = plain MSE over every map (princeton-vl, where a
            missing joint's all-zero map still pulls the prediction to zero).

    Inputs are ``(N, H, W, K)``; Keras averages the per-sample values over the batch. With
    several outputs (one per hourglass stack), ``loss_weights`` sum them: stack weights of 1
    are anibali's sum over stacks, ``1 / num_stacks`` is princeton-vl's mean.
    """

    def __init__(self, scale: float = 0.5, target_weight: bool = True, name: str = "heatmap_mse",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale, self.target_weight = float(scale), bool(target_weight)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        diff = y_pred - y_true
        if self.target_weight:
            w = ops.cast(ops.max(y_true, axis=(1, 2), keepdims=True) > 0, y_pred.dtype)
            diff = diff * w
        return self.scale * ops.mean(ops.square(diff), axis=(1, 2, 3))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "target_weight": self.target_weight}


__all__ = ["HeatmapMSE"]
