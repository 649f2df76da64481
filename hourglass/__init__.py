"""Stacked hourglass and the CV701 block-variant study (Table 1).

``build_stacked_hourglass`` with every CV701 block variant (plus PRM and HRU), presets mirroring
CV701 Table 1 and the hg1/2/4/8 models, converters for bearpaw/anibali and princeton-vl PyTorch
checkpoints, MPII readers (:mod:`hourglass.data`) and a synthetic MPII
(:mod:`hourglass.synthetic`), the training recipes (:mod:`hourglass.train`), evaluation with
PCKh (:mod:`hourglass.evaluate`), the Table 1 reproduction (:mod:`hourglass.reproduce`) and
``python -m hourglass summary|convert|train|evaluate|predict|reproduce``.

Attributes are imported on first use, so ``import hourglass`` (and ``repro list``) does not
start TensorFlow.
"""
from reprokit import lazy_exports

_EXPORTS = {
    "BLOCKS": "hourglass.model", "STEMS": "hourglass.model", "BlockOptions": "hourglass.model",
    "build_stacked_hourglass": "hourglass.model", "fuse_stacks": "hourglass.model",
    "stack_outputs": "hourglass.model",
    "PRESETS": "hourglass.presets", "build_preset": "hourglass.presets",
    "get_preset": "hourglass.presets",
    "load_mpii": "hourglass.data", "write_synthetic_mpii": "hourglass.synthetic",
    "TrainConfig": "hourglass.train", "train": "hourglass.train",
    "evaluate": "hourglass.evaluate", "predict_image": "hourglass.evaluate",
    "reproduce_table1": "hourglass.reproduce",
}

__getattr__, __dir__ = lazy_exports(_EXPORTS)


__all__ = sorted(_EXPORTS)
