"""Robustness corruptions of the seed paper (Sibgrapi 104, Table IV and its augmented sets).

Each function takes a uint8 RGB image ``(H, W, 3)`` (and, for occlusion, the ground-truth
keypoints) and returns a new uint8 image; labels are never changed. Randomness comes from an
explicit ``seed`` so an evaluation set is written identically every time.

Settings (docs/reference/handpose.md §12 "Robustness corruptions"):

* Gaussian blur with kernel 7, 13, 21; sigma derived from the kernel as OpenCV does for
  ``sigma=0`` (``0.3 * ((k - 1) * 0.5 - 1) + 0.8``), configurable.
* Horizontal motion blur of length 15, 30, 45: a ``1 x L`` averaging kernel.
* Occlusion ratio 0.1, 0.2, 0.3: the bounding box of the *visible* ground-truth keypoints,
  expanded by a 15 % margin on each side; a random point inside it is the centre of a filled
  square whose side is ``ratio x`` the longer box side; fill black by default.
* Gaussian noise (``sigma`` in grey levels) and salt & pepper (``amount`` = fraction of pixels):
  the paper gives no values; our defaults are sigma 10 and amount 0.02 (documented choice).
"""
from __future__ import annotations

import cv2
import numpy as np

GAUSSIAN_KERNELS = (7, 13, 21)
MOTION_LENGTHS = (15, 30, 45)
OCCLUSION_RATIOS = (0.1, 0.2, 0.3)


def _check(image):
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected a uint8 (H, W, C) image, got {image.dtype} {image.shape}")
    return image


def gaussian_blur(image, kernel: int = 7, sigma: float = 0.0):
    """``cv2.GaussianBlur`` with a square ``kernel`` (odd); ``sigma=0`` derives it from the size."""
    image = _check(image)
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd integer, got {kernel!r}")
    return cv2.GaussianBlur(image, (kernel, kernel), sigma)


def motion_blur(image, length: int = 15):
    """Horizontal motion blur: convolution with a ``1 x length`` averaging kernel."""
    image = _check(image)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length!r}")
    k = np.full((1, length), 1.0 / length, np.float32)
    return cv2.filter2D(image, -1, k, borderType=cv2.BORDER_REFLECT_101)


def occlusion_box(keypoints, visible, image_shape, ratio: float, seed: int = 0,
                  margin: float = 0.15):
    """The occluding square ``(x1, y1, x2, y2)`` (integers, clipped to the image)."""
    kp = np.asarray(keypoints, np.float64)
    vis = np.asarray(visible) > 0 if visible is not None else np.ones(len(kp), bool)
    h, w = image_shape[:2]
    if not vis.any():
        lo, hi = np.array([0.0, 0.0]), np.array([w - 1.0, h - 1.0])
    else:
        lo, hi = kp[vis].min(0), kp[vis].max(0)
    pad = margin * (hi - lo)
    lo, hi = lo - pad, hi + pad
    side = ratio * float(max(hi - lo))
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
    box = np.round([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]).astype(int)
    box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
    box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
    return tuple(int(v) for v in box)


def occlude(image, keypoints, visible=None, ratio: float = 0.1, seed: int = 0, fill=(0, 0, 0),
            margin: float = 0.15):
    """Paint a filled square over the hand (see :func:`occlusion_box`)."""
    image = _check(image).copy()
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio must be in [0, 1], got {ratio!r}")
    x1, y1, x2, y2 = occlusion_box(keypoints, visible, image.shape, ratio, seed, margin)
    image[y1:y2, x1:x2] = np.asarray(fill, np.uint8)
    return image


def gaussian_noise(image, sigma: float = 10.0, seed: int = 0):
    image = _check(image)
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def salt_and_pepper(image, amount: float = 0.02, seed: int = 0):
    image = _check(image).copy()
    rng = np.random.default_rng(seed)
    r = rng.random(image.shape[:2])
    image[r < amount / 2] = 0
    image[(r >= amount / 2) & (r < amount)] = 255
    return image


def corruption_sets() -> dict:
    """Name -> ``f(image, keypoints, visible, seed)`` for every evaluation set of Table IV."""
    sets = {"clean": lambda im, kp, vis, seed: np.asarray(im, np.uint8).copy()}
    for r in OCCLUSION_RATIOS:
        sets[f"occlusion_{r}"] = lambda im, kp, vis, seed, r=r: occlude(im, kp, vis, r, seed)
    for k in GAUSSIAN_KERNELS:
        sets[f"blur_{k}"] = lambda im, kp, vis, seed, k=k: gaussian_blur(im, k)
    for n in MOTION_LENGTHS:
        sets[f"motion_{n}"] = lambda im, kp, vis, seed, n=n: motion_blur(im, n)
    return sets


__all__ = ["GAUSSIAN_KERNELS", "MOTION_LENGTHS", "OCCLUSION_RATIOS", "corruption_sets",
           "gaussian_blur", "gaussian_noise", "motion_blur", "occlude", "occlusion_box",
           "salt_and_pepper"]
