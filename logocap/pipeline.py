"""The bottom-up training pipeline on the shared input layer (:mod:`reprokit.data`).

:func:`prepare_records` turns :func:`logocap.data.read_coco_keypoints` into fixed-size records:
people padded to :data:`MAX_PEOPLE` with a ``valid`` flag, and one ignore mask per image (crowd
regions and people without labelled keypoints, decoded from their segmentation with
pycocotools' mask API) written once as PNGs. :class:`COCOKeypointsReader` decodes them into the
canonical example (the image, the ignore mask as ``labels``, every person's keypoints
flattened to ``(P * 17, 2)``); the augmentation is :class:`reprokit.data.AffineCrop` (rotation
+-30 deg, scale 0.75-1.5, translation +-40 px per 200 px of the box, reference §1.3) followed by
a horizontal flip with COCO's flip index, and :func:`logocap.targets.encode_targets` makes the
targets. The box is the image centre and its short side (reference: the short side / 200).
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


def train_dataset(records: dict, input_size: int, batch_size: int, seed: int = 0,
                  augment: bool = True, stride: int = 4) -> tf.data.Dataset:
    """Repeating ``(x, {"heatmaps": target+weight, "offsets": target+weight})`` batches."""
    people = int(np.asarray(records["valid"]).shape[1])
    size = (input_size, input_size)
    crop = AffineCrop(size, scale_range=(0.75, 1.5) if augment else (1.0, 1.0),
                      rotation_range=(-30.0, 30.0) if augment else (0.0, 0.0),
                      translate=0.2 if augment else 0.0, ignore_label=0)
    flip_index = tf.constant(FLIP_INDEX, tf.int32)

    def transform(ex, seed):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
        out = crop(ex, seeds[0])
        m = out["meta"]["transform"]
        det = tf.abs(tf.linalg.det(m[:2, :2]))
        kp = tf.reshape(out["keypoints"], [people, NUM_KEYPOINTS, 2])
        flags = tf.reshape(out["visible"], [people, NUM_KEYPOINTS])
        image, ignore = out["image"], tf.cast(tf.equal(out["labels"], 1), tf.float32)
        if augment:
            flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
            fkp = tf.gather(tf.stack([input_size - 1.0 - kp[..., 0], kp[..., 1]], -1), flip_index, axis=1)
            kp = tf.where(flip, fkp, kp)
            flags = tf.where(flip, tf.gather(flags, flip_index, axis=1), flags)
            image = tf.where(flip, tf.reverse(image, [1]), image)
            ignore = tf.where(flip, tf.reverse(ignore, [1]), ignore)
        inside = ((kp[..., 0] >= 0) & (kp[..., 0] <= input_size - 1)
                  & (kp[..., 1] >= 0) & (kp[..., 1] <= input_size - 1))
        flags = tf.where(inside, flags, 0.0)
        heat, heat_w, off, off_w = encode_targets(kp, flags, out["areas"] * det, out["valid"], ignore,
                                                  (input_size // stride, input_size // stride), stride)
        return {"image": normalize(image), "heatmaps": tf.concat([heat, heat_w], -1),
                "offsets": tf.concat([off, off_w], -1)}

    def fmt(ex):
        return ex["image"], {"heatmaps": ex["heatmaps"], "offsets": ex["offsets"]}

    return build_dataset(COCOKeypointsReader(records), transform, None, batch_size, training=True,
                         seed=seed, format_fn=fmt, repeat=True)


__all__ = ["COCOKeypointsReader", "MAX_PEOPLE", "prepare_records", "train_dataset"]
