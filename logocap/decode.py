"""Testing protocol and decoding of the center-offset model (LOGO-CAP supplement; facts:
docs/reference/logocap_metrics_ecosystem.md §1.2, §1.4, §1.5).

- Resize: the short side to ``size`` (384 / 512 / 640), aspect kept, the long side rounded up to
  a multiple of 64 (zero padding), by one affine warp; poses go back through its inverse.
- Flip test: the image and its mirror in one batch; the mirrored heatmaps are flipped back and
  their channels reordered with COCO's flip index (the centre channel maps to itself), the
  mirrored offsets flipped back, reordered by keypoint and their x negated; both averaged with
  the direct ones (no sub-pixel shift, as the reference).
- Decoding: heatmaps bilinearly upsampled to the input resolution (``align_corners=False``);
  3x3 max-pool NMS on the centre channel; the top 30 centres above 0.01; each keypoint is the
  centre's stride-4 grid cell plus its offset, times 4; a keypoint's score is the upsampled
  heatmap at it times the centre score, a pose's the mean of its 17; pose NMS (DEKR): a pose is
  dropped when more than 8 of its keypoints lie within 0.05 sqrt(w^2 + h^2) of a higher-scoring
  pose's (w, h: the higher pose's keypoint extent).
- Multi-scale (optional): heatmaps of the other scales resized to the main scale and averaged;
  centres and offsets come from the main scale (what the released code ends up doing, §1.5).

Deviation: the centre's grid cell is ``round(centre / 4)``; the reference's exact rounding of
the upsampled peak to the offset grid is not documented in the facts we have.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

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
                 threshold: float = CENTER_THRESHOLD):
    """Poses of one image from its (flip-averaged) outputs.

    Args:
        heatmaps: ``(h, w, 18)`` at stride 4; offsets: ``(h, w, 34)``.
        input_hw: the network input size.

    Returns:
        ``poses (N, 17, 2)`` in input pixels, ``keypoint_scores (N, 17)``, ``scores (N,)``,
        sorted by score, after pose NMS.
    """
    up = tf.image.resize(np.asarray(heatmaps, np.float32)[None], input_hw, "bilinear")[0].numpy()
    center = up[..., NUM_KEYPOINTS]
    pooled = tf.nn.max_pool2d(center[None, ..., None], 3, 1, "SAME")[0, ..., 0].numpy()
    peaks = (center == pooled) & (center >= threshold)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-center[ys, xs], kind="stable")[:max_centers]
    ys, xs = ys[order], xs[order]
    h, w = np.asarray(heatmaps).shape[:2]
    off = np.asarray(offsets, np.float32).reshape(h, w, NUM_KEYPOINTS, 2)
    gy = np.clip(np.round(ys / STRIDE).astype(int), 0, h - 1)
    gx = np.clip(np.round(xs / STRIDE).astype(int), 0, w - 1)
    grid = np.stack([gx, gy], -1).astype(np.float32)[:, None, :]
    poses = (grid + off[gy, gx]) * STRIDE                                     # (N, 17, 2)
    px = np.clip(np.round(poses[..., 0]).astype(int), 0, input_hw[1] - 1)
    py = np.clip(np.round(poses[..., 1]).astype(int), 0, input_hw[0] - 1)
    kscore = up[py, px, np.arange(NUM_KEYPOINTS)[None]] * center[ys, xs][:, None]
    scores = kscore.mean(1) if len(kscore) else np.zeros(0, np.float32)
    keep = pose_nms(poses, scores)
    return poses[keep], kscore[keep], scores[keep]


def pose_nms(poses, scores) -> np.ndarray:
    """Indices kept by DEKR's pose NMS, best first (module docstring)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    kept: list[int] = []
    for i in order:
        dup = False
        for j in kept:
            extent = poses[j].max(0) - poses[j].min(0)
            radius = POSE_NMS_FRACTION * math.sqrt(float((extent ** 2).sum()))
            close = np.sqrt(((poses[i] - poses[j]) ** 2).sum(-1)) < radius
            if close.sum() > POSE_NMS_KEYPOINTS:
                dup = True
                break
        if not dup:
            kept.append(int(i))
    return np.asarray(kept, np.int64)


def predict_image(model, image, size: int = 512, flip: bool = True, scales=(1.0,)):
    """Poses of one RGB uint8 image in its own pixels: ``(poses, keypoint_scores, scores)``."""
    image = np.asarray(image)
    height, width = image.shape[:2]
    main = None
    acc = []
    for factor in scales:
        m, (oh, ow) = resize_affine(height, width, int(round(size * factor)))
        warped = cv2.warpAffine(image, m, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=0)
        x = normalize(warped)[None]
        if flip:
            x = tf.concat([x, x[:, :, ::-1]], 0)
        out = model(x, training=False)
        hm, off = out["heatmaps"].numpy(), out["offsets"].numpy()
        hm, off = flip_average(hm, off) if flip else (hm[0], off[0])
        if main is None:
            main = (m, (oh, ow), off)
        acc.append(tf.image.resize(hm[None], hm.shape[:2] if main is None else
                                   (main[1][0] // STRIDE, main[1][1] // STRIDE), "bilinear")[0].numpy())
    m, hw, off = main
    poses, kscore, scores = decode_poses(np.mean(acc, 0), off, hw)
    inv = cv2.invertAffineTransform(m)
    poses = poses @ inv[:, :2].T + inv[:, 2]
    return poses, kscore, scores


__all__ = ["CENTER_THRESHOLD", "FLIP_INDEX_WITH_CENTER", "MAX_CENTERS", "decode_poses",
           "flip_average", "pose_nms", "predict_image", "resize_affine"]
