"""MPII Human Pose: readers for the annotation formats people have, and the reader object.

Expected folder layout (``--data-dir``; any subset of the annotation files works)::

    DATA_DIR/
        images/                              the MPII JPEGs (``000001163.jpg`` ...)
        annot/train.h5, annot/valid.h5       pose-hg-train / princeton-vl annotations
        mpii_annotations.json[.gz]           bearpaw / anibali annotations
        mpii_human_pose_v1_u12_1.mat         official release (``RELEASE`` struct)
        detections_our_format.mat            head boxes of the validation people (bearpaw)

:func:`load_mpii` picks the first annotation source present in the order h5, JSON, official
``.mat`` (``source=`` forces one). Every reader returns the same record table:

=================  =====================  ==============================================
column             dtype / shape          meaning
=================  =====================  ==============================================
``image_path``     str                    ``DATA_DIR/images/<name>``
``keypoints``      float32 ``(N, 16, 2)`` as stored in the file (no 1-based shift: the
                                          network is trained and evaluated in one frame)
``annotated``      float32 ``(N, 16)``    0 where the file marks the joint missing
``visible``        float32 ``(N, 16)``    annotated and not occluded
``center``         float32 ``(N, 2)``     crop centre, **already adjusted** (+15 s in y)
``scale``          float32 ``(N,)``       crop scale, **already adjusted** (x1.25); box
                                          side = ``scale * 200`` px
``head_size``      float32 ``(N,)``       PCKh normaliser (NaN if the source has none)
=================  =====================  ==============================================

Sources: docs/reference/hourglass.md §1.5 (h5 fields; centre/scale in the h5 already contain
Newell's adjustment, so it is not applied twice), §2.2 (JSON fields; the adjustment is applied
at load), docs/reference/logocap_metrics_ecosystem.md §3 (head size = 0.6 x head-box diagonal; the
Tompson validation split of 2958 people).
"""
from __future__ import annotations

import os

from hourglass.mpii_formats import (NUM_JOINTS, MPIIFormatError, adjust_box, attach_head_sizes,
                                    read_detections, read_h5, read_json, read_release_mat)
from reprokit.codecs import GaussianHeatmapCodec
from reprokit.data import DatasetMeta, ImageRecordReader
from reprokit.errors import ConfigError
from reprokit.metrics.keypoints import MPII_JOINTS

MPII = DatasetMeta(
    "mpii", MPII_JOINTS,
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    skeleton=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
              (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15)))
FLIP_INDEX = MPII.flip_index
#: Heatmaps are at 1/4 of the input side in both references (docs/reference/hourglass.md §1.3, §2.2).
STRIDE = 4


def heatmap_codec(input_size: int, patch_size: int | None = 7) -> GaussianHeatmapCodec:
    """The package's one heatmap codec: sigma 1 at ``input_size / 4``, peak on the truncated
    coordinate (both references); ``patch_size`` is the recipe's Gaussian support (anibali 7,
    princeton-vl 9: it changes the targets only). Training encodes with it, evaluation and
    predict decode with it (argmax + quarter offset, back through the crop)."""
    return GaussianHeatmapCodec((input_size, input_size), (input_size // STRIDE,) * 2,
                                sigma=1.0, peak_rounding="floor", patch_size=patch_size)


# ------------------------------------------------------------------------------ loader
SOURCES = ("h5", "json", "mat")


def _json_path(data_dir):
    for name in ("mpii_annotations.json", "mpii_annotations.json.gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    return None


def load_mpii(data_dir: str, split: str = "train", source: str | None = None,
              limit: int | None = None) -> dict:
    """Records of one split from an MPII folder (layout in the module docstring).

    Args:
        split: ``"train"`` or ``"valid"`` (Tompson's validation split).
        source: ``"h5"``, ``"json"`` or ``"mat"``; ``None`` = the first present.
        limit: keep the first ``limit`` people.

    Validation records get ``head_size`` from ``detections_our_format.mat`` when it exists
    (the bearpaw/CV701 evaluation), else keep the source's own (the h5 ``normalize``).
    """
    if split not in ("train", "valid"):
        raise ConfigError(f"split must be 'train' or 'valid', got {split!r}")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"MPII data directory {data_dir!r} does not exist")
    image_dir = os.path.join(data_dir, "images")
    h5 = os.path.join(data_dir, "annot", f"{split}.h5")
    js = _json_path(data_dir)
    mat = os.path.join(data_dir, "mpii_human_pose_v1_u12_1.mat")
    det_path = os.path.join(data_dir, "detections_our_format.mat")
    detections = read_detections(det_path) if os.path.exists(det_path) else None
    available = {"h5": os.path.exists(h5), "json": js is not None, "mat": os.path.exists(mat)}
    if source is None:
        source = next((s for s in SOURCES if available[s]), None)
        if source is None:
            raise FileNotFoundError(
                f"{data_dir}: no MPII annotations found; expected annot/{split}.h5, "
                "mpii_annotations.json[.gz] or mpii_human_pose_v1_u12_1.mat (see hourglass.data)")
    elif source not in SOURCES:
        raise ConfigError(f"source must be one of {SOURCES}, got {source!r}")
    elif not available[source]:
        raise FileNotFoundError(f"{data_dir}: source {source!r} requested but its file is missing")
    if source == "h5":
        records, where = read_h5(h5, image_dir), h5
    elif source == "json":
        records, where = read_json(js, image_dir, split), js
    else:
        records, where = read_release_mat(mat, image_dir, split, detections), mat
    if split == "valid" and detections is not None:
        records = attach_head_sizes(records, detections, f"{where} + {det_path}")
    if limit is not None:
        records = {k: v[:limit] for k, v in records.items()}
    return records


class MPIIReader(ImageRecordReader):
    """:class:`~reprokit.data.ImageRecordReader` over MPII records.

    ``weight`` picks which column becomes the example's ``visible`` (and so the target weight):
    ``"visible"`` (anibali: occluded joints are masked out of the loss) or ``"annotated"``
    (princeton-vl: occluded joints still get a heatmap, missing ones an all-zero map).
    """

    def __init__(self, records: dict, weight: str = "visible"):
        if weight not in ("visible", "annotated"):
            raise ValueError(f"weight must be 'visible' or 'annotated', got {weight!r}")
        super().__init__({k: records[k] for k in ("image_path", "keypoints", "center", "scale")}
                         | {"visible": records[weight]})
        self.table = records


__all__ = ["FLIP_INDEX", "MPII", "MPIIFormatError", "MPIIReader", "NUM_JOINTS", "STRIDE",
           "adjust_box", "heatmap_codec",
           "attach_head_sizes", "load_mpii", "read_detections", "read_h5", "read_json",
           "read_release_mat"]
