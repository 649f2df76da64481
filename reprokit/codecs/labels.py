"""Segmentation label codec: class remap tables and the ignore label."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class LabelCodec:
    """Remap class ids with a table, keep the ignore label, decode logits by argmax.

    Args:
        num_classes: number of classes after remapping.
        remap: optional table, ``remap[old_id] = new_id`` (e.g. SURREAL's 25 parts to the 13
            thesis groups). Ids beyond the table become ``ignore_label``.
        ignore_label: id skipped by losses and metrics; survives remapping unchanged.
            Defaults to 255 (hellochick ICNet ``ignore_label``; docs/reference/segmentation.md §E).
    """

    def __init__(self, num_classes: int, remap=None, ignore_label: int = 255):
        if not 1 <= num_classes <= 255:
            raise ValueError(f"num_classes must be in [1, 255], got {num_classes!r}")
        if not 0 <= ignore_label <= 255 or ignore_label < num_classes:
            raise ValueError(f"ignore_label must be in [num_classes, 255], got {ignore_label!r}")
        table = np.full(256, ignore_label, np.uint8)
        if remap is None:
            table[:num_classes] = np.arange(num_classes)
        else:
            remap = np.asarray(remap)
            if remap.ndim != 1 or len(remap) > 255:
                raise ValueError(f"remap must be a 1-D table of at most 255 ids, got shape {remap.shape}")
            bad = remap[(remap >= num_classes) & (remap != ignore_label)]
            if bad.size:
                raise ValueError(f"remap contains ids {sorted(set(bad.tolist()))} >= num_classes={num_classes}")
            table[: len(remap)] = remap
        table[ignore_label] = ignore_label
        self.num_classes, self.ignore_label, self.table = num_classes, ignore_label, table

    def remap(self, labels: np.ndarray) -> np.ndarray:
        """Numpy remap of an integer label array."""
        return self.table[np.asarray(labels, np.int64)]

    def __call__(self, example: dict) -> dict:
        """Pipeline hook: remaps ``labels`` in place (uint8, ignore label preserved)."""
        out = dict(example)
        out["labels"] = tf.gather(tf.constant(self.table), tf.cast(example["labels"], tf.int32))
        return out

    def one_hot(self, labels: tf.Tensor) -> tf.Tensor:
        """float32 ``(..., num_classes)``; ignored pixels are all zeros."""
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    def decode(self, logits: np.ndarray) -> np.ndarray:
        """Class map from logits or probabilities ``(..., num_classes)``."""
        return np.asarray(logits).argmax(-1).astype(np.uint8)
