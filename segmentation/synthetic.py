"""A synthetic SURREAL in the published layout: SMPL-labelled figures as mp4 + ``.mat`` files.

Each clip is ``cmu/<split>/run0/<seq>/<seq>_c0001.mp4`` (MPEG-4 part 2 ``mp4v``: the pip
OpenCV has no H.264 encoder; SURREAL's own videos are H.264, both decode the same way) with
``_segm.mat`` (``segm_1`` .. ``segm_T``, uint8, 0 = background, 1..24 SURREAL parts) and
``_info.mat`` (``zrot``, ``joints2D`` (2, 24, T), ``joints3D`` (3, 24, T), ``sequence``,
``gender``, ``camLoc``, ``clipNo``, ``source``, ``stride``), written with
``scipy.io.savemat(do_compression=True)`` as the generator does. Figures come from
:data:`reprokit.synthetic.SMPL29` (24 SMPL joints + 5 end points).
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
from scipy.io import savemat

from reprokit.synthetic import SMPL29, mark_synthetic, render_figure


def write_synthetic_surreal(root: str, split: str = "train", clips: int = 2, frames: int = 8,
                            image_size=(240, 320), seed: int = 0) -> str:
    """Write ``root/cmu/<split>/run0/`` with ``clips`` clips of ``frames`` frames each.

    Skipped when the split's ``.complete`` stamp records the same arguments. Returns ``root``.
    """
    folder = os.path.join(root, "cmu", split, "run0")
    stamp = json.dumps({"clips": clips, "frames": frames, "size": list(image_size), "seed": seed,
                        "v": 1})
    done = os.path.join(folder, ".complete")
    if os.path.exists(done) and open(done).read() == stamp:
        return root
    mark_synthetic(root)
    h, w = image_size
    for c in range(clips):
        seq = f"{seed:02d}_{c + 1:02d}"
        os.makedirs(os.path.join(folder, seq), exist_ok=True)
        stem = os.path.join(folder, seq, f"{seq}_c0001")
        writer = cv2.VideoWriter(stem + ".mp4", cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
        if not writer.isOpened():
            raise RuntimeError("OpenCV cannot write mp4v videos on this machine")
        segm, j2, j3 = {}, np.zeros((2, 24, frames)), np.zeros((3, 24, frames))
        rng = np.random.default_rng(seed * 7919 + c)
        for t in range(frames):
            fig = render_figure(SMPL29, image_size, seed * 1_000_003 + 1000 * c + t,
                                figure_height=(0.6, 0.9), rotation=(-15, 15))
            writer.write(cv2.cvtColor(fig["image"], cv2.COLOR_RGB2BGR))
            segm[f"segm_{t + 1}"] = fig["labels"]
            j2[:, :, t] = fig["keypoints"][:24].T
            # a body-sized 3D pose: image plane in metres (1.7 m figure), depth jitter
            metres = (fig["keypoints"][:24] - fig["keypoints"][0]) * (1.7 / h)
            j3[:, :, t] = np.c_[metres[:, 0], -metres[:, 1], rng.normal(0, 0.05, 24)].T
        writer.release()
        savemat(stem + "_segm.mat", segm, do_compression=True)
        savemat(stem + "_info.mat", {
            "zrot": rng.uniform(-np.pi, np.pi, (frames, 1)), "joints2D": j2, "joints3D": j3,
            "sequence": seq, "gender": np.zeros((frames, 1), np.uint8), "camLoc": np.zeros((3, 1)),
            "clipNo": 1, "source": "cmu", "stride": 50}, do_compression=True)
    with open(done, "w") as f:
        f.write(stamp)
    return root


__all__ = ["write_synthetic_surreal"]
