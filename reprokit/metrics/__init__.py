"""Metrics with exact, named semantics (pure numpy), plus thin Keras accumulators.

The numpy functions are importable without TensorFlow: ``from reprokit.metrics import pckh``.
The Keras wrappers live in :mod:`reprokit.metrics.keras_metrics`.
"""
from reprokit.metrics.keypoints import (
    COCO_SIGMAS,
    MPII_GROUPS,
    MPII_JOINTS,
    PCKH_VARIANTS,
    PCKhVariant,
    epe_auc,
    head_size_from_boxes,
    keypoint_distances,
    oks,
    pck,
    pckh,
    pckh_curve,
)
from reprokit.metrics.segmentation import (
    confusion_matrix,
    f1,
    iou,
    mean_iou,
    merge_confusion,
    per_class_accuracy,
    pixel_accuracy,
    precision,
    recall,
    segmentation_report,
)

__all__ = [
    "COCO_SIGMAS", "MPII_GROUPS", "MPII_JOINTS", "PCKH_VARIANTS", "PCKhVariant", "confusion_matrix",
    "epe_auc", "f1", "head_size_from_boxes", "iou", "keypoint_distances", "mean_iou",
    "merge_confusion", "oks", "per_class_accuracy", "pck", "pckh", "pckh_curve", "pixel_accuracy",
    "precision", "recall", "segmentation_report",
]
