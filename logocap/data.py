"""COCO person keypoints: metadata as data and the reader of the official JSON.

The format (``person_keypoints_{train,val}2017.json``; docs/reference/logocap_metrics_ecosystem.md
§2): ``images`` (``id``, ``file_name``, ``width``, ``height``), ``annotations`` (``id``,
``image_id``, ``category_id``, ``keypoints`` = 17 x [x, y, v] with v in {0, 1, 2},
``num_keypoints``, ``area``, ``bbox`` [x, y, w, h], ``iscrowd``, ``segmentation``) and
``categories`` (the person category with keypoint names and a 1-based skeleton).

:func:`read_coco_keypoints` returns one record per image, people included as padded arrays
(a bottom-up model sees every person of an image at once): crowd regions and people without
labelled keypoints are kept and flagged, because training ignores them (the crowd / no-keypoint
mask of the targets) and COCOeval ignores matches to them; images without people are kept too.
"""
from __future__ import annotations

import json
import os

import numpy as np

from reprokit.data.meta import DatasetMeta
from reprokit.errors import DataFormatError
from reprokit.metrics.keypoints import COCO_SIGMAS

COCO_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                  "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                  "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
#: The skeleton of the official ``categories`` entry, 1-based in the file, 0-based here.
COCO_SKELETON_1BASED = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13),
                        (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3),
                        (2, 4), (3, 5), (4, 6), (5, 7))
COCO = DatasetMeta(
    "coco", COCO_KEYPOINTS,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    skeleton=tuple((a - 1, b - 1) for a, b in COCO_SKELETON_1BASED))
#: ``[0, 2, 1, 4, 3, ...]`` (LOGO-CAP / DEKR ``FLIP_INDEX``; reference §1.4); the person-centre
#: channel appended as index 17 maps to itself.
FLIP_INDEX = COCO.flip_index
#: OKS sigmas (pycocotools ``COCOeval.Params.kpt_oks_sigmas``).
SIGMAS = COCO_SIGMAS
NUM_KEYPOINTS = 17
PERSON_CATEGORY = 1


def _field(path, ann, index, key, shape=None):
    if key not in ann:
        raise DataFormatError(path, "field missing", entry=f"annotation {index}", key=key)
    if shape is None:
        return ann[key]
    try:
        value = np.asarray(ann[key], np.float64)
    except (TypeError, ValueError):
        raise DataFormatError(path, "not numeric", entry=f"annotation {index}", key=key,
                              expected=f"shape {shape}", received=repr(ann[key])[:60]) from None
    if value.shape != tuple(shape):
        raise DataFormatError(path, "wrong shape", entry=f"annotation {index}", key=key,
                              expected=shape, received=value.shape)
    if not np.all(np.isfinite(value)):
        raise DataFormatError(path, "non-finite values", entry=f"annotation {index}", key=key)
    return value


def read_coco_keypoints(path: str, image_dir: str | None = None) -> dict:
    """Read an official COCO person-keypoints JSON.

    Args:
        path: the annotation file.
        image_dir: folder of the images (default: ``images/`` beside the file, else its folder).

    Returns:
        ``{"images": [record, ...], "categories": [...], "path": path}``; a record has
        ``image_id``, ``image_path``, ``width``, ``height`` and, for its ``P`` people (crowd
        regions included), ``keypoints`` ``(P, 17, 3)`` (x, y, v), ``area`` ``(P,)``, ``bbox``
        ``(P, 4)``, ``iscrowd`` ``(P,)`` bool, ``num_keypoints`` ``(P,)``, ``ann_id`` ``(P,)``.

    Raises:
        reprokit.errors.DataFormatError: naming the file, the annotation, the key, the expected
            and the received value (truncated JSON, missing fields, 16-joint keypoints,
            annotations of images the file does not list, ...).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"not readable JSON ({type(err).__name__}: {err}); "
                              "truncated?") from err
    if not isinstance(data, dict):
        raise DataFormatError(path, "not a COCO annotation file", expected="a JSON object",
                              received=type(data).__name__)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DataFormatError(path, "field missing or not a list", key=key)
    if image_dir is None:
        beside = os.path.join(os.path.dirname(path), "images")
        image_dir = beside if os.path.isdir(beside) else os.path.dirname(path)
    images = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not {"id", "file_name", "width", "height"} <= set(im):
            raise DataFormatError(path, "an image needs id, file_name, width and height",
                                  entry=f"image {i}")
        images[im["id"]] = {"image_id": im["id"], "image_path": os.path.join(image_dir, im["file_name"]),
                            "width": int(im["width"]), "height": int(im["height"]), "people": []}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DataFormatError(path, "an annotation is a JSON object", entry=f"annotation {i}")
        if _field(path, ann, i, "category_id") != PERSON_CATEGORY:
            continue
        image_id = _field(path, ann, i, "image_id")
        if image_id not in images:
            raise DataFormatError(path, "annotation of an image the file does not list",
                                  entry=f"annotation {i}", key="image_id", received=image_id)
        kp = _field(path, ann, i, "keypoints", (NUM_KEYPOINTS * 3,)).reshape(NUM_KEYPOINTS, 3)
        if not np.isin(kp[:, 2], (0, 1, 2)).all():
            raise DataFormatError(path, "visibility flags must be 0, 1 or 2",
                                  entry=f"annotation {i}", key="keypoints",
                                  received=sorted(set(kp[:, 2].tolist())))
        area = float(_field(path, ann, i, "area", ()))
        if area < 0:
            raise DataFormatError(path, "negative area", entry=f"annotation {i}", key="area",
                                  received=area)
        images[image_id]["people"].append({
            "keypoints": kp, "area": area, "bbox": _field(path, ann, i, "bbox", (4,)),
            "iscrowd": bool(ann.get("iscrowd", 0)),
            "num_keypoints": int(ann.get("num_keypoints", int((kp[:, 2] > 0).sum()))),
            "ann_id": ann.get("id", i), "segmentation": ann.get("segmentation", [])})
    records = []
    for im in images.values():
        people = im.pop("people")
        im["keypoints"] = np.asarray([p["keypoints"] for p in people], np.float64).reshape(-1, NUM_KEYPOINTS, 3)
        im["area"] = np.asarray([p["area"] for p in people], np.float64)
        im["bbox"] = np.asarray([p["bbox"] for p in people], np.float64).reshape(-1, 4)
        im["iscrowd"] = np.asarray([p["iscrowd"] for p in people], bool)
        im["num_keypoints"] = np.asarray([p["num_keypoints"] for p in people], np.int64)
        im["ann_id"] = np.asarray([p["ann_id"] for p in people])
        im["segmentation"] = [p["segmentation"] for p in people]
        records.append(im)
    return {"images": records, "categories": data["categories"], "path": os.path.abspath(path)}


__all__ = ["COCO", "COCO_KEYPOINTS", "FLIP_INDEX", "NUM_KEYPOINTS", "PERSON_CATEGORY", "SIGMAS",
           "read_coco_keypoints"]
