"""What every ``predict`` command shares: output names, overwrite protection, the provenance of
the weights and the warning banner on the overlay.

- Outputs are ``<image stem>.<command>.json`` and ``<image stem>.<command>.png`` (e.g.
  ``photo.hourglass.png``, ``photo.handpose.png``), so two commands on one image never collide;
  an existing output is an error unless ``force``.
- :func:`weights_warning` says when a prediction cannot be trusted: random weights (none
  given) or weights trained only on synthetic data (the run's ``data.json``,
  :meth:`reprokit.training.RunDir.record_data`). The warning goes into the JSON, the console
  and a red banner across the overlay.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from reprokit.errors import ConfigError
from reprokit.training import RunDir

RANDOM_WEIGHTS = "random weights (no --weights given): these keypoints are meaningless"
SYNTHETIC_ONLY = ("weights trained on synthetic data only: not expected to work on real "
                  "photographs")


def output_paths(image: str, command: str, output: str | None = None,
                 force: bool = False) -> dict:
    """``{"json": ..., "png": ...}`` next to ``image`` (or at the stem ``output``).

    Raises:
        ConfigError: an output exists and ``force`` is false (nothing has been written).
    """
    stem = os.path.splitext(output or image)[0]
    paths = {"json": f"{stem}.{command}.json", "png": f"{stem}.{command}.png"}
    existing = [p for p in paths.values() if os.path.exists(p)]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists; pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(paths["json"]))
    if not os.path.isdir(parent):
        raise ConfigError(f"output folder {parent!r} does not exist")
    return paths


def run_of(path: str | None):
    """The :class:`reprokit.training.RunDir` a weights path belongs to (the run directory
    itself, or a file in its ``checkpoints/``), else ``None``."""
    if not path:
        return None
    path = os.path.abspath(path)
    for candidate in (path, os.path.dirname(os.path.dirname(path))):
        if os.path.isdir(candidate) and os.path.exists(os.path.join(candidate, "config.json")):
            return RunDir(candidate)
    return None


def weights_warning(weights: str | None) -> str | None:
    """Why predictions from ``weights`` should not be trusted, or ``None``."""
    if not weights:
        return RANDOM_WEIGHTS
    run = run_of(weights)
    if run is not None and run.synthetic_data:
        return SYNTHETIC_ONLY
    return None


def banner(image: np.ndarray, text: str | None, color=(200, 30, 30)) -> np.ndarray:
    """The RGB image with ``text`` on a coloured strip across its top (wrapped to fit)."""
    out = np.ascontiguousarray(np.asarray(image, np.uint8).copy())
    if not text:
        return out
    h, w = out.shape[:2]
    scale = max(0.35, min(1.0, w / 900))
    (cw, ch), _ = cv2.getTextSize("M", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    per_line = max(8, int(w / (cw * 0.9)) - 1)
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    strip = min(h, (ch + 8) * len(lines) + 6)
    out[:strip] = (0.3 * out[:strip] + 0.7 * np.array(color)).astype(np.uint8)
    for i, text_line in enumerate(lines):
        y = 6 + (ch + 8) * i + ch
        if y >= h:
            break
        cv2.putText(out, text_line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return out


def draw_skeleton(image, keypoints, edges, ok=None, left=(), right_color=(255, 80, 0),
                  left_color=(0, 200, 255), joint_color=(255, 255, 255)) -> np.ndarray:
    """RGB overlay of one skeleton: limbs ``edges`` as lines (``left`` keypoints' limbs in
    ``left_color``), joints as dots; keypoints with ``ok`` false are left out."""
    out = np.ascontiguousarray(np.asarray(image, np.uint8).copy())
    thick = max(1, round(max(out.shape[:2]) / 200))
    ok = np.ones(len(keypoints), bool) if ok is None else np.asarray(ok, bool)
    pts = [tuple(int(round(v)) for v in p) for p in np.asarray(keypoints, np.float64)]
    left = set(left)
    for a, b in edges:
        if ok[a] and ok[b]:
            color = left_color if a in left or b in left else right_color
            cv2.line(out, pts[a], pts[b], color, thick + 1, cv2.LINE_AA)
    for j, p in enumerate(pts):
        if ok[j]:
            cv2.circle(out, p, thick + 2, joint_color, -1, cv2.LINE_AA)
    return out


__all__ = ["RANDOM_WEIGHTS", "SYNTHETIC_ONLY", "banner", "draw_skeleton", "output_paths", "run_of",
           "weights_warning"]
