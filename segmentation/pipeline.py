"""The segmentation input pipeline on the shared input layer (:mod:`reprokit.data`).

Frames extracted by :func:`segmentation.data.extract_frames` are read by
:class:`SurrealFrameReader` into the canonical example (``image``, ``labels`` and, for the
joint branch, ``keypoints`` / ``visible``). Augmentation (the thesis' "data augmentation"
ablation, docs/reference/segmentation.md spec §B) is the shared transforms with SURREAL's
:data:`segmentation.labels.SURREAL` metadata: :func:`reprokit.data.hflip` with its
``label_swap`` and ``flip_index`` (none of the reference readers swaps left/right), then
:class:`reprokit.data.RandomScaleCrop` (ICNet-style scale U(0.5, 2.0), bilinear image,
nearest label, random crop / pad back to the input size, padding labels with the ignore label).
Joint targets go through :class:`reprokit.codecs.GaussianHeatmapCodec`.
"""
from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from reprokit.codecs import GaussianHeatmapCodec
from reprokit.data import ImageRecordReader, RandomScaleCrop, build_dataset, hflip
from reprokit.errors import ConfigError, DataFormatError
from segmentation.labels import SURREAL
from segmentation.spec import IGNORE_LABEL, JOINT_SOURCES, NETWORKS, TARGETS, get_network


def normalize(image, network: str):
    """uint8/float RGB ``(..., 3)`` -> the network's input (TF op; :class:`segmentation.spec.Network`)."""
    return get_network(network).normalize(tf.cast(image, tf.float32))


def mirror_tf(image, labels, ignore_label: int = IGNORE_LABEL, joints=None):
    """Flip image and labels left-right, swapping left/right label ids and joints
    (:func:`reprokit.data.hflip` with :data:`segmentation.labels.SURREAL`). ``ignore_label``
    and ids past the 25 classes keep their value. Returns ``(image, labels[, joints])``."""
    if ignore_label != SURREAL.ignore_label:
        raise ValueError(f"SURREAL's ignore label is {SURREAL.ignore_label}, got {ignore_label}")
    ex = {"image": image, "labels": tf.cast(labels, tf.uint8)}
    if joints is not None:
        ex["keypoints"] = tf.cast(joints, tf.float32)
        ex["visible"] = tf.ones(tf.shape(ex["keypoints"])[:1], tf.float32)
    out = hflip(ex, SURREAL.flip_index, SURREAL.label_swap)
    labels = tf.cast(out["labels"], tf.int32)
    return (out["image"], labels) if joints is None else (out["image"], labels, out["keypoints"])


def random_scale_crop(image, labels, seed, size, scale_range=(0.5, 2.0),
                      ignore_label: int = IGNORE_LABEL, joints=None):
    """:class:`reprokit.data.RandomScaleCrop` on bare tensors: ``(image, labels[, joints])``."""
    static = size if all(isinstance(v, int) for v in size) else None
    ex = {"image": image, "labels": tf.cast(labels, tf.int32)}
    if joints is not None:
        ex["keypoints"] = joints
    out = RandomScaleCrop(static, scale_range, ignore_label)(ex, seed)   # None: the input size
    return (out["image"], out["labels"]) if joints is None else (
        out["image"], out["labels"], out["keypoints"])


def part_centroids(labels, num_parts: int = 24):
    """``(num_parts, 2)`` centroids (x, y) of the parts 1..num_parts and a ``(num_parts,)``
    visibility (part present) from one ``(H, W)`` label map: the thesis' alternative target for
    the joint branch (Sec. 4.1, Fig. 16 right)."""
    lab = tf.cast(labels, tf.int32)
    onehot = tf.cast(tf.equal(lab[..., None], tf.range(1, num_parts + 1)), tf.float32)
    count = tf.reduce_sum(onehot, [0, 1])
    ys = tf.range(tf.shape(lab)[0], dtype=tf.float32)[:, None, None]
    xs = tf.range(tf.shape(lab)[1], dtype=tf.float32)[None, :, None]
    safe = tf.maximum(count, 1.0)
    cx = tf.reduce_sum(onehot * xs, [0, 1]) / safe
    cy = tf.reduce_sum(onehot * ys, [0, 1]) / safe
    return tf.stack([cx, cy], -1), tf.cast(count > 0, tf.float32)


class SurrealFrameReader(ImageRecordReader):
    """Extracted SURREAL frames (image PNG, label PNG, optional ``joints2d``) as canonical
    examples; ``with_joints`` adds ``keypoints`` (24 SMPL joints) and ``visible`` (all 1)."""

    def __init__(self, records: dict, with_joints: bool = False):
        cols = {k: records[k] for k in ("image_path", "label_path")}
        if with_joints:
            if "joints2d" not in records:
                raise ConfigError("joint targets from 'surreal' need a 'joints2d' column in the records")
            cols["keypoints"] = np.asarray(records["joints2d"], np.float32)
            cols["visible"] = np.ones(cols["keypoints"].shape[:2], np.float32)
        super().__init__(cols)


def image_size(path: str):
    """``(H, W)`` of an image file (raises :class:`reprokit.errors.DataFormatError`)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataFormatError(path, "cannot be read as an image")
    return img.shape[:2]


def segmentation_dataset(records: dict, network: str, batch_size: int, training: bool = False,
                         seed: int | None = 0, mirror: bool = False, scale: bool = False,
                         size=None, repeat: bool | None = None, targets=("labels",),
                         joints: str = "surreal", joints_sigma: float = 1.0):
    """``(x, y)`` batches from image / label-PNG records (:func:`segmentation.data.read_extracted`).

    Args:
        network: ``"icnet"`` | ``"segnet"`` | ``"hourglass"`` (input normalisation).
        mirror: random horizontal mirror with the left/right label swap (p = 0.5).
        scale: random scale U(0.5, 2) + crop/pad to ``size`` (default: the image size).
        targets: one entry per model output, ``"labels"`` (the label map) or ``"joints"``
            (Gaussian heatmaps at the image resolution, peak 1); ``y`` is that tuple, or the
            bare label map for ``("labels",)``.
        joints: where joint targets come from: ``"surreal"`` (the records' ``joints2d``,
            moved with every augmentation) or ``"centroids"`` (part centroids of the label
            map after augmentation).
        joints_sigma: Gaussian standard deviation in pixels.
    """
    net = get_network(network)
    targets = tuple(targets)
    if not targets or set(targets) - set(TARGETS):
        raise ConfigError(f"targets must be a non-empty sequence of {TARGETS}, got {targets!r}")
    if joints not in JOINT_SOURCES:
        raise ConfigError(f"joints must be one of {JOINT_SOURCES}, got {joints!r}")
    want_joints = "joints" in targets
    use_records = want_joints and joints == "surreal"
    reader = SurrealFrameReader(records, with_joints=use_records)
    codec = None
    if want_joints:
        hw = tuple(size) if size else image_size(records["label_path"][0])
        codec = GaussianHeatmapCodec(hw, hw, joints_sigma)
    crop = RandomScaleCrop(tuple(size) if size else None, (0.5, 2.0), IGNORE_LABEL)

    def augment(ex, seed):
        ex = {k: ex[k] for k in ("image", "labels", "keypoints", "visible") if k in ex}
        if training and mirror:
            flip = tf.random.stateless_uniform([], seed) < 0.5
            flipped = hflip(ex, SURREAL.flip_index, SURREAL.label_swap)
            ex = {k: tf.where(flip, flipped[k], v) for k, v in ex.items()}
        if training and scale:
            ex = crop(ex, tf.random.experimental.stateless_fold_in(seed, 2))
        image, labels = ex["image"], tf.cast(ex["labels"], tf.int32)
        if size is not None:              # static shapes (ICNet's pyramid pooling needs them)
            image = tf.ensure_shape(image, [size[0], size[1], 3])
            labels = tf.ensure_shape(labels, [size[0], size[1]])
        out = {"image": net.normalize(tf.cast(image, tf.float32)), "labels": labels}
        if want_joints:
            if use_records:
                kp, vis = ex["keypoints"], ex["visible"]
            else:
                kp, vis = part_centroids(labels)
            out["heatmaps"], _ = codec.encode_keypoints(kp, vis)
        return out

    def fmt(ex):
        ys = tuple(ex["labels"] if t == "labels" else ex["heatmaps"] for t in targets)
        return ex["image"], (ys[0] if targets == ("labels",) else ys)

    return build_dataset(reader, augment, None, batch_size, training=training, seed=seed,
                         format_fn=fmt, repeat=training if repeat is None else repeat)


__all__ = ["NETWORKS", "SurrealFrameReader", "image_size", "mirror_tf", "normalize",
           "part_centroids", "random_scale_crop", "segmentation_dataset"]
