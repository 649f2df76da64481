"""RHD reader, the ground-truth hand crop and PoseNet heatmap targets (hand3d semantics).

RHD layout (Rendered Handpose Dataset v1.1, docs/reference/handpose.md §4.1)::

    RHD_published_v2/
        training/color/00000.png  training/mask/00000.png  training/depth/00000.png
        training/anno_training.pickle
        evaluation/...            evaluation/anno_evaluation.pickle

``anno_*.pickle``: sample id -> ``{"xyz": (42, 3), "uv_vis": (42, 3) = (u, v, visible),
"K": (3, 3)}``; keypoints 0-20 are the left hand, 21-41 the right; mask ids 2-17 are
left-hand parts, 18-33 right-hand parts (1 = person).

hand3d's conventions reproduced here (``data/BinaryDbReader.py``, §3 and §3.1): uv are
truncated to integers (its binary records store them through int32); the hand with strictly
more mask pixels is used (ties -> right); keypoint 0 becomes the palm, ``(kp0 + kp12) / 2``
with visibility ``vis0 or vis12``, unless ``use_wrist_coord``; the hand mask is ``parts > 1``.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import tensorflow as tf

from scipy.io import loadmat

from reprokit.data import ImageRecordReader, read_image
from reprokit.errors import ConfigError, DataFormatError
from reprokit.safeload import load_pickle

NUM_KEYPOINTS = 21
SPLITS = ("training", "evaluation")
#: Heatmap width of hand3d's ``create_multiple_gaussian_map``: ``exp(-d^2 / sigma^2)``, sigma 25.
SIGMA = 25.0
CROP_SIZE = 256


def read_rhd_annotations(root: str, split: str = "training") -> dict:
    """The records of one RHD split: paths, uv (truncated), visibility, K, xyz."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    folder = os.path.join(root, split)
    path = os.path.join(folder, f"anno_{split}.pickle")
    if not os.path.exists(path):
        raise FileNotFoundError(f"RHD annotations {path!r} not found (expected the "
                                "RHD_published_v2 layout, see handpose.data)")
    anno = load_pickle(path)            # data only: no code runs from the file (reprokit.safeload)
    if not isinstance(anno, dict):
        raise DataFormatError(path, "not an RHD annotation file", expected="a dict of samples",
                              received=type(anno).__name__)
    ids = sorted(anno, key=lambda k: (not isinstance(k, int), str(k)))
    rows = {"image_path": [], "mask_path": [], "uv": [], "visible": [], "K": [], "xyz": []}
    for i in ids:
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise DataFormatError(path, "sample ids are non-negative integers", entry=repr(i))
        a = anno[i]
        if not isinstance(a, dict):
            raise DataFormatError(path, "a sample is a dict", entry=i,
                                  expected="dict with uv_vis, K, xyz", received=type(a).__name__)
        uv_vis = _rhd_array(path, i, a, "uv_vis", (42, 3))
        rows["image_path"].append(os.path.join(folder, "color", f"{i:05d}.png"))
        rows["mask_path"].append(os.path.join(folder, "mask", f"{i:05d}.png"))
        rows["uv"].append(np.trunc(uv_vis[:, :2]))            # hand3d: float -> int32 -> float
        rows["visible"].append(uv_vis[:, 2] > 0)
        rows["K"].append(_rhd_array(path, i, a, "K", (3, 3)))
        rows["xyz"].append(_rhd_array(path, i, a, "xyz", (42, 3)))
    return {"image_path": np.asarray(rows["image_path"]), "mask_path": np.asarray(rows["mask_path"]),
            "uv": np.asarray(rows["uv"], np.float32).reshape(-1, 42, 2),
            "visible": np.asarray(rows["visible"], np.float32).reshape(-1, 42),
            "K": np.asarray(rows["K"], np.float32).reshape(-1, 3, 3),
            "xyz": np.asarray(rows["xyz"], np.float32).reshape(-1, 42, 3)}


def _rhd_array(path, index, sample: dict, key: str, shape) -> np.ndarray:
    """One field of an RHD sample as a finite float64 array of ``shape`` (or a named error)."""
    if key not in sample:
        raise DataFormatError(path, "field missing", entry=index, key=key,
                              expected=f"an array of shape {shape}")
    try:
        value = np.asarray(sample[key], np.float64)
    except (TypeError, ValueError) as err:
        raise DataFormatError(path, "not a numeric array", entry=index, key=key,
                              expected=f"shape {shape}", received=repr(sample[key])[:60]) from err
    if value.shape != tuple(shape):
        raise DataFormatError(path, "wrong shape", entry=index, key=key, expected=shape,
                              received=value.shape)
    if not np.all(np.isfinite(value)):
        raise DataFormatError(path, "non-finite values (NaN or inf)", entry=index, key=key)
    return value


def select_hand(mask, uv, visible, use_wrist_coord: bool = False):
    """hand3d's hand choice and palm keypoint, in TF (works inside ``tf.data``).

    Args:
        mask: uint8 ``(H, W)`` RHD part mask.
        uv: ``(42, 2)``; visible: ``(42,)``.

    Returns:
        ``uv21`` ``(21, 2)``, ``visible21`` ``(21,)``, ``hand_side`` one-hot ``[left, right]``
        and ``hand_mask`` float ``(H, W)`` (``parts > 1``: both hands).
    """
    m = tf.cast(mask, tf.int32)
    left = tf.reduce_sum(tf.cast((m >= 2) & (m <= 17), tf.int32))
    right = tf.reduce_sum(tf.cast((m >= 18) & (m <= 33), tf.int32))
    use_left = left > right
    uv = tf.cast(uv, tf.float32)
    visible = tf.cast(visible, tf.float32)
    uv21 = tf.where(use_left, uv[:21], uv[21:])
    vis21 = tf.where(use_left, visible[:21], visible[21:])
    if not use_wrist_coord:
        palm = (uv21[0] + uv21[12]) / 2.0
        uv21 = tf.concat([palm[None], uv21[1:]], 0)
        vis21 = tf.concat([tf.maximum(vis21[0], vis21[12])[None], vis21[1:]], 0)
    side = tf.where(use_left, tf.constant([1.0, 0.0]), tf.constant([0.0, 1.0]))
    return uv21, vis21, side, tf.cast(m > 1, tf.float32)


def gt_crop_params(uv, visible, image_hw, center_noise=None, crop_size: int = CROP_SIZE):
    """Centre ``(row, col)`` and scale of hand3d's ground-truth crop (§3.1), TF ops.

    Centre = keypoint 12 (middle-finger MCP) plus ``center_noise`` (row, col) if given; over
    the visible keypoints (min clipped at 0, max at the image size)
    ``size = 2 * max(max - centre, centre - min)`` clipped to [50, 500] (200 if no keypoint is
    visible); ``scale = clip(256 / size, 1, 10)`` (never zooms out). ``crop_size`` other than
    256 (smoke runs) scales the size limits with it, so the crop covers the same hand area.
    """
    uv = tf.cast(uv, tf.float32)
    vis = tf.cast(visible, tf.float32) > 0
    rc = tf.reverse(uv, [-1])
    center = rc[12] + (0.0 if center_noise is None else tf.cast(center_noise, tf.float32))
    hw = tf.cast(tf.stack(image_hw), tf.float32)
    big = tf.fill([tf.shape(rc)[0], 2], 1e9)
    lo = tf.maximum(tf.reduce_min(tf.where(vis[:, None], rc, big), 0), 0.0)
    hi = tf.minimum(tf.reduce_max(tf.where(vis[:, None], rc, -big), 0), hw)
    size = 2.0 * tf.maximum(tf.reduce_max(hi - center), tf.reduce_max(center - lo))
    size = tf.where(tf.reduce_any(vis), tf.clip_by_value(size, 50.0, 500.0), 200.0)
    scale = tf.clip_by_value(CROP_SIZE / size, 1.0, 10.0) * (crop_size / CROP_SIZE)
    return center, scale


def crop_keypoints(uv, center, scale, crop_size: int = CROP_SIZE):
    """Keypoints ``(K, 2)`` into the crop: ``u' = (u - c_col) * scale + crop_size // 2`` (TF)."""
    uv = tf.cast(uv, tf.float32)
    c = tf.cast(center, tf.float32)
    return (uv - tf.reverse(c, [-1])) * scale + float(crop_size // 2)


def gaussian_maps(uv, visible, size=(CROP_SIZE, CROP_SIZE), sigma: float = SIGMA):
    """hand3d ``create_multiple_gaussian_map``: ``exp(-d^2 / sigma^2)`` around the int-cast
    keypoint; a map is all zero unless the keypoint is visible and strictly inside
    ``0 < r < H - 1``, ``0 < c < W - 1``. TF; returns ``(H, W, K)``."""
    uv = tf.cast(tf.cast(uv, tf.int32), tf.float32)                 # (K, 2) as (u, v)
    h, w = size
    rows = tf.range(h, dtype=tf.float32)[:, None, None]
    cols = tf.range(w, dtype=tf.float32)[None, :, None]
    d2 = (rows - uv[None, None, :, 1]) ** 2 + (cols - uv[None, None, :, 0]) ** 2
    inside = ((uv[:, 1] > 0) & (uv[:, 1] < h - 1) & (uv[:, 0] > 0) & (uv[:, 0] < w - 1))
    keep = tf.cast(inside & (tf.cast(visible, tf.float32) > 0), tf.float32)
    return tf.exp(-d2 / sigma ** 2) * keep[None, None, :]


class RHDReader(ImageRecordReader):
    """RHD records (:func:`read_rhd_annotations`) as canonical examples: ``image``, the selected
    hand's 21 ``keypoints`` / ``visible`` (keypoint 0 = palm unless ``use_wrist_coord``),
    ``hand_side`` and ``hand_mask`` (hand3d ``BinaryDbReader``, :func:`select_hand`)."""

    def __init__(self, records: dict, use_wrist_coord: bool = False):
        super().__init__({k: records[k] for k in ("image_path", "mask_path", "uv", "visible")})
        self.use_wrist_coord = use_wrist_coord

    def decode(self, record) -> dict:
        image = read_image(record["image_path"])
        image.set_shape([None, None, 3])
        mask = read_image(record["mask_path"], channels=1)[..., 0]
        uv21, vis21, side, hand_mask = select_hand(mask, record["uv"], record["visible"],
                                                  self.use_wrist_coord)
        return {"image": image, "keypoints": uv21, "visible": vis21, "hand_side": side,
                "hand_mask": hand_mask,
                "meta": {"index": record["index"], "path": record["image_path"]}}


class HandImageReader(ImageRecordReader):
    """21-keypoint hand records (STB, or RHD reduced by :func:`rhd_hands`): ``image``,
    ``keypoints`` from ``uv`` and ``visible``."""

    def __init__(self, records: dict):
        super().__init__({k: records[k] for k in ("image_path", "uv", "visible")})

    def decode(self, record) -> dict:
        image = read_image(record["image_path"])   # names a corrupt file in its error
        image.set_shape([None, None, 3])
        return {"image": image, "keypoints": tf.cast(record["uv"], tf.float32),
                "visible": tf.cast(record["visible"], tf.float32),
                "meta": {"index": record["index"], "path": record["image_path"]}}


def hand_reader(records: dict, use_wrist_coord: bool = False) -> ImageRecordReader:
    """:class:`RHDReader` for RHD records (they have ``mask_path``), else :class:`HandImageReader`."""
    if "mask_path" in records:
        return RHDReader(records, use_wrist_coord)
    return HandImageReader(records)


def rhd_hands(records: dict, use_wrist_coord: bool = False) -> dict:
    """RHD records reduced to the selected hand, as 21-keypoint records (the STB layout).

    Reads each mask to choose the hand as hand3d does (:func:`select_hand`); returns
    ``image_path``, ``mask_path``, ``uv`` ``(N, 21, 2)``, ``visible`` ``(N, 21)`` and
    ``hand_side`` ``(N, 2)``, so the GT-crop evaluation runs on RHD the same as on STB.
    """
    uv, vis, side = [], [], []
    for i, path in enumerate(records["mask_path"]):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise FileNotFoundError(f"cannot read RHD mask {path!r}")
        u, v, s, _ = select_hand(mask, records["uv"][i], records["visible"][i], use_wrist_coord)
        uv.append(u.numpy())
        vis.append(v.numpy())
        side.append(s.numpy())
    return {"image_path": np.asarray(records["image_path"]),
            "mask_path": np.asarray(records["mask_path"]), "uv": np.stack(uv),
            "visible": np.stack(vis), "hand_side": np.stack(side)}


__all__ = ["CROP_SIZE", "HandImageReader", "NUM_KEYPOINTS", "RHDReader", "SIGMA", "crop_keypoints",
           "gaussian_maps", "hand_reader",
           "gt_crop_params", "read_rhd_annotations", "rhd_hands", "select_hand"]


# ------------------------------------------------------------------------------- STB
#: STB bumblebee (BB) intrinsics and stereo baseline (hand3d data/stb/create_db.m; §4.2).
STB_FOCAL, STB_CX, STB_CY = 822.79041, 318.47345, 250.31296
STB_BASELINE_MM = 120.054
#: STB -> RHD keypoint order: ``rhd[i] = stb[STB_TO_RHD[i]]``.
STB_TO_RHD = (0, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
STB_EVAL = ("B1Counting", "B1Random")
STB_TRAIN = tuple(f"B{i}{kind}" for i in range(2, 7) for kind in ("Counting", "Random"))


def stb_project(xyz_mm, view: str = "left"):
    """Pixel ``(u, v)`` of STB joints ``(..., 3)`` in mm for the left or right BB view."""
    xyz = np.asarray(xyz_mm, np.float64).copy()
    if view == "right":
        xyz[..., 0] -= STB_BASELINE_MM
    elif view != "left":
        raise ValueError(f"view must be 'left' or 'right', got {view!r}")
    u = STB_FOCAL * xyz[..., 0] / xyz[..., 2] + STB_CX
    v = STB_FOCAL * xyz[..., 1] / xyz[..., 2] + STB_CY
    return np.stack([u, v], -1)


def _stb_hand_para(label: str) -> np.ndarray:
    """``handPara`` ``(3, 21, N)`` of one STB label file, or a named error."""
    try:
        mat = loadmat(label)
    except Exception as err:         # scipy raises several types for damaged files
        raise DataFormatError(label, f"not a readable MATLAB file ({type(err).__name__}: {err}); "
                              "truncated?") from err
    if "handPara" not in mat:
        raise DataFormatError(label, "field missing", key="handPara",
                              expected="(3, 21, N) joint positions in mm",
                              received=f"keys {sorted(k for k in mat if not k.startswith('__'))}")
    try:
        para = np.asarray(mat["handPara"], np.float64)
    except (TypeError, ValueError) as err:
        raise DataFormatError(label, "not a numeric array", key="handPara") from err
    if para.ndim != 3 or para.shape[:2] != (3, 21):
        raise DataFormatError(label, "wrong shape", key="handPara", expected="(3, 21, N)",
                              received=para.shape)
    if not np.all(np.isfinite(para)):
        raise DataFormatError(label, "non-finite values (NaN or inf)", key="handPara")
    return para


def read_stb(root: str, sequences=STB_EVAL, views=("left", "right"), wrist: bool = False) -> dict:
    """STB records from the published layout (``labels/<seq>_BB.mat`` with ``handPara``
    ``(3, 21, N)`` in mm; images ``<seq>/BB_{left,right}_<i>.png``).

    Keypoints are reordered to RHD order, xyz converted to metres, uv projected with the BB
    intrinsics; all keypoints are visible. Keypoint 0 is STB's palm centre; ``wrist=True``
    extrapolates a wrist as ``kp16 + 2 (kp0 - kp16)`` (hand3d's choice, §4.2).
    """
    rows = {"image_path": [], "uv": [], "xyz": [], "visible": []}
    for seq in sequences:
        label = os.path.join(root, "labels", f"{seq}_BB.mat")
        if not os.path.exists(label):
            raise FileNotFoundError(f"STB labels {label!r} not found (see handpose.data)")
        para = _stb_hand_para(label)
        xyz = para.transpose(2, 1, 0)[:, list(STB_TO_RHD)]
        if wrist:
            xyz[:, 0] = xyz[:, 16] + 2 * (xyz[:, 0] - xyz[:, 16])
        for view in views:
            uv = stb_project(xyz, view)
            for i in range(len(xyz)):
                rows["image_path"].append(os.path.join(root, seq, f"BB_{view}_{i}.png"))
            rows["uv"].append(uv)
            rows["xyz"].append(xyz / 1000.0)
            rows["visible"].append(np.ones(xyz.shape[:2]))
    return {"image_path": np.asarray(rows["image_path"]),
            "uv": np.concatenate(rows["uv"]).astype(np.float32),
            "xyz": np.concatenate(rows["xyz"]).astype(np.float32),
            "visible": np.concatenate(rows["visible"]).astype(np.float32)}


__all__ += ["STB_EVAL", "STB_TO_RHD", "STB_TRAIN", "read_stb", "stb_project"]
