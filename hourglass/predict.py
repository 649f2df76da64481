"""Using trained weights: evaluate a training run, and predict one image with any weights.

``python -m hourglass evaluate RUN`` reads everything about the model from the run's
``config.json`` (:class:`hourglass.train.TrainConfig`), so no flag is repeated.

``python -m hourglass predict IMAGE --weights W`` where ``W`` is a training run directory (its
``config.json`` gives the preset, input size and normalisation; the best, else the final,
checkpoint is loaded), a ``.weights.h5`` inside a run, a converted ``.weights.h5``, or a
bearpaw / princeton-vl checkpoint (``.pth`` with torch, ``.npz`` without). For the last two the
architecture is ``--format`` / ``--stacks`` (as ``convert``): the bearpaw stem with anibali's
mean subtraction, or the Newell stem without. Without ``--weights`` the network is random and
every output says so (:mod:`reprokit.predict`).
"""
from __future__ import annotations

import dataclasses
import json
import os

import cv2
import keras

from hourglass.convert import load_checkpoint
from hourglass.data import MPII, load_mpii
from hourglass.evaluate import draw_pose, evaluate, predict_image, write_results
from hourglass.model import MPII_MEAN, build_stacked_hourglass
from hourglass.train import build_model, get_recipe, load_config
from reprokit.data import load_rgb
from reprokit.errors import ConfigError
from reprokit.predict import banner, output_paths, run_of, weights_warning

FORMATS = ("bearpaw", "princeton")


@dataclasses.dataclass
class Predictor:
    """A model ready for :func:`hourglass.evaluate.predict_image` and where it came from."""

    model: keras.Model
    input_size: int
    mean: tuple | None
    source: str
    warning: str | None


def load_predictor(weights: str | None = None, fmt: str = "bearpaw", stacks: int = 2) -> Predictor:
    """Build the model for ``weights`` (see the module docstring) and load them."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {FORMATS}, got {fmt!r}")
    warning = weights_warning(weights)
    run = run_of(weights)
    if run is not None:
        spec = load_config(run.path)
        model = build_model(spec)
        path = weights if os.path.isfile(weights) else run.checkpoint()
        model.load_weights(path)
        return Predictor(model, spec.input_size, get_recipe(spec.recipe).mean, path, warning)
    stem = "bearpaw" if fmt == "bearpaw" else "newell"
    model = build_stacked_hourglass(stacks, 16, stem=stem)
    mean = MPII_MEAN if fmt == "bearpaw" else None
    if weights is None:
        return Predictor(model, 256, mean, "random initialisation", warning)
    if not os.path.exists(weights):
        raise FileNotFoundError(f"weights {weights!r} not found")
    if weights.endswith(".weights.h5"):
        try:
            model.load_weights(weights)
        except ValueError as err:
            raise ConfigError(f"{weights} does not fit a {stacks}-stack {fmt} hourglass "
                              f"(pass the --format / --stacks it was converted with): {err}") from None
    else:
        load_checkpoint(model, weights, fmt)
    return Predictor(model, 256, mean, weights, warning)


def evaluate_run(run_dir: str, weights: str | None = None, data_dir: str | None = None,
                 flip_test: bool = True, variant: str = "bearpaw", extra_variants=(),
                 limit: int | None = None) -> str:
    """PCKh of a training run on the validation split of its data (or ``data_dir``); writes
    ``results.json`` / ``results.md`` / ``pckh_curve.png`` into the run (keeping its training
    time, steps and parameter count) and returns the Markdown."""
    run = run_of(run_dir)
    if run is None:
        raise ConfigError(f"{run_dir!r} is not a run directory (no config.json)")
    spec = load_config(run.path)
    model = build_model(spec)
    model.load_weights(weights or run.checkpoint())
    records = load_mpii(data_dir or spec.data_dir, "valid", spec.source, limit)
    results = evaluate(model, records, spec.input_size, get_recipe(spec.recipe).mean, flip_test,
                       variant, tuple(extra_variants), curve_path=run.file("pckh_curve.png"))
    previous = {}
    if os.path.exists(run.file("results.json")):
        with open(run.file("results.json"), encoding="utf-8") as f:
            previous = json.load(f)
    results = {**{k: v for k, v in previous.items() if k in ("train_seconds", "steps", "params")},
               **results}
    with open(write_results(run, results, f"{spec.preset} ({spec.recipe} recipe)"),
              encoding="utf-8") as f:
        return f.read()


def predict_file(image_path: str, predictor: Predictor, center=None, scale=None,
                 flip_test: bool = True, output: str | None = None, force: bool = False) -> dict:
    """Predict one image file and write ``<stem>.hourglass.json`` / ``<stem>.hourglass.png``.

    Returns the JSON written (with ``"outputs"`` added). A truncated or unreadable image raises
    :class:`reprokit.errors.DataFormatError` naming it before anything is written.
    """
    paths = output_paths(image_path, "hourglass", output, force)
    image = load_rgb(image_path)
    out = predict_image(predictor.model, image, predictor.input_size, predictor.mean, center,
                        scale, flip_test)
    data = {"image": os.path.abspath(image_path), "weights": predictor.source,
            "warning": predictor.warning, "center": out["center"], "scale": out["scale"],
            "keypoints": [{"name": n, "x": float(x), "y": float(y), "score": float(s)}
                          for n, (x, y), s in zip(MPII.keypoint_names, out["keypoints"],
                                                  out["scores"])]}
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    overlay = banner(draw_pose(image, out["keypoints"], out["scores"]),
                     f"WARNING: {predictor.warning}" if predictor.warning else None)
    cv2.imwrite(paths["png"], cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    data["outputs"] = paths
    return data


__all__ = ["FORMATS", "Predictor", "evaluate_run", "load_predictor", "predict_file"]
