"""LOGO-CAP's local-global contextual adaptation, in TF ops, for test and for training.

Facts of the released code, measured by running it (``cherubicXN/logocap`` @39d104f,
``models/model.py``, ``decoder.py``, ``loss.py``; golden file
``tests/data/parity/logocap_head.npz``; docs/reference/logocap_metrics_ecosystem.md §1.2-§1.3):

- **Centres**: the centre channel upsampled to the input resolution (bilinear,
  ``align_corners=False``), 3x3 max-pool NMS on its positive part, the top 30 (at test those
  below 0.01 dropped, at least one kept).
- **Initial poses**: the offsets read at the stride-4 cell ``int(centre / 4)``, added to
  ``centre / 4`` (not to the cell), times 4.
- **Local KEM**: an 11 x 11 mesh around every initial keypoint, spacing ``sigma_k / min sigma``
  (:func:`logocap.kem.mesh_offsets`); the embedding is sampled bilinearly at ``mesh / 4`` with
  the reference's clamped corners (:func:`sample_clamped`); the CMP net
  (:class:`logocap.cmp.ConvMessagePassing`) turns it into one 11 x 11 KAM per keypoint,
  clamped to [0, 1] at test.
- **Global KEM + adaptation** (``full``): a ``97 x 97`` window (offsets -48 ... 48, 1 px apart)
  of the full-resolution keypoint heatmap around each initial keypoint, times a Gaussian of
  sigma 16 px with values below 1e-4 set to 0, convolved with the spatially flipped KAM / 121
  as a per-instance depthwise kernel (zero padding 5); the two largest responses are blended
  0.75 / 0.25 in position and value. ``partial``: the KAM's best mesh point and its value.
  ``none``: the initial keypoint, scored by the heatmap sampled there. A keypoint's score is
  then multiplied by its centre's, a pose's score is the mean of its 17.
- **Training**: the centres and offsets of the training forward (no flip, no threshold, top 30,
  gradients stopped), the OKS of every mesh point against every ground-truth person
  (``exp(-d^2 / (2 (2 sigma_k)^2 area))`` over labelled keypoints), each centre matched to the
  person with the best mean per-keypoint best-over-mesh OKS; centres whose best person-level
  OKS over the mesh is >= 0.5 are kept (the first centre when none is). KAM loss: MSE to the
  per-point OKS, weighted per keypoint by (best OKS over the mesh - OKS at the mesh centre),
  mean over the 11 x 11 x 17 values, summed over kept centres and divided by their number;
  adapted-heatmap loss: MSE of the adapted 97 x 97 window to a Gaussian of sigma 4 px around
  the matched keypoint, same weights, mean over every kept value. Factors: heatmaps 1,
  offsets 0.01, KAM (``OKS``) 0.01, adapted heatmap 1.

Everything runs on fixed shapes: 30 centres per image and people padded to 30 with a ``valid``
flag; kept centres are a mask, never a ragged tensor.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from logocap.data import NUM_KEYPOINTS, SIGMAS
from logocap.kem import RADIUS, mesh_offsets

STRIDE = 4
MAX_CENTERS = 30
CENTER_THRESHOLD = 0.01
#: Global KEM (reference ``DECODER.GLOBAL_HM_SIZE`` 96 -> offsets -48 ... 48, ``SIGMA`` 16).
GLOBAL_SIZE = 97
GLOBAL_SIGMA = 16.0
GAUSSIAN_FLOOR = 1e-4
#: Sigma (input px) of the adapted-heatmap target around the matched keypoint.
TARGET_SIGMA = 4.0
TOP2_BLEND = (0.75, 0.25)
#: Loss factors of the reference (``LOSS_FACTORS``; ``HM`` defaults to 1.0).
LOSS_FACTORS = {"heatmaps": 1.0, "offsets": 0.01, "oks": 0.01, "adapted": 1.0}
LEVELS = ("none", "partial", "full")
OKS_KEEP = 0.5
LOCAL = 2 * RADIUS + 1


def mesh(radius: int = RADIUS) -> tf.Tensor:
    """``(11, 11, 17, 2)`` (dx, dy) of the local KEM, ``[i, j]`` = (dy = i - 5, dx = j - 5)."""
    m = mesh_offsets(radius, SIGMAS)                                # (K, M, 2)
    side = 2 * radius + 1
    return tf.constant(np.transpose(m, (1, 0, 2)).reshape(side, side, -1, 2), tf.float32)


def _corners(p, size):
    size = tf.cast(size, p.dtype)
    p0 = tf.clip_by_value(tf.floor(p), 0.0, size - 1.0)
    p1 = tf.clip_by_value(p0 + 1.0, 0.0, size - 1.0)
    d0 = tf.clip_by_value(p1 - p, 0.0, 1.0)
    d1 = tf.clip_by_value(p - p0, 0.0, 1.0)
    return tf.cast(p0, tf.int32), tf.cast(p1, tf.int32), d0, d1


def sample_clamped(maps, px, py, channels=None, batch=None):
    """Bilinear sampling with the reference's clamped corners.

    Args:
        maps: ``(B, H, W, C)``.
        px, py: ``(B, ...)`` positions in map pixels.
        channels: None (every channel: returns ``(B, ..., C)``) or int channel indices
            broadcastable to ``px`` (returns ``(B, ...)``).
        batch: optional ``(B,)`` map index of each leading element (default ``0 ... B-1``).

    Corners are ``floor(p)`` and ``floor(p) + 1``, both clamped into the map, weights
    ``clamp(p1 - p, 0, 1)`` and ``clamp(p - p0, 0, 1)``: outside the map the border value
    (times a weight that fades to 0 one pixel past the last column / row), as the reference.
    """
    shape = tf.shape(maps)
    x0, x1, dx0, dx1 = _corners(px, shape[2])
    y0, y1, dy0, dy1 = _corners(py, shape[1])
    rank = len(px.shape)
    b = tf.range(shape[0]) if batch is None else tf.cast(batch, tf.int32)
    b = tf.reshape(b, [-1] + [1] * (rank - 1)) + tf.zeros_like(x0)
    extra = [] if channels is None else [tf.cast(channels, tf.int32) + tf.zeros_like(x0)]

    def g(y, x):
        return tf.gather_nd(maps, tf.stack([b, y, x] + extra, -1))

    if channels is None:
        dx0, dx1, dy0, dy1 = (d[..., None] for d in (dx0, dx1, dy0, dy1))
    return (g(y0, x0) * dy0 * dx0 + g(y0, x1) * dy0 * dx1 + g(y1, x0) * dy1 * dx0
            + g(y1, x1) * dy1 * dx1)


def upsample(heatmaps, hw):
    """Bilinear (half-pixel, = PyTorch ``align_corners=False``) to the input size ``hw``."""
    return tf.image.resize(heatmaps, hw, "bilinear")


def top_centers(center_map, k: int = MAX_CENTERS):
    """``(x, y, score)``, each ``(B, k)``, of the reference's centre NMS on ``(B, H, W)``."""
    w = tf.shape(center_map)[2]
    pooled = tf.nn.max_pool2d(tf.nn.relu(center_map)[..., None], 3, 1, "SAME")[..., 0]
    peaks = tf.where(tf.equal(pooled, center_map), center_map, tf.zeros_like(center_map))
    flat = tf.reshape(peaks, [tf.shape(peaks)[0], -1])
    score, idx = tf.math.top_k(flat, k)
    return tf.cast(idx % w, tf.float32), tf.cast(idx // w, tf.float32), score


def initial_poses(offsets, cx, cy, snap: bool = False):
    """``(B, N, 17, 2)`` initial poses (input px) of centres ``cx, cy`` ``(B, N)`` (input px)
    from the stride-4 offsets ``(B, h, w, 34)`` (``keypoint = cell + offset``).

    The reference adds the offset of the cell ``int(c / 4)`` to ``c / 4`` itself, which moves
    every keypoint by ``c - 4 int(c / 4)`` (0 to 3 px); ``snap=True`` adds it to the cell the
    offset was regressed from instead (not the reference; docs/fidelity.md)."""
    shape = tf.shape(offsets)
    gx = tf.clip_by_value(tf.cast(cx / STRIDE, tf.int32), 0, shape[2] - 1)
    gy = tf.clip_by_value(tf.cast(cy / STRIDE, tf.int32), 0, shape[1] - 1)
    b = tf.range(shape[0])[:, None] + tf.zeros_like(gx)
    off = tf.gather_nd(offsets, tf.stack([b, gy, gx], -1))
    off = tf.reshape(off, tf.concat([tf.shape(cx), [NUM_KEYPOINTS, 2]], 0))
    centre = tf.stack([cx, cy], -1)[:, :, None, :] / STRIDE
    if snap:
        centre = tf.cast(tf.stack([gx, gy], -1), tf.float32)[:, :, None, :]
    return (centre + off) * STRIDE


def local_kem(poses, radius: int = RADIUS):
    """``(B, N, 11, 11, 17, 2)`` mesh points around initial poses ``(B, N, 17, 2)``."""
    return poses[:, :, None, None] + mesh(radius)


def keypoint_attention(cmp, embedding, points, training=False, mask=None, batch=None):
    """KAMs ``(B, N, 11, 11, 17)`` from the embedding ``(B, h, w, E)`` sampled at the local KEM
    ``points`` ``(B, N, 11, 11, 17, 2)`` (``mask`` ``(B, N)``: instances whose statistics count
    in training; ``batch``: see :func:`sample_clamped`)."""
    lat = sample_clamped(embedding, points[..., 0] / STRIDE, points[..., 1] / STRIDE, batch=batch)
    shape = tf.shape(lat)
    side = points.shape[2]
    flat = tf.reshape(lat, [-1, side, side, NUM_KEYPOINTS * lat.shape[-1]])
    kam = cmp(flat, training=training, mask=None if mask is None else tf.reshape(mask, [-1]))
    return tf.reshape(kam, tf.concat([shape[:2], [side, side, NUM_KEYPOINTS]], 0))


def window_offsets(size: int = GLOBAL_SIZE):
    r = size // 2
    return tf.range(-r, r + 1, dtype=tf.float32)


def global_prior(size: int = GLOBAL_SIZE, sigma: float = GLOBAL_SIGMA):
    """``(S, S)`` Gaussian of the global KEM, values below 1e-4 set to 0."""
    t = window_offsets(size)
    g = tf.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2.0 * sigma * sigma))
    return tf.where(g >= GAUSSIAN_FLOOR, g, tf.zeros_like(g))


def global_kem(heatmaps_hr, centres, size: int = GLOBAL_SIZE, sigma: float = GLOBAL_SIGMA, batch=None):
    """``(B, N, S, S, 17)``: each keypoint's window of the full-resolution heatmap
    ``(B, H, W, >= 17)`` around ``centres`` ``(B, N, 17, 2)``, times the Gaussian prior."""
    t = window_offsets(size)
    px = centres[:, :, None, None, :, 0] + t[None, None, None, :, None]
    py = centres[:, :, None, None, :, 1] + t[None, None, :, None, None]
    px, py = tf.broadcast_to(px, tf.shape(px + py)), tf.broadcast_to(py, tf.shape(px + py))
    values = sample_clamped(heatmaps_hr, px, py, tf.range(NUM_KEYPOINTS), batch)
    return values * global_prior(size, sigma)[:, :, None]


def adapt_windows(windows, kam):
    """The adapted windows ``(B, N, S, S, 17)``: each window convolved with its own flipped
    KAM / 121 (a per-instance depthwise conv, zero padding)."""
    shape = tf.shape(windows)
    s, side = windows.shape[2], kam.shape[2]
    x = tf.reshape(tf.transpose(windows, [2, 3, 0, 1, 4]), [1, s, s, -1])
    kernel = tf.reverse(kam, [2, 3]) / float(side * side)
    kernel = tf.reshape(tf.transpose(kernel, [2, 3, 0, 1, 4]), [side, side, -1, 1])
    out = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")
    out = tf.reshape(out, [s, s, shape[0], shape[1], shape[4]])
    return tf.transpose(out, [2, 3, 0, 1, 4])


def top2_positions(adapted, centres):
    """Blend the two largest responses 0.75 / 0.25: ``(poses (B, N, 17, 2), values (B, N, 17))``."""
    s = adapted.shape[2]
    flat = tf.reshape(tf.transpose(adapted, [0, 1, 4, 2, 3]),
                      tf.concat([tf.shape(adapted)[:2], [NUM_KEYPOINTS, s * s]], 0))
    value, idx = tf.math.top_k(flat, 2)
    y, x = tf.cast(idx // s, tf.float32), tf.cast(idx % s, tf.float32)
    a, b = TOP2_BLEND
    r = float(s // 2)
    dx = a * x[..., 0] + b * x[..., 1] - r
    dy = a * y[..., 0] + b * y[..., 1] - r
    return centres + tf.stack([dx, dy], -1), a * value[..., 0] + b * value[..., 1]


def _tick(timing, key, start, result):
    """Add the seconds since ``start`` to ``timing[key]`` once ``result`` is computed."""
    if timing is None:
        return None
    _ = [np.asarray(t) for t in tf.nest.flatten(result)]        # wait for the device
    now = time.perf_counter()
    timing[key] = timing.get(key, 0.0) + now - start
    return now


def refine(level: str, heatmaps_hr, poses, embedding=None, cmp=None, size: int = GLOBAL_SIZE,
           sigma: float = GLOBAL_SIGMA, timing: dict | None = None):
    """Test-time adaptation of initial poses ``(B, N, 17, 2)``: ``(poses, keypoint values)``
    (the values before multiplying by the centre score). ``timing``: receives the seconds of
    ``local_kam`` (local KEM sampling + CMP) and ``global_kam`` (global KEM + adaptation)."""
    start = time.perf_counter()
    if level not in LEVELS:
        raise ValueError(f"adaptation level must be one of {LEVELS}, got {level!r}")
    if level == "none":
        return poses, sample_clamped(heatmaps_hr, poses[..., 0], poses[..., 1], tf.range(NUM_KEYPOINTS))
    if cmp is None or embedding is None:
        raise ValueError(f"adaptation level {level!r} needs a LOGO-CAP model (embedding + CMP); "
                         "this model is the center-offset baseline: use level 'none'")
    points = local_kem(poses)
    kam = tf.clip_by_value(keypoint_attention(cmp, embedding, points), 0.0, 1.0)
    start = _tick(timing, "local_kam", start, kam)
    if level == "partial":
        flat = tf.reshape(kam, tf.concat([tf.shape(kam)[:2], [-1, NUM_KEYPOINTS]], 0))
        best = tf.argmax(flat, axis=2, output_type=tf.int32)                   # (B, N, 17)
        pts = tf.reshape(points, tf.concat([tf.shape(points)[:2], [-1, NUM_KEYPOINTS, 2]], 0))
        chosen = tf.gather(tf.transpose(pts, [0, 1, 3, 2, 4]), best[..., None], batch_dims=3)[..., 0, :]
        return chosen, tf.reduce_max(flat, axis=2)
    windows = global_kem(heatmaps_hr, poses, size, sigma)
    result = top2_positions(adapt_windows(windows, kam), poses)
    _tick(timing, "global_kam", start, result)
    return result


__all__ = ["GLOBAL_SIGMA", "GLOBAL_SIZE", "LEVELS", "LOSS_FACTORS", "TARGET_SIGMA", "adapt_windows",
           "global_kem", "global_prior", "initial_poses", "keypoint_attention", "local_kem", "mesh",
           "refine", "sample_clamped", "top2_positions", "top_centers", "upsample", "window_offsets"]
