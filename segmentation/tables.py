"""The thesis' tables as data: one training run per row, and which rows each table prints.

Numbers are the thesis' (Borrego Carazo 2018, Tables 1-6, Secs. 3.2.3 and 3.3.3; source 003 in
docs/reference/README.md); :mod:`segmentation.reproduce` trains the rows and prints ours beside them.
"""
from __future__ import annotations

import dataclasses

#: One training run per row: overrides of :class:`segmentation.train.SegTrainConfig`.
#: ``long`` rows train 90k / 40k = 2.25 times as long and are evaluated on the test split.
ROWS = {
    "icnet_normal": {"network": "icnet", "model": {"filter_scale": 1}},
    "icnet_doubled": {"network": "icnet", "model": {"filter_scale": 2}},
    "icnet_normal_aug": {"network": "icnet", "model": {"filter_scale": 1}, "augment": True},
    "icnet_w1_outer": {"network": "icnet", "model": {"filter_scale": 1}, "weighting": "w1"},
    "icnet_w1_direct": {"network": "icnet", "model": {"filter_scale": 1}, "weighting": "w1",
                        "weighting_mode": "direct"},
    "icnet_w2_outer": {"network": "icnet", "model": {"filter_scale": 1}, "weighting": "w2"},
    "icnet_w2_direct": {"network": "icnet", "model": {"filter_scale": 1}, "weighting": "w2",
                        "weighting_mode": "direct"},
    "icnet_normal_90k": {"network": "icnet", "model": {"filter_scale": 1}, "long": True},
    "segnet_normal": {"network": "segnet", "model": {"filters": 64}},
    "segnet_doubled": {"network": "segnet", "model": {"filters": 128}},
    "segnet_doubled_aug": {"network": "segnet", "model": {"filters": 128}, "augment": True},
    "segnet_doubled_w1_outer": {"network": "segnet", "model": {"filters": 128}, "weighting": "w1"},
    "segnet_doubled_w2_outer": {"network": "segnet", "model": {"filters": 128}, "weighting": "w2"},
    "segnet_doubled_90k": {"network": "segnet", "model": {"filters": 128}, "long": True},
    "hourglass_plain": {"network": "hourglass", "model": {}},
    "hourglass_progressive": {"network": "hourglass", "model": {}, "progressive": True},
    "hourglass_joints": {"network": "hourglass", "model": {}, "joints": "surreal"},
}

_G13 = ("Background", "Head", "Torso", "U.Legs", "L.Legs", "Neck", "Shoulder", "U.Arms",
        "L.Arms", "Feet", "Hands", "Fingers", "Toes")


@dataclasses.dataclass(frozen=True)
class Table:
    """A thesis table: ``rows`` = ``(title, row id, thesis numbers or None)``.

    ``kind="summary"``: numbers are (mIoU, accuracy, F1) in percent. ``kind="per_class"``:
    (mIoU, mean accuracy per class, 13 group accuracies in :data:`_G13` order).
    """

    title: str
    source: str
    kind: str
    rows: tuple


TABLES = {
    "table1": Table("ICNet: filters and data augmentation (validation)", "thesis Table 1, Sec. 3.2.3",
                    "summary", (
                        ("Normal", "icnet_normal", (38.19, 94.64, 88.17)),
                        ("Doubled filters", "icnet_doubled", (27.51, 93.01, 84.97)),
                        ("Normal + Data Aug.", "icnet_normal_aug", (32.60, 91.15, 91.61)))),
    "table2": Table("ICNet: class weighting (validation)", "thesis Table 2, Sec. 3.2.3", "per_class", (
        ("Normal", "icnet_normal", (38.2, 48.7, (98.9, 84.9, 74.78, 64.3, 53.8, 64.0, 54.2, 52.7,
                                                 39.5, 32.3, 19.8, 9.3, 9.5))),
        ("W1 (Outer)", "icnet_w1_outer", (37.5, 52.3, (97.7, 90.0, 74.8, 70.9, 61.7, 60.9, 56.0,
                                                       57.34, 50.1, 38.9, 22.9, 10.2, 11.3))),
        ("W1 (Direct)", "icnet_w1_direct", (6.5, 7.9, (99.9, 6.13, 15.5, 7.7, 0.8, 0.0, 4.7, 1.9,
                                                       0.0, 3.6, 0.0, 0.0, 0.0))),
        ("W2 (Outer)", "icnet_w2_outer", (25.8, 54.8, (89.2, 89.3, 61.6, 64.1, 65.2, 72.4, 60.3,
                                                       47.0, 46.03, 52.35, 33.4, 31.0, 36.9))),
        ("W2 (Direct)", "icnet_w2_direct", (25.5, 34.0, (99.3, 78.7, 70.7, 70.0, 59.0, 1.9, 8.9,
                                                         32.9, 15.7, 7.1, 0.5, 0.0, 0.0))))),
    "table3": Table("ICNet: final model, 90k steps (test)", "thesis Table 3, Sec. 3.2.3", "summary", (
        ("Normal (90k)", "icnet_normal_90k", (45.14, 95.76, 89.73)),)),
    "table4": Table("SegNet-basic: filters and data augmentation (validation)",
                    "thesis Table 4, Sec. 3.3.3", "summary", (
                        ("Normal", "segnet_normal", (38.80, 94.87, 54.34)),
                        ("Doubled filters", "segnet_doubled", (39.17, 94.79, 54.49)),
                        ("Doubled Filters + Data Aug.", "segnet_doubled_aug", (23.28, 89.24, 33.21)))),
    "table5": Table("SegNet-basic: class weighting, doubled filters (validation)",
                    "thesis Table 5, Sec. 3.3.3", "per_class", (
                        ("Double Filters", "segnet_doubled", (39.17, 49.9, (
                            99.1, 84.2, 70.9, 63.2, 58.4, 58.1, 51.8, 52.7, 43.9, 39.9, 28.8, 12.4, 9.8))),
                        ("DF + W1 (Outer)", "segnet_doubled_w1_outer", (38.8, 55.6, (
                            97.5, 90.3, 74.2, 66.8, 61.8, 58.3, 65.1, 62.0, 49.6, 42.0, 36.3, 25.3, 14.2))),
                        ("DF + W2 (Outer)", "segnet_doubled_w2_outer", (21.65, 56.3, (
                            78.18, 79.8, 65.6, 60.0, 57.1, 85.8, 71.1, 52.5, 51.8, 44.2, 41.7, 34.1, 38.4))))),
    "table6": Table("SegNet-basic: final model, doubled filters, 90k steps (test)",
                    "thesis Table 6, Sec. 3.3.3", "summary", (
                        ("Doubled filters (90k)", "segnet_doubled_90k", (33.59, 94.62, 44.32)),)),
    "hourglass": Table("Stacked hourglass: plain, progressive ground truth, joint branch (validation)",
                       "thesis Sec. 4.1 (its results section 4.1.4 is empty: no numbers)", "summary", (
                           ("Plain", "hourglass_plain", None),
                           ("Progressive ground truth", "hourglass_progressive", None),
                           ("Parallel joint branch", "hourglass_joints", None))),
}


__all__ = ["ROWS", "TABLES", "Table"]
