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

import gzip
import json
import logging
import os

import numpy as np

from reprokit.data import DatasetMeta, ImageRecordReader
from reprokit.metrics.keypoints import MPII_JOINTS, head_size_from_boxes

#: MPII metadata; the flip index is [5,4,3,2,1,0,6,7,8,9,15,14,13,12,11,10]
#: (princeton-vl ``ref.flipped_parts``, anibali ``hflip_indices``; docs/reference/hourglass.md §1.5).
MPII = DatasetMeta(
    "mpii", MPII_JOINTS,
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    skeleton=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
              (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15)))
FLIP_INDEX = MPII.flip_index
NUM_JOINTS = 16
#: Newell's crop adjustment (pose-hg-train, bearpaw ``mpii.py``): ``c_y += 15 s``, ``s *= 1.25``.
CENTER_SHIFT, SCALE_FACTOR = 15.0, 1.25

_LOG = logging.getLogger(__name__)
H5_FIELDS = ("center", "scale", "part", "visible", "normalize", "imgname")


class MPIIFormatError(ValueError):
    """An annotation file does not have the fields or shapes of its format."""


def adjust_box(objpos, scale):
    """Newell's adjustment of MPII ``objpos``/``scale`` into the crop centre/scale."""
    objpos = np.asarray(objpos, np.float64).copy()
    scale = np.asarray(scale, np.float64)
    objpos[..., 1] += CENTER_SHIFT * scale
    return objpos, scale * SCALE_FACTOR


def _table(image_dir, names, keypoints, annotated, visible, center, scale, head_size):
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    annotated = np.asarray(annotated, np.float32)
    return {
        "image_path": np.asarray([os.path.join(image_dir, n) for n in names]),
        "keypoints": np.asarray(keypoints, np.float32) * annotated[..., None],
        "annotated": annotated,
        "visible": np.asarray(visible, np.float32) * annotated,
        "center": np.asarray(center, np.float32),
        "scale": np.asarray(scale, np.float32),
        "head_size": np.asarray(head_size, np.float32),
    }


# ------------------------------------------------------------------------------- h5
def read_h5(path: str, image_dir: str) -> dict:
    """Read a pose-hg-train / princeton-vl ``annot/{train,valid}.h5``.

    Fields (docs/reference/hourglass.md §1.5): ``center`` (N,2), ``scale`` (N,), ``part`` (N,16,2)
    with (0,0) = not annotated, ``visible`` (N,16), ``normalize`` (N,), ``imgname`` (N,) bytes.
    ``center``/``scale`` already contain the +15 s / x1.25 adjustment and are used as stored;
    ``normalize`` (0.6 x head-box diagonal) becomes ``head_size``.
    """
    import h5py

    with h5py.File(path, "r") as f:
        missing = [k for k in H5_FIELDS if k not in f]
        if missing:
            raise MPIIFormatError(f"{path}: missing field(s) {missing}; an MPII annot h5 has "
                                  f"{list(H5_FIELDS)}, found {sorted(f.keys())}")
        data = {k: f[k][()] for k in H5_FIELDS}
    n = len(data["imgname"])
    part = np.asarray(data["part"], np.float64)
    if part.shape != (n, NUM_JOINTS, 2):
        raise MPIIFormatError(f"{path}: 'part' has shape {part.shape}, expected ({n}, 16, 2)")
    annotated = np.any(part != 0, axis=-1)
    return _table(image_dir, data["imgname"], part, annotated, data["visible"], data["center"],
                  data["scale"], data["normalize"])


# ----------------------------------------------------------------------------- json
def read_json(path: str, image_dir: str, split: str = "valid") -> dict:
    """Read bearpaw / anibali ``mpii_annotations.json`` (or ``.json.gz``).

    Each entry has ``img_paths``, ``joint_self`` (16 x [x, y, vis]), ``objpos``,
    ``scale_provided`` and ``isValidation`` (docs/reference/hourglass.md §2.2). The centre/scale
    adjustment is applied here. A joint is annotated when its coordinates are not (0, 0)
    (the JSON stores missing joints as zeros with vis 0).

    Args:
        split: ``"train"`` (``isValidation == 0``), ``"valid"`` or ``"all"``.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise MPIIFormatError(f"{path}: expected a list of people, got {type(entries).__name__}")
    want = {"train": (0,), "valid": (1,), "all": (0, 1)}
    if split not in want:
        raise ValueError(f"split must be one of {sorted(want)}, got {split!r}")
    rows = []
    for i, e in enumerate(entries):
        for key in ("img_paths", "joint_self", "objpos", "scale_provided", "isValidation"):
            if key not in e:
                raise MPIIFormatError(f"{path}: entry {i} has no {key!r} (keys: {sorted(e)})")
        if int(e["isValidation"]) in want[split]:
            rows.append(e)
    joints = np.asarray([r["joint_self"] for r in rows], np.float64).reshape(-1, NUM_JOINTS, 3)
    center, scale = adjust_box([r["objpos"] for r in rows], [r["scale_provided"] for r in rows])
    annotated = np.any(joints[..., :2] != 0, axis=-1)
    return _table(image_dir, [r["img_paths"] for r in rows], joints[..., :2], annotated,
                  joints[..., 2] > 0, center.reshape(-1, 2), scale.reshape(-1),
                  np.full(len(rows), np.nan))


# ------------------------------------------------------------------------ official mat
def _as_list(x):
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


def _scalar(x, default=np.nan):
    arr = np.asarray(x, dtype=object).ravel()
    if arr.size == 0:
        return default
    v = arr[0]
    if isinstance(v, str):
        v = v.strip()
        return float(v) if v else default
    return float(v)


def read_release_mat(path: str, image_dir: str, split: str = "train",
                     detections: dict | None = None) -> dict:
    """Read the official ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE`` struct).

    Uses ``RELEASE.annolist(i).image.name`` and, per ``annorect``: ``objpos.{x,y}``,
    ``scale``, the head box ``x1, y1, x2, y2`` and ``annopoints.point(k).{id, x, y,
    is_visible}``. Only images with ``img_train == 1`` and people with a scale, a position and
    joint annotations are kept (the test set has none). The centre/scale adjustment is applied.

    Args:
        split: ``"all"``, or ``"train"`` / ``"valid"`` by Tompson's split, which needs
            ``detections`` (from :func:`read_detections`) carrying ``RELEASE_img_index`` and
            ``RELEASE_person_index`` (1-based, as in the MATLAB files). Without them
            ``"train"`` means every annotated training person.
    """
    from scipy.io import loadmat

    mat = loadmat(path, struct_as_record=False, squeeze_me=True)
    if "RELEASE" not in mat:
        raise MPIIFormatError(f"{path}: no 'RELEASE' struct (found {sorted(k for k in mat if not k.startswith('__'))})")
    release = mat["RELEASE"]
    annolist = _as_list(release.annolist)
    img_train = np.asarray(release.img_train).ravel()
    val_pairs = None
    if split == "valid" or (split == "train" and detections and "RELEASE_img_index" in detections):
        if not detections or "RELEASE_person_index" not in detections:
            raise MPIIFormatError(f"{path}: split={split!r} needs detections_our_format.mat with "
                                  "RELEASE_img_index and RELEASE_person_index")
        val_pairs = list(zip(np.ravel(detections["RELEASE_img_index"]).astype(int),
                             np.ravel(detections["RELEASE_person_index"]).astype(int)))
    val_set = set(val_pairs or ())
    found: dict[tuple[int, int], tuple] = {}
    for i, ann in enumerate(annolist, start=1):
        if not img_train[i - 1]:
            continue
        for p, rect in enumerate(_as_list(getattr(ann, "annorect", None)), start=1):
            fields = getattr(rect, "_fieldnames", [])
            if not {"objpos", "scale", "annopoints"} <= set(fields):
                continue
            ap = rect.annopoints
            points = [] if isinstance(ap, np.ndarray) else _as_list(getattr(ap, "point", None))
            if not points or np.size(rect.scale) == 0:
                continue
            kp = np.zeros((NUM_JOINTS, 2))
            ann_mask = np.zeros(NUM_JOINTS, bool)
            vis = np.zeros(NUM_JOINTS)
            for pt in points:
                j = int(_scalar(pt.id))
                kp[j] = (_scalar(pt.x), _scalar(pt.y))
                ann_mask[j] = True
                vis[j] = _scalar(getattr(pt, "is_visible", 1), default=1.0)
            head = [_scalar(getattr(rect, k, np.nan)) for k in ("x1", "y1", "x2", "y2")]
            found[(i, p)] = (ann.image.name, kp, ann_mask, vis,
                             (_scalar(rect.objpos.x), _scalar(rect.objpos.y)), _scalar(rect.scale),
                             head)
    if split == "valid":
        missing = [pair for pair in val_pairs if pair not in found]
        if missing:
            raise MPIIFormatError(f"{path}: {len(missing)} validation people of the detections "
                                  f"file are not annotated here, e.g. image/person {missing[0]}")
        keys = val_pairs
    elif split in ("train", "all"):
        keys = [k for k in found if split == "all" or k not in val_set]
    else:
        raise ValueError(f"split must be 'train', 'valid' or 'all', got {split!r}")
    rows = [found[k] for k in keys]
    if not rows:
        raise MPIIFormatError(f"{path}: no annotated people for split {split!r}")
    names, kp, ann_mask, vis, objpos, scale, heads = (list(c) for c in zip(*rows))
    center, scale = adjust_box(np.asarray(objpos), np.asarray(scale))
    return _table(image_dir, names, kp, ann_mask, vis, center, scale,
                  head_size_from_boxes(np.asarray(heads)))


# --------------------------------------------------------------------------- detections
def read_detections(path: str) -> dict:
    """Read bearpaw's ``detections_our_format.mat`` (the Tompson validation people).

    Returns a dict with ``head_size`` (N,) = 0.6 x head-box diagonal from ``headboxes_src``
    (2, 2, N), ``annotated`` (N, 16) from ``jnt_missing`` (16, N), ``keypoints`` (N, 16, 2)
    from ``pos_gt_src`` (16, 2, N) when present, and ``RELEASE_img_index`` /
    ``RELEASE_person_index`` when present.
    """
    from scipy.io import loadmat

    mat = loadmat(path)
    if "headboxes_src" not in mat:
        raise MPIIFormatError(f"{path}: no 'headboxes_src' (found "
                              f"{sorted(k for k in mat if not k.startswith('__'))})")
    boxes = np.asarray(mat["headboxes_src"], np.float64)
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise MPIIFormatError(f"{path}: 'headboxes_src' has shape {boxes.shape}, expected (2, 2, N)")
    n = boxes.shape[2]
    # headboxes_src[:, :, i] = [[x1, y1], [x2, y2]]
    out = {"head_size": head_size_from_boxes(boxes.transpose(2, 0, 1).reshape(n, 4))}
    if "jnt_missing" in mat:
        out["annotated"] = 1.0 - np.asarray(mat["jnt_missing"], np.float64).T
    if "pos_gt_src" in mat:
        out["keypoints"] = np.asarray(mat["pos_gt_src"], np.float64).transpose(2, 0, 1)
    for key in ("RELEASE_img_index", "RELEASE_person_index"):
        if key in mat:
            out[key] = np.ravel(mat[key]).astype(np.int64)
    return out


#: Largest joint difference (px) between two MPII files that still counts as the same joint:
#: the princeton-vl h5 stores neck and head top truncated to integers where the bearpaw / anibali
#: JSON and the detections file keep the fraction (measured on the real files, < 1 px).
SAME_JOINT_PX = 1.0


def attach_head_sizes(records: dict, detections: dict, source: str = "") -> dict:
    """Put the detections file's head sizes on validation records (same order and count).

    The files list the same 2958 people in the same order; the ground-truth joints are compared
    where both sides have them, so a mismatched pair of files fails loudly. One quirk of the
    real bearpaw ``detections_our_format.mat`` is tolerated: for 10 of its 2958 people one or
    more joint coordinates are stored as 0 where the annotation files have the real value
    (e.g. person 2739, r_ankle x = 0 instead of 571; ``../shared/real/README.md``). A
    coordinate that differs only because the detections file holds exactly 0 is such a case;
    any other difference over :data:`SAME_JOINT_PX` raises :class:`MPIIFormatError` naming the
    person, the joint and both values. The records' own joints are kept either way.
    """
    n = len(records["image_path"])
    m = len(detections["head_size"])
    if n != m:
        raise MPIIFormatError(f"{source}: the detections file has {m} people, the validation "
                              f"annotations {n}; they must list the same people in the same order")
    if "keypoints" in detections:
        ours = np.asarray(records["keypoints"], np.float64)
        theirs = np.asarray(detections["keypoints"], np.float64)
        both = (records["annotated"] > 0) & (detections.get("annotated", records["annotated"]) > 0)
        off = (np.abs(ours - theirs) > SAME_JOINT_PX) & both[..., None]
        zeroed = off & (theirs == 0)
        real = off & ~zeroed
        if real.any():
            person, joint, _ = (int(v) for v in np.argwhere(real)[0])
            raise MPIIFormatError(
                f"{source}: person {person} ({records['image_path'][person]}) has different "
                f"ground-truth joints in the detections file: {MPII_JOINTS[joint]} "
                f"{ours[person, joint].tolist()} vs {theirs[person, joint].tolist()} "
                f"({int(real.any(-1).any(-1).sum())} people differ); the files must list the "
                "same people in the same order")
        if zeroed.any():
            people = np.flatnonzero(zeroed.any(-1).any(-1))
            _LOG.info("%s: %d people have joint coordinates stored as 0 in the detections file "
                      "(a known quirk of the real file, persons %s); the annotations' joints are "
                      "kept", source, len(people), people.tolist())
    out = dict(records)
    out["head_size"] = np.asarray(detections["head_size"], np.float32)
    return out


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
        raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
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
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
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


__all__ = ["FLIP_INDEX", "MPII", "MPIIFormatError", "MPIIReader", "adjust_box", "attach_head_sizes",
           "load_mpii", "read_detections", "read_h5", "read_json", "read_release_mat"]
