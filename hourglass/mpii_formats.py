"""Readers for the four MPII annotation formats (one function each) and their checks.

Each returns the record table of :mod:`hourglass.data`; a file that is not in its format raises
:class:`MPIIFormatError` (a :class:`reprokit.errors.DataFormatError`) naming the file, the
person, the field, the expected and the received value. Sources: docs/reference/hourglass.md
§1.5 (h5), §2.2 (JSON), docs/reference/logocap_metrics_ecosystem.md §3 (official release, the
detections file, head size = 0.6 x head-box diagonal).
"""
from __future__ import annotations

import gzip
import json
import logging
import os

import h5py
import numpy as np
from scipy.io import loadmat

from reprokit.errors import ConfigError, DataFormatError
from reprokit.metrics.keypoints import MPII_JOINTS, head_size_from_boxes

NUM_JOINTS = 16
H5_FIELDS = ("center", "scale", "part", "visible", "normalize", "imgname")
#: Newell's crop adjustment (pose-hg-train, bearpaw ``mpii.py``): ``c_y += 15 s``, ``s *= 1.25``.
CENTER_SHIFT, SCALE_FACTOR = 15.0, 1.25

_LOG = logging.getLogger("hourglass.data")


class MPIIFormatError(DataFormatError):
    """An MPII annotation file does not have the fields, shapes or values of its format (the
    message names the file, the person and the field)."""


def _check_people(path, center, scale, keypoints, first_index: int = 0):
    """Finite centres ``(N, 2)``, finite positive scales ``(N,)``, finite joints ``(N, 16, 2)``."""
    center = np.asarray(center, np.float64)
    scale = np.asarray(scale, np.float64)
    n = len(scale)
    if center.shape != (n, 2):
        raise MPIIFormatError(path, "wrong shape", key="center", expected=(n, 2), received=center.shape)
    for key, values, bad in (("scale", scale, ~(np.isfinite(scale) & (scale > 0))),
                             ("center", center, ~np.isfinite(center).all(-1)),
                             ("part", keypoints, ~np.isfinite(keypoints).all((-1, -2)))):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MPIIFormatError(path, f"{int(bad.sum())} people with an invalid value",
                                  entry=first_index + i, key=key,
                                  expected="finite" + (" and > 0" if key == "scale" else ""),
                                  received=np.asarray(values[i]).tolist())


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


def _mat5_truncation(path) -> str | None:
    """Why a MATLAB v5 file is cut short, or None: ``scipy.io.loadmat`` silently returns the
    variables before a cut, so the top-level elements (8-byte tag + data padded to 8 bytes,
    compressed ones unpadded) must end exactly at the end of the file. Not v5: left to scipy."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        return None
    endian = "<" if data[126:128] == b"IM" else ">"
    pos = 128
    while pos < len(data):
        if len(data) - pos < 8:
            return f"{len(data) - pos} stray bytes after the last variable at byte {pos}"
        kind, size = np.frombuffer(data[pos:pos + 8], f"{endian}u4")
        if kind >> 16:                                  # small data element: 8 bytes in all
            pos += 8
            continue
        end = pos + 8 + int(size) + (0 if kind == 15 else (-int(size)) % 8)
        if end > len(data):
            return (f"the variable at byte {pos} needs {end - pos} bytes, the file ends after "
                    f"{len(data) - pos}")
        pos = end
    return None


def _loadmat(path, **kw):
    """``scipy.io.loadmat`` with damaged files reported as :class:`MPIIFormatError` (truncated
    files included, which scipy may read partly without an error: :func:`_mat5_truncation`)."""
    try:
        why = _mat5_truncation(path)
        if why is None:
            return loadmat(path, **kw)
    except Exception as err:       # scipy raises several types for damaged files
        raise MPIIFormatError(path, f"not a readable MATLAB file ({type(err).__name__}: {err}); "
                              "truncated?") from err
    raise MPIIFormatError(path, f"truncated MATLAB file: {why}")


# ------------------------------------------------------------------------------- h5
def read_h5(path: str, image_dir: str) -> dict:
    """Read a pose-hg-train / princeton-vl ``annot/{train,valid}.h5``.

    Fields (docs/reference/hourglass.md §1.5): ``center`` (N,2), ``scale`` (N,), ``part`` (N,16,2)
    with (0,0) = not annotated, ``visible`` (N,16), ``normalize`` (N,), ``imgname`` (N,) bytes.
    ``center``/``scale`` already contain the +15 s / x1.25 adjustment and are used as stored;
    ``normalize`` (0.6 x head-box diagonal) becomes ``head_size``.
    """
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in H5_FIELDS if k not in f]
            if missing:
                raise MPIIFormatError(path, f"missing field(s) {missing}",
                                      expected=f"an MPII annot h5 with {list(H5_FIELDS)}",
                                      received=sorted(f.keys()))
            data = {k: f[k][()] for k in H5_FIELDS}
    except MPIIFormatError:
        raise
    except Exception as err:           # h5py raises OSError / KeyError for damaged files
        raise MPIIFormatError(path, f"not a readable HDF5 file ({type(err).__name__}: {err}); "
                              "truncated?") from err
    n = np.size(data["imgname"])
    shapes = {"center": (n, 2), "scale": (n,), "part": (n, NUM_JOINTS, 2),
              "visible": (n, NUM_JOINTS), "normalize": (n,)}
    for key, shape in shapes.items():
        try:
            data[key] = np.asarray(data[key], np.float64)
        except (TypeError, ValueError) as err:
            raise MPIIFormatError(path, "not numeric", key=key) from err
        if data[key].shape != shape:
            raise MPIIFormatError(path, "wrong shape", key=key, expected=shape,
                                  received=data[key].shape)
    part = data["part"]
    _check_people(path, data["center"], data["scale"], part)
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
    try:
        with opener(path, "rt") as f:
            entries = json.load(f)
    except (ValueError, EOFError, OSError) as err:   # JSONDecodeError, gzip and UTF-8 errors
        raise MPIIFormatError(path, f"not readable JSON ({type(err).__name__}: {err}); "
                              "truncated?") from err
    if not isinstance(entries, list):
        raise MPIIFormatError(path, "not an MPII annotation list", expected="a list of people",
                              received=type(entries).__name__)
    want = {"train": (0,), "valid": (1,), "all": (0, 1)}
    if split not in want:
        raise ConfigError(f"split must be one of {sorted(want)}, got {split!r}")
    rows, index = [], []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise MPIIFormatError(path, "a person is a JSON object", entry=i,
                                  received=type(e).__name__)
        for key in ("img_paths", "joint_self", "objpos", "scale_provided", "isValidation"):
            if key not in e:
                raise MPIIFormatError(path, "field missing", entry=i, key=key,
                                      received=f"keys {sorted(e)}")
        for key, shape in (("joint_self", (NUM_JOINTS, 3)), ("objpos", (2,)),
                           ("scale_provided", ()), ("isValidation", ())):
            try:
                value = np.asarray(e[key], np.float64)
            except (TypeError, ValueError):
                raise MPIIFormatError(path, "not numeric", entry=i, key=key,
                                      expected=f"shape {shape}", received=repr(e[key])[:60]) from None
            if value.shape != shape:
                raise MPIIFormatError(path, "wrong shape", entry=i, key=key, expected=shape,
                                      received=value.shape)
        if e["isValidation"] not in (0, 1) or isinstance(e["isValidation"], bool):
            raise MPIIFormatError(path, "invalid split flag", entry=i, key="isValidation",
                                  expected="0 or 1", received=repr(e["isValidation"])[:60])
        if not isinstance(e["img_paths"], str):
            raise MPIIFormatError(path, "not a file name", entry=i, key="img_paths",
                                  received=repr(e["img_paths"])[:60])
        if int(e["isValidation"]) in want[split]:
            rows.append(e)
            index.append(i)
    joints = np.asarray([r["joint_self"] for r in rows], np.float64).reshape(-1, NUM_JOINTS, 3)
    raw_scale = np.asarray([r["scale_provided"] for r in rows], np.float64).reshape(-1)
    raw_center = np.asarray([r["objpos"] for r in rows], np.float64).reshape(-1, 2)
    bad = ~(np.isfinite(raw_scale) & (raw_scale > 0)) | ~np.isfinite(raw_center).all(-1) \
        | ~np.isfinite(joints).all((-1, -2))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise MPIIFormatError(path, "invalid value (scale_provided must be finite and > 0; "
                              "objpos and joint_self finite)", entry=index[k],
                              received={"objpos": raw_center[k].tolist(),
                                        "scale_provided": float(raw_scale[k])})
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
    mat = _loadmat(path, struct_as_record=False, squeeze_me=True)
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
    (2, 2, N), ``annotated`` (N, 16) from ``jnt_missing`` (16, N) (both required),
    ``keypoints`` (N, 16, 2)
    from ``pos_gt_src`` (16, 2, N) when present, and ``RELEASE_img_index`` /
    ``RELEASE_person_index`` when present.
    """
    mat = _loadmat(path)
    for key in ("headboxes_src", "jnt_missing"):     # both in bearpaw's file and ours
        if key not in mat:
            raise MPIIFormatError(f"{path}: no {key!r} (found "
                                  f"{sorted(k for k in mat if not k.startswith('__'))}; "
                                  "a file cut between two variables looks like this)")
    boxes = np.asarray(mat["headboxes_src"], np.float64)
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise MPIIFormatError(f"{path}: 'headboxes_src' has shape {boxes.shape}, expected (2, 2, N)")
    n = boxes.shape[2]
    # headboxes_src[:, :, i] = [[x1, y1], [x2, y2]]
    out = {"head_size": head_size_from_boxes(boxes.transpose(2, 0, 1).reshape(n, 4)),
           "annotated": 1.0 - np.asarray(mat["jnt_missing"], np.float64).T}
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


__all__ = ["CENTER_SHIFT", "H5_FIELDS", "MPIIFormatError", "SAME_JOINT_PX", "SCALE_FACTOR",
           "adjust_box", "attach_head_sizes", "read_detections", "read_h5", "read_json",
           "read_release_mat"]
