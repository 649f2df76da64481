"""Segmentation metrics from one confusion matrix (rows = ground truth, columns = prediction).

Reference: docs/reference/segmentation.md §F; the thesis (source 003 in docs/reference/README.md) reports mIoU, pixel accuracy,
F1, per-class accuracy and a 13-group table, all derivable from the matrix.
Per-class values are ``nan`` for classes with an empty denominator; means are ``nanmean``.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(gt, pred, num_classes: int, ignore_label: int | None = 255) -> np.ndarray:
    """``C[i, j]`` = number of pixels with ground truth ``i`` predicted as ``j``.

    Pixels whose ground truth equals ``ignore_label`` or is ``>= num_classes`` are skipped.

    Args:
        gt, pred: integer arrays of the same shape.
        num_classes: matrix size.
        ignore_label: skipped ground-truth id (None: none).

    Returns:
        int64 ``(num_classes, num_classes)``.
    """
    gt, pred = np.asarray(gt).ravel().astype(np.int64), np.asarray(pred).ravel().astype(np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred sizes differ: {gt.size} vs {pred.size}")
    keep = (gt >= 0) & (gt < num_classes)
    if ignore_label is not None:
        keep &= gt != ignore_label
    bad = pred[keep][(pred[keep] < 0) | (pred[keep] >= num_classes)]
    if bad.size:
        raise ValueError(f"predictions contain ids outside [0, {num_classes}): {np.unique(bad)[:10]}")
    return np.bincount(gt[keep] * num_classes + pred[keep],
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _div(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def iou(cm) -> np.ndarray:
    """Per-class ``IoU_i = C_ii / (row_i + col_i - C_ii)``."""
    cm = np.asarray(cm)
    tp = np.diag(cm)
    return _div(tp, cm.sum(1) + cm.sum(0) - tp)


def mean_iou(cm, include_background: bool = True, background: int = 0) -> float:
    """``nanmean`` of per-class IoU, optionally without the background class (Varol et al.)."""
    values = iou(cm)
    if not include_background:
        values = np.delete(values, background)
    return float(np.nanmean(values))


def pixel_accuracy(cm) -> float:
    """``trace / sum``: fraction of (non-ignored) pixels labelled correctly."""
    cm = np.asarray(cm)
    return float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan")


def recall(cm) -> np.ndarray:
    """Per-class ``C_ii / row_i``; identical to the per-class accuracy of the thesis."""
    cm = np.asarray(cm)
    return _div(np.diag(cm), cm.sum(1))


per_class_accuracy = recall


def precision(cm) -> np.ndarray:
    """Per-class ``C_ii / col_i``."""
    cm = np.asarray(cm)
    return _div(np.diag(cm), cm.sum(0))


def f1(cm) -> np.ndarray:
    """Per-class ``2 P R / (P + R)``, computed as ``2 C_ii / (row_i + col_i)`` (the same value
    where P and R exist). A class that occurs but is never predicted, or predicted but never
    right, scores 0 (not NaN, which ``nanmean`` would skip and so inflate the mean); NaN only
    for a class that neither occurs nor is predicted."""
    cm = np.asarray(cm)
    return _div(2 * np.diag(cm), cm.sum(1) + cm.sum(0))


def weighted_f1(cm) -> float:
    """Per-class F1 averaged with the ground-truth pixel counts as weights (scikit-learn's
    ``average="weighted"``); dominated by the large classes, unlike the macro mean."""
    cm = np.asarray(cm)
    rows = cm.sum(1)
    scores = np.nan_to_num(f1(cm))
    return float((scores * rows).sum() / rows.sum()) if rows.sum() else float("nan")


def merge_confusion(cm, table, num_groups: int | None = None) -> np.ndarray:
    """Merge classes into groups by summing rows and columns.

    Args:
        cm: ``(C, C)`` confusion matrix.
        table: length-``C`` array, ``table[class] = group``.
        num_groups: defaults to ``max(table) + 1``.

    Returns:
        ``(G, G)`` confusion matrix of the groups.
    """
    cm, table = np.asarray(cm), np.asarray(table, np.int64)
    if table.shape != (cm.shape[0],):
        raise ValueError(f"table needs one entry per class ({cm.shape[0]}), got shape {table.shape}")
    g = int(table.max()) + 1 if num_groups is None else num_groups
    onehot = np.zeros((cm.shape[0], g), np.int64)
    onehot[np.arange(cm.shape[0]), table] = 1
    return onehot.T @ cm @ onehot


def segmentation_report(cm, include_background: bool = True) -> dict:
    """All scalar metrics of one confusion matrix (per-class arrays included)."""
    return {"mIoU": mean_iou(cm, include_background), "pixel_accuracy": pixel_accuracy(cm),
            "mean_precision": float(np.nanmean(precision(cm))),
            "mean_recall": float(np.nanmean(recall(cm))), "mean_f1": float(np.nanmean(f1(cm))), "weighted_f1": weighted_f1(cm),
            "iou": iou(cm), "per_class_accuracy": recall(cm), "precision": precision(cm),
            "f1": f1(cm)}
