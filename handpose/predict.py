"""Predict one image with the hand pipeline and any weights, and say when not to trust it.

``python -m handpose predict IMAGE --handsegnet W1 --posenet W2``: each weight is a hand3d
``.pickle``, a training run directory (its ``config.json`` gives the variant, refinement and
width; the best, else final, checkpoint is loaded), a ``.weights.h5`` inside a run, or a
``.weights.h5`` of the architecture given by ``--variant`` / ``--refinement`` / ``--width``.
The result is ``<stem>.handpose.json`` and ``<stem>.handpose.png``:

- no hand (HandSegNet's single-object mask is empty): ``"hand_found": false``, no keypoints,
  the overlay says "no hand found" (hand3d would crop a fixed fallback window and invent 21
  points);
- keypoints scoring below :data:`handpose.pipeline.KEYPOINT_MIN_SCORE` are flagged
  ``"confident": false``, left out of the drawing and counted in the overlay's banner;
- random or synthetic-only weights put a warning in the JSON, the console and the banner
  (:mod:`reprokit.predict`).
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np

from handpose.model import build_handsegnet, build_posenet
from handpose.pipeline import KEYPOINT_MIN_SCORE, HandPosePipeline
from handpose.spec import HandSegConfig, PoseNetConfig, initialize, load_run_spec, run_weights
from handpose.weights import load_hand3d_pickle
from reprokit.data import load_rgb
from reprokit.errors import ConfigError
from reprokit.predict import banner, output_paths, run_of, weights_warning

#: hand3d ``plot_hand`` bones (RHD order): wrist to each finger's base, then base -> tip.
BONES = tuple((0, 4 * f + 4) for f in range(5)) + tuple(
    (4 * f + 4 - i, 4 * f + 3 - i) for f in range(5) for i in range(3))


def load_posenet(weights: str, variant=None, refinement=None, width=None,
                 crop_size: int | None = 256):
    """A PoseNet with ``weights`` loaded: ``(model, source)``; built for ``crop_size`` crops
    (``None``: the run's training crop, else 256; the pipeline always crops 256)."""
    run = run_of(weights)
    size = crop_size or 256
    if run is not None:
        spec = load_run_spec(run.path)
        if not isinstance(spec, PoseNetConfig):
            raise ConfigError(f"{run.path} is a HandSegNet run, not a PoseNet run")
        variant, refinement, width = spec.variant, spec.refinement, spec.width
        kernel = spec.kernel_size
        size = crop_size or spec.crop_size
        weights = weights if os.path.isfile(weights) else run_weights(run.path)
    else:
        kernel = 7
    model = build_posenet(variant or "hand3d", refinement or "conv", kernel,
                          input_shape=(size, size, 3), width=width or 1.0)
    if weights.endswith((".pickle", ".pkl")):
        load_hand3d_pickle(model, weights, exclude=("PosePrior", "ViewpointNet"))
    else:
        initialize(model, weights)
    return model, weights


def load_handsegnet(weights: str, variant=None):
    """HandSegNet with ``weights`` loaded: ``(model, source)``."""
    run = run_of(weights)
    if run is not None:
        spec = load_run_spec(run.path)
        if not isinstance(spec, HandSegConfig):
            raise ConfigError(f"{run.path} is a PoseNet run, not a HandSegNet run")
        variant = spec.variant
        weights = weights if os.path.isfile(weights) else run_weights(run.path)
    model = build_handsegnet(variant or "hand3d")
    initialize(model, weights)
    return model, weights


def draw(image, result, title: str | None = None):
    """Overlay: hand mask tinted, crop box, skeleton of the confident keypoints, banner."""
    out = np.asarray(image, np.uint8).copy()
    if result.get("hand_found", True):
        mask = cv2.resize(result["mask"].astype(np.uint8), (out.shape[1], out.shape[0]),
                          interpolation=cv2.INTER_NEAREST) > 0
        out[mask] = (0.6 * out[mask] + 0.4 * np.array([0, 255, 0])).astype(np.uint8)
        u1, v1, u2, v2 = (int(round(v)) for v in result["crop_box"])
        cv2.rectangle(out, (u1, v1), (u2, v2), (255, 255, 0), 1)
        ok = result.get("confident", np.ones(len(result["keypoints"]), bool))
        pts = [tuple(int(round(c)) for c in p) for p in result["keypoints"]]
        for a, b in BONES:
            if ok[a] and ok[b]:
                cv2.line(out, pts[a], pts[b], (255, 0, 0), 2, cv2.LINE_AA)
        for p, good in zip(pts, ok):
            if good:
                cv2.circle(out, p, 3, (255, 255, 255), -1, cv2.LINE_AA)
    return banner(out, title)


def predict_file(image_path: str, pipeline: HandPosePipeline, warning: str | None = None,
                 sources: dict | None = None, output: str | None = None,
                 force: bool = False) -> dict:
    """Run the pipeline on one file and write ``<stem>.handpose.json`` / ``.png``; returns the
    JSON (with ``"outputs"``). Truncated images raise before anything is written."""
    paths = output_paths(image_path, "handpose", output, force)
    image = load_rgb(image_path)
    result = pipeline(image)
    found = bool(result["hand_found"])
    notes = [] if found else ["no hand found"]
    if found:
        low = int((~result["confident"]).sum())
        if low:
            notes.append(f"low confidence: {low} of {len(result['confident'])} keypoints score "
                         f"below {KEYPOINT_MIN_SCORE}")
    if warning:
        notes.append(f"WARNING: {warning}")
    data = {"image": os.path.abspath(image_path), "weights": sources or {}, "warning": warning,
            "hand_found": found, "notes": notes, "min_score": KEYPOINT_MIN_SCORE,
            "keypoints": [] if not found else [
                {"index": i, "u": float(u), "v": float(v), "score": float(s), "confident": bool(c)}
                for i, ((u, v), s, c) in enumerate(zip(result["keypoints"], result["scores"],
                                                       result["confident"]))],
            "crop_box": [float(v) for v in result["crop_box"]] if found else None,
            "crop_scale": float(result["crop_scale"]) if found else None}
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    overlay = draw(image, result, "; ".join(notes) or None)
    cv2.imwrite(paths["png"], cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    data["outputs"] = paths
    return data


def predict_weights_warning(*weights) -> str | None:
    """The first reason not to trust a prediction from these weights (random / synthetic)."""
    return next((w for w in (weights_warning(p) for p in weights) if w), None)


__all__ = ["BONES", "draw", "load_handsegnet", "load_posenet", "predict_file",
           "predict_weights_warning"]
