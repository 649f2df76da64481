"""The hand3d score-map codec: one object that training encodes with and evaluation decodes with.

Encoding (hand3d ``create_multiple_gaussian_map``, docs/reference/handpose.md §3): keypoints in
crop pixels -> ``exp(-d^2 / sigma^2)`` maps at the crop resolution, sigma 25 at a 256 crop
(scaled with the crop side), plus one visibility channel per keypoint (1 where its map is not
all zero) that :class:`handpose.losses.PoseNetLoss` uses as the weight.

Decoding (hand3d ``eval2d_gt_cropped.py`` / ``detect_keypoints`` / ``trafo_coords``): upsample the
last stage's score maps to the crop (TF1 legacy bilinear, :func:`handpose.model.bilinear_resize`),
take the per-channel argmax ``(row, col)`` and its value (the score), and map it back to the
image with the crop's centre and scale. The maps have no sub-pixel refinement, as in hand3d.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from handpose.data import CROP_SIZE, SIGMA, gaussian_maps
from handpose.model import bilinear_resize


def detect_keypoints(scoremaps):
    """Per-channel argmax ``(N, K, 2)`` as ``(row, col)`` (hand3d ``detect_keypoints``)."""
    s = np.asarray(scoremaps)
    n, h, w, k = s.shape
    idx = s.transpose(0, 3, 1, 2).reshape(n, k, h * w).argmax(-1)
    return np.stack(np.divmod(idx, w), -1).astype(np.float32)


def trafo_coords(keypoints_rc, center, scale, crop_size: int = CROP_SIZE):
    """Crop ``(row, col)`` -> image ``(row, col)``: ``(rc - crop_size // 2) / scale + center``."""
    kp = np.asarray(keypoints_rc, np.float32)
    scale = np.asarray(scale, np.float32).reshape(-1, 1, 1)
    return (kp - crop_size // 2) / scale + np.asarray(center, np.float32).reshape(-1, 1, 2)


class ScoreMapCodec:
    """Keypoints <-> PoseNet score maps for a ``crop_size`` crop.

    Args:
        crop_size: side of the PoseNet input crop (hand3d 256; score maps are ``crop_size / 8``).
        sigma: Gaussian width at a 256 crop (hand3d 25), scaled by ``crop_size / 256``.
        resize: ``"legacy"`` (hand3d's TF1 resize) or ``"half_pixel"`` for decoding.
    """

    def __init__(self, crop_size: int = CROP_SIZE, sigma: float = SIGMA, resize: str = "legacy"):
        if crop_size <= 0 or crop_size % 8:
            raise ValueError(f"crop_size must be a positive multiple of 8, got {crop_size!r}")
        self.crop_size, self.resize = int(crop_size), resize
        self.sigma = float(sigma) * crop_size / float(CROP_SIZE)

    def encode(self, uv_crop, visible) -> tf.Tensor:
        """``(S, S, 2K)`` target: K Gaussian maps then K visibility channels (TF, graph-safe)."""
        size = self.crop_size
        maps = gaussian_maps(uv_crop, visible, (size, size), self.sigma)
        vis = tf.ones([size, size, 1]) * tf.cast(tf.reduce_max(maps, [0, 1]) > 0, tf.float32)[None, None]
        return tf.concat([maps, vis], -1)

    def upsample(self, scoremaps) -> tf.Tensor:
        """Score maps ``(N, h, w, K)`` -> ``(N, S, S, K)`` at the crop resolution."""
        return bilinear_resize(scoremaps, [self.crop_size, self.crop_size], self.resize)

    def decode(self, scoremaps, center, scale, upsampled: bool = False):
        """Image keypoints ``(N, K, 2)`` as ``(u, v)`` and scores ``(N, K)`` (the map maxima).

        Args:
            scoremaps: last-stage maps ``(N, h, w, K)`` (``upsampled``: already at the crop).
            center: ``(N, 2)`` crop centres ``(row, col)`` in image pixels.
            scale: ``(N,)`` crop scales (crop pixels per image pixel).
        """
        big = np.asarray(scoremaps if upsampled else self.upsample(scoremaps))
        rc = detect_keypoints(big)
        scores = big.reshape(len(big), -1, big.shape[-1]).max(1)
        image_rc = trafo_coords(rc, center, scale, self.crop_size)
        return image_rc[..., ::-1].copy(), scores


__all__ = ["ScoreMapCodec", "detect_keypoints", "trafo_coords"]
