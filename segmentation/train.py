"""Training of the segmentation networks (thesis Sec. 3-4) on the experiment spine.

The run spec, schedules and per-network facts are in :mod:`segmentation.spec`, the input
pipeline in :mod:`segmentation.pipeline`, evaluation and its reports in
:mod:`segmentation.evaluate`; this module computes class weights and runs one training
(:func:`reprokit.training.fit`: resumable, backed up every epoch).
"""
from __future__ import annotations

import json
import os

import cv2
import keras
import numpy as np

from reprokit.callbacks import PeriodicValidation
from reprokit.metrics.chance import bootstrap_margin
from reprokit.metrics.segmentation import segmentation_report
from reprokit.training import add_weight_decay, create_run_dir, find_run, fit, set_seed
from segmentation.data import read_extracted
from segmentation.evaluate import evaluate_segmentation, report_to_json, results_markdown, write_run_figures
from segmentation.labels import NUM_CLASSES, TO_THESIS13
from segmentation.losses import class_pixel_counts, class_weights
from segmentation.pipeline import segmentation_dataset
from segmentation.spec import IGNORE_LABEL, SegTrainConfig, build_model, make_losses, make_optimizer


def compute_class_weights(train_dir: str, method: str) -> np.ndarray:
    """Weights from the training labels' pixel counts, cached in ``class_counts.json``."""
    path = os.path.join(train_dir, "class_counts.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            cached = json.load(f)
        counts, present = np.array(cached["counts"]), np.array(cached["present_pixels"])
    else:
        rec = read_extracted(train_dir)
        counts, present = class_pixel_counts(
            (cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in rec["label_path"]), NUM_CLASSES,
            IGNORE_LABEL)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"counts": counts.tolist(), "present_pixels": present.tolist()}, f)
    return class_weights(counts, method, present)


def background_margin(image_confusion) -> dict:
    """mIoU (percent) against predicting background everywhere on the same images, with the
    paired bootstrap standard error (:func:`reprokit.metrics.chance.bootstrap_margin`)."""
    cms = np.asarray(image_confusion)
    background = np.zeros_like(cms)
    background[:, :, 0] = cms.sum(2)
    return bootstrap_margin(cms, background, lambda cm: 100 * segmentation_report(cm)["mIoU"],
                            "mIoU (%)")


def train_segmentation(cfg: SegTrainConfig, runs_root: str = "runs", name: str | None = None,
                       verbose="auto", overlays: int = 4):
    """Train (or resume, or reuse) one run and evaluate it on ``cfg.eval_split``.

    A finished run with the same name and config under ``runs_root`` is reused: its
    ``results.json`` is returned without training (several thesis tables share rows). An
    unfinished one resumes from its last epoch backup.

    Writes ``results.json`` / ``results.md``, ``confusion.png`` (25 classes beside the 13
    groups) and ``overlays.png`` (the first ``overlays`` evaluation frames).

    Returns:
        ``(run, results)``.
    """
    spec = cfg.resolve()
    name = name or f"segmentation-{spec.network}"
    done = find_run(name, spec.to_dict(), runs_root)
    if done is not None and os.path.exists(done.file("results.json")):
        with open(done.file("results.json"), encoding="utf-8") as f:
            return done, json.load(f)
    train_rec = read_extracted(os.path.join(spec.data_dir, "train"))
    eval_rec = read_extracted(os.path.join(spec.data_dir, spec.eval_split))
    weights = (compute_class_weights(os.path.join(spec.data_dir, "train"), spec.weighting)
               if spec.weighting else None)
    run = create_run_dir(name, spec.to_dict(), runs_root)
    run.record_data(spec.data_dir)
    set_seed(spec.seed, deterministic_ops=False)
    kinds = spec.output_kinds
    seg_output = max(i for i, k in enumerate(kinds) if k == "labels")
    data = segmentation_dataset(train_rec, spec.network, spec.batch_size, training=True,
                                seed=spec.seed, mirror=spec.augment, scale=spec.augment,
                                size=(spec.input_size, spec.input_size), targets=kinds,
                                joints=spec.joints or "surreal",
                                joints_sigma=spec.joints_sigma or 1.0)

    def build():
        model = build_model(spec)
        if spec.bn_momentum is not None:
            for layer in model._flatten_layers(include_self=False):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = float(spec.bn_momentum)
        if spec.weight_decay:
            add_weight_decay(model, spec.weight_decay)
        return model

    def compile_(model):
        losses, loss_weights = make_losses(spec, weights)
        model.compile(optimizer=make_optimizer(spec), loss=losses if len(losses) > 1 else losses[0],
                      loss_weights=loss_weights if len(losses) > 1 else None, jit_compile=False)

    validation = PeriodicValidation(lambda m: {"mIoU": evaluate_segmentation(
        m, eval_rec, spec.network, output=seg_output)["mIoU"]}) if spec.validate else None
    epochs = max(1, -(-spec.steps // spec.steps_per_epoch))
    model, _ = fit(build, compile_, data, run, epochs=epochs,
                   steps_per_epoch=min(spec.steps_per_epoch, spec.steps), validation=validation,
                   monitor="val_mIoU" if spec.validate else None,
                   extra_callbacks=spec.net.callbacks(spec), verbose=verbose)
    seconds = run.train_seconds         # summed over resumes (reprokit.training.fit)
    report = evaluate_segmentation(model, eval_rec, spec.network, group_table=TO_THESIS13,
                                   output=seg_output, keep=overlays)
    results = report_to_json(report)
    results["chance_check"] = background_margin(report["image_confusion"])
    results.update({"train_seconds": seconds, "steps": int(model.optimizer.iterations.numpy()),
                    "params": int(model.count_params()), "eval_split": spec.eval_split,
                    "eval_frames": len(eval_rec["image_path"]),
                    "class_weights": None if weights is None else [float(w) for w in weights]})
    write_run_figures(run, report, eval_rec, title=name)
    with open(run.file("results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        f.write(results_markdown(results, name))
    return run, results


__all__ = ["SegTrainConfig", "compute_class_weights", "train_segmentation"]
