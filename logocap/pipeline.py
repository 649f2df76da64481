"""The bottom-up training pipeline on the shared input layer (:mod:`reprokit.data`).

:func:`prepare_records` turns :func:`logocap.data.read_coco_keypoints` into fixed-size records:
people padded to :data:`MAX_PEOPLE` with a ``valid`` flag, and one ignore mask per image (crowd
regions and people without labelled keypoints, decoded from their segmentation with
pycocotools' mask API) written once as PNGs. :class:`COCOKeypointsReader` decodes them into the
canonical example (the image, the ignore mask as ``labels``, every person's keypoints
flattened to ``(P * 17, 2)``); the augmentation is :class:`reprokit.data.AffineCrop` (rotation
+-30 deg, scale 0.75-1.5, translation +-40 px per 200 px of the box, flip 0.5 with COCO's
flip index repeated for every person; reference §1.3), and :func:`logocap.targets.encode_targets` makes the
targets. The box is the image centre and its short side (reference: the short side / 200).

Deviations from the released transforms (docs/fidelity.md): the flip is part of the one affine
warp, so image and keypoints flip together (the reference flips keypoints at the output
resolution, ``128 - x - 1``, and the image at the input resolution: flipped targets sit 0.75
output px off the image); the keep mask is warped at the input resolution and nearest-resized
to the output (the reference warps it at the output resolution).
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import tensorflow as tf
from pycocotools import mask as mask_utils

from logocap.data import FLIP_INDEX, NUM_KEYPOINTS
from logocap.model import normalize
from logocap.targets import encode_targets
from reprokit.data import AffineCrop, ImageRecordReader, build_dataset, read_image

#: People per image kept for training (LOGO-CAP pads to 30 people / 30 centres).
MAX_PEOPLE = 30
#: Translation bound as a fraction of the output side: the reference's +-40 * s px with
#: s = (short side / 200) * aug_scale is +-40/200 of the box, and the box fills the output.
TRANSLATE = 0.2
_LOG = logging.getLogger("reprokit.logocap")


def _ignore_mask(rec) -> np.ndarray:
    h, w = rec["height"], rec["width"]
    mask = np.zeros((h, w), np.uint8)
    for seg, crowd, n in zip(rec["segmentation"], rec["iscrowd"], rec["num_keypoints"]):
        if not (crowd or n == 0) or not seg:
            continue
        rles = mask_utils.frPyObjects(seg, h, w)
        m = mask_utils.decode(rles)
        mask |= (m.max(axis=2) if m.ndim == 3 else m).astype(np.uint8)
    return mask


def prepare_records(dataset: dict, cache_dir: str, max_people: int = MAX_PEOPLE) -> dict:
    """Fixed-size training records (see the module docstring); masks cached in ``cache_dir``."""
    os.makedirs(cache_dir, exist_ok=True)
    n = len(dataset["images"])
    out = {"image_path": [], "mask_path": [], "keypoints": np.zeros((n, max_people, NUM_KEYPOINTS, 3), np.float32),
           "areas": np.zeros((n, max_people), np.float32), "valid": np.zeros((n, max_people), np.float32)}
    dropped = 0
    for i, rec in enumerate(dataset["images"]):
        mask_path = os.path.join(cache_dir, f"ignore_{rec['image_id']}.png")
        if not os.path.exists(mask_path):
            cv2.imwrite(mask_path + ".tmp.png", _ignore_mask(rec))
            os.replace(mask_path + ".tmp.png", mask_path)
        people = np.flatnonzero(~rec["iscrowd"] & (rec["num_keypoints"] > 0))
        if len(people) > max_people:
            dropped += len(people) - max_people
            people = people[np.argsort(-rec["area"][people])[:max_people]]
        out["keypoints"][i, :len(people)] = rec["keypoints"][people]
        out["areas"][i, :len(people)] = rec["area"][people]
        out["valid"][i, :len(people)] = 1.0
        out["image_path"].append(rec["image_path"])
        out["mask_path"].append(mask_path)
    if dropped:
        _LOG.warning("%d people beyond %d per image were left out of training", dropped, max_people)
    out["image_path"], out["mask_path"] = np.asarray(out["image_path"]), np.asarray(out["mask_path"])
    return out


class COCOKeypointsReader(ImageRecordReader):
    """Records of :func:`prepare_records` as canonical examples: ``image``, ``labels`` (the
    ignore mask), ``keypoints`` ``(P * 17, 2)``, ``visible`` (the COCO flags), ``areas``,
    ``valid``; ``meta`` centre = image centre, scale = short side / 200."""

    def __init__(self, records: dict):
        super().__init__({k: records[k] for k in ("image_path", "mask_path", "keypoints", "areas", "valid")})

    def decode(self, record) -> dict:
        image = read_image(record["image_path"])
        image.set_shape([None, None, 3])
        mask = read_image(record["mask_path"], channels=1)[..., 0]
        kp = tf.cast(record["keypoints"], tf.float32)
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        return {"image": image, "labels": mask,
                "keypoints": tf.reshape(kp[..., :2], [-1, 2]), "visible": tf.reshape(kp[..., 2], [-1]),
                "areas": tf.cast(record["areas"], tf.float32), "valid": tf.cast(record["valid"], tf.float32),
                "meta": {"transform": tf.eye(3), "index": record["index"],
                         "center": tf.stack([(hw[1] - 1) / 2, (hw[0] - 1) / 2]),
                         "scale": tf.reduce_min(hw) / 200.0}}


def augmentation(people: int, input_size: int, augment: bool = True):
    """``f(example, seed) -> {image, keypoints (P, 17, 2), flags (P, 17), areas, center_areas,
    valid, ignore}``: the crop of the module docstring (or the plain centre crop when
    ``augment`` is False). Flags are the annotation's (keypoints the crop cuts off keep theirs:
    :func:`logocap.targets.encode_targets` skips them but counts them for the centre, as the
    reference); ``areas`` scale with the crop, ``center_areas`` are the annotation's; outside
    the image is ignored (the reference warps its keep mask with zero borders)."""
    # COCO's flip index repeated for every padded person (keypoints arrive as (P * 17, 2))
    flip_index = (np.arange(people)[:, None] * NUM_KEYPOINTS + np.asarray(FLIP_INDEX)[None]).ravel()
    crop = AffineCrop((input_size, input_size), scale_range=(0.75, 1.5) if augment else (1.0, 1.0),
                      rotation_range=(-30.0, 30.0) if augment else (0.0, 0.0),
                      translate=TRANSLATE if augment else 0.0, flip_prob=0.5 if augment else 0.0,
                      flip_index=flip_index, ignore_label=1)

    def apply(ex, seed):
        out = crop(ex, seed)
        m = out["meta"]["transform"]
        return {"image": out["image"],
                "keypoints": tf.reshape(out["keypoints"], [people, NUM_KEYPOINTS, 2]),
                "flags": tf.reshape(out["visible"], [people, NUM_KEYPOINTS]),
                "areas": out["areas"] * tf.abs(tf.linalg.det(m[:2, :2])),
                "center_areas": ex["areas"], "valid": out["valid"],
                "ignore": tf.cast(tf.equal(out["labels"], 1), tf.float32)}

    return apply


def train_dataset(records: dict, input_size: int, batch_size: int, seed: int = 0,
                  augment: bool = True, stride: int = 4, people: bool = False) -> tf.data.Dataset:
    """Repeating ``(x, {"heatmaps": target+weight, "offsets": target+weight})`` batches; with
    ``people`` also ``"people"``: ``keypoints`` ``(P, 17, 2)`` input px, ``flags``, ``areas``
    (input px^2, for the OKS targets of LOGO-CAP) and ``valid``, padded to a fixed ``P``."""
    augment_fn = augmentation(int(np.asarray(records["valid"]).shape[1]), input_size, augment)

    def transform(ex, seed):
        a = augment_fn(ex, seed)
        heat, heat_w, off, off_w = encode_targets(a["keypoints"], a["flags"], a["areas"], a["valid"],
                                                  a["ignore"], (input_size // stride,) * 2, stride,
                                                  a["center_areas"])
        out = {"image": normalize(a["image"]), "heatmaps": tf.concat([heat, heat_w], -1),
               "offsets": tf.concat([off, off_w], -1)}
        if people:
            out["people"] = {"keypoints": a["keypoints"], "flags": a["flags"], "areas": a["areas"],
                             "valid": a["valid"]}
        return out

    def fmt(ex):
        y = {"heatmaps": ex["heatmaps"], "offsets": ex["offsets"]}
        if people:
            y["people"] = ex["people"]
        return ex["image"], y

    return build_dataset(COCOKeypointsReader(records), transform, None, batch_size, training=True,
                         seed=seed, format_fn=fmt, repeat=True)


__all__ = ["COCOKeypointsReader", "MAX_PEOPLE", "TRANSLATE", "augmentation", "prepare_records", "train_dataset"]
