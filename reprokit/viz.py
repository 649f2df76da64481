"""Pictures of results (matplotlib with the ``Agg`` backend: no display needed).

Every function draws one figure and, given ``path``, writes it as a PNG and closes it;
without ``path`` it returns the ``matplotlib.figure.Figure`` (for notebooks).

Segmentation: :func:`label_palette` is a fixed palette (the same class always has the same
colour across runs and packages), :func:`colorize_labels` turns a label map into RGB,
:func:`plot_segmentation` draws image / ground truth / prediction / overlay rows with a legend,
:func:`plot_confusion` draws a row-normalised confusion matrix (optionally beside a grouped
view, e.g. the thesis' 13 groups).
"""
from __future__ import annotations

import colorsys
from typing import Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path: str | None):
    if path is None:
        return fig
    fig.savefig(path, bbox_inches="tight")
    _plt().close(fig)
    return path


def label_palette(num_classes: int, background=(0, 0, 0), ignore=(255, 255, 255)) -> np.ndarray:
    """A fixed ``(256, 3)`` uint8 palette: class 0 ``background``, classes 1.. evenly spread
    hues with alternating lightness (neighbouring ids stay distinguishable), 255 ``ignore``,
    everything else grey."""
    pal = np.full((256, 3), 128, np.uint8)
    pal[0] = background
    for c in range(1, num_classes):
        h = ((c - 1) * 0.61803398875) % 1.0            # golden-ratio hue steps
        light = 0.45 if c % 2 else 0.62
        pal[c] = np.round(np.array(colorsys.hls_to_rgb(h, light, 0.85)) * 255)
    pal[255] = ignore
    return pal


def colorize_labels(labels, num_classes: int, palette: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` integer labels -> ``(H, W, 3)`` uint8 RGB through :func:`label_palette`."""
    pal = label_palette(num_classes) if palette is None else np.asarray(palette, np.uint8)
    return pal[np.clip(np.asarray(labels, np.int64), 0, 255)]


def plot_segmentation(images: Sequence, gt: Sequence, pred: Sequence, class_names: Sequence[str],
                      path: str | None = None, alpha: float = 0.55, title: str | None = None):
    """Rows of image | ground truth | prediction | prediction over the image, with a legend
    of the classes that occur.

    Args:
        images: uint8 RGB ``(H, W, 3)`` each; ``gt`` / ``pred``: ``(H, W)`` label maps of the
            same size.
        class_names: one name per class id.
    """
    plt = _plt()
    n, k = len(images), len(class_names)
    if not (len(gt) == len(pred) == n) or n == 0:
        raise ValueError(f"need the same non-zero number of images, gt and pred; got {n}, "
                         f"{len(gt)}, {len(pred)}")
    pal = label_palette(k)
    fig, axes = plt.subplots(n, 4, figsize=(9.5, 2.4 * n + 0.9), dpi=100, squeeze=False)
    for i in range(n):
        img = np.asarray(images[i], np.uint8)
        p = colorize_labels(pred[i], k, pal)
        over = (img * (1 - alpha) + p * alpha).astype(np.uint8)
        for j, (pic, name) in enumerate(((img, "image"), (colorize_labels(gt[i], k, pal), "ground truth"),
                                         (p, "prediction"), (over, "overlay"))):
            axes[i, j].imshow(pic, interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    present = sorted(set(np.unique(np.concatenate([np.ravel(g) for g in gt] + [np.ravel(q) for q in pred])))
                     & set(range(k)))
    import matplotlib.patches as mpatches

    handles = [mpatches.Patch(color=pal[c] / 255.0, label=f"{c} {class_names[c]}") for c in present]
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)) or 1, fontsize=7,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * (len(handles) // 6), 1, 0.97 if title else 1))
    return _finish(fig, path)


def _confusion_axes(ax, cm, names, title):
    cm = np.asarray(cm, np.float64)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_yticklabels(names, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    ax.set_title(title, fontsize=9)
    if len(names) <= 15:
        for i in range(len(names)):
            for j in range(len(names)):
                if norm[i, j] >= 0.005:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=5,
                            color="white" if norm[i, j] < 0.6 else "black")
    return im


def plot_confusion(cm, class_names: Sequence[str], path: str | None = None,
                   groups: tuple | None = None, title: str = "confusion (rows sum to 1)"):
    """Row-normalised confusion matrix (rows = ground truth), diagonal = per-class accuracy.

    Args:
        cm: ``(K, K)`` counts.
        groups: optional ``(group_cm, group_names)`` drawn beside it (e.g. the merged
            13-group matrix of :func:`reprokit.metrics.segmentation.merge_confusion`).
    """
    plt = _plt()
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"cm must be square with {len(class_names)} classes, got shape {cm.shape}")
    ncols = 2 if groups is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.4 * ncols, 5.8), dpi=100, squeeze=False,
                             gridspec_kw={"wspace": 0.45})
    im = _confusion_axes(axes[0, 0], cm, list(class_names), title)
    if groups is not None:
        _confusion_axes(axes[0, 1], groups[0], list(groups[1]), "grouped")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8)
    return _finish(fig, path)


__all__ = ["colorize_labels", "label_palette", "plot_confusion", "plot_segmentation"]
