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

import keras
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
    import time

    now = time.perf_counter()
    timing[key] = timing.get(key, 0.0) + now - start
    return now


def refine(level: str, heatmaps_hr, poses, embedding=None, cmp=None, size: int = GLOBAL_SIZE,
           sigma: float = GLOBAL_SIGMA, timing: dict | None = None):
    """Test-time adaptation of initial poses ``(B, N, 17, 2)``: ``(poses, keypoint values)``
    (the values before multiplying by the centre score). ``timing``: receives the seconds of
    ``local_kam`` (local KEM sampling + CMP) and ``global_kam`` (global KEM + adaptation)."""
    import time

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


# ---------------------------------------------------------------------------------- training


def mesh_oks(points, gt, flags, areas, valid):
    """OKS of every mesh point against every person, and each centre's match.

    Args:
        points: ``(B, N, 11, 11, 17, 2)`` local KEMs (input px).
        gt: ``(B, P, 17, 2)`` people in the same pixels; ``flags`` ``(B, P, 17)``; ``areas``
            ``(B, P)`` in input px^2 (the annotation area times the augmentation's scale^2:
            the reference computes the same OKS in the original image); ``valid`` ``(B, P)``.

    Returns:
        ``(oks_joints (B, N, 11, 11, 17), oks_person (B, N, 11, 11), matched gt (B, N, 17, 2))``
        against the matched person.
    """
    var = tf.constant((2.0 * np.asarray(SIGMAS)) ** 2, tf.float32)
    vis = tf.cast(flags > 0, tf.float32)                                            # (B, P, K)
    d2 = tf.reduce_sum(tf.square(points[:, :, :, :, None] - gt[:, None, None, None]), -1)
    vis6 = vis[:, None, None, None]
    denom = tf.maximum(2.0 * var * areas[:, None, None, None, :, None], 1e-6)
    oks = tf.exp(-(d2 * vis6) / denom) * vis6                                      # (B,N,S,S,P,K)
    count = tf.maximum(tf.reduce_sum(vis, -1), 1.0)                                 # (B, P)
    person = tf.reduce_sum(oks, -1) / count[:, None, None, None]                   # (B,N,S,S,P)
    best = tf.reduce_sum(tf.reduce_max(oks, axis=[2, 3]) * vis[:, None], -1) / count[:, None]
    best = tf.where(valid[:, None] > 0, best, -1.0)                                 # (B, N, P)
    match = tf.argmax(best, axis=-1, output_type=tf.int32)
    joints = tf.gather(tf.transpose(oks, [0, 1, 4, 2, 3, 5]), match, batch_dims=2)
    person = tf.gather(tf.transpose(person, [0, 1, 4, 2, 3]), match, batch_dims=2)
    return joints, person, tf.gather(gt, match, batch_dims=1)


def adaptation_losses(outputs, people, cmp, size: int = GLOBAL_SIZE, sigma: float = GLOBAL_SIGMA,
                      target_sigma: float = TARGET_SIGMA, training: bool = True, details: bool = False,
                      centres=None, max_instances: int | None = None):
    """The KAM (``oks``) and adapted-heatmap (``adapted``) losses of one training forward.

    Args:
        outputs: the network's ``heatmaps``, ``offsets``, ``embedding`` (stride 4).
        people: ``keypoints`` ``(B, P, 17, 2)`` input px, ``flags`` ``(B, P, 17)``, ``areas``
            ``(B, P)`` input px^2, ``valid`` ``(B, P)``.
        centres: ``(cx, cy)`` ``(B, 30)`` to use instead of the network's (tests).
        max_instances: how many kept centres of the batch go through the CMP net and the
            adaptation (a fixed buffer: kept ones first, in image order); None = all
            ``B * 30``, which is always the reference. A smaller buffer equals the reference
            whenever the batch keeps at most that many centres (``kept`` in the output says how
            many it kept; extras are left out of both losses).

    Returns:
        ``{"oks": ..., "adapted": ..., "kept": kept centres}`` (and, with ``details``, the
        selected instances' mask, KAMs, OKS targets and adapted / target windows).
    """
    heat = outputs["heatmaps"]
    hw = tf.shape(heat)[1:3] * STRIDE
    hr = upsample(heat, hw)
    cx, cy, _ = top_centers(tf.stop_gradient(hr[..., NUM_KEYPOINTS]))
    if centres is not None:
        cx, cy = (tf.convert_to_tensor(c, tf.float32) for c in centres)
    poses = tf.stop_gradient(initial_poses(tf.stop_gradient(outputs["offsets"]), cx, cy))
    points = local_kem(poses)
    oks_joints, oks_person, gt = mesh_oks(points, people["keypoints"], people["flags"],
                                          people["areas"], people["valid"])
    best_person = tf.reduce_max(oks_person, axis=[2, 3])                           # (B, N)
    positive = best_person >= OKS_KEEP
    first = tf.one_hot(0, tf.shape(positive)[1], on_value=True, off_value=False)[None]
    keep = positive | (~tf.reduce_any(positive, axis=1, keepdims=True) & first)
    r = points.shape[2] // 2
    weight = (tf.reduce_max(oks_joints, axis=[2, 3]) - oks_joints[:, :, r, r]) \
        * tf.cast(positive, tf.float32)[..., None]                                  # (B, N, K)

    # the fixed instance buffer: kept centres first, in (image, centre) order
    n = tf.shape(keep)[1]
    flat_keep = tf.reshape(keep, [-1])
    order = tf.argsort(tf.cast(~flat_keep, tf.int32), stable=True)
    if max_instances is not None:
        order = order[:max_instances]
    batch = order // n

    def pick(t):
        return tf.gather(tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0)), order)[:, None]

    sel = tf.gather(flat_keep, order)[:, None]                                       # (M, 1)
    selw = tf.cast(sel, tf.float32)
    points_s, poses_s, gt_s, oks_s, weight_s = (pick(t) for t in (points, poses, gt, oks_joints, weight))
    kam = keypoint_attention(cmp, outputs["embedding"], points_s, training=training, mask=sel, batch=batch)
    per = tf.reduce_mean(tf.square(kam - oks_s) * weight_s[:, :, None, None], axis=[2, 3, 4])
    positives = tf.reduce_sum(tf.cast(pick(positive), tf.float32) * selw)
    oks_loss = tf.reduce_sum(per * selw) / tf.maximum(positives, 1.0)

    windows = global_kem(hr, poses_s, size, sigma, batch)
    adapted = adapt_windows(windows, kam)
    t = window_offsets(size)
    gx = poses_s[..., 0][:, :, None, None, :] + t[None, None, None, :, None] - gt_s[..., 0][:, :, None, None, :]
    gy = poses_s[..., 1][:, :, None, None, :] + t[None, None, :, None, None] - gt_s[..., 1][:, :, None, None, :]
    target = tf.exp(-(gx ** 2 + gy ** 2) / (2.0 * target_sigma ** 2))
    err = tf.square(adapted - target) * weight_s[:, :, None, None, :]
    values = tf.maximum(tf.reduce_sum(selw), 1.0) * float(NUM_KEYPOINTS * size * size)
    adapted_loss = tf.reduce_sum(err * selw[:, :, None, None, None]) / values
    out = {"oks": oks_loss, "adapted": adapted_loss, "kept": tf.reduce_sum(tf.cast(keep, tf.float32))}
    if details:
        out.update(centres=(cx, cy), keep=sel[:, 0], kam=kam[:, 0], oks_joints=oks_s[:, 0],
                   oks_person=pick(oks_person)[:, 0], adapted_windows=adapted[:, 0],
                   target_windows=target[:, 0])
    return out


@keras.saving.register_keras_serializable(package="logocap")
class LogocapModel(keras.Model):
    """LOGO-CAP: ``net`` (image -> ``heatmaps``, ``offsets``, ``embedding``) and ``cmp``.

    ``call`` returns the network's outputs; :meth:`train_step` adds the adaptation losses
    (module docstring) to the heatmap and offset losses. ``y`` of a training batch is
    ``{"heatmaps", "offsets"}`` (targets with weights, as the baseline) plus ``"people"``.
    """

    def __init__(self, net, cmp, global_size: int = GLOBAL_SIZE, global_sigma: float = GLOBAL_SIGMA,
                 target_sigma: float = TARGET_SIGMA, loss_factors: dict | None = None,
                 max_instances: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_instances = None if max_instances is None else int(max_instances)
        self.net, self.cmp = net, cmp
        self.global_size, self.global_sigma = int(global_size), float(global_sigma)
        self.target_sigma = float(target_sigma)
        self.loss_factors = {**LOSS_FACTORS, **(loss_factors or {})}
        if self.global_size % 2 == 0:
            raise ValueError(f"global_size must be odd (a window centred on the keypoint), got {global_size}")
        self._trackers = {k: keras.metrics.Mean(name=k) for k in
                          ("loss", "heatmaps_loss", "offsets_loss", "oks_loss", "adapted_loss", "kept")}
        self.built = True              # net and cmp arrive built

    def call(self, x, training=False):
        return self.net(x, training=training)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compute_losses(self, x, y, training=True):
        from logocap.losses import HeatmapLoss, OffsetLoss

        out = self.net(x, training=training)
        losses = {"heatmaps": HeatmapLoss()(y["heatmaps"], out["heatmaps"]),
                  "offsets": OffsetLoss()(y["offsets"], out["offsets"])}
        losses.update(adaptation_losses(out, y["people"], self.cmp, self.global_size,
                                        self.global_sigma, self.target_sigma, training,
                                        max_instances=self.max_instances))
        total = sum(self.loss_factors[k] * losses[k] for k in LOSS_FACTORS)
        if self.losses:
            total = total + tf.add_n(self.losses)
        losses["loss"] = total
        return losses

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, y, training=True)
        variables = self.trainable_variables
        grads = tape.gradient(losses["loss"], variables)
        self.optimizer.apply(grads, variables)
        for k, tracker in self._trackers.items():
            tracker.update_state(losses[k.replace("_loss", "")] if k not in ("loss", "kept") else losses[k])
        return {k: t.result() for k, t in self._trackers.items()}

    def get_config(self):
        return {"name": self.name, "global_size": self.global_size, "global_sigma": self.global_sigma,
                "target_sigma": self.target_sigma, "loss_factors": self.loss_factors,
                "max_instances": self.max_instances}


__all__ = ["GLOBAL_SIGMA", "GLOBAL_SIZE", "LEVELS", "LOSS_FACTORS", "LogocapModel", "TARGET_SIGMA",
           "adapt_windows", "adaptation_losses", "global_kem", "global_prior", "initial_poses",
           "keypoint_attention", "local_kem", "mesh", "mesh_oks", "refine", "sample_clamped",
           "top2_positions", "top_centers", "upsample"]
