"""A synthetic MPII: stick figures written in the real MPII file formats.

The default data of every hourglass command, so the offline path runs the real readers: JPEGs
in ``images/``, ``annot/{train,valid}.h5`` (pose-hg-train fields, centre/scale pre-adjusted),
``detections_our_format.mat`` (head boxes of the validation people) and, on request, the
bearpaw ``mpii_annotations.json`` and the official ``RELEASE`` ``.mat``. One figure per image.

Geometry (from :func:`reprokit.synthetic.render_figure`): the raw MPII ``objpos``/``scale`` are
chosen so that Newell's adjustment (+15 s in y, x1.25) gives the figure's box, as it roughly
does on the real data. The head box is the square centred between upper neck and head top
with side ``|head_top - upper_neck|``. Joints outside the image are "not annotated" (stored as
(0, 0), as MPII stores them), occluded ones are annotated with ``visible = 0``.
"""
from __future__ import annotations

import json
import os

import cv2
import h5py
import numpy as np
from scipy.io import savemat
from tqdm import tqdm

from hourglass.mpii_formats import CENTER_SHIFT, NUM_JOINTS, SCALE_FACTOR
from reprokit.metrics.keypoints import head_size_from_boxes
from reprokit.synthetic import HUMAN16, mark_synthetic, render_figure

FORMATS = ("h5", "detections", "json", "mat")


def _people(count, image_size, seed, offset, out_of_frame):
    rows = []
    h, w = image_size
    for i in range(count):
        fig = render_figure(HUMAN16, image_size, seed * 1_000_003 + offset + i,
                            out_of_frame=out_of_frame)
        kp = fig["keypoints"].astype(np.float64)
        inside = (kp[:, 0] >= 0) & (kp[:, 0] <= w - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= h - 1)
        s0 = float(fig["scale"]) / SCALE_FACTOR
        objpos = fig["center"].astype(np.float64) - np.array([0.0, CENTER_SHIFT * s0])
        neck, top = kp[8], kp[9]
        side = float(np.linalg.norm(top - neck))
        mid = (neck + top) / 2
        box = np.concatenate([mid - side / 2, mid + side / 2])
        rows.append({"image": fig["image"], "part": np.where(inside[:, None], kp, 0.0),
                     "annotated": inside, "visible": fig["visible"] * inside, "objpos": objpos,
                     "s0": s0, "head_box": box})
    return rows


def _write_h5(path, rows, names):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s0 = np.array([r["s0"] for r in rows])
    objpos = np.array([r["objpos"] for r in rows])
    with h5py.File(path, "w") as f:
        f["center"] = objpos + np.stack([np.zeros_like(s0), CENTER_SHIFT * s0], -1)
        f["scale"] = SCALE_FACTOR * s0
        f["part"] = np.array([r["part"] for r in rows])
        f["visible"] = np.array([r["visible"] for r in rows], np.float64)
        f["normalize"] = head_size_from_boxes(np.array([r["head_box"] for r in rows]))
        f["imgname"] = np.array([n.encode() for n in names], dtype="S13")
        f["index"] = np.arange(len(rows), dtype=np.float64)
        f["person"] = np.zeros(len(rows))
        f["torsoangle"] = np.zeros(len(rows))


def _write_detections(path, rows, first_index):
    n = len(rows)
    boxes = np.array([r["head_box"] for r in rows]).reshape(n, 2, 2).transpose(1, 2, 0)
    savemat(path, {
        "headboxes_src": boxes,
        "jnt_missing": (~np.array([r["annotated"] for r in rows])).T.astype(np.float64),
        "pos_gt_src": np.array([r["part"] for r in rows]).transpose(1, 2, 0),
        "pos_pred_src": np.zeros((NUM_JOINTS, 2, n)),
        "RELEASE_img_index": np.arange(first_index, first_index + n, dtype=np.float64)[None],
        "RELEASE_person_index": np.ones((1, n)),
    })


def _write_json(path, rows, names, is_valid, image_size):
    entries = []
    for i, (r, name, val) in enumerate(zip(rows, names, is_valid)):
        joints = [[float(x), float(y), float(v)] for (x, y), v in zip(r["part"], r["visible"])]
        entries.append({"dataset": "MPI", "isValidation": float(val), "img_paths": name,
                        "img_height": float(image_size[0]), "img_width": float(image_size[1]),
                        "objpos": [float(v) for v in r["objpos"]], "joint_self": joints,
                        "scale_provided": r["s0"], "annolist_index": float(i + 1),
                        "people_index": 1.0, "numOtherPeople": 0.0})
    with open(path, "w") as f:
        json.dump(entries, f)


def _write_release(path, rows, names):
    point_t = [("x", "O"), ("y", "O"), ("id", "O"), ("is_visible", "O")]
    rect_t = [("x1", "O"), ("y1", "O"), ("x2", "O"), ("y2", "O"), ("annopoints", "O"),
              ("scale", "O"), ("objpos", "O")]
    anno_t = [("image", "O"), ("annorect", "O"), ("frame_sec", "O"), ("vididx", "O")]
    annolist = np.zeros((1, len(rows)), anno_t)
    for i, (r, name) in enumerate(zip(rows, names)):
        ids = np.nonzero(r["annotated"])[0]
        points = np.zeros((1, len(ids)), point_t)
        for k, j in enumerate(ids):
            points[0, k] = (float(r["part"][j, 0]), float(r["part"][j, 1]), float(j),
                            str(int(r["visible"][j])))
        rect = np.zeros((1, 1), rect_t)
        x1, y1, x2, y2 = (float(v) for v in r["head_box"])
        rect[0, 0] = (x1, y1, x2, y2, {"point": points}, r["s0"],
                      {"x": float(r["objpos"][0]), "y": float(r["objpos"][1])})
        annolist[0, i] = ({"name": name}, rect, np.zeros((0, 0)), np.zeros((0, 0)))
    savemat(path, {"RELEASE": {"annolist": annolist,
                               "img_train": np.ones((1, len(rows))),
                               "version": "12",
                               "single_person": np.ones((len(rows), 1), dtype=object)}})


def write_synthetic_mpii(data_dir: str, num_train: int = 256, num_valid: int = 64,
                         image_size=(192, 192), seed: int = 0, out_of_frame: float = 0.1,
                         formats=("h5", "detections")) -> str:
    """Write a synthetic MPII folder (layout of :mod:`hourglass.data`); returns ``data_dir``.

    Args:
        num_train, num_valid: people (= images) per split.
        image_size: ``(height, width)`` of the JPEGs.
        seed: fixes every figure.
        out_of_frame: how far figures may leave the frame (joints outside are not annotated).
        formats: any of ``"h5"``, ``"detections"``, ``"json"``, ``"mat"``.

    Writing is skipped when ``data_dir/.complete`` records the same arguments (the file is
    written last, so an interrupted write is redone).
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {bad}; valid: {FORMATS}")
    stamp = json.dumps({"num_train": num_train, "num_valid": num_valid, "seed": seed,
                        "image_size": list(image_size), "out_of_frame": out_of_frame,
                        "formats": sorted(formats), "version": 1}, sort_keys=True)
    done = os.path.join(data_dir, ".complete")
    if os.path.exists(done) and open(done).read() == stamp:
        return data_dir
    os.makedirs(os.path.join(data_dir, "images"), exist_ok=True)
    train = _people(num_train, image_size, seed, 0, out_of_frame)
    valid = _people(num_valid, image_size, seed, 10_000_000, out_of_frame)
    rows = train + valid
    names = [f"{i + 1:09d}.jpg" for i in range(len(rows))]
    for r, name in tqdm(list(zip(rows, names)), desc="synthetic MPII", unit="img",
                        disable=len(rows) < 500):
        cv2.imwrite(os.path.join(data_dir, "images", name),
                    cv2.cvtColor(r["image"], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if "h5" in formats:
        _write_h5(os.path.join(data_dir, "annot", "train.h5"), train, names[:num_train])
        _write_h5(os.path.join(data_dir, "annot", "valid.h5"), valid, names[num_train:])
    if "detections" in formats:
        _write_detections(os.path.join(data_dir, "detections_our_format.mat"), valid, num_train + 1)
    if "json" in formats:
        _write_json(os.path.join(data_dir, "mpii_annotations.json"), rows, names,
                    [0] * num_train + [1] * num_valid, image_size)
    if "mat" in formats:
        _write_release(os.path.join(data_dir, "mpii_human_pose_v1_u12_1.mat"), rows, names)
    mark_synthetic(data_dir)
    with open(done, "w") as f:
        f.write(stamp)
    return data_dir


__all__ = ["FORMATS", "write_synthetic_mpii"]
