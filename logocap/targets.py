"""Targets of the center-offset model (LOGO-CAP / DEKR), in TF ops for the input pipeline.

docs/reference/logocap_metrics_ecosystem.md §1.3, at the output resolution (stride 4):

- heatmaps, 17 keypoints + 1 person centre: Gaussians ``exp(-d^2 / (2 sigma^2))``, sigma 2 for
  keypoints and 4 for the centre, the maximum over people; the centre is the mean of the
  person's labelled keypoints; people whose area is below 32^2 input pixels get no centre;
- heatmap weights: 1 where the target is positive (the Gaussian support), 0.1 elsewhere
  (``BG_WEIGHT``), times the ignore mask (crowd regions and people without labelled keypoints);
- offsets, 17 x (dx, dy): in a radius-4 square around each centre pixel, the vector from the
  pixel to each labelled keypoint (``keypoint = pixel + offset``; the reference stores the
  negated vector and subtracts it, the same thing); where squares overlap the smaller person
  wins; weight ``1 / sqrt(area)`` (in output pixels) on labelled keypoints, 0 elsewhere.

People arrive padded to a fixed count with a ``valid`` flag, so every shape is static.
"""
from __future__ import annotations

import tensorflow as tf

SIGMA_KEYPOINT = 2.0
SIGMA_CENTER = 4.0
BG_WEIGHT = 0.1
OFFSET_RADIUS = 4
#: People smaller than this (input pixels^2) get no centre (reference §1.3).
MIN_CENTER_AREA = 32.0 ** 2


def _gaussians(points, mask, hw, sigma):
    """``(H, W, C)`` max over people of Gaussians at ``points`` ``(P, C, 2)`` where ``mask``."""
    h, w = hw
    ys = tf.range(h, dtype=tf.float32)[:, None, None, None]
    xs = tf.range(w, dtype=tf.float32)[None, :, None, None]
    d2 = (xs - points[None, None, :, :, 0]) ** 2 + (ys - points[None, None, :, :, 1]) ** 2
    g = tf.exp(-d2 / (2.0 * sigma ** 2)) * tf.cast(mask, tf.float32)[None, None]
    g = tf.where(g < 1e-4, 0.0, g)                 # a finite support (weight 1 only near people)
    return tf.reduce_max(g, axis=2)


def encode_targets(keypoints, flags, areas, valid, ignore, out_hw, stride: int = 4):
    """Targets of one image.

    Args:
        keypoints: ``(P, K, 2)`` in input pixels (after augmentation).
        flags: ``(P, K)`` COCO ``v`` (> 0 labelled; out-of-frame keypoints must be 0 already).
        areas: ``(P,)`` areas in input pixels^2 (after augmentation).
        valid: ``(P,)`` real, non-crowd people with at least one labelled keypoint.
        ignore: ``(H_in, W_in)`` 1 where the loss ignores pixels (crowds, unlabelled people).
        out_hw: output ``(H, W)`` = input / ``stride``.

    Returns:
        ``heatmaps (H, W, K+1)``, ``heat_weight (H, W, K+1)``, ``offsets (H, W, 2K)``,
        ``offset_weight (H, W, 2K)``.
    """
    h, w = out_hw
    kp = tf.cast(keypoints, tf.float32) / float(stride)
    labelled = (tf.cast(flags, tf.float32) > 0) & tf.cast(valid, tf.bool)[:, None]
    lab_f = tf.cast(labelled, tf.float32)
    count = tf.reduce_sum(lab_f, axis=1)
    center = tf.reduce_sum(kp * lab_f[..., None], axis=1) / tf.maximum(count, 1.0)[:, None]
    has_center = (count > 0) & (tf.cast(areas, tf.float32) >= MIN_CENTER_AREA)
    heat_kp = _gaussians(kp, labelled, (h, w), SIGMA_KEYPOINT)
    heat_c = _gaussians(center[:, None], has_center[:, None], (h, w), SIGMA_CENTER)
    heatmaps = tf.concat([heat_kp, heat_c], axis=-1)
    keep = 1.0 - tf.image.resize(tf.cast(ignore, tf.float32)[..., None], (h, w), "nearest")
    heat_weight = tf.where(heatmaps > 0, 1.0, BG_WEIGHT) * keep

    # offsets: the smallest person's square wins, so paint from the largest to the smallest
    area_out = tf.cast(areas, tf.float32) / float(stride * stride)
    order = tf.argsort(tf.where(has_center, area_out, -1.0), direction="DESCENDING")
    ys = tf.range(h, dtype=tf.float32)[:, None]
    xs = tf.range(w, dtype=tf.float32)[None, :]
    cx, cy = tf.round(center[:, 0]), tf.round(center[:, 1])
    k = int(keypoints.shape[1])
    owner = tf.fill([h, w], -1)
    for_people = tf.unstack(order) if order.shape[0] is not None else []
    for p in for_people:
        inside = ((tf.abs(xs - cx[p]) <= OFFSET_RADIUS) & (tf.abs(ys - cy[p]) <= OFFSET_RADIUS)
                  & has_center[p])
        owner = tf.where(inside, tf.cast(p, tf.int32), owner)
    safe = tf.maximum(owner, 0)
    grid = tf.stack([tf.broadcast_to(xs, [h, w]), tf.broadcast_to(ys, [h, w])], -1)    # (H, W, 2)
    target_kp = tf.gather(kp, safe)                                                   # (H, W, K, 2)
    offsets = target_kp - grid[:, :, None, :]
    weight = (tf.gather(lab_f, safe) * tf.cast(owner >= 0, tf.float32)[..., None]
              / tf.sqrt(tf.maximum(tf.gather(area_out, safe), 1.0))[..., None])
    offsets = tf.reshape(offsets * tf.cast(weight > 0, tf.float32)[..., None], [h, w, 2 * k])
    offset_weight = tf.reshape(tf.repeat(weight[..., None], 2, axis=-1), [h, w, 2 * k])
    return heatmaps, heat_weight, offsets, offset_weight


__all__ = ["BG_WEIGHT", "MIN_CENTER_AREA", "OFFSET_RADIUS", "SIGMA_CENTER", "SIGMA_KEYPOINT",
           "encode_targets"]
