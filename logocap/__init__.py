"""Bottom-up multi-person pose on COCO from the LOGO-CAP supplement (part 1 of 2).

* :mod:`logocap.data`: COCO keypoint metadata as data (names, flip index, OKS sigmas,
  skeleton) and the reader of the official ``person_keypoints_*.json``.
* :mod:`logocap.evaluate`: results JSON and ``COCOeval(..., "keypoints")`` through pycocotools.
* :mod:`logocap.kem`: keypoint expansion maps and the empirical upper bound (Algorithm 1).
* :mod:`logocap.hrnet`: HRNet-W32 / W48 with timm's layer names, ``convert_timm``.
* :mod:`logocap.model`, :mod:`logocap.targets`, :mod:`logocap.losses`, :mod:`logocap.pipeline`,
  :mod:`logocap.decode`, :mod:`logocap.train`: the center-offset baseline (heads, targets,
  losses, the bottom-up input pipeline, flip test and decoding, training and COCOeval).
* :mod:`logocap.synthetic`: a synthetic multi-person COCO in the official layout.
* :mod:`logocap.predict`: multi-person predictions of one image file (JSON and overlay).
* :mod:`logocap.reproduce`: ``repro run logocap.upper_bound`` (initial AP vs the KEM upper
  bound vs the untrained network); ``python -m logocap`` is the command line.

Not yet: the LOGO-CAP head (local KEM -> KAM, local-global adaptation).

Attributes are imported on first use.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "COCO": "logocap.data", "read_coco_keypoints": "logocap.data",
    "coco_eval": "logocap.evaluate", "results_list": "logocap.evaluate",
    "kem_points": "logocap.kem", "upper_bound_poses": "logocap.kem",
    "evaluate_upper_bound": "logocap.kem",
    "build_hrnet": "logocap.hrnet", "convert_timm": "logocap.hrnet",
    "build_center_offset": "logocap.model", "LogocapConfig": "logocap.train",
    "predict_image": "logocap.decode", "write_synthetic_coco": "logocap.synthetic",
    "load_model": "logocap.predict", "predict_file": "logocap.predict",
    "reproduce_upper_bound": "logocap.reproduce",
}
__getattr__, __dir__ = lazy_exports(_EXPORTS)
__all__ = sorted(_EXPORTS)
