"""Pictures of results (matplotlib with the ``Agg`` backend: no display needed).

Every function draws one figure and, given ``path``, writes it as a PNG and closes it;
without ``path`` it returns the ``matplotlib.figure.Figure`` (for notebooks).

Keypoints: :func:`plot_skeleton` (limbs from a dataset's metadata: a
:class:`reprokit.data.meta.DatasetMeta` or a :class:`reprokit.synthetic.Skeleton`),
:func:`plot_heatmaps` (one panel per keypoint), :func:`plot_pck_curves` (PCK / PCKh against
the threshold). Runs: :func:`plot_training_curves` (a run's ``metrics.jsonl``),
:func:`plot_params_time_accuracy` (block variants: parameters vs training time, accuracy as
colour).

Segmentation: :func:`label_palette` is a fixed palette (the same class always has the same
colour across runs and packages), :func:`colorize_labels` turns a label map into RGB,
:func:`plot_segmentation` draws image / ground truth / prediction / overlay rows with a legend,
:func:`plot_confusion` draws a row-normalised confusion matrix (optionally beside a grouped
view, e.g. the thesis' 13 groups).
"""
from __future__ import annotations

import colorsys
import json
import os
import sys
from typing import Sequence

import cv2
import numpy as np


def pyplot():
    """``matplotlib.pyplot``, on the ``Agg`` backend unless running in a Jupyter kernel (where
    the notebook's inline backend must stay, or figures would not show). Imported here, not at
    the top: the backend must be chosen before pyplot is first imported."""
    import matplotlib                    # lazy: the backend is chosen before pyplot loads

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt      # lazy, after the backend choice

    return plt



def _finish(fig, path: str | None):
    if path is None:
        return fig
    fig.savefig(path, bbox_inches="tight")
    pyplot().close(fig)
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
                      path: str | None = None, alpha: float = 0.55, title: str | None = None,
                      column_titles: Sequence[str] = ("image", "ground truth", "prediction", "overlay")):
    """Rows of image | ground truth | prediction | prediction over the image, with a legend
    of the classes that occur.

    Args:
        images: uint8 RGB ``(H, W, 3)`` each; ``gt`` / ``pred``: ``(H, W)`` label maps of the
            same size.
        class_names: one name per class id.
        column_titles: titles of the four columns (the last overlays the third on the image).
    """
    plt = pyplot()
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
        for j, (pic, name) in enumerate(zip((img, colorize_labels(gt[i], k, pal), p, over),
                                            column_titles)):
            axes[i, j].imshow(pic, interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    present = sorted(set(np.unique(np.concatenate([np.ravel(g) for g in gt] + [np.ravel(q) for q in pred])))
                     & set(range(k)))
    import matplotlib.patches as mpatches   # lazy: after pyplot() chose the backend

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
    plt = pyplot()
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


def skeleton_edges(meta) -> list[tuple[int, int]]:
    """Limbs of ``meta``: its ``skeleton`` pairs (``DatasetMeta``) or its ``parents`` tree
    (``reprokit.synthetic.Skeleton``)."""
    edges = getattr(meta, "skeleton", None)
    if edges and not callable(edges):
        return [tuple(e) for e in edges]
    parents = getattr(meta, "parents", None)
    if parents is not None:
        return [(p, j) for j, p in enumerate(parents) if p >= 0]
    raise ValueError(f"{type(meta).__name__} has neither 'skeleton' pairs nor 'parents'")


def _names(meta):
    return list(getattr(meta, "keypoint_names", None) or getattr(meta, "joint_names", ()))


def plot_skeleton(image, keypoints, meta, path: str | None = None, visible=None,
                  prediction=None, title: str | None = None, label_joints: bool = False):
    """Limbs and joints over an image; with ``prediction`` the ground truth is drawn in green
    and the prediction in red.

    Args:
        image: uint8 RGB ``(H, W, 3)``.
        keypoints: ``(K, 2)`` pixel coordinates (x, y).
        meta: the dataset description giving the limbs (see :func:`skeleton_edges`).
        visible: optional ``(K,)``; invisible joints and their limbs are not drawn.
    """
    plt = pyplot()
    kp = np.asarray(keypoints, np.float64)
    edges = skeleton_edges(meta)
    if kp.ndim != 2 or kp.shape[1] != 2 or (edges and max(max(e) for e in edges) >= len(kp)):
        raise ValueError(f"keypoints must be (K, 2) with K covering the skeleton, got {kp.shape}")
    vis = np.ones(len(kp), bool) if visible is None else np.asarray(visible) > 0
    fig, ax = plt.subplots(figsize=(4.5, 4.5 * image.shape[0] / image.shape[1]), dpi=100)
    ax.imshow(image)
    sets = [(kp, vis, "lime", "ground truth" if prediction is not None else None)]
    if prediction is not None:
        sets.append((np.asarray(prediction, np.float64), np.ones(len(kp), bool), "red", "prediction"))
    for pts, v, colour, label in sets:
        for a, b in edges:
            if v[a] and v[b]:
                ax.plot(pts[[a, b], 0], pts[[a, b], 1], "-", color=colour, lw=2, alpha=0.85)
        ax.scatter(pts[v, 0], pts[v, 1], s=14, c=colour, edgecolors="black", linewidths=0.5,
                   zorder=3, label=label)
    if label_joints:
        for i, name in enumerate(_names(meta)):
            if vis[i]:
                ax.annotate(name, kp[i], fontsize=5, color="white")
    if prediction is not None:
        ax.legend(fontsize=7, loc="lower right")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def plot_heatmaps(heatmaps, names: Sequence[str] | None = None, path: str | None = None,
                  image=None, columns: int = 6, title: str | None = None):
    """One panel per channel of ``(H, W, K)`` heatmaps (over ``image`` resized to the panel,
    when given), each titled with its name and peak value."""
    plt = pyplot()
    hm = np.asarray(heatmaps, np.float64)
    if hm.ndim != 3:
        raise ValueError(f"heatmaps must be (H, W, K), got shape {hm.shape}")
    k = hm.shape[-1]
    names = list(names) if names is not None else [str(i) for i in range(k)]
    cols = min(columns, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows + 0.4), dpi=100, squeeze=False)
    bg = None
    if image is not None:
        bg = cv2.resize(np.asarray(image, np.uint8), (hm.shape[1], hm.shape[0]),
                        interpolation=cv2.INTER_AREA)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i >= k:
            continue
        if bg is not None:
            ax.imshow(bg)
        ax.imshow(hm[..., i], cmap="magma", alpha=0.6 if bg is not None else 1.0,
                  vmin=0, vmax=max(hm[..., i].max(), 1e-6))
        ax.set_title(f"{names[i]} ({hm[..., i].max():.2f})", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def plot_pck_curves(curves: dict, path: str | None = None, title: str = "PCK",
                    xlabel: str = "threshold", ylabel: str = "PCK (%)", xlim=None, ylim=(0, 100),
                    chance: tuple | None = None, chance_label: str = "chance level"):
    """``{label: (thresholds, values)}`` as lines (PCK / PCKh against the threshold; the area
    under each curve is in its legend label when the caller puts it there); ``chance``
    ``(thresholds, values)`` is drawn dashed in grey (e.g. the mean-pose baseline)."""
    plt = pyplot()
    if not curves:
        raise ValueError("no curves to plot")
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for label, (t, v) in curves.items():
        ax.plot(t, v, label=label)
    if chance is not None:
        ax.plot(*chance, ls="--", c="gray", label=chance_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, ylim=ylim)
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)


def read_metrics(run_or_path: str) -> list[dict]:
    """The records of a run's ``metrics.jsonl`` (a run directory or the file)."""
    path = os.path.join(run_or_path, "metrics.jsonl") if os.path.isdir(run_or_path) else run_or_path
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (is {run_or_path!r} a reprokit run directory?)")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_training_curves(run_or_path: str, path: str | None = None, keys: Sequence[str] | None = None,
                         title: str | None = None):
    """Training curves from ``metrics.jsonl``: every numeric key of the ``train`` records
    against the step (the losses on a log scale), and of the ``epoch`` / ``validation``
    records against their step."""
    plt = pyplot()
    recs = read_metrics(run_or_path)
    series: dict = {}
    for r in recs:
        step = r.get("step")
        kind = r.get("kind", "train")
        for k, v in r.items():
            if k in ("step", "kind", "time", "epoch") or not isinstance(v, (int, float)):
                continue
            if keys is not None and k not in keys:
                continue
            series.setdefault((kind, k), []).append((step, v))
    if not series:
        raise ValueError(f"no numeric metrics in {run_or_path}")
    losses = {k: v for k, v in series.items() if "loss" in k[1]}
    others = {k: v for k, v in series.items() if "loss" not in k[1]}
    panels = [p for p in (losses, others) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), dpi=100, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for (kind, k), pts in sorted(panel.items()):
            xs, ys = zip(*pts)
            ax.plot(xs, ys, "-" if kind == "train" else "o-", ms=3, lw=1, label=f"{k} ({kind})")
        if panel is losses and all(v > 0 for pts in panel.values() for _, v in pts):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle(title or os.path.basename(os.path.normpath(run_or_path)), fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def plot_params_time_accuracy(rows: Sequence[dict], path: str | None = None,
                              title: str = "parameters vs training time (colour: accuracy)",
                              accuracy_label: str = "PCKh@0.5 (%)"):
    """Block variants as points: x = parameters, y = relative training time, colour =
    accuracy, each labelled. ``rows``: dicts with ``name``, ``params``, ``time``, ``accuracy``
    (``accuracy`` None: drawn grey; ``time`` None: the point cannot be placed and is left out)."""
    plt = pyplot()
    if not rows:
        raise ValueError("no rows to plot")
    fig, ax = plt.subplots(figsize=(6.5, 4.6), dpi=100)
    acc = [r.get("accuracy") for r in rows]
    known = [a for a in acc if a is not None]
    lo, hi = (min(known), max(known)) if known else (0, 1)
    cmap = plt.get_cmap("viridis")
    for r, a in zip(rows, acc):
        if r.get("time") is None:
            continue
        y = r["time"]
        colour = "lightgrey" if a is None else cmap((a - lo) / ((hi - lo) or 1))
        ax.scatter(r["params"] / 1e6, y, s=60, color=colour, edgecolors="black", zorder=3)
        ax.annotate(r["name"], (r["params"] / 1e6, y), fontsize=6, xytext=(4, 3),
                    textcoords="offset points")
    if known:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
        fig.colorbar(sm, ax=ax, label=accuracy_label)
    ax.set(xlabel="parameters (millions)", ylabel="training time (relative)", title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finish(fig, path)


__all__ = ["pyplot", "colorize_labels", "label_palette", "plot_confusion", "plot_heatmaps",
           "plot_params_time_accuracy", "plot_pck_curves", "plot_segmentation", "plot_skeleton",
           "plot_training_curves", "read_metrics", "skeleton_edges"]
