"""Bottom-up multi-person pose on COCO from the LOGO-CAP supplement.

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
* :mod:`logocap.cmp`, :mod:`logocap.adaptation`, :mod:`logocap.adaptation_train`: LOGO-CAP
  (the CMP net with attentive batch norm, local KEM -> KAM, the local-global adaptation at
  three levels, OKS targets and losses; :func:`logocap.model.build_logocap`).
* :mod:`logocap.bench`: images/s per stage, GFLOPs, the AP-vs-FPS plot (supplement Fig. 1).
* :mod:`logocap.reproduce`, :mod:`logocap.tables`: ``repro run logocap.upper_bound`` (initial
  AP vs the KEM upper bound vs the untrained network), ``logocap.adaptation`` (none / partial /
  full on the same weights), ``logocap.speed``; ``python -m logocap`` is the command line.

Attributes are imported on first use.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "COCO": "logocap.data", "read_coco_keypoints": "logocap.data",
    "coco_eval": "logocap.evaluate", "results_list": "logocap.evaluate",
    "kem_points": "logocap.kem", "upper_bound_poses": "logocap.kem",
    "evaluate_upper_bound": "logocap.kem",
    "build_hrnet": "logocap.hrnet", "convert_timm": "logocap.hrnet",
    "build_center_offset": "logocap.model", "build_logocap": "logocap.model",
    "load_reference_heads": "logocap.model", "LogocapModel": "logocap.adaptation_train",
    "LogocapConfig": "logocap.train",
    "predict_image": "logocap.decode", "write_synthetic_coco": "logocap.synthetic",
    "load_model": "logocap.predict", "predict_file": "logocap.predict",
    "reproduce_upper_bound": "logocap.reproduce", "reproduce_adaptation": "logocap.tables",
    "reproduce_speed": "logocap.tables", "run_bench": "logocap.bench",
}
__getattr__, __dir__ = lazy_exports(_EXPORTS)
__all__ = sorted(_EXPORTS)
