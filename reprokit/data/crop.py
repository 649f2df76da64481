"""Random scale then crop / pad: the segmentation augmentation of ICNet-style readers.

hellochick ICNet ``image_reader.py`` (docs/reference/segmentation.md §B): scale the image by
``U(low, high)`` (bilinear) and the label map by the same factor (nearest), then pad to at
least the output size (image with 0, labels with the ignore label) and take a random crop of
the output size. Unlike :class:`reprokit.data.AffineCrop` the scaled image is resampled on
its own integer grid (``tf.image.resize``), which is what the reference does.
"""
from __future__ import annotations

import tensorflow as tf


class RandomScaleCrop:
    """Transform on the canonical example (``image``, ``labels``, optional ``keypoints``).

    Args:
        output_size: ``(height, width)`` of the crop; ``None`` keeps the input size.
        scale_range: bounds of the uniform scale factor (hellochick: 0.5-2.0).
        ignore_label: label value of padded pixels (never a class id).

    The image comes back float32 (0-255, not rounded to uint8: hellochick feeds the resized
    floats to the network). Keypoints follow the resize (pixel centres ``(x + 0.5) * ratio - 0.5``, what
    ``tf.image.resize`` does) and the crop offset; ``visible`` is left to the consumer.
    The seed is split as in the segmentation package's original reader so that results are
    reproducible across versions: the scale from ``seed``, the crop offsets from
    ``fold_in(seed, 1)`` and ``fold_in(fold_in(seed, 1), 1)``.
    """

    def __init__(self, output_size=None, scale_range=(0.5, 2.0), ignore_label: int = 255):
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range!r}")
        if output_size is not None and (len(output_size) != 2 or min(output_size) <= 0):
            raise ValueError(f"output_size must be (height, width) > 0, got {output_size!r}")
        self.output_size = None if output_size is None else (int(output_size[0]), int(output_size[1]))
        self.scale_range, self.ignore_label = (float(lo), float(hi)), int(ignore_label)

    def __call__(self, example: dict, seed=None) -> dict:
        seed = tf.zeros([2], tf.int64) if seed is None else tf.cast(seed, tf.int64)
        image, labels = example["image"], example["labels"]
        in_hw = tf.shape(image)[:2]
        h, w = self.output_size or (in_hw[0], in_hw[1])
        s = tf.random.stateless_uniform([], seed, *self.scale_range)
        hw = tf.cast(tf.cast(in_hw, tf.float32) * s, tf.int32)
        img = tf.image.resize(tf.cast(image, tf.float32), hw, "bilinear")
        lab = tf.image.resize(tf.cast(labels, tf.int32)[..., None], hw, "nearest")[..., 0]
        pad_h, pad_w = tf.maximum(h - hw[0], 0), tf.maximum(w - hw[1], 0)
        img = tf.pad(img, [[0, pad_h], [0, pad_w], [0, 0]])
        lab = tf.pad(lab, [[0, pad_h], [0, pad_w]], constant_values=self.ignore_label)
        crop_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        oy = tf.random.stateless_uniform([], crop_seed, 0, hw[0] + pad_h - h + 1, tf.int32)
        ox = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(crop_seed, 1),
                                         0, hw[1] + pad_w - w + 1, tf.int32)
        img, lab = img[oy:oy + h, ox:ox + w], lab[oy:oy + h, ox:ox + w]
        if self.output_size is not None:
            img.set_shape([h, w, 3])
            lab.set_shape([h, w])
        out = dict(example)
        out["image"] = img              # float32, unrounded: what the reference feeds on
        out["labels"] = tf.cast(lab, labels.dtype)
        if "keypoints" in example:
            ratio = (tf.cast(tf.stack([hw[1], hw[0]]), tf.float32)
                     / tf.cast(tf.stack([in_hw[1], in_hw[0]]), tf.float32))       # (sx, sy)
            offset = tf.cast(tf.stack([ox, oy]), tf.float32)
            out["keypoints"] = (tf.cast(example["keypoints"], tf.float32) + 0.5) * ratio - 0.5 - offset
        return out


__all__ = ["RandomScaleCrop"]
