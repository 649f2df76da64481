"""Testing protocol and decoding (LOGO-CAP supplement; facts measured by running the released
code, ``cherubicXN/logocap`` @39d104f, golden file ``tests/data/parity/logocap_head.npz``;
docs/reference/logocap_metrics_ecosystem.md §1.2, §1.4, §1.5).

- Resize: the short side to ``size`` (384 / 512 / 640), aspect kept, the long side rounded up to
  a multiple of 64 (zero padding), by one affine warp; poses go back through its inverse.
- Flip test: the image and its mirror in one batch; the mirrored heatmaps are flipped back and
  their channels reordered with COCO's flip index (the centre channel maps to itself), the
  mirrored offsets flipped back, reordered by keypoint and their x negated; both averaged with
  the direct ones (no sub-pixel shift, as the reference). The embedding of LOGO-CAP comes from
  the direct image only.
- Decoding (:mod:`logocap.adaptation`): heatmaps bilinearly upsampled to the input resolution
  (``align_corners=False``); 3x3 max-pool NMS on the centre channel; the top 30 centres, those
  below 0.01 dropped (at least one kept); each initial keypoint is ``centre + 4 * offset`` with
  the offset read at the stride-4 cell ``int(centre / 4)``; then the adaptation level: ``none``
  (the initial keypoint, scored by the heatmap sampled there), ``partial`` (the best point of
  the KAM) or ``full`` (the local-global adaptation). A keypoint's score times its centre's
  score; a pose's score the mean of its 17; poses scoring 0 or less dropped.
- Pose NMS (the reference's ``nms_core``, in image pixels): ``close[i, j]`` when more than 8
  keypoints of pose ``j`` lie within ``0.05 sqrt(w_i^2 + h_i^2)`` of pose ``i``'s (``w_i, h_i``:
  pose ``i``'s keypoint extent); visiting poses in decoding order, each not yet suppressed pose
  keeps the best-scoring pose of its group (unless that one is already suppressed) and
  suppresses the group; at most 30 poses, the best-scoring.
- Multi-scale (optional): the full-resolution heatmaps and the embeddings of the other scales
  resized to the main scale and averaged; centres and offsets come from the main scale (what
  the released code ends up doing, §1.5).

The reference reads the offset at the cell ``int(centre / 4)`` but adds it to ``centre / 4``:
a keypoint lands up to 3 input pixels right of / below where the offset points from its cell.
We do the same (measured cost on perfect outputs in ``docs/fidelity.md``).
"""
from __future__ import annotations

import math
import time

import cv2
import keras
import numpy as np
import tensorflow as tf

from logocap import adaptation as A
from logocap.data import FLIP_INDEX, NUM_KEYPOINTS
from logocap.model import normalize

STRIDE = 4
MAX_CENTERS = 30
CENTER_THRESHOLD = 0.01
POSE_NMS_KEYPOINTS = 8
POSE_NMS_FRACTION = 0.05
#: The flip index with the centre channel appended (reference §1.4).
FLIP_INDEX_WITH_CENTER = tuple(FLIP_INDEX) + (NUM_KEYPOINTS,)


def resize_affine(height: int, width: int, size: int = 512, multiple: int = 64):
    """``(M 2x3, (out_h, out_w))``: short side to ``size``, long side up to a multiple of 64."""
    s = size / min(height, width)
    out_h = int(math.ceil(height * s / multiple) * multiple)
    out_w = int(math.ceil(width * s / multiple) * multiple)
    return np.array([[s, 0.0, 0.0], [0.0, s, 0.0]], np.float64), (out_h, out_w)


def flip_average(heatmaps, offsets):
    """Average a batch of two (direct, mirrored) outputs as the reference's flip test."""
    hm = np.asarray(heatmaps, np.float32)
    off = np.asarray(offsets, np.float32)
    back = hm[1, :, ::-1][..., list(FLIP_INDEX_WITH_CENTER)]
    fo = off[1, :, ::-1].reshape(off.shape[1], off.shape[2], NUM_KEYPOINTS, 2)[:, :, list(FLIP_INDEX)]
    fo = fo * np.array([-1.0, 1.0], np.float32)
    return (hm[0] + back) / 2, (off[0] + fo.reshape(off.shape[1:])) / 2


def decode_poses(heatmaps, offsets, input_hw, max_centers: int = MAX_CENTERS,
                 threshold: float = CENTER_THRESHOLD, level: str = "none", embedding=None, cmp=None,
                 global_size: int | None = None, global_sigma: float | None = None, hr=None,
                 snap_centres: bool = False, timing: dict | None = None):
    """Poses of one image from its (flip-averaged) outputs, before pose NMS.

    Args:
        heatmaps: ``(h, w, 18)`` at stride 4; offsets: ``(h, w, 34)``.
        input_hw: the network input size.
        level: ``"none"``, ``"partial"`` or ``"full"`` (the latter two need the LOGO-CAP
            ``embedding`` ``(h, w, 64)`` and ``cmp``).
        hr: the full-resolution heatmaps when already computed (multi-scale averaging).
        snap_centres: add each offset to the cell it was read from, not to the centre pixel
            (not the reference: :func:`logocap.adaptation.initial_poses`).
        timing: receives seconds per stage (``centres``: NMS, top 30 and initial poses, the
            reference's "local-kem"; ``local_kam``; ``global_kam``).

    Returns:
        ``poses (N, 17, 2)`` in input pixels, ``keypoint_scores (N, 17)``, ``scores (N,)`` in
        decoding order (centre score, descending).
    """
    start = time.perf_counter()
    if hr is None:
        hr = A.upsample(tf.convert_to_tensor(np.asarray(heatmaps, np.float32))[None], input_hw)
    else:
        hr = tf.convert_to_tensor(np.asarray(hr, np.float32))[None]
    k = min(max_centers, int(input_hw[0]) * int(input_hw[1]))
    cx, cy, cscore = (t.numpy()[0] for t in A.top_centers(hr[..., NUM_KEYPOINTS], k))
    keep = cscore >= threshold
    keep[0] = keep[0] or not keep.any()
    if timing is not None:
        timing["centres"] = timing.get("centres", 0.0) + time.perf_counter() - start
    return decode_from_centres(hr[0], offsets, cx[keep], cy[keep], cscore[keep], level, embedding,
                               cmp, global_size, global_sigma, snap_centres, timing)


def decode_from_centres(hr, offsets, cx, cy, cscore, level: str = "none", embedding=None, cmp=None,
                        global_size: int | None = None, global_sigma: float | None = None,
                        snap_centres: bool = False, timing: dict | None = None):
    """:func:`decode_poses` from given centres ``(N,)`` (input px) and their scores, with the
    full-resolution heatmaps ``hr`` ``(H, W, 18)``."""
    f32 = lambda a: tf.convert_to_tensor(np.asarray(a, np.float32))[None]  # noqa: E731
    init = A.initial_poses(f32(offsets), f32(cx), f32(cy), snap_centres)
    emb = None if embedding is None else f32(embedding)
    poses, values = A.refine(level, f32(hr), init, emb, cmp, global_size or A.GLOBAL_SIZE,
                             global_sigma or A.GLOBAL_SIGMA, timing)
    kscore = values.numpy()[0] * np.asarray(cscore, np.float32)[:, None]
    poses = poses.numpy()[0]
    scores = kscore.mean(1)
    ok = scores > 0
    return poses[ok], kscore[ok], scores[ok]


def pose_nms(poses, scores, max_people: int = MAX_CENTERS) -> np.ndarray:
    """Indices kept by the reference's pose NMS (module docstring), in its order."""
    poses = np.asarray(poses, np.float64)[..., :2]
    scores = np.asarray(scores, np.float64)
    n = len(poses)
    if not n:
        return np.zeros(0, np.int64)
    extent = poses.max(1) - poses.min(1)
    radius = POSE_NMS_FRACTION * np.sqrt((extent ** 2).sum(-1))                   # (n,)
    dist = np.sqrt(((poses[:, None] - poses[None]) ** 2).sum(-1))                  # (n, n, K)
    close = (dist < radius[:, None, None]).sum(-1) > POSE_NMS_KEYPOINTS
    ignored: set[int] = set()
    kept: list[int] = []
    for i in range(n):
        if i in ignored:
            continue
        group = np.flatnonzero(close[i])
        if not len(group):
            continue
        best = int(group[np.argmax(scores[group])])
        if best in ignored:
            continue
        kept.append(best)
        ignored.update(int(g) for g in group)
    kept = np.asarray(kept, np.int64)
    if len(kept) > max_people:
        kept = kept[np.sort(np.argsort(-scores[kept], kind="stable")[:max_people])]
    return kept


def _inference_fn(net):
    """``net(x, training=False)`` as one ``tf.function`` per network (shapes relaxed after the
    first sizes): eager Keras calls spend most of a CPU image's time in Python. Callables that
    are not Keras models (tests' stand-ins) are called as they are."""
    if not isinstance(net, keras.Model):
        return lambda x: net(x, training=False)
    fn = getattr(net, "_logocap_inference", None)
    if fn is None:             # kept on the network itself: it lives and dies with it
        fn = tf.function(lambda x: net(x, training=False), reduce_retracing=True)
        object.__setattr__(net, "_logocap_inference", fn)
    return fn


def _network(model):
    """``(net, cmp)`` of a LOGO-CAP model, ``(model, None)`` of the baseline (or any callable)."""
    return (model.net, model.cmp) if hasattr(model, "cmp") else (model, None)


def predict_image(model, image, size: int = 512, flip: bool = True, scales=(1.0,),
                  level: str = "none", timing: dict | None = None, snap_centres: bool = False):
    """Poses of one RGB uint8 image in its own pixels: ``(poses, keypoint_scores, scores)``.

    ``level``: the adaptation level (``"none"`` works for both models; ``"partial"`` and
    ``"full"`` need a LOGO-CAP model). ``timing``: a dict that receives the seconds of each
    stage (``network``: resize, both images, flip averaging, upsampling; ``centres``,
    ``local_kam``, ``global_kam``: see :func:`decode_poses`; ``nms``).
    ``snap_centres``: see :func:`decode_poses` (off by default, as the reference). The global
    KEM's window and prior are the LOGO-CAP model's (``global_size``, ``global_sigma``).
    """
    net, cmp = _network(model)
    image = np.asarray(image)
    height, width = image.shape[:2]
    order = sorted(range(len(scales)), key=lambda i: scales[i] != 1.0)   # the 1.0 scale is main
    main, hr_sum, emb_sum = None, None, None
    t0 = time.perf_counter()
    for i in order:
        m, (oh, ow) = resize_affine(height, width, int(round(size * scales[i])))
        warped = cv2.warpAffine(image, m, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0)
        x = normalize(warped)[None]
        if flip:
            x = tf.concat([x, x[:, :, ::-1]], 0)
        out = _inference_fn(net)(x)
        hm, off = out["heatmaps"].numpy(), out["offsets"].numpy()
        hm, off = flip_average(hm, off) if flip else (hm[0], off[0])
        emb = out["embedding"].numpy()[0] if "embedding" in out else None
        if main is None:
            main = (m, (oh, ow), off)
        hr = tf.image.resize(hm[None], main[1], "bilinear")[0].numpy()
        hr_sum = hr if hr_sum is None else hr_sum + hr
        if emb is not None:
            emb = tf.image.resize(emb[None], emb_sum.shape[:2], "bilinear")[0].numpy() if emb_sum is not None else emb
            emb_sum = emb if emb_sum is None else emb_sum + emb
    m, hw, off = main
    t1 = time.perf_counter()
    n = len(scales)
    poses, kscore, scores = decode_poses(None, off, hw, level=level, cmp=cmp, hr=hr_sum / n,
                                         embedding=None if emb_sum is None else emb_sum / n,
                                         snap_centres=snap_centres, timing=timing,
                                         global_size=getattr(model, "global_size", None),
                                         global_sigma=getattr(model, "global_sigma", None))
    t2 = time.perf_counter()
    inv = cv2.invertAffineTransform(m)
    poses = poses @ inv[:, :2].T + inv[:, 2]
    keep = pose_nms(poses, scores)
    if timing is not None:
        timing["network"] = timing.get("network", 0.0) + t1 - t0
        timing["nms"] = timing.get("nms", 0.0) + time.perf_counter() - t2
    return poses[keep], kscore[keep], scores[keep]


__all__ = ["CENTER_THRESHOLD", "FLIP_INDEX_WITH_CENTER", "MAX_CENTERS", "decode_from_centres", "decode_poses",
           "flip_average", "pose_nms", "predict_image", "resize_affine"]
