"""ICNet, SegNet-basic and hourglass body-part segmentation on SURREAL (thesis Tables 1-6).

Modules: :mod:`segmentation.model` (networks with the reference layer names and exact
parameter counts), :mod:`segmentation.labels` (the 25 SURREAL labels, mirroring, groupings),
:mod:`segmentation.losses` (cross-entropy with label resizing, class weights, strategies),
:mod:`segmentation.data` (SURREAL reader and frame extraction), :mod:`segmentation.synthetic`
(a synthetic SURREAL in the published format), :mod:`segmentation.train` (the thesis schedules,
training runs, evaluation and figures), :mod:`segmentation.reproduce` (Tables 1-6 and the
hourglass experiments beside the thesis' numbers). Importing the package does not start
TensorFlow; the names below load their module on first use.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "ICNet": "segmentation.model", "SegNetBasic": "segmentation.model",
    "HourglassSegmenter": "segmentation.model", "SegmentationCE": "segmentation.losses",
    "class_weights": "segmentation.losses", "extract_frames": "segmentation.data",
    "write_synthetic_surreal": "segmentation.synthetic",
    "SegTrainConfig": "segmentation.train", "train_segmentation": "segmentation.train",
    "evaluate_segmentation": "segmentation.train", "reproduce": "segmentation.reproduce",
}
__getattr__, __dir__ = lazy_exports(_EXPORTS)
__all__ = sorted(_EXPORTS)
