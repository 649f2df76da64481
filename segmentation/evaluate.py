"""Evaluation of the segmentation networks (thesis Sec. 3-4) and its reports.

Evaluation accumulates one confusion matrix over the split (:mod:`reprokit.metrics.segmentation`)
from the last segmentation output, bilinearly upsampled to the label size (with
``align_corners`` where the network's reference inference does: hellochick's ICNet,
:class:`segmentation.spec.Network`) and argmaxed.
"""
from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from reprokit.metrics.segmentation import confusion_matrix, merge_confusion, segmentation_report
from reprokit.viz import plot_confusion, plot_segmentation
from segmentation.labels import NUM_CLASSES, PART_NAMES, THESIS13_NAMES, TO_THESIS13
from segmentation.pipeline import segmentation_dataset
from segmentation.spec import IGNORE_LABEL, get_network


def predict_labels(model, x, network: str, size, output: int = -1):
    """Argmax labels ``(N, H, W)`` of the model's segmentation output (``output``: its index
    among the model's outputs; the last one by default) upsampled to ``size``."""
    out = model(x, training=False)
    logits = out[output] if isinstance(out, (list, tuple)) else out
    if tuple(logits.shape[1:3]) != tuple(size):
        logits = tf.raw_ops.ResizeBilinear(images=logits, size=size,
                                           align_corners=get_network(network).align_corners,
                                           half_pixel_centers=False)
    return tf.argmax(logits, -1, output_type=tf.int32).numpy()


def evaluate_segmentation(model, records: dict, network: str, num_classes: int = NUM_CLASSES,
                          batch_size: int = 4, group_table=None, output: int = -1,
                          keep: int = 0) -> dict:
    """Confusion matrix over ``records`` and every metric of the thesis.

    Args:
        output: index of the segmentation output (see :func:`predict_labels`).
        keep: also return the first ``keep`` ground-truth / predicted label maps
            (``"samples"``: a list of ``(gt, pred)``) for qualitative figures.

    Returns:
        ``reprokit.metrics.segmentation.segmentation_report`` of the matrix plus ``"confusion"``,
        ``"image_confusion"`` (one matrix per image: the units of the chance margin) and, with ``group_table`` (e.g. ``labels.TO_THESIS13``), ``"groups"``: the report of the
        merged matrix.
    """
    per_image = []
    samples = []
    for x, y in segmentation_dataset(records, network, batch_size, training=False, seed=None):
        pred = predict_labels(model, x, network, tuple(y.shape[1:3]), output)
        for g, p in zip(y.numpy(), pred):
            per_image.append(confusion_matrix(g[None], p[None], num_classes, IGNORE_LABEL))
            if len(samples) < keep:
                samples.append((g, p))
    per_image = np.asarray(per_image, np.int64).reshape(-1, num_classes, num_classes)
    cm = per_image.sum(0)
    report = segmentation_report(cm)
    report["confusion"] = cm
    report["image_confusion"] = per_image
    if group_table is not None:
        report["groups"] = segmentation_report(merge_confusion(cm, group_table))
    if keep:
        report["samples"] = samples
    return report


def report_to_json(report: dict) -> dict:
    """The JSON-able part of :func:`evaluate_segmentation`'s report (percent where the thesis
    prints percent): ``mIoU``, ``accuracy``, ``F1`` (macro), ``F1_weighted`` (by class pixel
    counts), ``mean_class_accuracy``, per-class and
    per-group lists, and the confusion matrices."""
    def pct(v):
        return None if v is None or np.isnan(v) else round(float(v) * 100, 4)

    out = {"mIoU": pct(report["mIoU"]), "accuracy": pct(report["pixel_accuracy"]),
           "F1": pct(report["mean_f1"]), "F1_weighted": pct(report["weighted_f1"]),
           "mean_class_accuracy": pct(report["mean_recall"]),
           "iou": [pct(v) for v in report["iou"]],
           "class_accuracy": [pct(v) for v in report["per_class_accuracy"]],
           "confusion": np.asarray(report["confusion"]).tolist()}
    if "groups" in report:
        out["group_accuracy"] = [pct(v) for v in report["groups"]["per_class_accuracy"]]
        out["group_confusion"] = merge_confusion(report["confusion"], TO_THESIS13).tolist()
    return out


def results_markdown(results: dict, title: str) -> str:
    lines = [f"# {title}", "",
             f"{results['eval_split']} split, {results['eval_frames']} frames; "
             f"{results['steps']} steps in {results['train_seconds']:.0f} s; "
             f"{results['params']:,} parameters.", "",
             "| mIoU | accuracy | F1 macro | F1 weighted | mean class accuracy |",
             "|---:|---:|---:|---:|---:|",
             f"| {results['mIoU']:.2f} | {results['accuracy']:.2f} | {results['F1']:.2f} | "
             f"{results['F1_weighted']:.2f} | {results['mean_class_accuracy']:.2f} |", "",
             "| class | IoU | accuracy |", "|---|---:|---:|"]
    for name, i, a in zip(PART_NAMES, results["iou"], results["class_accuracy"]):
        lines.append(f"| {name} | {_fmt(i)} | {_fmt(a)} |")
    if "group_accuracy" in results:
        lines += ["", "| group | accuracy |", "|---|---:|"]
        lines += [f"| {g} | {_fmt(a)} |" for g, a in zip(THESIS13_NAMES, results["group_accuracy"])]
    return "\n".join(lines) + "\n"


def _fmt(v):
    return "-" if v is None else f"{v:.1f}"


def write_run_figures(run, report: dict, records: dict, title: str = ""):
    """``confusion.png`` and ``overlays.png`` of one evaluation into the run directory."""
    plot_confusion(report["confusion"], PART_NAMES, run.file("confusion.png"),
                   groups=(merge_confusion(report["confusion"], TO_THESIS13), THESIS13_NAMES),
                   title=f"{title}: confusion (rows sum to 1)")
    samples = report.get("samples") or []
    if samples:
        images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                  for p in records["image_path"][:len(samples)]]
        plot_segmentation(images, [g for g, _ in samples], [p for _, p in samples], PART_NAMES,
                          run.file("overlays.png"), title=title)


__all__ = ["evaluate_segmentation", "predict_labels", "report_to_json", "results_markdown",
           "write_run_figures"]
