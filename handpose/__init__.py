"""Two-stage hand pose (Zimmermann & Brox 2017) and the seed paper's robustness study.

* :mod:`handpose.model`: HandSegNet and PoseNet, ``variant="hand3d"`` (the released code and
  weights) or ``"paper"`` (the seed paper's tables), ``refinement="conv"|"separable"``
  ("original" / "mixed"), exact parameter counts, hand3d's layer names.
* :mod:`handpose.pipeline`: single-object mask, crop box, crop_and_resize, keypoint detection
  and the coordinate transform of hand3d; :class:`HandPosePipeline` runs both networks.
* :mod:`handpose.weights`: hand3d pickles, the CPM TF V1 checkpoint (hand3d's discard/rename
  lists) and Caffe ``.caffemodel`` files read without Caffe.
* :mod:`handpose.corruptions`: blur, motion blur, occlusion, noise (Table IV's sets).

Metrics are :func:`reprokit.metrics.epe_auc` (``semantics="hand3d"`` = ``EvalUtil``, or
``"mmpose"``). Attributes are imported on first use.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "build_handsegnet": "handpose.model", "build_posenet": "handpose.model",
    "preprocess": "handpose.model",
    "HandPosePipeline": "handpose.pipeline",
    "load_hand3d_pickle": "handpose.weights", "load_cpm_checkpoint": "handpose.weights",
    "load_caffemodel": "handpose.weights",
}
__getattr__, __dir__ = lazy_exports(_EXPORTS)
__all__ = sorted(_EXPORTS)
