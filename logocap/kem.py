"""Keypoint expansion maps (KEMs) and the empirical upper bound of searching them.

LOGO-CAP supplement §2 and Algorithm 1 (source 002 in docs/reference/README.md); facts of the
released code: docs/reference/logocap_metrics_ecosystem.md §1.2 (local KEM) and §1.6 (OKS, the
upper bound). Around each initial keypoint ``k`` a square mesh of ``(2 r + 1)^2`` points
(``r = 5``: 11 x 11) with spacing ``sigma_k / min(sigma)`` input pixels (COCO: eyes 1.00 ...
hips 4.28). The upper bound replaces every keypoint of a decoded pose by the mesh point with the
best OKS against the ground-truth person the pose matches best, then runs COCOeval: it is the
accuracy an oracle choosing inside the KEM would reach.

Deviation from the printed algorithm:
    Algorithm 1 as printed builds the mesh with ``arange(-radius, radius)``, which gives 10
    values (-5 ... 4), an even, off-centre mesh without the initial keypoint's row. We use
    ``-radius ... radius`` inclusive (11 values), which is what the released code's 11 x 11 KEMs
    (``KSIZE = 5``) and KAMs are and what keeps the initial keypoint at the centre.
"""
from __future__ import annotations

import numpy as np

from logocap.data import SIGMAS
from logocap.evaluate import coco_eval, results_list

#: Mesh half-width (LOGO-CAP ``KSIZE``; reference §1.2): 11 x 11 points.
RADIUS = 5


def mesh_offsets(radius: int = RADIUS, sigmas=SIGMAS) -> np.ndarray:
    """``(K, M, 2)`` (dx, dy) offsets of the mesh points, ``M = (2 radius + 1)^2``, row-major
    (dy outer, dx inner), scaled per keypoint by ``sigma_k / min(sigma)``."""
    steps = np.arange(-radius, radius + 1, dtype=np.float64)
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    unit = np.stack([dx.ravel(), dy.ravel()], -1)                          # (M, 2)
    scale = np.asarray(sigmas, np.float64) / np.min(sigmas)
    return unit[None] * scale[:, None, None]


def kem_points(poses, radius: int = RADIUS, sigmas=SIGMAS) -> np.ndarray:
    """``(N, K, M, 2)`` mesh points around each keypoint of ``poses`` ``(N, K, 2)``."""
    poses = np.asarray(poses, np.float64)
    return poses[:, :, None, :] + mesh_offsets(radius, sigmas)[None]


def keypoint_oks(points, gt, visible, area, sigmas=SIGMAS) -> np.ndarray:
    """Per-keypoint OKS terms ``exp(-d^2 / (2 (area + eps) (2 sigma)^2))`` (pycocotools
    ``computeOks``) of candidate points ``(..., K, M, 2)`` against one ground truth ``(K, 2)``;
    keypoints with ``visible == 0`` give NaN."""
    variances = (2 * np.asarray(sigmas, np.float64)) ** 2
    d2 = ((np.asarray(points, np.float64) - np.asarray(gt, np.float64)[:, None, :]) ** 2).sum(-1)
    e = d2 / variances[:, None] / (float(area) + np.spacing(1)) / 2
    out = np.exp(-e)
    return np.where((np.asarray(visible) > 0)[:, None], out, np.nan)


def upper_bound_poses(poses, gt_keypoints, gt_area, gt_ignore=None, radius: int = RADIUS,
                      sigmas=SIGMAS) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 for one image: the best-of-KEM version of each decoded pose.

    Args:
        poses: ``(N, K, 2)`` initial poses (one per centre anchor).
        gt_keypoints: ``(G, K, 3)`` ground truth (x, y, v).
        gt_area: ``(G,)`` areas.
        gt_ignore: ``(G,)`` people to leave out (crowd regions, no labelled keypoints: COCOeval
            ignores matches to them).

    Returns:
        ``(best (N, K, 2), match (N,))``: each pose's keypoints replaced by their best mesh
        point against the matched person (the person maximising the mean over its labelled
        keypoints of the per-keypoint best OKS); ``match`` is that person's index, -1 where
        nothing can be matched (the pose is returned unchanged).
    """
    poses = np.asarray(poses, np.float64)
    gt = np.asarray(gt_keypoints, np.float64).reshape(-1, poses.shape[1] if poses.size else 17, 3)
    ignore = np.zeros(len(gt), bool) if gt_ignore is None else np.asarray(gt_ignore, bool)
    valid = [g for g in range(len(gt)) if not ignore[g] and (gt[g, :, 2] > 0).any()]
    best = poses.copy()
    match = np.full(len(poses), -1)
    if not valid or not len(poses):
        return best, match
    points = kem_points(poses, radius, sigmas)                            # (N, K, M, 2)
    for n in range(len(poses)):
        scores, choices = [], []
        for g in valid:
            terms = keypoint_oks(points[n], gt[g, :, :2], gt[g, :, 2], gt_area[g], sigmas)
            per_joint = np.nanmax(np.where(np.isnan(terms), -np.inf, terms), axis=1)  # (K,)
            labelled = gt[g, :, 2] > 0
            scores.append(per_joint[labelled].mean())
            choices.append(np.argmax(np.where(np.isnan(terms), -np.inf, terms), axis=1))
        i = int(np.argmax(scores))
        g = valid[i]
        labelled = gt[g, :, 2] > 0
        picked = points[n, np.arange(points.shape[1]), choices[i]]
        best[n] = np.where(labelled[:, None], picked, poses[n])
        match[n] = g
    return best, match


__all__ = ["RADIUS", "keypoint_oks", "kem_points", "mesh_offsets", "upper_bound_poses"]


def evaluate_upper_bound(gt_path: str, dataset: dict, detections: dict, radius: int = RADIUS,
                         sigmas=SIGMAS) -> dict:
    """COCOeval of the initial poses and of their best-of-KEM versions (the upper bound).

    Args:
        gt_path: the COCO annotation file (:func:`logocap.evaluate.coco_eval` reads it).
        dataset: :func:`logocap.data.read_coco_keypoints` of the same file.
        detections: ``{image_id: (poses (N, K, 2), scores (N,))}``.

    Returns:
        ``{"initial": stats, "upper_bound": stats, "matched": matched poses, "poses": total}``.
    """
    initial, bound, matched, total = [], [], 0, 0
    records = {r["image_id"]: r for r in dataset["images"]}
    for image_id, (poses, scores) in detections.items():
        rec = records[image_id]
        ignore = rec["iscrowd"] | (rec["num_keypoints"] == 0)
        best, match = upper_bound_poses(poses, rec["keypoints"], rec["area"], ignore, radius, sigmas)
        ids = [image_id] * len(poses)
        initial += results_list(ids, poses, scores)
        bound += results_list(ids, best, scores)
        matched += int((match >= 0).sum())
        total += len(poses)
    ids = list(detections)
    return {"initial": coco_eval(gt_path, initial, ids, sigmas),
            "upper_bound": coco_eval(gt_path, bound, ids, sigmas), "matched": matched,
            "poses": total}


__all__ += ["evaluate_upper_bound"]
