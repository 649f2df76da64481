"""Gaussian heatmap codec: keypoints <-> per-keypoint heatmaps.

Reference:
    Newell et al. 2016 (stacked hourglass), targets as 2D Gaussians; the two reference
    encoders and the shared decoder are described in docs/reference/hourglass.md §1.6 (princeton-vl:
    9x9 patch = 6 sigma + 3, centre ``int(x)``), §2.2 (anibali/bearpaw: 7x7 patch = 6 sigma + 1,
    centre truncated) and §1.7 / §2.2 (decode: argmax, +-0.25 toward the larger neighbour,
    +0.5).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

_ROUNDING = ("none", "floor", "round")


class GaussianHeatmapCodec:
    """Encode keypoints as Gaussian heatmaps (TF, inside tf.data); decode them back (numpy).

    Keypoints are in input-image pixels; heatmap coordinates are ``kp * heatmap_size /
    input_size`` per axis (the references build the same crop transform for both resolutions).

    Args:
        input_size: ``(height, width)`` of the network input. Defaults to ``(256, 256)``
            (Newell et al. 2016, Sec. 3.1).
        heatmap_size: ``(height, width)`` of the heatmaps. Defaults to ``(64, 64)`` (same).
        sigma: Gaussian std in heatmap pixels. Defaults to 1 (princeton-vl ``dp.py``:
            ``output_res / 64``; anibali ``sigma=1``; docs/reference/hourglass.md §1.6, §2.2).
        peak_rounding: where the Gaussian peak sits. ``"none"`` (default): at the exact
            sub-pixel position; ``"floor"``: at ``floor(x)`` (princeton-vl ``int(x)`` and anibali
            truncation); ``"round"``: at the nearest pixel (MSRA).
        patch_size: odd side of the square support, or ``None`` for the untruncated Gaussian.
            princeton-vl uses ``6 sigma + 3`` (9), anibali ``6 sigma + 1`` (7).
        decode_offset: heatmap pixels added to decoded coordinates. ``None`` picks the
            unbiased value for ``peak_rounding``: 0.5 for ``"floor"`` (the references' ``+0.5``),
            0 otherwise. anibali's HEAD decoding bug (docs/reference/hourglass.md §0.4) is
            ``decode_offset=-0.5`` with ``peak_rounding="floor"``.

    Round-trip bound (encode -> decode, per axis, in heatmap pixels): keypoints on the heatmap
    grid come back exactly with ``"none"`` and ``"round"``; off the grid the error is at most
    0.25 for ``"none"`` and at most 0.5 for ``"round"`` and ``"floor"`` (the quarter shift cannot
    resolve the offset of a peak that was snapped to the grid).
    """

    def __init__(self, input_size=(256, 256), heatmap_size=(64, 64), sigma: float = 1.0,
                 peak_rounding: str = "none", patch_size: int | None = None,
                 decode_offset: float | None = None):
        if peak_rounding not in _ROUNDING:
            raise ValueError(f"peak_rounding must be one of {_ROUNDING}, got {peak_rounding!r}")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        if patch_size is not None and (patch_size < 1 or patch_size % 2 == 0):
            raise ValueError(f"patch_size must be a positive odd integer or None, got {patch_size!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.peak_rounding = peak_rounding
        self.patch_size = patch_size
        if decode_offset is None:
            decode_offset = 0.5 if peak_rounding == "floor" else 0.0
        self.decode_offset = float(decode_offset)
        # (x, y) factors from input pixels to heatmap pixels.
        self.stride = np.array([self.input_size[1] / self.heatmap_size[1],
                                self.input_size[0] / self.heatmap_size[0]], np.float32)

    # ----------------------------------------------------------------- encode (TF)
    def encode_keypoints(self, keypoints, visible):
        """Heatmaps and target weights for one example.

        Args:
            keypoints: float32 ``(K, 2)`` in input pixels.
            visible: float32 ``(K,)``.

        Returns:
            ``heatmaps`` float32 ``(H, W, K)`` (peak 1, zero for keypoints without target) and
            ``target_weight`` float32 ``(K,)`` = ``visible * in_bounds`` (anibali), where
            in-bounds means the peak pixel lies inside the heatmap.
        """
        h, w = self.heatmap_size
        kp = tf.cast(keypoints, tf.float32) / self.stride
        if self.peak_rounding == "floor":
            peak = tf.floor(kp)
        elif self.peak_rounding == "round":
            peak = tf.floor(kp + 0.5)
        else:
            peak = kp
        pixel = tf.floor(kp + 0.5) if self.peak_rounding == "none" else peak
        xs = tf.range(w, dtype=tf.float32)[None, None, :]
        ys = tf.range(h, dtype=tf.float32)[None, :, None]
        px, py = peak[:, 0, None, None], peak[:, 1, None, None]
        g = tf.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2.0 * self.sigma ** 2))
        if self.patch_size is not None:
            r = float(self.patch_size // 2)
            cx, cy = pixel[:, 0, None, None], pixel[:, 1, None, None]
            inside = tf.logical_and(tf.abs(xs - cx) <= r, tf.abs(ys - cy) <= r)
            g = tf.where(inside, g, 0.0)
        in_bounds = tf.reduce_all(
            tf.logical_and(pixel >= 0, pixel < tf.constant([w, h], tf.float32)), axis=-1)
        weight = tf.cast(visible, tf.float32) * tf.cast(in_bounds, tf.float32)
        heatmaps = g * tf.cast(weight > 0, tf.float32)[:, None, None]
        return tf.transpose(heatmaps, [1, 2, 0]), weight

    def __call__(self, example: dict) -> dict:
        """Pipeline hook: adds ``heatmaps`` and ``target_weight`` to the canonical example."""
        out = dict(example)
        out["heatmaps"], out["target_weight"] = self.encode_keypoints(
            example["keypoints"], example["visible"])
        return out

    # ----------------------------------------------------------------- decode (numpy)
    def decode(self, heatmaps: np.ndarray, transforms: np.ndarray | None = None):
        """Keypoints from heatmaps: argmax, quarter-pixel shift, offset, back to pixels.

        Args:
            heatmaps: ``(N, H, W, K)`` or ``(H, W, K)``.
            transforms: optional ``(N, 3, 3)`` (or ``(3, 3)``) matrices original -> input pixels
                (``meta["transform"]``); predictions are mapped through their inverse.

        Returns:
            ``keypoints`` float64 ``(N, K, 2)`` (x, y) in input pixels, or original-image
            pixels when ``transforms`` is given; ``scores`` ``(N, K)`` = heatmap maxima.
            The shift is applied when the peak is not on the border and its value is > 0
            (princeton-vl ``HeatmapParser.adjust``; bearpaw ``final_preds``).
        """
        hm = np.asarray(heatmaps, np.float64)
        single = hm.ndim == 3
        if single:
            hm = hm[None]
        n, h, w, k = hm.shape
        flat = hm.transpose(0, 3, 1, 2).reshape(n, k, h * w)
        idx = flat.argmax(-1)
        scores = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
        y, x = np.divmod(idx, w)
        coords = np.stack([x, y], -1).astype(np.float64)
        interior = (x > 0) & (x < w - 1) & (y > 0) & (y < h - 1) & (scores > 0)
        nn, kk = np.nonzero(interior)
        xi, yi = x[nn, kk], y[nn, kk]
        grid = hm.transpose(0, 3, 1, 2)
        dx = grid[nn, kk, yi, xi + 1] - grid[nn, kk, yi, xi - 1]
        dy = grid[nn, kk, yi + 1, xi] - grid[nn, kk, yi - 1, xi]
        coords[nn, kk, 0] += 0.25 * np.sign(dx)
        coords[nn, kk, 1] += 0.25 * np.sign(dy)
        coords += self.decode_offset
        coords *= self.stride.astype(np.float64)
        if transforms is not None:
            t = np.asarray(transforms, np.float64)
            t = np.broadcast_to(t, (n, 3, 3)) if t.ndim == 2 else t
            inv = np.linalg.inv(t)
            hom = np.concatenate([coords, np.ones((n, k, 1))], -1) @ inv.transpose(0, 2, 1)
            coords = hom[..., :2] / hom[..., 2:]
        if single:
            return coords[0], scores[0]
        return coords, scores
