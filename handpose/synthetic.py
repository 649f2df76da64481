"""A synthetic RHD: hand figures from :mod:`reprokit.synthetic` in the RHD_published_v2 layout.

Each sample shows one hand, randomly the left (keypoints 0-20, mask ids 2..7) or the right
(keypoints 21-41, mask ids 18..23); the other hand's keypoints are zero and invisible. Colour
and mask PNGs, a depth PNG (constant 1 m, RHD's ``5 (R 256 + G) / 65535`` encoding) and
``anno_<split>.pickle`` with ``xyz``, ``uv_vis`` and ``K`` as in the real files.
"""
from __future__ import annotations

import json
import os
import pickle

import cv2
import numpy as np
from scipy.io import savemat

from handpose.data import STB_BASELINE_MM, STB_CX, STB_CY, STB_FOCAL, STB_TO_RHD
from reprokit.synthetic import HAND21, mark_synthetic, render_figure

#: Our 6 hand parts (thumb..little, palm) -> RHD mask ids per side (RHD: 2-17 left, 18-33 right).
LEFT_IDS, RIGHT_IDS = tuple(range(2, 8)), tuple(range(18, 24))


def write_synthetic_rhd(root: str, split: str = "training", count: int = 32,
                        image_size=(320, 320), seed: int = 0) -> str:
    """Write ``root/<split>/`` like RHD; skipped when ``.complete`` records the same arguments."""
    folder = os.path.join(root, split)
    stamp = json.dumps({"count": count, "size": list(image_size), "seed": seed, "v": 1})
    done = os.path.join(folder, ".complete")
    if os.path.exists(done) and open(done).read() == stamp:
        return root
    for sub in ("color", "mask", "depth"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    mark_synthetic(root)
    rng = np.random.default_rng(seed)
    anno = {}
    depth = np.zeros(tuple(image_size) + (3,), np.uint8)
    raw = int(round(1.0 / 5.0 * 65535))
    depth[..., 2], depth[..., 1] = raw // 256, raw % 256          # BGR on disk: R, G channels
    for i in range(count):
        fig = render_figure(HAND21, image_size, seed * 1_000_003 + i, figure_height=(0.3, 0.6),
                            rotation=(-180, 180))
        left = bool(rng.integers(2))
        ids = LEFT_IDS if left else RIGHT_IDS
        mask = np.zeros(fig["labels"].shape, np.uint8)
        for k, pid in enumerate(range(1, 7)):
            mask[fig["labels"] == pid] = ids[k]
        uv_vis = np.zeros((42, 3), np.float32)
        off = 0 if left else 21
        uv_vis[off:off + 21, :2] = fig["keypoints"]
        uv_vis[off:off + 21, 2] = fig["visible"]
        f = 300.0
        k_mat = np.array([[f, 0, image_size[1] / 2], [0, f, image_size[0] / 2], [0, 0, 1]], np.float32)
        xyz = np.zeros((42, 3), np.float32)
        xyz[off:off + 21, :2] = (fig["keypoints"] - k_mat[:2, 2]) / f
        xyz[off:off + 21, 2] = 1.0
        cv2.imwrite(os.path.join(folder, "color", f"{i:05d}.png"),
                    cv2.cvtColor(fig["image"], cv2.COLOR_RGB2BGR))
        cv2.imwrite(os.path.join(folder, "mask", f"{i:05d}.png"), mask)
        cv2.imwrite(os.path.join(folder, "depth", f"{i:05d}.png"), depth)
        anno[i] = {"xyz": xyz, "uv_vis": uv_vis, "K": k_mat}
    with open(os.path.join(folder, f"anno_{split}.pickle"), "wb") as fh:
        pickle.dump(anno, fh, protocol=2)
    with open(done, "w") as fh:
        fh.write(stamp)
    return root


__all__ = ["LEFT_IDS", "RIGHT_IDS", "write_synthetic_rhd"]


def write_synthetic_stb(root: str, sequences=("B1Counting",), frames: int = 4,
                        image_size=(480, 640), seed: int = 0) -> str:
    """Write STB-layout sequences: ``labels/<seq>_BB.mat`` (``handPara`` (3, 21, N) in mm, STB
    keypoint order) and ``<seq>/BB_{left,right}_<i>.png`` whose hands sit where the BB
    projection puts the joints. The hand is placed at the depth where the disparity is a tenth
    of the image width, so small test images keep both views' hands in frame."""
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    mark_synthetic(root)
    inverse = np.argsort(STB_TO_RHD)                 # RHD order -> STB order
    for s, seq in enumerate(sequences):
        os.makedirs(os.path.join(root, seq), exist_ok=True)
        para = np.zeros((3, 21, frames))
        for i in range(frames):
            fig = render_figure(HAND21, image_size, seed * 1_000_003 + 1000 * s + i,
                                figure_height=(0.3, 0.5))
            # depth chosen so the stereo disparity f B / z is 10 % of the width: the right view
            # (the left image shifted by the disparity) keeps the hand inside the frame
            z = STB_FOCAL * STB_BASELINE_MM / max(1.0, round(0.1 * image_size[1]))
            uv = fig["keypoints"].astype(np.float64)
            xyz = np.stack([(uv[:, 0] - STB_CX) * z / STB_FOCAL, (uv[:, 1] - STB_CY) * z / STB_FOCAL,
                            np.full(21, z)], -1)
            para[:, :, i] = xyz[inverse].T
            cv2.imwrite(os.path.join(root, seq, f"BB_left_{i}.png"),
                        cv2.cvtColor(fig["image"], cv2.COLOR_RGB2BGR))
            shift = int(round(STB_FOCAL * STB_BASELINE_MM / z))     # disparity in px
            right = np.roll(fig["image"], -shift, axis=1)
            cv2.imwrite(os.path.join(root, seq, f"BB_right_{i}.png"),
                        cv2.cvtColor(right, cv2.COLOR_RGB2BGR))
        savemat(os.path.join(root, "labels", f"{seq}_BB.mat"), {"handPara": para})
    return root


__all__ += ["write_synthetic_stb"]
