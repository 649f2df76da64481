"""Presets: one per CV701 Table 1 row, plus hg1/hg2/hg4/hg8 for the bearpaw and newell stems.

Each preset holds the builder kwargs, the paper's numbers as printed (PCKh@0.5 per group in the
bearpaw/anibali layout, "No. of Parameters", "Avg. Training Time (epochs)"), and the exact
parameter counts our model must have: trainable (= PyTorch ``parameters()`` of the reference
model) and total (``count_params()``, adding BatchNorm moving statistics). Counts come from
docs/reference/hourglass.md §3 and §7 (measured on the PyTorch references).
"""
from __future__ import annotations

import dataclasses

TABLE1 = "CV701 Assignment-4 report, Table 1"
GROUPS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")


@dataclasses.dataclass(frozen=True)
class Preset:
    """One model configuration and what the source says about it.

    Attributes:
        name: preset name.
        title: the table row's label as printed.
        kwargs: ``build_stacked_hourglass`` arguments.
        expected_trainable: exact trainable parameters (PyTorch ``parameters()``).
        expected_total: exact ``count_params()`` (trainable + BN moving statistics).
        source: table or file the row comes from.
        paper_pckh: PCKh@0.5 per group as printed (``GROUPS`` order), or None.
        paper_params: the "No. of Parameters" cell as printed ("" where blank).
        paper_time: the "Avg. Training Time(epochs*)" cell as printed.
        stack_weights: per-stack loss (and optional fusion) weights; ``None`` = all 1.
        note: what differs from the paper, if anything.
    """

    name: str
    title: str
    kwargs: dict
    expected_trainable: int
    expected_total: int
    source: str = TABLE1
    paper_pckh: tuple[float, ...] | None = None
    paper_params: str = ""
    paper_time: str = ""
    stack_weights: tuple[float, ...] | None = None
    note: str = ""


def _row(name, title, kwargs, trainable, total, pckh, params, time, stack_weights=None, note=""):
    return Preset(name, title, kwargs, trainable, total, TABLE1, pckh, params, time, stack_weights, note)


_TWO_DS_NOTE = ("The report prints 1.90M, which no runnable network reaches (a DS pair ending in "
                "128 channels cannot be added to the 256-channel trunk); the faithful definition "
                "has 2,373,856 (docs/reference/hourglass.md §3). We keep the runnable model.")

#: CV701 Table 1, row by row (numbers as printed in the CV701 report, source 001 in docs/reference/README.md, Table 1).
TABLE1_PRESETS = (
    _row("cv701_baseline", "Baseline", {"block": "bottleneck"}, 6_730_912, 6_762_912,
         (93.18, 89.16, 79.10, 72.61, 76.89, 69.72, 62.66, 77.84), "6.73M", "2hr 30min(20)"),
    _row("cv701_weights_03_07", "Weights [0.3, 0.7] applied to HG2 outputs", {"block": "bottleneck"},
         6_730_912, 6_762_912, (92.50, 88.71, 77.77, 70.64, 75.71, 67.12, 60.04, 76.33), "", "",
         stack_weights=(0.3, 0.7)),
    _row("cv701_weights_07_03", "Weights [0.7, 0.3] applied to HG2 outputs", {"block": "bottleneck"},
         6_730_912, 6_762_912, (90.35, 81.69, 69.17, 58.88, 66.94, 56.62, 49.46, 67.84), "", "",
         stack_weights=(0.7, 0.3)),
    _row("cv701_dilated", "Dilated Convolution", {"block": "dilated"}, 6_730_912, 6_762_912,
         (92.84, 87.36, 76.61, 69.18, 73.86, 68.15, 61.22, 75.85), "", ""),
    _row("cv701_patchify", "Patchify technique from ConvNext", {"block": "bottleneck", "stem": "patchify"},
         6_723_232, 6_755_232, (91.78, 87.16, 77.57, 70.22, 73.31, 67.48, 60.18, 75.66), "6.72M",
         "2hr 34min(20)"),
    _row("cv701_no_skip", "Residual block without Skip connection in Bottleneck", {"block": "no_skip"},
         6_689_568, 6_721_568, (92.84, 88.03, 78.32, 71.42, 75.97, 68.31, 61.36, 76.84), "6.69M",
         "2hr 28min(20)"),
    _row("cv701_ds_all", "3x3 Depthwise Separable Convolutions", {"block": "ds_all"}, 2_920_224,
         2_952_224, (93.25, 89.86, 80.55, 72.57, 78.05, 70.56, 64.27, 78.67), "2.92M", "2hr 20min(17)"),
    _row("cv701_ds3", "Depthwise Separable Convolutions in only 3x3 layer", {"block": "ds3"},
         2_801_120, 2_833_120, (93.11, 88.67, 78.73, 71.50, 75.89, 68.81, 61.83, 77.15), "2.80M",
         "2hr 30min(20)", note="Single bias on the DS pair (2.80M as printed); with both biases "
         "it is 2,805,024 (pass BlockOptions(ds_dw_bias=True))."),
    _row("cv701_two_ds", "Two 3x3 Depthwise Separable Convolutions", {"block": "two_ds"}, 2_373_856,
         2_398_048, (92.19, 85.09, 73.55, 63.80, 72.17, 62.42, 54.77, 72.19), "1.90M", "2hr 40min(20)",
         note=_TWO_DS_NOTE),
    _row("cv701_two_ds_dilated", "Two 3x3 Dilated Depthwise Separable Convolutions",
         {"block": "two_ds_dilated"}, 2_373_856, 2_398_048,
         (91.30, 84.17, 71.83, 62.36, 71.59, 61.13, 54.77, 71.28), "", "", note=_TWO_DS_NOTE),
    _row("cv701_two_conv", "Convolution Layers without Bottleneck", {"block": "two_conv"}, 17_954_528,
         17_978_720, (92.67, 89.50, 80.65, 73.19, 78.26, 70.42, 62.97, 78.52), "17.95M", "2hr 10min(17)"),
)

# Stack scaling (docs/reference/hourglass.md §3, "Stack scaling"; §7 table). Newell totals add its BN
# statistics: 512 fewer BN entries than bearpaw (smaller stem blocks), the same per stack.
_SCALING = {
    ("bearpaw", 1): (3_586_960, 3_604_112), ("bearpaw", 2): (6_730_912, 6_762_912),
    ("bearpaw", 4): (13_018_816, 13_080_512), ("bearpaw", 8): (25_594_624, 25_715_712),
    ("newell", 1): (3_426_448, 3_426_448 + 16_640), ("newell", 2): (6_570_400, 6_601_888),
    ("newell", 4): (12_858_304, 12_858_304 + 61_184), ("newell", 8): (25_434_112, 25_434_112 + 120_576),
}

SCALING_PRESETS = tuple(
    Preset(f"hg{n}_{stem}", f"{n}-stack hourglass, {stem} stem", {"num_stacks": n, "stem": stem},
           trainable, total,
           source=("bearpaw/pytorch-pose hg" if stem == "bearpaw" else
                   "princeton-vl/pytorch_stacked_hourglass PoseNet (used parameters)")
           + ", docs/reference/hourglass.md §3")
    for (stem, n), (trainable, total) in _SCALING.items())

PRESETS = {p.name: p for p in TABLE1_PRESETS + SCALING_PRESETS}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names raise ``ValueError`` listing the valid ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {sorted(PRESETS)}")
    return PRESETS[name]


def build_preset(name: str, **overrides):
    """Build a preset's model; ``overrides`` replace builder kwargs (e.g. ``input_shape``)."""
    from hourglass.model import build_stacked_hourglass   # lazy: `repro list` reads the presets

    preset = get_preset(name)
    kwargs = {**preset.kwargs, **overrides}
    name = kwargs.pop("name", preset.name)
    return build_stacked_hourglass(**kwargs, name=name)


__all__ = ["GROUPS", "PRESETS", "Preset", "SCALING_PRESETS", "TABLE1", "TABLE1_PRESETS",
           "build_preset", "get_preset"]
