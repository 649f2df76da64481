"""Evaluation: last-stack heatmaps, flip test, decoding to original-image pixels, PCKh.

Reference: docs/reference/hourglass.md §1.7, §2.2 and §7 "Evaluation"; the PCKh variants are
:data:`reprokit.metrics.keypoints.PCKH_VARIANTS` (docs/reference/logocap_metrics_ecosystem.md §3).
The CV701 table reports the ``bearpaw`` variant (``<``, Head = head top, Mean = unweighted
mean of the 14 joints without pelvis and thorax); that is the default here.

Decoding: argmax (0-based) with +-0.25 toward the larger neighbour and +0.5 (the heatmaps put
the peak on the truncated coordinate), times 4, then the inverse of the crop transform. We do
not reproduce anibali HEAD's extra -1 heatmap pixel (§0.4).

Deviations:
    Flip test: the references feed ``image[:, ::-1]`` and flip the heatmaps back with
    ``hm[:, ::-1]``. With heatmap pixel i at input pixel 4i, those two flips disagree by 0.75
    heatmap pixel, which the average turns into a 0.375-pixel bias. We flip the input about
    ``(input_size - 4) / 2`` instead (an integer shift of 3 pixels after the array flip), so
    the flipped-back heatmaps line up exactly. ``flip_align=False`` gives the references'
    behaviour.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from hourglass.data import FLIP_INDEX, MPII, STRIDE, MPIIReader, heatmap_codec
from hourglass.model import normalize_image
from hourglass.presets import GROUPS
from reprokit.data import AffineCrop, build_dataset
from reprokit.metrics.keypoints import MPII_JOINTS, PCKH_VARIANTS, pckh, pckh_curve
from reprokit.predict import draw_skeleton
from reprokit.viz import plot_pck_curves

_LOG = logging.getLogger(__name__)



def flip_input(x, align: bool = True):
    """Horizontally flip NHWC images; ``align`` shifts by ``STRIDE - 1`` px (module docstring)."""
    flipped = tf.reverse(x, axis=[2])
    if not align:
        return flipped
    shift = STRIDE - 1
    return tf.concat([flipped[:, :, shift:], tf.zeros_like(flipped[:, :, :shift])], axis=2)


def make_predict_fn(model, flip_test: bool = True, stack_fusion=None, flip_align: bool = True):
    """A traced ``f(x) -> heatmaps (N, h, w, K)`` of the last stack (or a weighted fusion).

    Args:
        stack_fusion: per-stack weights ``sum w_i hm_i`` instead of the last stack.
    """
    key = (bool(flip_test), None if stack_fusion is None else tuple(stack_fusion), bool(flip_align))
    cache = model.__dict__.setdefault("_reprokit_predict_fns", {})
    if key in cache:  # one trace per model and setting, not one per validation
        return cache[key]
    flip_index = tf.constant(FLIP_INDEX, tf.int32)

    def heads(x):
        out = model(x, training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        if stack_fusion is None:
            return out[-1]
        if len(stack_fusion) != len(out):
            raise ValueError(f"stack_fusion {tuple(stack_fusion)} does not match {len(out)} stacks")
        return tf.add_n([w * o for w, o in zip(stack_fusion, out)])

    @tf.function(reduce_retracing=True)
    def predict(x):
        if not flip_test:
            return heads(x)
        n = tf.shape(x)[0]
        both = heads(tf.concat([x, flip_input(x, flip_align)], 0))
        back = tf.gather(tf.reverse(both[n:], axis=[2]), flip_index, axis=3)
        return (both[:n] + back) / 2.0

    cache[key] = predict
    return predict


def predict_records(model, records: dict, input_size: int, mean=None, flip_test: bool = True,
                    batch_size: int = 16, stack_fusion=None, progress: bool = True,
                    flip_align: bool = True):
    """Keypoints ``(N, 16, 2)`` in original-image pixels and their scores, for records."""

    reader = MPIIReader(records, "annotated")
    ds = build_dataset(reader, AffineCrop((input_size, input_size)), None, batch_size,
                       training=False,
                       format_fn=lambda ex: (normalize_image(ex["image"], mean),
                                             ex["meta"]["transform"]))
    predict = make_predict_fn(model, flip_test, stack_fusion, flip_align)
    codec = heatmap_codec(input_size)
    coords, scores = [], []
    n = len(records["image_path"])
    for x, transform in tqdm(ds, total=-(-n // batch_size), desc="evaluating", unit="batch",
                             disable=not progress, leave=False):
        c, s = codec.decode(predict(x).numpy(), transform.numpy())
        coords.append(c)
        scores.append(s)
    return np.concatenate(coords), np.concatenate(scores)


def evaluate(model, records: dict, input_size: int, mean=None, flip_test: bool = True,
             variant: str = "bearpaw", extra_variants=(), batch_size: int = 16,
             stack_fusion=None, curve_path: str | None = None, progress: bool = True,
             chance: dict | None = None) -> dict:
    """PCKh@0.5 of ``model`` on validation records, in the CV701 table layout.

    Args:
        records: validation records with ``head_size`` (:func:`hourglass.data.load_mpii`).
        mean: the training recipe's mean (``None`` for princeton-vl).
        variant: the reported PCKh variant; ``extra_variants`` are computed as well.
        curve_path: write the PCKh curve (thresholds 0-0.5) there as a PNG.
        chance: :func:`mean_pose_baseline` of the same records, drawn dashed on that plot.

    Returns:
        dict with ``GROUPS`` keys (percent), ``per_joint``, ``variant``, ``variants`` (every
        requested variant's table), ``curve`` and ``num_people``.
    """
    head = np.asarray(records["head_size"], np.float64)
    if np.isnan(head).any():
        raise ValueError("validation records have no head sizes: put detections_our_format.mat "
                         "in the data directory (or use annot/valid.h5, whose 'normalize' is one)")
    pred, _ = predict_records(model, records, input_size, mean, flip_test, batch_size,
                              stack_fusion, progress)
    gt, mask = records["keypoints"], records["annotated"]
    empty = [MPII_JOINTS[j] for j in np.flatnonzero(np.asarray(mask).sum(0) == 0)]
    if empty:
        _LOG.warning("no annotated instance of %s among %d validation people: their PCKh is "
                     "undefined, reported as each variant's reference code reports it (NaN, "
                     "-100 for mmpose), which can make a column or Mean NaN", empty, len(gt))
    tables = {}
    for name in dict.fromkeys((variant, *extra_variants)):
        if name not in PCKH_VARIANTS:
            raise ValueError(f"unknown PCKh variant {name!r}; valid: {sorted(PCKH_VARIANTS)}")
        t = pckh(pred, gt, mask, head, 0.5, name)
        tables[name] = {g: t[g] for g in GROUPS} | {"per_joint": t["per_joint"].tolist()}
    thresholds, curve = pckh_curve(pred, gt, mask, head, variant=variant)
    result = dict(tables[variant])
    result.update(variant=variant, variants=tables, num_people=int(len(gt)),
                  curve={"thresholds": thresholds.tolist(), "pckh": curve.tolist()},
                  flip_test=bool(flip_test))
    if curve_path:
        line = (chance["curve"]["thresholds"], chance["curve"]["pckh"]) if chance else None
        plot_curves({variant: (thresholds, curve)}, curve_path, f"PCKh ({variant})", line)
    return result


def plot_curves(curves: dict, path: str, title: str = "PCKh", chance: tuple | None = None):
    """Plot ``{label: (thresholds, pckh_percent)}`` to a PNG (:func:`reprokit.viz.plot_pck_curves`),
    ``chance`` (the mean-pose curve) dashed."""
    plot_pck_curves(curves, path, title, xlabel="normalised distance threshold",
                    ylabel="PCKh (%)", xlim=(0, 0.5), chance=chance,
                    chance_label="mean pose (chance level)")


def format_table(rows: list[tuple[str, dict]], variant: str) -> str:
    """A markdown table of PCKh groups for ``(label, result)`` rows."""
    lines = [f"PCKh@0.5, variant `{variant}` ({PCKH_VARIANTS[variant].source})", "",
             "| | " + " | ".join(GROUPS) + " |", "|---" * (len(GROUPS) + 1) + "|"]
    for label, r in rows:
        lines.append(f"| {label} | " + " | ".join(f"{r[g]:.2f}" for g in GROUPS) + " |")
    return "\n".join(lines) + "\n"


def write_results(run, results: dict, title: str):
    """``results.json`` and ``results.md`` in the run directory."""
    with open(run.file("results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    rows = [("ours", results)] + ([("mean pose (chance level)", results["mean_pose"])]
                                  if "mean_pose" in results else [])
    text = f"# {title}\n\n" + format_table(rows, results["variant"])
    for name, table in results["variants"].items():
        if name != results["variant"]:
            text += "\n" + format_table([("ours", table)], name)
    extra = {k: results[k] for k in ("num_people", "train_seconds", "steps", "params")
             if k in results}
    text += "\n" + "\n".join(f"- {k}: {v}" for k, v in extra.items()) + "\n"
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return os.path.abspath(run.file("results.md"))




def mean_pose_baseline(train: dict, valid: dict, variant: str = "bearpaw") -> dict:
    """PCKh of predicting every joint at its mean position in the crop box (a chance level).

    The mean is taken over the annotated training joints in box coordinates
    ``(kp - center) / (200 * scale)`` and placed in each validation person's box. A model that
    has learnt nothing about the image scores about this.
    """
    def box(records):
        return (np.asarray(records["center"], np.float64)[:, None],
                200.0 * np.asarray(records["scale"], np.float64)[:, None, None])

    c, s = box(train)
    rel = (np.asarray(train["keypoints"], np.float64) - c) / s
    m = np.asarray(train["annotated"], np.float64)[..., None]
    mean = (rel * m).sum(0) / np.maximum(m.sum(0), 1)
    c, s = box(valid)
    pred = c + mean[None] * s
    t = pckh(pred, valid["keypoints"], valid["annotated"], valid["head_size"], 0.5, variant)
    thresholds, curve = pckh_curve(pred, valid["keypoints"], valid["annotated"], valid["head_size"],
                                   variant=variant)
    return {g: t[g] for g in GROUPS} | {"per_joint": t["per_joint"].tolist(), "variant": variant,
                                        "curve": {"thresholds": thresholds.tolist(), "pckh": curve.tolist()}}


def predict_image(model, image, input_size: int, mean=None, center=None, scale=None,
                  flip_test: bool = True) -> dict:
    """Keypoints of one person in one RGB image (uint8 ``(H, W, 3)``).

    ``center``/``scale`` (MPII convention: box side = ``200 * scale`` px) default to the whole
    image. Returns ``keypoints`` ``(16, 2)`` in image pixels, ``scores`` ``(16,)``, and the box.
    """

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    h, w = image.shape[:2]
    if center is None:
        center = ((w - 1) / 2, (h - 1) / 2)
    if scale is None:
        scale = max(h, w) / 200.0
    example = {"image": tf.constant(image, tf.uint8),
               "meta": {"center": tf.constant(center, tf.float32),
                        "scale": tf.constant(scale, tf.float32)}}
    crop = AffineCrop((input_size, input_size))(example)
    x = normalize_image(crop["image"], mean)[None]
    heatmaps = make_predict_fn(model, flip_test)(x).numpy()
    coords, scores = heatmap_codec(input_size).decode(heatmaps, crop["meta"]["transform"].numpy()[None])
    return {"keypoints": coords[0], "scores": scores[0], "center": [float(c) for c in center],
            "scale": float(scale)}


def draw_pose(image, keypoints, scores=None, threshold: float = 0.0):
    """RGB overlay of the MPII skeleton (limbs as lines, joints as dots)."""
    ok = None if scores is None else np.asarray(scores) > threshold
    return draw_skeleton(image, keypoints, MPII.skeleton, ok, left=(3, 4, 5, 13, 14, 15))


__all__ = ["draw_pose", "evaluate", "flip_input", "format_table", "make_predict_fn",
           "mean_pose_baseline", "plot_curves", "predict_image", "predict_records", "write_results"]
