"""Keypoint metrics with exact, named semantics: PCK, PCKh (five variants), EPE, AUC, OKS.

All functions are pure numpy. Shapes: ``N`` instances, ``K`` keypoints, coordinates ``(x, y)``.
``mask`` is 1 for keypoints that count (annotated); 0 entries are excluded everywhere.
"""
from __future__ import annotations

import dataclasses

import numpy as np

# MPII joint order (princeton-vl data/MPII/ref.py; docs/reference/hourglass.md §1.5).
MPII_JOINTS = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
               "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
               "l_elbow", "l_wrist")
#: The CV701 / bearpaw table layout: group -> MPII joint indices (Head is per variant).
MPII_GROUPS = {"Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3),
               "Knee": (1, 4), "Ankle": (0, 5)}


def keypoint_distances(pred, gt, mask) -> np.ndarray:
    """Euclidean distances ``(N, K)``; ``nan`` where ``mask`` is 0.

    Args:
        pred, gt: ``(N, K, 2)`` (or ``(N, K, 3)``) coordinates in the same units.
        mask: ``(N, K)``, nonzero = evaluated.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {pred.shape} vs {gt.shape}")
    d = np.linalg.norm(pred - gt, axis=-1)
    # A NaN prediction is a miss, never a hit (official MATLAB: NaN preds -> inf).
    d = np.where(np.isnan(d), np.inf, d)
    return np.where(np.asarray(mask) > 0, d, np.nan)


def pck(pred, gt, mask, normalizer, threshold: float, inclusive: bool = True):
    """Percentage of correct keypoints.

    ``correct = ||pred - gt|| / normalizer <= threshold`` (``<`` if not ``inclusive``).

    Args:
        pred, gt: ``(N, K, 2)``.
        mask: ``(N, K)``.
        normalizer: scalar or ``(N,)`` per-instance normaliser (head size, bbox size, ...).
        threshold: normalised distance threshold.
        inclusive: use ``<=`` (official MPII, hand3d) or ``<`` (bearpaw, mmpose).

    Returns:
        ``(per_keypoint (K,), pooled)``: fraction correct per keypoint over its valid
        instances (``nan`` for keypoints with none) and over all valid (instance, keypoint)s.
    """
    d = keypoint_distances(pred, gt, mask) / np.reshape(np.asarray(normalizer, np.float64), (-1, 1))
    valid = ~np.isnan(d)
    hit = (d <= threshold) if inclusive else (d < threshold)
    hit &= valid
    count = valid.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_kp = np.where(count > 0, hit.sum(0) / np.maximum(count, 1), np.nan)
    pooled = hit.sum() / valid.sum() if valid.sum() else np.nan
    return per_kp, float(pooled)


@dataclasses.dataclass(frozen=True)
class PCKhVariant:
    """How one codebase turns per-joint hits into the MPII table.

    Each variant is a promise of its peer's numbers, edge cases included (checked against the
    peers' own code, executed: ``docs/fidelity.md``). Where a peer's behaviour is a bug of the
    peer (mmpose's -100 for a joint without annotations), the variant reproduces it.

    Attributes:
        name: variant name.
        inclusive: threshold test ``<=`` (True) or ``<`` (False).
        head: MPII joints averaged for the "Head" column.
        mean_joints: joints entering "Mean".
        mean: ``"pooled"`` (hits over all valid instances of ``mean_joints``; a joint without
            instances simply adds nothing), ``"per_joint"`` (unweighted mean of the per-joint
            values; NaN if one of them is NaN) or ``"count_weighted"``
            (``sum(PCKh_j * count_j / sum(count))``: equal to pooled, except that the
            per-joint value of an empty joint enters as ``NaN * 0``, i.e. NaN, or as
            ``empty_value * 0``).
        groups: ``"mean"`` (a left/right column is ``0.5 * (PCKh_l + PCKh_r)``, NaN or
            ``empty_value`` propagating) or ``"pooled"`` (hits over the instances of both
            joints, princeton-vl's categories).
        empty_value: the per-joint value (percent) of a joint without annotated instances:
            NaN (MATLAB ``0/0``, numpy) or -100 (mmpose ``_distance_acc`` returns -1).
        source: where the definition comes from.
    """

    name: str
    inclusive: bool
    head: tuple[int, ...]
    mean_joints: tuple[int, ...]
    mean: str
    source: str
    groups: str = "mean"
    empty_value: float = float("nan")


_NO_PELVIS_THORAX = tuple(j for j in range(16) if j not in (6, 7))

#: docs/reference/logocap_metrics_ecosystem.md §3 (table "Python ports and their differences"),
#: edge cases measured by running each peer (``docs/fidelity.md``).
PCKH_VARIANTS = {
    "official": PCKhVariant("official", True, (8, 9), _NO_PELVIS_THORAX, "pooled",
                            "MPII evalMPII.zip (MATLAB): <=, Head = mean(neck, head top), pooled "
                            "Mean; a joint without annotations is NaN, so is its column"),
    "bearpaw": PCKhVariant("bearpaw", False, (9,), _NO_PELVIS_THORAX, "per_joint",
                           "bearpaw/pytorch-pose evaluation/eval_PCKh.py: <, Head = head top, "
                           "unweighted mean of 14 joints (what CV701 Table 1 reports); an empty "
                           "joint makes its column and Mean NaN"),
    "anibali": PCKhVariant("anibali", False, (9,), _NO_PELVIS_THORAX, "per_joint",
                           "anibali/pytorch-stacked-hourglass evaluate_mpii_validation_accuracy "
                           "(= bearpaw)"),
    "princeton": PCKhVariant("princeton", False, (9,), tuple(range(16)), "pooled",
                             "princeton-vl/pytorch_stacked_hourglass test.py mpii_eval: <, "
                             "'total' pooled over all 16 joints, each left/right category pooled "
                             "over the instances of both joints", groups="pooled"),
    "msra": PCKhVariant("msra", True, (9,), _NO_PELVIS_THORAX, "count_weighted",
                        "microsoft/human-pose-estimation.pytorch lib/dataset/mpii.py (= HRNet): "
                        "<=, Head = head top, Mean = sum(PCKh * jnt_ratio), NaN when a joint "
                        "has no annotation"),
    "mmpose": PCKhVariant("mmpose", False, (9,), _NO_PELVIS_THORAX, "count_weighted",
                          "mmpose MpiiPCKAccuracy: <, Head = head top, Mean = sum(PCKh * "
                          "jnt_ratio). Peer bug reproduced: a joint without annotations scores "
                          "-100 (keypoint_pck_accuracy's -1), which halves into its column "
                          "(0.5 * (PCKh_r - 100)); Mean is unaffected (-100 * 0)",
                          empty_value=-100.0),
}


def head_size_from_boxes(head_boxes, sc_bias: float = 0.6) -> np.ndarray:
    """MPII head size: ``sc_bias * ||(x2, y2) - (x1, y1)||`` per head box.

    Args:
        head_boxes: ``(N, 4)`` as ``(x1, y1, x2, y2)``.
        sc_bias: 0.6 (MPII ``util_get_head_size``: "0.8 * 0.75"; docs/reference/logocap_metrics_ecosystem.md §3).
    """
    b = np.asarray(head_boxes, np.float64)
    return sc_bias * np.linalg.norm(b[:, 2:4] - b[:, 0:2], axis=1)


def pckh(pred, gt, mask, head_size, threshold: float = 0.5, variant: str = "bearpaw") -> dict:
    """PCKh in the CV701 table layout, for MPII's 16 joints.

    ``correct = ||pred - gt|| / head_size`` compared with ``threshold`` (``<=`` or ``<`` per
    variant); a NaN prediction is a miss. Per-joint PCKh is over that joint's annotated
    instances (a joint without any gets the variant's ``empty_value``). Shoulder, Elbow, Wrist,
    Hip, Knee and Ankle are the mean of the left and right per-joint values (or pooled, for
    ``princeton``); Head averages the variant's head joints; Mean is pooled, the unweighted
    per-joint mean or the count-weighted mean over the variant's joints (see
    :data:`PCKH_VARIANTS` and :class:`PCKhVariant` for how each handles empty joints).

    Args:
        pred, gt: ``(N, 16, 2)`` in original-image pixels.
        mask: ``(N, 16)``, 1 = annotated.
        head_size: ``(N,)`` normaliser (``head_size_from_boxes`` or princeton's ``normalize``).
        threshold: normalised threshold. Defaults to 0.5 (PCKh@0.5).
        variant: a key of :data:`PCKH_VARIANTS`.

    Returns:
        dict with ``Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean`` in percent,
        ``per_joint`` (16,) in percent, ``variant`` and ``threshold``.
    """
    if variant not in PCKH_VARIANTS:
        raise ValueError(f"unknown PCKh variant {variant!r}; valid: {sorted(PCKH_VARIANTS)}")
    v = PCKH_VARIANTS[variant]
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape[1:] != (16, 2):
        raise ValueError(f"pckh expects MPII's 16 joints as (N, 16, 2), got {pred.shape}")
    d = keypoint_distances(pred, gt, mask) / np.reshape(np.asarray(head_size, np.float64), (-1, 1))
    valid = ~np.isnan(d)
    hit = ((d <= threshold) if v.inclusive else (d < threshold)) & valid
    hits, count = hit.sum(0).astype(np.float64), valid.sum(0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(count > 0, 100.0 * hits / np.maximum(count, 1), v.empty_value)

        def pooled(joints):
            c = count[list(joints)].sum()
            return 100.0 * hits[list(joints)].sum() / c if c else float("nan")

        def averaged(joints):
            return float(np.mean(per_joint[list(joints)]))

        group = pooled if v.groups == "pooled" else averaged
        result = {"Head": averaged(v.head)}
        for name, joints in MPII_GROUPS.items():
            result[name] = group(joints)
        mj = list(v.mean_joints)
        if v.mean == "pooled":
            mean = pooled(mj)
        elif v.mean == "per_joint":
            mean = averaged(mj)
        else:                                               # count_weighted
            mean = float(np.sum(per_joint[mj] * (count[mj] / count[mj].sum())))
    result["Mean"] = float(mean)
    result["per_joint"] = per_joint
    result["variant"] = variant
    result["threshold"] = threshold
    return result


def pckh_curve(pred, gt, mask, head_size, thresholds=None, variant: str = "bearpaw"):
    """Mean PCKh as a function of the threshold (default ``0, 0.01, ..., 0.5``, as MPII).

    Returns:
        ``(thresholds, mean_pckh_percent)`` arrays.
    """
    thresholds = np.linspace(0, 0.5, 51) if thresholds is None else np.asarray(thresholds)
    values = [pckh(pred, gt, mask, head_size, t, variant)["Mean"] for t in thresholds]
    return thresholds, np.asarray(values)


def epe_auc(pred, gt, mask, semantics: str = "hand3d", max_threshold: float = 30.0,
            num_thresholds: int = 20) -> dict:
    """End-point error and the area under the PCK curve, in hand3d or mmpose semantics.

    ``hand3d`` (lmb-freiburg/hand3d ``utils/general.py: EvalUtil.get_measures(0, 30, 20)``;
    docs/reference/handpose.md §5): distances of visible keypoints are collected per keypoint;
    ``mean`` = mean over keypoints of the per-keypoint mean, ``median`` = mean over keypoints of
    the per-keypoint median; thresholds ``linspace(0, max, num)``; per-keypoint
    ``PCK(t) = mean(d <= t)``; ``AUC = trapz(PCK, t) / trapz(1, t)`` per keypoint, then the mean
    over keypoints. Keypoints without any visible sample are skipped. A NaN prediction of a
    visible keypoint makes ``mean`` and ``median`` NaN and counts as a miss in the PCK curve
    and the AUC, as in both references (executed: ``docs/fidelity.md``).

    ``mmpose`` (``mmpose/evaluation/functional/keypoint_eval.py``: ``keypoint_epe``,
    ``keypoint_auc(norm_factor=max, num_thrs=num)``): ``mean`` = pooled mean of all visible
    distances, ``median`` = pooled median (mmpose has none; ours, same pooling);
    thresholds ``i / num * max`` for ``i = 0 .. num - 1``; per-keypoint
    ``PCK(t) = mean(d < t)`` (strict), averaged over keypoints with samples;
    ``AUC = sum(PCK) / num`` (left rectangle rule).

    Args:
        pred, gt: ``(N, K, 2)`` pixels.
        mask: ``(N, K)`` visibility.
        semantics: ``"hand3d"`` or ``"mmpose"``.
        max_threshold: pixels. Defaults to 30 (both references).
        num_thresholds: Defaults to 20 (both references).

    Returns:
        dict with ``mean``, ``median``, ``auc``, ``thresholds`` and ``pck_curve`` (mean over
        keypoints, fraction), and ``semantics``.
    """
    if semantics not in ("hand3d", "mmpose"):
        raise ValueError(f"semantics must be 'hand3d' or 'mmpose', got {semantics!r}")
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {pred.shape} vs {gt.shape}")
    # NaN predictions stay NaN here (both references): the mean/median EPE become NaN and the
    # PCK curve counts them as misses (NaN <= t is False)
    d = np.linalg.norm(pred - gt, axis=-1)
    valid = np.broadcast_to(np.asarray(mask) > 0, d.shape)
    kps = [j for j in range(d.shape[1]) if valid[:, j].any()]
    if not kps:
        raise ValueError("no visible keypoints: EPE and AUC are undefined")
    cols = [d[valid[:, j], j] for j in kps]
    if semantics == "hand3d":
        t = np.linspace(0.0, max_threshold, num_thresholds)
        curves = np.array([[np.mean(c <= x) for x in t] for c in cols])
        aucs = np.trapezoid(curves, t, axis=1) / np.trapezoid(np.ones_like(t), t)
        return {"mean": float(np.mean([c.mean() for c in cols])),
                "median": float(np.mean([np.median(c) for c in cols])),
                "auc": float(aucs.mean()), "thresholds": t, "pck_curve": curves.mean(0),
                "semantics": semantics}
    t = np.arange(num_thresholds) / num_thresholds * max_threshold
    curves = np.array([[np.mean(c < x) for x in t] for c in cols])
    pooled = np.concatenate(cols)
    return {"mean": float(pooled.mean()), "median": float(np.median(pooled)),
            "auc": float(curves.mean(0).sum() / num_thresholds), "thresholds": t,
            "pck_curve": curves.mean(0), "semantics": semantics}


#: COCO keypoint sigmas (pycocotools ``COCOeval.Params.kpt_oks_sigmas``).
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                        .87, .87, .89, .89]) / 10.0


def oks(pred, gt, visible, area, sigmas=COCO_SIGMAS, bbox=None) -> np.ndarray:
    """Object keypoint similarity, as pycocotools ``COCOeval.computeOks``.

    ``OKS = mean over keypoints with v > 0 of exp(-d^2 / (2 * (area + eps) * (2 sigma)^2))``,
    ``eps = np.spacing(1)``; predictions at keypoints with ``v = 0`` are ignored, NaN or not.
    A ground truth without any labelled keypoint is scored as computeOks does: every
    keypoint's distance is its distance outside the ground-truth box enlarged by its width and
    height on each side (``x0 = x - w``, ``x1 = x + 2w``; same in y), averaged over all ``K``
    keypoints; that needs ``bbox``, and such instances are NaN without it.

    Args:
        pred, gt: ``(N, K, 2)``.
        visible: ``(N, K)`` COCO ``v`` flags (> 0 counts).
        area: ``(N,)`` ground-truth areas.
        sigmas: ``(K,)`` per-keypoint sigmas.
        bbox: optional ``(N, 4)`` ground-truth boxes ``(x, y, w, h)`` (COCO ``bbox``).

    Returns:
        ``(N,)`` OKS.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    var = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    v = np.asarray(visible) > 0
    labelled = v.any(1)
    delta = pred - gt
    if bbox is not None:
        b = np.asarray(bbox, np.float64).reshape(-1, 4)
        lo = np.stack([b[:, 0] - b[:, 2], b[:, 1] - b[:, 3]], -1)[:, None]
        hi = np.stack([b[:, 0] + 2 * b[:, 2], b[:, 1] + 2 * b[:, 3]], -1)[:, None]
        outside = np.maximum(0.0, lo - pred) + np.maximum(0.0, pred - hi)
        delta = np.where(labelled[:, None, None], delta, outside)
    d2 = (delta ** 2).sum(-1)
    e = d2 / var[None] / (np.asarray(area, np.float64)[:, None] + np.spacing(1)) / 2.0
    use = np.where(labelled[:, None], v, True)
    with np.errstate(invalid="ignore"):
        score = np.where(use, np.exp(-np.where(use, e, 0.0)), 0.0).sum(1) / use.sum(1)
    if bbox is None:
        score = np.where(labelled, score, np.nan)
    return score
