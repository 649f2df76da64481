"""COCO keypoint evaluation through pycocotools (``COCOeval(..., "keypoints")``).

:func:`results_list` writes detections in the results format (``image_id``, ``category_id`` 1,
``keypoints`` = 17 x [x, y, score] flattened, ``score``; reference §1.7 / §2: the third value
per keypoint is ignored by OKS), :func:`coco_eval` runs the official evaluation and returns the
ten numbers of ``COCOeval.stats`` by name. pycocotools, not xtcocotools: the latter fails to
import with numpy 2 (docs/reference/logocap_metrics_ecosystem.md §2, "Installability").
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
from pycocotools.coco import COCO as CocoApi
from pycocotools.cocoeval import COCOeval

from logocap.data import NUM_KEYPOINTS, PERSON_CATEGORY, SIGMAS

#: ``COCOeval.stats`` in order (pycocotools ``summarize`` for iouType ``keypoints``).
STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")


def results_list(image_ids, poses, scores, keypoint_scores=None) -> list[dict]:
    """COCO results entries, one per pose.

    Args:
        image_ids: ``(N,)`` image id of each pose.
        poses: ``(N, 17, 2)`` keypoints (x, y) in original-image pixels.
        scores: ``(N,)`` pose scores (COCOeval sorts detections by them).
        keypoint_scores: ``(N, 17)`` written as the third value (ignored by OKS); default 1.
    """
    poses = np.asarray(poses, np.float64).reshape(-1, NUM_KEYPOINTS, 2)
    kps = np.ones(poses.shape[:2]) if keypoint_scores is None else np.asarray(keypoint_scores)
    out = []
    for image_id, pose, score, ks in zip(image_ids, poses, scores, kps):
        flat = np.concatenate([pose, ks[:, None]], -1).reshape(-1)
        out.append({"image_id": int(image_id), "category_id": PERSON_CATEGORY,
                    "keypoints": [round(float(v), 3) for v in flat], "score": float(score)})
    return out


def write_results(path: str, results: list[dict]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f)
    return path


def coco_eval(gt, results: list[dict], image_ids=None, sigmas=SIGMAS) -> dict:
    """``COCOeval(gt, dt, "keypoints")`` on ``results`` (a list or a results JSON path).

    Args:
        gt: the ground-truth JSON path or a loaded ``pycocotools.coco.COCO``.
        image_ids: evaluate these images only (LOGO-CAP ``tools/test.py`` sets
            ``params.imgIds`` to the evaluated images); default: every image of ``gt``.

    Returns:
        ``{"AP": ..., "AP50": ..., ..., "ARL": ...}`` as fractions (pycocotools' ``stats``;
        -1 where a bucket has no ground truth, e.g. APM without medium people), plus
        ``"num_detections"``. No detections at all: every number 0 (pycocotools' ``loadRes``
        cannot take an empty list).
    """
    with contextlib.redirect_stdout(io.StringIO()):           # pycocotools prints progress
        coco = gt if isinstance(gt, CocoApi) else CocoApi(gt)
        if isinstance(results, str):
            with open(results, encoding="utf-8") as f:
                results = json.load(f)
        if not results:
            return {**{k: 0.0 for k in STAT_NAMES}, "num_detections": 0}
        dt = coco.loadRes(list(results))
        ev = COCOeval(coco, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        if image_ids is not None:
            ev.params.imgIds = sorted(int(i) for i in image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {**{k: float(v) for k, v in zip(STAT_NAMES, ev.stats)},
            "num_detections": len(results)}


def format_table(rows: dict[str, dict]) -> str:
    """Markdown table of AP / AP50 / AP75 / APM / APL / AR (percent), one row per entry."""
    cols = ("AP", "AP50", "AP75", "APM", "APL", "AR")
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, s in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            "-" if s[c] < 0 else f"{100 * s[c]:.1f}" for c in cols) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["STAT_NAMES", "coco_eval", "format_table", "results_list", "write_results"]
