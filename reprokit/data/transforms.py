"""Geometric and photometric transforms on the canonical example (pure TF, graph-safe).

Every geometric transform is one 3x3 matrix applied once: the image is warped bilinearly,
the label map with nearest neighbour (padding becomes the ignore label), keypoints are mapped
exactly, and the matrix is composed into ``meta["transform"]`` so that decoding can map
predictions back to the original image. Random transforms take a stateless ``seed``
(int ``(2,)`` tensor); the same seed gives the same output (see ``build_dataset``).

Coordinate convention: pixel centres on integer coordinates, ``(x, y)`` = (column, row), the
convention of ``cv2.warpAffine`` and ``ImageProjectiveTransformV3``. A horizontal flip maps
``x -> W - 1 - x``.

Deviations:
    The references flip with ``x -> W - x`` (princeton-vl ``dp.py``; anibali ``fliplr``) on
    1-based or half-open conventions; ``W - 1 - x`` is the exact inverse of reversing the pixel
    columns, so a double flip returns the same pixels and labels exactly (keypoints up to float32
    rounding).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

#: MPII's scale unit: the person box side is ``scale * PIXEL_STD`` pixels
#: (princeton-vl ``utils/img.py: get_transform``; bearpaw ``pose/utils/transforms.py``).
PIXEL_STD = 200.0

Transform = Callable[[dict, tf.Tensor], dict]


def _split_seed(seed, num: int) -> tf.Tensor:
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num)


def affine_matrix(center, scale, output_size, rotation=0.0, translate=(0.0, 0.0), flip=False,
                  pixel_std=PIXEL_STD) -> tf.Tensor:
    """The 3x3 matrix of an affine crop: original-image pixels -> output pixels.

    ``M = F @ T(out/2 + translate) @ R(rotation) @ S(out / (pixel_std * scale)) @ T(-center)``:
    the box of side ``pixel_std * scale`` around ``center`` fills the output, rotated about the
    output centre, optionally mirrored (``F``: ``x -> out_w - 1 - x``).

    Reference:
        princeton-vl/pytorch_stacked_hourglass ``utils/img.py: get_transform`` (same scale and
        centring: ``res / (200 s)``, centre to ``res / 2``); docs/reference/hourglass.md §1.6.

    Args:
        center: float ``(2,)``, box centre (x, y) in original-image pixels.
        scale: float scalar, box side in units of ``pixel_std`` pixels.
        output_size: ``(height, width)`` of the output in pixels.
        rotation: degrees, positive = counter-clockwise as displayed (y axis down).
        translate: ``(tx, ty)`` output pixels added after rotation.
        flip: bool scalar, mirror the output horizontally.
        pixel_std: pixels per unit of ``scale``. Defaults to 200 (MPII convention).

    Returns:
        float32 ``(3, 3)`` tensor.
    """
    out_h, out_w = float(output_size[0]), float(output_size[1])
    center = tf.cast(tf.convert_to_tensor(center), tf.float32)
    box = tf.cast(scale, tf.float32) * pixel_std
    sx, sy = out_w / box, out_h / box
    theta = tf.cast(rotation, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(theta), tf.sin(theta)
    tx = out_w / 2.0 + tf.cast(translate[0], tf.float32)
    ty = out_h / 2.0 + tf.cast(translate[1], tf.float32)
    # Rows of T(t) R S T(-c), with R = [[cos, sin], [-sin, cos]] (counter-clockwise on screen).
    a00, a01 = cos * sx, sin * sy
    a10, a11 = -sin * sx, cos * sy
    b0 = tx - (a00 * center[0] + a01 * center[1])
    b1 = ty - (a10 * center[0] + a11 * center[1])
    zero, one = tf.zeros_like(a00), tf.ones_like(a00)
    m = tf.stack([tf.stack([a00, a01, b0]), tf.stack([a10, a11, b1]), tf.stack([zero, zero, one])])
    f = tf.constant([[-1.0, 0.0, out_w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return tf.where(tf.cast(flip, tf.bool), f @ m, m)


def _transform_points(matrix: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    ones = tf.ones_like(points[..., :1])
    hom = tf.concat([points, ones], axis=-1) @ tf.transpose(matrix)
    return hom[..., :2] / hom[..., 2:]


def _warp(image: tf.Tensor, matrix: tf.Tensor, output_size, interpolation: str,
          fill_value: float) -> tf.Tensor:
    """Warp an ``(H, W, C)`` tensor so that output pixel p samples input ``inv(matrix) p``."""
    inv = tf.linalg.inv(matrix)
    flat = tf.reshape(inv / inv[2, 2], [9])[:8]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=flat[None], output_shape=tf.constant(output_size, tf.int32),
        fill_value=tf.constant(fill_value, tf.float32), interpolation=interpolation,
        fill_mode="CONSTANT")
    return out[0]


def apply_affine(example: dict, matrix, output_size, ignore_label: int = 255) -> dict:
    """Apply one affine matrix to image, label map, keypoints and ``meta["transform"]``.

    Args:
        example: canonical example (see :mod:`reprokit.data`).
        matrix: float32 ``(3, 3)``, current-image pixels -> output pixels.
        output_size: ``(height, width)``.
        ignore_label: value of label pixels that fall outside the source image.

    Returns:
        A new example dict. ``visible`` is unchanged: whether a keypoint left the frame is
        decided by the consumer (the heatmap codec zeroes its target weight).
    """
    matrix = tf.cast(matrix, tf.float32)
    out = dict(example)
    image = tf.cast(example["image"], tf.float32)
    warped = _warp(image, matrix, output_size, "BILINEAR", 0.0)
    out["image"] = tf.cast(tf.clip_by_value(tf.round(warped), 0.0, 255.0), tf.uint8)
    if "labels" in example:
        labels = example["labels"][..., None]
        out["labels"] = _warp(labels, matrix, output_size, "NEAREST", float(ignore_label))[..., 0]
    if "keypoints" in example:
        out["keypoints"] = _transform_points(matrix, example["keypoints"])
    meta = dict(example.get("meta", {}))
    previous = meta.get("transform", tf.eye(3))
    meta["transform"] = matrix @ tf.cast(previous, tf.float32)
    out["meta"] = meta
    return out


def hflip(example: dict, flip_index: Sequence[int] | None = None,
          label_swap: np.ndarray | None = None) -> dict:
    """Mirror an example horizontally, swapping left/right keypoints and labels.

    Args:
        example: canonical example.
        flip_index: keypoint permutation after the flip (``DatasetMeta.flip_index``);
            ``None`` keeps the order.
        label_swap: uint8 table of 256 entries (``DatasetMeta.label_swap``); ``None`` keeps ids.

    Returns:
        The flipped example; applying it twice returns the same image and labels exactly and
        the keypoints up to float32 rounding.
    """
    out = dict(example)
    image = example["image"]
    width = tf.shape(image)[1]
    out["image"] = tf.reverse(image, axis=[1])
    if "labels" in example:
        labels = tf.reverse(example["labels"], axis=[1])
        if label_swap is not None:
            labels = tf.gather(tf.constant(label_swap, tf.uint8), tf.cast(labels, tf.int32))
        out["labels"] = labels
    if "keypoints" in example:
        kp = example["keypoints"]
        kp = tf.stack([tf.cast(width - 1, tf.float32) - kp[:, 0], kp[:, 1]], axis=-1)
        vis = example["visible"]
        if flip_index is not None:
            kp = tf.gather(kp, list(flip_index))
            vis = tf.gather(vis, list(flip_index))
        out["keypoints"], out["visible"] = kp, vis
    meta = dict(example.get("meta", {}))
    w = tf.cast(width, tf.float32)
    f = tf.stack([tf.stack([-1.0, 0.0, w - 1.0]), tf.constant([0.0, 1.0, 0.0]),
                  tf.constant([0.0, 0.0, 1.0])])
    meta["transform"] = f @ tf.cast(meta.get("transform", tf.eye(3)), tf.float32)
    out["meta"] = meta
    return out


def _sample(seed, std, low, high, mean):
    """``clip(mean + std * N(0, 1), low, high)`` if ``std`` is set, else ``U(low, high)``."""
    if std is not None:
        value = mean + std * tf.random.stateless_normal([], seed)
        return tf.clip_by_value(value, low, high)
    return tf.random.stateless_uniform([], seed, low, high)


class AffineCrop:
    """Affine crop by centre/scale with optional random scale, rotation, translation and flip.

    With the defaults it is the deterministic evaluation crop. The two recipes of
    docs/reference/hourglass.md are::

        # anibali / bearpaw (§2.2; what CV701 ran)
        AffineCrop((256, 256), scale_std=0.25, scale_range=(0.75, 1.25), rotation_std=30,
                   rotation_range=(-60, 60), rotation_prob=0.6, flip_prob=0.5, flip_index=...)
        # princeton-vl (§1.6)
        AffineCrop((256, 256), scale_range=(0.75, 1.25), rotation_range=(-30, 30),
                   flip_prob=0.5, flip_index=...)

    The box comes from ``meta["center"]`` / ``meta["scale"]`` when present, otherwise it is
    the whole image (centre of the image, side = the longer image side).

    Args:
        output_size: ``(height, width)`` of the crop.
        scale_std: std of the normal scale factor (``1 + std * N``, clipped to
            ``scale_range``); ``None`` samples ``U(scale_range)``. A factor > 1 zooms out.
        scale_range: bounds of the scale factor. Defaults to ``(1, 1)`` (no scaling).
        rotation_std: std in degrees of a normal rotation, clipped to ``rotation_range``;
            ``None`` samples ``U(rotation_range)``.
        rotation_range: rotation bounds in degrees. Defaults to ``(0, 0)``.
        rotation_prob: probability of rotating at all (anibali: 0.6).
        translate: maximum shift as a fraction of the output size, uniform in both axes.
        flip_prob: probability of a horizontal flip.
        flip_index: keypoint permutation used when flipped.
        label_swap: 256-entry label table used when flipped.
        ignore_label: label value for padding.
        pixel_std: pixels per unit of ``meta["scale"]``.
    """

    def __init__(self, output_size, *, scale_std=None, scale_range=(1.0, 1.0), rotation_std=None,
                 rotation_range=(0.0, 0.0), rotation_prob=1.0, translate=0.0, flip_prob=0.0,
                 flip_index=None, label_swap=None, ignore_label=255, pixel_std=PIXEL_STD):
        if len(output_size) != 2 or min(output_size) <= 0:
            raise ValueError(f"output_size must be (height, width) > 0, got {output_size!r}")
        for name, (lo, hi) in (("scale_range", scale_range), ("rotation_range", rotation_range)):
            if lo > hi:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {(lo, hi)!r}")
        if scale_range[0] <= 0:
            raise ValueError(f"scale_range must be positive, got {scale_range!r}")
        for name, p in (("rotation_prob", rotation_prob), ("flip_prob", flip_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p!r}")
        if flip_prob > 0 and flip_index is None:
            raise ValueError("flip_prob > 0 needs flip_index (DatasetMeta.flip_index); "
                             "pass tuple(range(K)) for keypoints without left/right")
        self.output_size = (int(output_size[0]), int(output_size[1]))
        self.scale_std, self.scale_range = scale_std, tuple(scale_range)
        self.rotation_std, self.rotation_range = rotation_std, tuple(rotation_range)
        self.rotation_prob, self.translate, self.flip_prob = rotation_prob, translate, flip_prob
        self.flip_index = None if flip_index is None else tuple(int(i) for i in flip_index)
        self.label_swap = None if label_swap is None else np.asarray(label_swap, np.uint8)
        self.ignore_label, self.pixel_std = ignore_label, pixel_std

    def _box(self, example):
        meta = example.get("meta", {})
        shape = tf.cast(tf.shape(example["image"])[:2], tf.float32)
        center = meta.get("center", tf.stack([(shape[1] - 1) / 2, (shape[0] - 1) / 2]))
        scale = meta.get("scale", tf.reduce_max(shape) / self.pixel_std)
        return tf.cast(center, tf.float32), tf.cast(scale, tf.float32)

    def __call__(self, example: dict, seed=None) -> dict:
        seeds = _split_seed(tf.zeros([2], tf.int64) if seed is None else seed, 6)
        center, scale = self._box(example)
        factor = _sample(seeds[0], self.scale_std, *self.scale_range, 1.0)
        rotation = _sample(seeds[1], self.rotation_std, *self.rotation_range, 0.0)
        rotate = tf.random.stateless_uniform([], seeds[2]) < self.rotation_prob
        rotation = tf.where(rotate, rotation, 0.0)
        shift = tf.random.stateless_uniform([2], seeds[3], -self.translate, self.translate)
        translate = shift * tf.constant([self.output_size[1], self.output_size[0]], tf.float32)
        flip = tf.random.stateless_uniform([], seeds[4]) < self.flip_prob
        matrix = affine_matrix(center, scale * factor, self.output_size, rotation,
                               (translate[0], translate[1]), flip, self.pixel_std)
        out = apply_affine(example, matrix, self.output_size, self.ignore_label)
        if self.flip_index is not None and "keypoints" in out:
            out["keypoints"] = tf.where(flip, tf.gather(out["keypoints"], self.flip_index),
                                        out["keypoints"])
            out["visible"] = tf.where(flip, tf.gather(out["visible"], self.flip_index),
                                      out["visible"])
        if self.label_swap is not None and "labels" in out:
            swapped = tf.gather(tf.constant(self.label_swap), tf.cast(out["labels"], tf.int32))
            out["labels"] = tf.where(flip, swapped, out["labels"])
        return out


class ChannelScale:
    """Multiply each RGB channel by ``U(low, high)`` and clip (anibali's colour augmentation).

    Reference: anibali/pytorch-stacked-hourglass ``datasets/mpii.py`` (per-channel
    ``x U(0.8, 1.2)``, clamped); docs/reference/hourglass.md §2.2.
    """

    def __init__(self, low: float = 0.8, high: float = 1.2):
        if not 0 <= low <= high:
            raise ValueError(f"need 0 <= low <= high, got {(low, high)!r}")
        self.low, self.high = low, high

    def __call__(self, example: dict, seed=None) -> dict:
        seed = tf.zeros([2], tf.int64) if seed is None else seed
        factors = tf.random.stateless_uniform([3], tf.cast(seed, tf.int64), self.low, self.high)
        image = tf.cast(example["image"], tf.float32) * factors
        out = dict(example)
        out["image"] = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
        return out


class ColorJitter:
    """Random brightness, contrast, saturation and hue (``tf.image`` stateless ops).

    Args:
        brightness: max additive delta on [0, 1] intensities (princeton-vl: 0.3).
        contrast: ``(low, high)`` contrast factor (princeton-vl: 0.5-1.5), or ``None``.
        saturation: ``(low, high)`` saturation factor (princeton-vl: 0.5-1.5), or ``None``.
        hue: max hue shift as a fraction of the circle (princeton-vl: 0.2), or 0.
        (princeton-vl values: ``data/MPII/dp.py``, docs/reference/hourglass.md §1.6.)
    """

    def __init__(self, brightness=0.0, contrast=None, saturation=None, hue=0.0):
        if brightness < 0 or hue < 0 or hue > 0.5:
            raise ValueError(f"need brightness >= 0 and 0 <= hue <= 0.5, got {(brightness, hue)!r}")
        self.brightness, self.contrast, self.saturation, self.hue = (
            brightness, contrast, saturation, hue)

    def __call__(self, example: dict, seed=None) -> dict:
        seeds = _split_seed(tf.zeros([2], tf.int64) if seed is None else seed, 4)
        image = tf.cast(example["image"], tf.float32) / 255.0
        if self.hue:
            image = tf.image.stateless_random_hue(image, self.hue, seeds[0])
        if self.saturation is not None:
            image = tf.image.stateless_random_saturation(image, *self.saturation, seed=seeds[1])
        if self.brightness:
            image = tf.image.stateless_random_brightness(image, self.brightness, seeds[2])
        if self.contrast is not None:
            image = tf.image.stateless_random_contrast(image, *self.contrast, seed=seeds[3])
        out = dict(example)
        out["image"] = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)
        return out


class RandomApply:
    """Apply ``transform`` with probability ``p`` (its randomness uses a split of the seed)."""

    def __init__(self, transform: Transform, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        self.transform, self.p = transform, p

    def __call__(self, example: dict, seed=None) -> dict:
        seeds = _split_seed(tf.zeros([2], tf.int64) if seed is None else seed, 2)
        applied = self.transform(example, seeds[1])
        take = tf.random.stateless_uniform([], seeds[0]) < self.p
        return tf.nest.map_structure(lambda a, b: tf.where(take, a, b), applied, example)


class Compose:
    """Apply transforms in order, each with its own seed split from the given one."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, example: dict, seed=None) -> dict:
        if not self.transforms:
            return example
        seeds = _split_seed(tf.zeros([2], tf.int64) if seed is None else seed,
                            len(self.transforms))
        for i, transform in enumerate(self.transforms):
            example = transform(example, seeds[i])
        return example
