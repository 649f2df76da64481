"""Bottom-up multi-person pose on COCO from the LOGO-CAP supplement (part 1 of 2, in progress).

* :mod:`logocap.data`: COCO keypoint metadata as data (names, flip index, OKS sigmas,
  skeleton) and the reader of the official ``person_keypoints_*.json``.
* :mod:`logocap.evaluate`: results JSON and ``COCOeval(..., "keypoints")`` through pycocotools.
* :mod:`logocap.kem`: keypoint expansion maps and the empirical upper bound (Algorithm 1).

Attributes are imported on first use.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "COCO": "logocap.data", "read_coco_keypoints": "logocap.data",
    "coco_eval": "logocap.evaluate", "results_list": "logocap.evaluate",
    "kem_points": "logocap.kem", "upper_bound_poses": "logocap.kem",
    "evaluate_upper_bound": "logocap.kem",
}
__getattr__, __dir__ = lazy_exports(_EXPORTS)
__all__ = sorted(_EXPORTS)
