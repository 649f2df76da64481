"""The seed paper's Table IV as data (Sibgrapi 104 supplementary, source 000 in docs/reference/README.md, "TABLE IV").

PoseNet "original" (dense 7x7 refinement) vs "mixed" (depthwise-separable refinement) on the
S-val* set with occlusion ratio 0 ("Standard"), 0.1, 0.2 and 0.3; trained on S-train, or on
S-train* (the noise-augmented training set). Metrics follow Zimmermann and Brox (hand3d
``EvalUtil``): mean EPE, median EPE (px) and AUC of PCK over 0-30 px. Values as printed.
"""
from __future__ import annotations

TABLE4 = "Sibgrapi 104 supplementary, Table IV"
METRICS = ("mean", "median", "auc")

#: (train set, occlusion ratio) -> {"original": (mean, median, auc), "mixed": (...)}
TABLE4_ROWS = {
    ("standard", 0.0): {"original": (16.958, 6.095, 0.733), "mixed": (17.608, 6.313, 0.723)},
    ("S-train", 0.1): {"original": (18.372, 6.207, 0.722), "mixed": (19.135, 6.427, 0.711)},
    ("S-train", 0.2): {"original": (22.085, 6.412, 0.697), "mixed": (22.902, 6.663, 0.686)},
    ("S-train", 0.3): {"original": (28.583, 6.731, 0.662), "mixed": (29.854, 6.980, 0.651)},
    ("S-train*", 0.1): {"original": (18.725, 6.426, 0.717), "mixed": (18.939, 6.663, 0.710)},
    ("S-train*", 0.2): {"original": (21.444, 6.497, 0.696), "mixed": (21.222, 6.563, 0.699)},
    ("S-train*", 0.3): {"original": (27.783, 6.843, 0.667), "mixed": (27.717, 6.800, 0.670)},
}

__all__ = ["METRICS", "TABLE4", "TABLE4_ROWS"]
