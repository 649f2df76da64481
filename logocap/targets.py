"""Targets of the center-offset model (LOGO-CAP / DEKR), in TF ops for the input pipeline.

Measured against the released code executed (``cherubicXN/logocap`` @39d104f,
``dataset/target_generators`` and ``COCOKeypoints.get_joints``; golden file
``tests/data/parity/logocap_targets.npz``, equal within float32 rounding), at the output
resolution (stride 4; keypoints in output pixels are input pixels / 4):

- centre of a person: the mean of its labelled keypoints (all labelled ones, also those the
  crop cuts off); people whose annotation area is below 32^2 get no centre;
- heatmaps, 17 keypoints + 1 centre: for every labelled point inside the map, a Gaussian
  ``exp(-d^2 / (2 sigma^2))`` (sigma 2 for keypoints, 4 for the centre) over the window
  ``[floor(c - 3 sigma - 1), ceil(c + 3 sigma + 2))`` around it, the maximum over people;
- heatmap weight, one map for all 18 channels: 1 inside any point's window, 0.1 elsewhere
  (``BG_WEIGHT``), times the keep mask (0 on crowd regions, people without keypoints and
  outside the image);
- offsets, 17 x (dx, dy): people are painted in order; each paints the pixels
  ``[int(c) - 4, int(c) + 4)`` around its centre (8 x 8; ``int`` truncates) with the vector from
  the pixel to each labelled keypoint inside the map (``keypoint = pixel + offset``; the
  reference stores the negated vector and subtracts it at decoding, the same thing), and a
  keypoint already painted at a pixel is kept when the area last painted there is smaller; the
  weight is ``1 / sqrt(area)`` with the area in input pixels^2 after augmentation.

People arrive padded to a fixed count with a ``valid`` flag, so every shape is static.

Deviation: non-crowd people without labelled keypoints get no bounding-box centre (the
reference gives one to those of 32^2 or more; their region is ignored by the keep mask, so it
only matters where the window leaves their segmentation).
"""
from __future__ import annotations

import tensorflow as tf

SIGMA_KEYPOINT = 2.0
SIGMA_CENTER = 4.0
BG_WEIGHT = 0.1
OFFSET_RADIUS = 4
#: People whose annotation area is below this (input pixels^2) get no centre (reference §1.3).
MIN_CENTER_AREA = 32.0 ** 2


def person_centers(keypoints, flags, valid, center_areas):
    """``(centres (P, 2), has_centre (P,))``: the mean of each person's labelled keypoints;
    none for padding, people without labelled keypoints and areas below 32^2."""
    lab = tf.cast((tf.cast(flags, tf.float32) > 0) & (tf.cast(valid, tf.float32) > 0)[:, None], tf.float32)
    count = tf.reduce_sum(lab, axis=1)
    center = tf.reduce_sum(tf.cast(keypoints, tf.float32) * lab[..., None], axis=1) / tf.maximum(count, 1.0)[:, None]
    has = (count > 0) & (tf.cast(center_areas, tf.float32) >= MIN_CENTER_AREA)
    return center, has


def _inside(points, hw):
    h, w = hw
    return ((points[..., 0] >= 0) & (points[..., 1] >= 0) & (points[..., 0] < w)
            & (points[..., 1] < h))


def _heatmaps(points, visible, sigma, hw):
    """``(H, W, C)`` max over people of windowed Gaussians and ``(H, W)`` window coverage."""
    h, w = hw
    ok = visible & _inside(points, hw)                                     # (P, C)
    lo = tf.floor(points - 3 * sigma - 1)
    hi = tf.math.ceil(points + 3 * sigma + 2)
    xs = tf.range(w, dtype=tf.float32)[None, :, None, None]
    ys = tf.range(h, dtype=tf.float32)[:, None, None, None]
    in_x = (xs >= lo[None, None, ..., 0]) & (xs < hi[None, None, ..., 0])
    in_y = (ys >= lo[None, None, ..., 1]) & (ys < hi[None, None, ..., 1])
    window = in_x & in_y & ok[None, None]                                  # (H, W, P, C)
    d2 = (xs - points[None, None, ..., 0]) ** 2 + (ys - points[None, None, ..., 1]) ** 2
    g = tf.where(window, tf.exp(-d2 / (2.0 * sigma ** 2)), 0.0)
    # max(., 0): an image without people reduces over an empty axis (-inf)
    return tf.maximum(tf.reduce_max(g, axis=2), 0.0), tf.reduce_any(window, axis=[2, 3])


def _offsets(kp, lab, center, has_center, areas, hw):
    """The reference's painting order and overlap rule, vectorised over pixels and keypoints;
    one loop step per person (a ``tf.while_loop``, so padding costs nothing)."""
    h, w = hw
    k = int(kp.shape[1])
    ct = tf.cast(tf.cast(center, tf.int32), tf.float32)                     # int(): truncation
    ok = has_center & (ct[:, 0] >= 0) & (ct[:, 1] >= 0) & (ct[:, 0] < w) & (ct[:, 1] < h)
    lab = lab & _inside(kp, hw) & ok[:, None]                               # (P, K)
    xs = tf.range(w, dtype=tf.float32)[None, :]
    ys = tf.range(h, dtype=tf.float32)[:, None]
    grid = tf.stack([tf.broadcast_to(xs, [h, w]), tf.broadcast_to(ys, [h, w])], -1)   # (H, W, 2)
    areas = tf.cast(areas, tf.float32)

    def step(p, off, weight, area_map):
        square = ((xs >= ct[p, 0] - OFFSET_RADIUS) & (xs < ct[p, 0] + OFFSET_RADIUS)
                  & (ys >= ct[p, 1] - OFFSET_RADIUS) & (ys < ct[p, 1] + OFFSET_RADIUS))
        candidate = square[..., None] & lab[p][None, None]                  # (H, W, K)
        painted = tf.reduce_any(tf.not_equal(off, 0.0), axis=-1)
        not_skipped = ~(painted & (area_map < areas[p])[..., None])
        # once this person paints a pixel, the area there is its own: later keypoints pass
        first = tf.cast(candidate & not_skipped, tf.int32)
        before = tf.cumsum(first, axis=-1, exclusive=True) > 0
        write = candidate & (not_skipped | before)
        off = tf.where(write[..., None], kp[p][None, None] - grid[:, :, None, :], off)
        weight = tf.where(write, 1.0 / tf.sqrt(tf.maximum(areas[p], 1e-12)), weight)
        area_map = tf.where(tf.reduce_any(write, axis=-1), areas[p], area_map)
        return p + 1, off, weight, area_map

    state = (tf.constant(0), tf.zeros([h, w, k, 2]), tf.zeros([h, w, k]), tf.zeros([h, w]))
    _, off, weight, _ = tf.while_loop(lambda p, *_: p < tf.shape(kp)[0], step, state)
    return tf.reshape(off, [h, w, 2 * k]), tf.reshape(tf.repeat(weight[..., None], 2, -1), [h, w, 2 * k])


def encode_targets(keypoints, flags, areas, valid, ignore, out_hw, stride: int = 4,
                   center_areas=None):
    """Targets of one image.

    Args:
        keypoints: ``(P, K, 2)`` in input pixels (after augmentation).
        flags: ``(P, K)`` COCO ``v`` of the annotation (> 0 labelled); keypoints the crop cut
            off keep their flag (they still count for the centre; the maps skip them).
        areas: ``(P,)`` annotation areas after augmentation, input pixels^2 (offset weights).
        valid: ``(P,)`` real, non-crowd people with at least one labelled keypoint.
        ignore: ``(H, W)`` at the output or ``(H_in, W_in)`` at the input resolution (then
            nearest-resized): 1 where the loss ignores pixels.
        out_hw: output ``(H, W)`` = input / ``stride``.
        center_areas: ``(P,)`` the annotation areas before augmentation (the 32^2 rule);
            default ``areas``.

    Returns:
        ``heatmaps (H, W, K+1)``, ``heat_weight (H, W, K+1)``, ``offsets (H, W, 2K)``,
        ``offset_weight (H, W, 2K)``.
    """
    h, w = out_hw
    k = int(keypoints.shape[1])
    # only the real people, in their order (padding would cost time and change nothing)
    people = tf.where(tf.cast(valid, tf.float32) > 0)[:, 0]
    kp = tf.ensure_shape(tf.gather(tf.cast(keypoints, tf.float32), people) / float(stride), [None, k, 2])
    flags = tf.ensure_shape(tf.gather(tf.cast(flags, tf.float32), people), [None, k])
    areas = tf.gather(tf.cast(areas, tf.float32), people)
    center_areas = areas if center_areas is None else tf.gather(tf.cast(center_areas, tf.float32), people)
    valid = tf.ones_like(areas)
    lab = flags > 0
    center, has_center = person_centers(kp, flags, valid, center_areas)
    heat_kp, cover_kp = _heatmaps(kp, lab, SIGMA_KEYPOINT, (h, w))
    heat_c, cover_c = _heatmaps(center[:, None], has_center[:, None], SIGMA_CENTER, (h, w))
    heatmaps = tf.concat([heat_kp, heat_c], axis=-1)
    ignore = tf.cast(ignore, tf.float32)
    if tuple(ignore.shape[:2]) != (h, w):
        ignore = tf.image.resize(ignore[..., None], (h, w), "nearest")[..., 0]
    keep = 1.0 - ignore
    weight = tf.where(cover_kp | cover_c, 1.0, BG_WEIGHT) * keep
    heat_weight = tf.repeat(weight[..., None], int(heatmaps.shape[-1]), axis=-1)
    offsets, offset_weight = _offsets(kp, lab, center, has_center, areas, (h, w))
    return heatmaps, heat_weight, offsets, offset_weight


__all__ = ["BG_WEIGHT", "MIN_CENTER_AREA", "OFFSET_RADIUS", "SIGMA_CENTER", "SIGMA_KEYPOINT",
           "encode_targets", "person_centers"]
