"""Multi-person predictions on one image file: ``<stem>.logocap.json`` and an overlay PNG.

:func:`load_model` takes a run directory (its ``config.json`` and best, else final,
checkpoint), a ``.weights.h5`` with ``backbone`` named, or nothing (random weights, warned);
the model is built for any input size. :func:`predict_file` runs the supplement's testing
protocol (:func:`logocap.decode.predict_image`: short side to ``size``, flip test, decoding,
pose NMS) and writes every pose above ``min_score`` with its keypoints and scores; the overlay
draws each person's skeleton in its own colour. The output names, overwrite protection and the
warning banner are :mod:`reprokit.predict`'s.
"""
from __future__ import annotations

import dataclasses
import json
import os

import cv2
import keras
import numpy as np

from logocap.data import COCO
from logocap.decode import predict_image
from logocap.model import build_center_offset
from logocap.train import INPUT_SIZE, LogocapConfig, build_model
from reprokit.data import load_rgb
from reprokit.errors import ConfigError
from reprokit.predict import banner, draw_skeleton, output_paths, run_of, weights_warning

#: Poses below this score are written to the JSON but not drawn.
DRAW_MIN_SCORE = 0.05
#: COCO's left keypoints (eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
LEFT = (1, 3, 5, 7, 9, 11, 13, 15)


@dataclasses.dataclass
class Model:
    model: keras.Model
    size: int
    source: str | None
    warning: str | None
    level: str = "none"


def load_model(weights: str | None = None, backbone: str = "w32", size: int | None = None,
               level: str | None = None) -> Model:
    """The center-offset or LOGO-CAP model of a run directory or weights file (see the module
    docstring); ``level``: LOGO-CAP's adaptation level (default: the run's, ``none`` for the
    baseline)."""
    run = run_of(weights)
    if run is not None:
        spec = LogocapConfig.load(run.path).resolve()
        backbone, path = spec.backbone, run.checkpoint()
        size = size or spec.test_size
        model = build_model(spec, (None, None, 3))
        if level not in (None, "none") and spec.head != "logocap":
            raise ConfigError(f"{run.path}: a center-offset run has no adaptation; level "
                              f"{level!r} needs a LOGO-CAP run (train --head logocap)")
        level = level or spec.test_level
    else:
        path = weights
        if path and not os.path.exists(path):
            raise FileNotFoundError(f"weights {path!r} do not exist")
        if path and not path.endswith(".weights.h5"):
            raise ConfigError(f"{path}: expected a run directory or a Keras .weights.h5 file")
        model = build_center_offset(backbone, (None, None, 3))
        size = size or INPUT_SIZE[backbone]
    if path:
        model.load_weights(path)
    return Model(model, int(size), os.path.abspath(path) if path else None, weights_warning(weights),
                 level or "none")


def draw_poses(image, poses, keypoint_scores, scores, min_score: float = DRAW_MIN_SCORE):
    """RGB overlay: each pose above ``min_score`` in its own colour, keypoints whose score is
    at least a tenth of the pose's best."""
    out = np.asarray(image, np.uint8)
    hues = np.linspace(0, 179, max(len(poses), 1), endpoint=False).astype(np.uint8)
    for i, (pose, ks, s) in enumerate(zip(poses, keypoint_scores, scores)):
        if s < min_score:
            continue
        hsv = np.array([[[hues[i], 220, 255]]], np.uint8)
        color = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])
        ok = np.asarray(ks) >= 0.1 * float(np.max(ks))
        out = draw_skeleton(out, pose, COCO.skeleton, ok, left=LEFT, left_color=color,
                            right_color=color)
    return out


def predict_file(image_path: str, model: Model, flip: bool = True, output: str | None = None,
                 force: bool = False) -> dict:
    """Predict one image and write ``<stem>.logocap.json`` / ``.png``; returns the JSON written
    (with ``"outputs"``). An unreadable image raises before anything is written."""
    paths = output_paths(image_path, "logocap", output, force)
    image = load_rgb(image_path)
    poses, kscores, scores = predict_image(model.model, image, model.size, flip, level=model.level)
    data = {"image": os.path.abspath(image_path), "weights": model.source, "warning": model.warning,
            "size": model.size, "flip_test": bool(flip), "adaptation": model.level,
            "people": [{"score": float(s), "keypoints": [
                {"name": n, "x": float(x), "y": float(y), "score": float(k)}
                for n, (x, y), k in zip(COCO.keypoint_names, pose, ks)]}
                for pose, ks, s in zip(poses, kscores, scores)]}
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    drawn = int((np.asarray(scores) >= DRAW_MIN_SCORE).sum())
    notes = [f"WARNING: {model.warning}"] if model.warning else []
    overlay = banner(draw_poses(image, poses, kscores, scores), " ".join(notes) or None)
    cv2.imwrite(paths["png"], cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    data["outputs"], data["drawn"] = paths, drawn
    return data


__all__ = ["DRAW_MIN_SCORE", "Model", "draw_poses", "load_model", "predict_file"]
