"""The three segmentation networks of the thesis (one module each) and the hourglass segmenter.

ICNet lives in :mod:`segmentation.icnet`, SegNet-basic in :mod:`segmentation.segnet`; this
module re-exports them and builds the stacked hourglass as a segmenter (thesis Sec. 4.1,
gulvarol/surreal ``training/models``, docs/reference/segmentation.md §3.3).
"""
from __future__ import annotations

import keras

from hourglass.model import build_stacked_hourglass
from segmentation.icnet import (ICNET_BN, ICNET_MEAN_BGR, NUM_CLASSES, CaffeInterp, ICNet,
                                PyramidAvgPool, ResizeAdd, caffe_interp_size, icnet_predict,
                                icnet_preprocess, load_icnet_npy)
from segmentation.segnet import (BilinearDeconvInit, DeconvToSize, LocalResponseNorm,
                                 MaxPoolWithArgmax, MaxUnpool, SegNetBasic, load_segnet_tkuanlun,
                                 segnet_tkuanlun_to_keras)

# ---------------------------------------------------------------------------- hourglass
#: Thesis hourglass progressive ground truth (Sec. 4.1): body/background, coarse parts, the 13
#: reporting groups, then all 25 labels (see :data:`segmentation.labels.PROGRESSIVE`).
PROGRESSIVE_CLASSES = (2, 5, 13, 25)


def HourglassSegmenter(num_classes: int = NUM_CLASSES, num_stacks: int = 2,
                       num_features: int = 128, depth: int = 4, stem_stride: int = 1,
                       stem_pool: bool = False, stack_classes=None, joints_head: int | None = None,
                       input_shape=(320, 320, 3), name: str | None = None) -> keras.Model:
    """The Newell / Varol stacked hourglass as a segmenter (thesis Sec. 4.1).

    Built by :func:`hourglass.model.build_stacked_hourglass` with the ``newell`` stem
    (Varol's ``models/hg.lua``: 256 features, one module, 4-level hourglasses). With
    ``stem_stride=1`` and no stem pool the logits have the input resolution (320 -> 320).

    Args:
        num_features: bottleneck planes; the trunk has twice as many channels (Varol's
            ``nFeats`` 256 = ``num_features`` 128; the "doubled" ablation is 256).
        stack_classes: per-stack class counts for the progressive ground truth, e.g.
            :data:`PROGRESSIVE_CLASSES`; the last must be ``num_classes``.
        joints_head: channels of a parallel per-stack heatmap branch (24 SURREAL joints or
            24 part centroids), with its own remap into the next stack.

    Returns:
        Per stack the logits ``stack{s}_logits`` (and ``stack{s}_joints`` after it when
        ``joints_head``). Exact counts (25 classes, 256 trunk): 1 / 2 / 4 / 8 stacks =
        3,445,401 / 6,608,818 / 12,935,652 / 25,589,320 (docs/reference/segmentation.md §H).
    """
    classes = list(stack_classes) if stack_classes is not None else [num_classes] * num_stacks
    if classes[-1] != num_classes:
        raise ValueError(f"the last stack must predict all {num_classes} classes, got "
                         f"stack_classes={stack_classes!r}")
    return build_stacked_hourglass(
        num_stacks, classes, "bottleneck", "newell", num_features, depth, 1, input_shape,
        name=name or f"hourglass_seg{num_stacks}", stem_stride=stem_stride, stem_pool=stem_pool,
        head_name="logits", aux_heads={"joints": joints_head} if joints_head else None)


__all__ = ["BilinearDeconvInit", "CaffeInterp", "DeconvToSize", "HourglassSegmenter", "ICNET_BN",
           "ICNET_MEAN_BGR", "ICNet", "LocalResponseNorm", "MaxPoolWithArgmax", "MaxUnpool",
           "NUM_CLASSES", "PROGRESSIVE_CLASSES", "PyramidAvgPool", "ResizeAdd", "SegNetBasic",
           "caffe_interp_size", "icnet_predict", "icnet_preprocess", "load_icnet_npy",
           "load_segnet_tkuanlun", "segnet_tkuanlun_to_keras"]
