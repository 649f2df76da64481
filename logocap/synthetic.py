"""A synthetic multi-person COCO in the official on-disk format, for offline runs.

Layout (as COCO 2017)::

    ROOT/annotations/person_keypoints_<split>2017.json
    ROOT/<split>2017/000000000001.jpg ...

Scenes come from :func:`reprokit.scenes.render_scene` with :data:`reprokit.scenes.COCO17`:
several people per image (zero allowed: images without people), small people (areas below
32^2) written as COCO writes them, without keypoints (``num_keypoints = 0``, all-zero
keypoints: the two people under 32^2 in the real sample ``../shared/real/coco`` have none, so
COCOeval ignores them and LOGO-CAP gives them no centre), occlusion between people
(v = 1), keypoints outside the frame (v = 0, written as 0, 0), and crowd regions: some images
get an ``iscrowd = 1`` annotation covering a few tiny people, with an uncompressed RLE
segmentation, ``num_keypoints = 0`` and all-zero keypoints, as the real files have.
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
from tqdm import tqdm

from logocap.data import COCO_KEYPOINTS, COCO_SKELETON_1BASED
from reprokit.scenes import COCO17, render_scene
from reprokit.synthetic import mark_synthetic


#: People below this area (pixels^2) get no keypoints, as in COCO (module docstring).
SMALL_AREA = 32.0 ** 2


def coco_paths(root: str, split: str = "val") -> tuple[str, str]:
    """``(annotation JSON, image folder)`` of a COCO 2017 layout."""
    return (os.path.join(root, "annotations", f"person_keypoints_{split}2017.json"),
            os.path.join(root, f"{split}2017"))


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE of a binary mask (column-major runs, starting with zeros)."""
    flat = np.asarray(mask, bool).ravel(order="F")
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": [int(c) for c in counts], "size": [int(mask.shape[0]), int(mask.shape[1])]}


def _polygon(mask: np.ndarray) -> list:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def write_synthetic_coco(root: str, split: str = "val", num_images: int = 16,
                         image_size=(128, 160), seed: int = 0, crowd_every: int = 5,
                         num_people=(0, 4), figure_height=(0.3, 0.9)) -> str:
    """Write ``num_images`` scenes in the COCO layout under ``root``; returns the JSON path.

    Skipped when ``ROOT/annotations/.complete_<split>`` records the same arguments. Every
    ``crowd_every``-th image also gets a crowd region of tiny people.
    """
    ann_path, image_dir = coco_paths(root, split)
    stamp = json.dumps({"n": num_images, "size": list(image_size), "seed": seed,
                        "crowd": crowd_every, "people": list(num_people),
                        "height": list(figure_height), "v": 4})
    done = os.path.join(root, "annotations", f".complete_{split}")
    if os.path.exists(done) and open(done, encoding="utf-8").read() == stamp:
        return ann_path
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.dirname(ann_path), exist_ok=True)
    mark_synthetic(root)
    images, annotations = [], []
    h, w = image_size
    for i in tqdm(range(num_images), desc=f"synthetic COCO {split}", unit="img",
                  disable=num_images < 200):
        image_id = i + 1
        scene = render_scene(COCO17, image_size, seed * 1_000_003 + i, num_people, figure_height)
        image = scene["image"]
        if crowd_every and i % crowd_every == crowd_every - 1:
            crowd = render_scene(COCO17, (h // 4, w // 4), seed * 7_000_001 + i, (3, 6),
                                 figure_height=(0.3, 0.5))
            y0, x0 = h - h // 4, 0
            image[y0:, x0:x0 + w // 4] = crowd["image"]
            region = np.zeros((h, w), bool)
            region[y0:, x0:x0 + w // 4] = crowd["person_mask"] >= 0
            if region.any():
                ys, xs = np.nonzero(region)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                    "iscrowd": 1, "segmentation": uncompressed_rle(region),
                    "area": float(region.sum()), "num_keypoints": 0, "keypoints": [0] * 51,
                    "bbox": [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1),
                             float(np.ptp(ys) + 1)]})
        name = f"{image_id:012d}.jpg"
        cv2.imwrite(os.path.join(image_dir, name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for p in range(len(scene["keypoints"])):
            mask = scene["person_mask"] == p
            if not mask.any():
                continue                                   # fully hidden: no annotation
            flags = scene["flags"][p]
            if scene["areas"][p] < SMALL_AREA:
                flags = np.zeros_like(flags)               # COCO: small people are unlabelled
            kp = np.where(flags[:, None] > 0, scene["keypoints"][p], 0.0)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "segmentation": _polygon(mask), "area": float(scene["areas"][p]),
                "bbox": [float(v) for v in scene["boxes"][p]],
                "num_keypoints": int((flags > 0).sum()),
                "keypoints": [round(float(v), 2) for v in np.concatenate(
                    [kp, flags[:, None].astype(float)], -1).ravel()]})
    data = {"info": {"description": "synthetic COCO person keypoints written by logocap.synthetic"},
            "licenses": [], "images": images, "annotations": annotations,
            "categories": [{"supercategory": "person", "id": 1, "name": "person",
                            "keypoints": list(COCO_KEYPOINTS),
                            "skeleton": [list(e) for e in COCO_SKELETON_1BASED]}]}
    with open(ann_path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    with open(done, "w", encoding="utf-8") as f:
        f.write(stamp)
    return ann_path


__all__ = ["SMALL_AREA", "coco_paths", "uncompressed_rle", "write_synthetic_coco"]
