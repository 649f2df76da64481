"""Stacked hourglass and the CV701 block-variant study (Table 1).

``build_stacked_hourglass`` with every CV701 block variant (plus PRM and HRU), presets mirroring
CV701 Table 1 and the hg1/2/4/8 models, converters for bearpaw/anibali and princeton-vl PyTorch
checkpoints, and ``python -m hourglass summary|convert``. MPII data, training and the Table 1
reproduction are issue #4 (not here yet).
"""
from hourglass.model import BLOCKS, STEMS, BlockOptions, build_stacked_hourglass, fuse_stacks, stack_outputs
from hourglass.presets import PRESETS, build_preset, get_preset

__all__ = ["BLOCKS", "STEMS", "BlockOptions", "PRESETS", "build_preset", "build_stacked_hourglass", "fuse_stacks", "stack_outputs",
           "get_preset"]
