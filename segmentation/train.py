"""Input pipeline and evaluation for the segmentation networks (thesis Sec. 3-4).

Input normalisation per network (reference/segmentation.md spec §B): ICNet takes BGR minus
hellochick's ``IMG_MEAN``; SegNet takes raw 0-255 RGB (its first layer is the LRN); the
hourglass takes ``/255`` then mean/std whitening (Varol's ``meanstd``; we use the ImageNet RGB
statistics when the training set's are not given).

Augmentation (the thesis' "data augmentation" ablation, spec §B): horizontal mirroring that
swaps left/right labels through :data:`segmentation.labels.MIRROR_SWAP` (none of the reference
readers swaps), and ICNet-style random scale U(0.5, 2.0) (bilinear image, nearest label) then a
random crop / pad back to the input size, padding labels with ``ignore_label`` (never 0).

Evaluation accumulates one confusion matrix over the split (:mod:`reprokit.metrics.segmentation`)
from the last output, bilinearly upsampled to the label size (align_corners for ICNet as
hellochick's inference) and argmaxed.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from reprokit.data import ImageRecordReader, build_dataset
from segmentation.labels import MIRROR_SWAP, NUM_CLASSES
from segmentation.model import ICNET_MEAN_BGR

NETWORKS = ("icnet", "segnet", "hourglass")
#: Hourglass whitening default (ImageNet RGB mean/std); Varol's ``meanRgb.t7`` is computed on
#: SURREAL and not published as numbers.
HOURGLASS_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
IGNORE_LABEL = 255


def normalize(image, network: str, mean_std=HOURGLASS_MEAN_STD):
    """uint8/float RGB ``(..., 3)`` -> the network's input (TF op)."""
    x = tf.cast(image, tf.float32)
    if network == "icnet":
        return x[..., ::-1] - tf.constant(ICNET_MEAN_BGR, tf.float32)
    if network == "segnet":
        return x
    if network == "hourglass":
        mean, std = (tf.constant(v, tf.float32) for v in mean_std)
        return (x / 255.0 - mean) / std
    raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")


def mirror_tf(image, labels, ignore_label: int = IGNORE_LABEL):
    """Flip image and labels left-right and swap left/right label ids (TF op)."""
    image = tf.reverse(image, [1])
    labels = tf.reverse(tf.cast(labels, tf.int32), [1])
    table = tf.constant(MIRROR_SWAP, tf.int32)
    swapped = tf.gather(table, tf.clip_by_value(labels, 0, len(MIRROR_SWAP) - 1))
    return image, tf.where((labels >= len(MIRROR_SWAP)) | (labels == ignore_label), labels, swapped)


def random_scale_crop(image, labels, seed, size, scale_range=(0.5, 2.0),
                      ignore_label: int = IGNORE_LABEL):
    """Scale by U(lo, hi) (bilinear image, nearest label), then random crop / pad to ``size``;
    padded labels are ``ignore_label``, padded image pixels 0 (hellochick's reader)."""
    s = tf.random.stateless_uniform([], seed, *scale_range)
    hw = tf.cast(tf.cast(tf.shape(image)[:2], tf.float32) * s, tf.int32)
    image = tf.image.resize(tf.cast(image, tf.float32), hw, "bilinear")
    labels = tf.image.resize(tf.cast(labels, tf.int32)[..., None], hw, "nearest")[..., 0]
    h, w = size
    pad_h, pad_w = tf.maximum(h - hw[0], 0), tf.maximum(w - hw[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    labels = tf.pad(labels + 1, [[0, pad_h], [0, pad_w]]) - 1          # pad -> -1 for now
    labels = tf.where(labels < 0, ignore_label, labels)
    stacked = tf.concat([image, tf.cast(labels, tf.float32)[..., None]], -1)
    crop = tf.image.stateless_random_crop(stacked, [h, w, 4], tf.random.experimental
                                          .stateless_fold_in(seed, 1))
    return crop[..., :3], tf.cast(crop[..., 3], tf.int32)


def segmentation_dataset(records: dict, network: str, batch_size: int, training: bool = False,
                         seed: int | None = 0, mirror: bool = False, scale: bool = False,
                         size=None, repeat: bool | None = None):
    """``(x, labels)`` batches from image / label-PNG records (:func:`segmentation.data.read_extracted`).

    Args:
        network: ``"icnet"`` | ``"segnet"`` | ``"hourglass"`` (input normalisation).
        mirror: random horizontal mirror with the left/right label swap (p = 0.5).
        scale: random scale U(0.5, 2) + crop/pad to ``size`` (default: the image size).
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    reader = ImageRecordReader({k: records[k] for k in ("image_path", "label_path")})

    def augment(ex, seed):
        image, labels = ex["image"], tf.cast(ex["labels"], tf.int32)
        if training and mirror:
            flip = tf.random.stateless_uniform([], seed) < 0.5
            fi, fl = mirror_tf(image, labels)
            image = tf.where(flip, fi, image)
            labels = tf.where(flip, fl, labels)
        if training and scale:
            out = size or (tf.shape(image)[0], tf.shape(image)[1])
            image, labels = random_scale_crop(image, labels, tf.random.experimental
                                              .stateless_fold_in(seed, 2), out)
        return {"image": normalize(image, network), "labels": labels}

    return build_dataset(reader, augment, None, batch_size, training=training, seed=seed,
                         format_fn=lambda ex: (ex["image"], ex["labels"]),
                         repeat=training if repeat is None else repeat)


def predict_labels(model, x, network: str, size):
    """Argmax labels ``(N, H, W)`` of the model's last output upsampled to ``size``."""
    out = model(x, training=False)
    logits = out[-1] if isinstance(out, (list, tuple)) else out
    if tuple(logits.shape[1:3]) != tuple(size):
        logits = tf.raw_ops.ResizeBilinear(images=logits, size=size,
                                           align_corners=network == "icnet",
                                           half_pixel_centers=False)
    return tf.argmax(logits, -1, output_type=tf.int32).numpy()


def evaluate_segmentation(model, records: dict, network: str, num_classes: int = NUM_CLASSES,
                          batch_size: int = 4, group_table=None) -> dict:
    """Confusion matrix over ``records`` and every metric of the thesis.

    Returns:
        ``reprokit.metrics.segmentation.segmentation_report`` of the matrix plus ``"confusion"``
        and, with ``group_table`` (e.g. ``labels.TO_THESIS13``), ``"groups"``: the report of the
        merged matrix.
    """
    from reprokit.metrics.segmentation import (confusion_matrix, merge_confusion,
                                               segmentation_report)

    cm = np.zeros((num_classes, num_classes), np.int64)
    for x, y in segmentation_dataset(records, network, batch_size, training=False, seed=None):
        pred = predict_labels(model, x, network, tuple(y.shape[1:3]))
        cm += confusion_matrix(y.numpy(), pred, num_classes, IGNORE_LABEL)
    report = segmentation_report(cm)
    report["confusion"] = cm
    if group_table is not None:
        report["groups"] = segmentation_report(merge_confusion(cm, group_table))
    return report


__all__ = ["HOURGLASS_MEAN_STD", "IGNORE_LABEL", "NETWORKS", "evaluate_segmentation",
           "mirror_tf", "normalize", "predict_labels", "random_scale_crop", "segmentation_dataset"]
