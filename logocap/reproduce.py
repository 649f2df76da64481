"""The supplement's empirical upper bound (LOGO-CAP supplement §2, Table 1 of the submission):
COCOeval of a trained center-offset model's initial poses beside the best-of-KEM poses.

Scales (``--scale``):

``paper``
    HRNet-W32 at 512 and HRNet-W48 at 640 with the supplement's schedule (Adam 1e-3, x0.1 at
    epochs 90 and 120, 140 epochs, 12 images per GPU, offsets' loss factor 0.01) on COCO
    train2017, evaluated on val2017 (``--data-dir``); GPU-days per row.
``smoke`` / ``demo``
    the narrow ``smoke`` HRNet on a synthetic COCO in the official layout
    (:data:`SYNTHETIC`): see :data:`SMOKE` for the schedule; ``demo`` is the same row with
    fewer steps (:data:`DEMO`) on a synthetic COCO with more labelled people
    (:data:`SYNTHETIC_DEMO`), what ``repro demo`` runs.

Every table also gives the chance level: the same network with its random initial weights
through the same decoding and COCOeval. Deviations at smoke / demo scale (so that a CPU run
learns in minutes): the narrow backbone, 128-pixel inputs, the schedule of :data:`SMOKE` and
the offsets' loss factor of :data:`SMOKE` (see its comment); at demo scale also the people of
:data:`SYNTHETIC_DEMO`.
"""
from __future__ import annotations

import os
import time

from reprokit.experiment import (RowJob, Scale, get_scale, reproduction, run_rows, select_data,
                                 write_results)
from reprokit.metrics.chance import row_checks
from reprokit.viz import pyplot

# Lazy imports below (inside functions) load TensorFlow: `repro list` imports this module
# through its entry point and must answer in a second (docs/design.md).

#: The synthetic COCO of the smoke scale (images per split, image size, people per image, their
#: height as a fraction of the short side): COCO-like, with images without people and small
#: unlabelled people (:mod:`logocap.synthetic`).
SYNTHETIC = {"train": 512, "val": 64, "image_size": (128, 160), "seed": 0, "num_people": (0, 4),
             "figure_height": (0.3, 0.9)}
#: The demo's synthetic COCO (deviation, demo only): 1-3 people per image of 0.55-0.9 the short
#: side, so nearly every person is above 32^2 and labelled (976 labelled people in the train
#: split instead of 652), and 128 val images (238 labelled people instead of 80 in 64), so that
#: the short demo sees more people per step and its chance check rests on more of them. The
#: same 800 steps gave AP 0.013 (+2.0 SE) here against 0.006 (+1.4 SE) on the smoke data
#: (docs/results.md, "repro demo against chance").
SYNTHETIC_DEMO = {**SYNTHETIC, "val": 128, "num_people": (1, 3), "figure_height": (0.55, 0.9)}
#: Smoke schedule (not the paper's; see the module docstring): 3000 steps of 8 images, the
#: supplement's Adam 1e-3 with one x0.1 step at 80 %. The offsets' loss factor is 1.0, not the
#: reference's 0.01: at this scale 0.01 left the offsets untrained (AP 0.001 after 1200 steps,
#: 0.023 with 0.1, 0.046 with 1.0; measured with the earlier targets, docs/results.md).
SMOKE = {"backbone": "smoke", "input_size": 128, "epochs": 60, "steps_per_epoch": 50,
         "decay_epochs": (48,), "batch_size": 8, "learning_rate": 1e-3,
         "offset_loss_weight": 1.0}
#: Demo: the same with 1200 steps (x0.1 at 1000) on :data:`SYNTHETIC_DEMO` (what `repro demo`
#: runs, about 3.5 minutes on 2 cores): AP 0.019 against 0.000 untrained, +3.4 SE on 128 val
#: images; 800 steps gave 0.013, +2.0 SE on 64 (docs/results.md, "repro demo against chance").
DEMO = {**SMOKE, "epochs": 24, "decay_epochs": (20,)}
_NOTE = ("narrow HRNet (logocap.hrnet 'smoke'), 128 x 128 crops of 128 x 160 synthetic "
         "images, {epochs} x {steps_per_epoch} steps at batch {batch_size}, Adam "
         "{learning_rate:g} (x0.1 at epoch {decay_epochs[0]}), offsets' loss factor "
         "{offset_loss_weight:g} (reference 0.01)")
SCALES = {
    "demo": Scale("demo", DEMO, ("smoke",), 1, _NOTE.format(**DEMO)),
    "smoke": Scale("smoke", SMOKE, ("smoke",), 1, _NOTE.format(**SMOKE)),
    "paper": Scale("paper", {}, ("w32", "w48"), 1, "the supplement's schedule"),
}


def synthetic_settings(scale: str) -> dict:
    """:data:`SYNTHETIC_DEMO` for the demo scale, else :data:`SYNTHETIC`."""
    return SYNTHETIC_DEMO if scale == "demo" else SYNTHETIC


def write_synthetic(root: str, scale: str = "smoke") -> str:
    """The synthetic COCO of the smoke / demo scales under ``root`` (train and val splits)."""
    from logocap.synthetic import write_synthetic_coco

    s = synthetic_settings(scale)
    for split, seed in (("train", s["seed"]), ("val", s["seed"] + 1)):
        write_synthetic_coco(root, split, s[split], s["image_size"], seed,
                             num_people=tuple(s["num_people"]), figure_height=tuple(s["figure_height"]))
    return root


def synthetic_source(out_root: str, scale: str) -> tuple:
    """``(write, label)`` for :func:`reprokit.experiment.select_data`: the scale's synthetic COCO
    under ``<out_root>/data`` (its own folder for the demo, whose people differ) and its label."""
    s = synthetic_settings(scale)
    folder = os.path.join(out_root, "data", "synthetic-coco-demo" if scale == "demo" else "synthetic-coco")
    label = ("synthetic COCO (logocap.synthetic, {train} train / {val} val images, {num_people[0]}-"
             "{num_people[1]} people of {figure_height[0]:g}-{figure_height[1]:g} x the short side)").format(**s)
    return (lambda: write_synthetic(folder, scale)), label


def summary_rows(backbone: str | None = None) -> list[dict]:
    """Trainable parameters (= PyTorch ``parameters()``) and Keras ``count_params()`` (adds
    the BatchNorm moving statistics) of the backbones, beside timm's counts, of the
    center-offset models and of LOGO-CAP (beside the released ``Model``'s count)."""
    import keras
    import numpy as np

    from logocap.hrnet import TIMM_PARAMS, build_hrnet
    from logocap.model import REFERENCE_HEAD_PARAMS, build_center_offset, build_logocap

    def counts(model):
        return int(sum(np.prod(w.shape) for w in model.trainable_weights)), int(model.count_params())

    rows = []
    for name in [backbone] if backbone else ["w32", "w48", "hourglass", "smoke"]:
        if name in TIMM_PARAMS:
            trainable, total = counts(build_hrnet(name, (None, None, 3)))
            ok = "ok" if trainable == TIMM_PARAMS[name] else "MISMATCH"
            rows.append({"model": f"HRNet-{name.upper()} backbone", "params": trainable, "total": total,
                         "reference": f"timm hrnet_{name} features_only: {TIMM_PARAMS[name]:,} {ok}"})
        trainable, total = counts(build_center_offset(name, (None, None, 3)))
        rows.append({"model": f"center-offset {name}", "params": trainable, "total": total,
                     "reference": "backbone + heatmap head (17 + centre) + offset head (34)"})
        model = build_logocap(name, (None, None, 3))
        trainable = int(sum(np.prod(w.shape) for w in model.net.trainable_weights + model.cmp.trainable_weights))
        total = int(model.net.count_params() + model.cmp.count_params())
        ref = "backbone + heads + embedding (64) + CMP (512/256/128, attentive BN)"
        if name in REFERENCE_HEAD_PARAMS:
            expect = TIMM_PARAMS[name] + REFERENCE_HEAD_PARAMS[name]
            ref = (f"reference Model: {expect:,} {'ok' if trainable == expect else 'MISMATCH'} "
                   f"(timm backbone + {REFERENCE_HEAD_PARAMS[name]:,})")
        rows.append({"model": f"LOGO-CAP {name}", "params": trainable, "total": total, "reference": ref})
        keras.backend.clear_session()
    return rows


def evaluate_run(run_path: str, weights: str | None = None, data_dir: str | None = None,
                 split: str | None = None, flip: bool = True, limit: int | None = None,
                 size: int | None = None, upper_bound: bool = False, level: str | None = None) -> dict:
    """COCOeval of a run's model (and the KEM upper bound); writes ``evaluation-<split>.json``
    and ``.md`` into the run. Returns ``{"stats", "markdown", "path"}``."""
    from logocap.evaluate import format_table
    from logocap.kem import evaluate_upper_bound
    from logocap.predict import load_model
    from logocap.train import LogocapConfig, detect, evaluate_detections, load_split
    from reprokit.files import write_json_atomic
    from reprokit.training import RunDir

    run = RunDir(run_path)
    spec = LogocapConfig.load(run.path).resolve()
    if data_dir:
        spec = spec.replace(data_dir=os.path.abspath(data_dir))
    split = split or spec.val_split
    model = load_model(weights or run.path, size=size or spec.test_size, level=level)
    gt_path, data = load_split(spec, split, limit or (spec.val_limit if split == spec.val_split else None))
    detections = detect(model.model, data, model.size, flip, model.level)
    if upper_bound:
        ub = evaluate_upper_bound(gt_path, data, detections)
        stats = {"initial": ub["initial"], "upper_bound": ub["upper_bound"],
                 "matched": ub["matched"], "poses": ub["poses"]}
        table = format_table({"initial poses": ub["initial"], "KEM upper bound": ub["upper_bound"]})
    else:
        stats = {"ours": evaluate_detections(gt_path, detections)}
        table = format_table(stats)
    text = (f"# {spec.backbone} on {split} ({len(data['images'])} images, test size {model.size}, "
            f"flip {'on' if flip else 'off'}, adaptation {model.level})\n\n{table}")
    name = f"evaluation-{split}{'-upper-bound' if upper_bound else ''}"
    if model.level != "none":
        name += f"-{model.level}"
    write_json_atomic(run.file(f"{name}.json"), {**stats, "weights": model.source})
    with open(run.file(f"{name}.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return {"stats": stats, "markdown": text, "path": run.file(f"{name}.md")}


def _row(row: str, config: dict) -> dict:
    """One row (a :class:`reprokit.experiment.RowJob` function): train the backbone, then
    COCOeval of its initial poses, of their KEM upper bound and of the untrained network."""
    import keras

    from logocap.kem import evaluate_upper_bound
    from logocap.train import (LogocapConfig, ap_margin, build_model, detect, evaluate_detections,
                               load_split, train)

    spec = LogocapConfig(backbone=config["backbone"], data_dir=config["data_dir"], seed=config["seed"],
                         **{k: v for k, v in config["settings"].items() if k != "backbone"})
    start = time.perf_counter()
    run, model, res = train(spec, config["runs_root"], name=row, verbose=0)
    spec = spec.resolve()
    gt_path, data = load_split(spec, spec.val_split, spec.val_limit)
    dets = detect(model, data, spec.test_size, spec.flip_test)
    ub = evaluate_upper_bound(gt_path, data, dets)
    keras.utils.set_random_seed(spec.seed)
    untrained = build_model(spec, (None, None, 3))
    chance_dets = detect(untrained, data, spec.test_size, spec.flip_test)
    check = ap_margin(gt_path, dets, chance_dets, seed=spec.seed)
    chance = evaluate_detections(gt_path, chance_dets)
    print(f"{row}: AP {ub['initial']['AP']:.3f}, upper bound {ub['upper_bound']['AP']:.3f}, "
          f"untrained {chance['AP']:.3f}", flush=True)
    return {"initial": ub["initial"], "upper_bound": ub["upper_bound"], "untrained": chance,
            "chance_check": check,
            "matched": ub["matched"], "poses": ub["poses"], "train_seconds": res["train_seconds"],
            "steps": res["steps"], "params": res["params"], "run": run.path,
            "wall_seconds": time.perf_counter() - start}


#: The COCOeval columns of the tables.
COCO_KEYS = ("AP", "AP50", "AP75", "APM", "APL", "AR")


def coco_markdown(title: str, intro: str, summary: dict, head: list, body: list) -> list[str]:
    """Lines of a COCOeval table: the title, what was evaluated, the scale's note, then ``head``
    (first columns) + :data:`COCO_KEYS` and ``body`` rows ``(first cells, stats)``."""
    lines = [title, "", f"Data: {summary['data']}. {intro} -1 = no ground truth in that area range.", ""]
    if summary.get("scale_note"):
        lines += [f"Scale `{summary['scale']}`: {summary['scale_note']}.", ""]
    cols = [*head, *COCO_KEYS]
    lines += ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    lines += ["| " + " | ".join([*cells, *(f"{stats[k]:.3f}" for k in COCO_KEYS)]) + " |"
              for cells, stats in body]
    return lines


def upper_bound_markdown(summary: dict) -> str:
    body = [([f"{name}: {label}", str(r["poses"]) if key != "untrained" else "-"], r[key])
            for name, r in summary["rows"].items()
            for label, key in (("initial poses", "initial"), ("KEM upper bound", "upper_bound"),
                               ("untrained (chance)", "untrained"))]
    lines = coco_markdown(
        f"# LOGO-CAP supplement §2: empirical upper bound, scale `{summary['scale']}`",
        "COCOeval (pycocotools, OKS) of the center-offset model's initial poses, of the best pose "
        "in each keypoint's 11 x 11 sigma-scaled KEM (Algorithm 1: the upper bound) and of the "
        "untrained network (chance level).", summary, ["Backbone", "Poses"], body)
    return "\n".join(lines) + "\n"


def plot_upper_bound(summary: dict, path: str):
    """AP / AP50 / AP75 bars: untrained, initial poses and the KEM upper bound per backbone."""
    plt = pyplot()
    rows = summary["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.6), dpi=100, squeeze=False)
    for ax, (name, r) in zip(axes[0], rows.items()):
        keys = ("AP", "AP50", "AP75")
        for i, (label, key, colour) in enumerate((("untrained (chance)", "untrained", "0.6"),
                                                  ("initial poses", "initial", "tab:blue"),
                                                  ("KEM upper bound", "upper_bound", "tab:orange"))):
            ax.bar([j + (i - 1) * 0.27 for j in range(3)], [max(r[key][k], 0) for k in keys], 0.27,
                   label=label, color=colour)
        ax.set(xticks=range(3), xticklabels=keys, ylim=(0, 1), title=name, ylabel="COCO OKS")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"empirical upper bound ({summary['scale']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def upper_bound_jobs(sc: Scale, seed: int, data_dir: str, rows_root: str) -> list:
    """The center-offset rows of a scale: one definition, so that ``logocap.adaptation``, which
    starts from them, hits the same row cache."""
    return [RowJob(f"upper-bound-{name}-{sc.name}",
                   {"backbone": name, "settings": dict(sc.settings), "seed": seed,
                    "data_dir": os.path.abspath(data_dir), "runs_root": os.path.join(rows_root, "runs")},
                   _row) for name in sc.rows]


def reproduce_upper_bound(scale: str = "smoke", data_dir: str | None = None,
                          out_root: str = "runs", seed: int = 0) -> str:
    """Train each row's center-offset model, evaluate initial poses vs the KEM upper bound;
    returns the results directory (rows cached in ``<out_root>/rows/logocap``)."""
    from reprokit.training import create_run_dir

    sc = get_scale(SCALES, scale)
    data_dir, label = select_data(data_dir, *synthetic_source(out_root, scale), "COCO 2017")
    config = {"scale": scale, "rows": list(sc.rows), "settings": dict(sc.settings),
              "data_dir": os.path.abspath(data_dir), "seed": seed}
    run = create_run_dir(f"logocap-upper-bound-{scale}", config, out_root)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "logocap")
    done = run_rows(upper_bound_jobs(sc, seed, data_dir, rows_root), rows_root, sc.workers)
    rows = {name: done[f"upper-bound-{name}-{scale}"] for name in sc.rows}
    summary = {"scale": scale, "data": label, "scale_note": sc.note, "rows": rows,
               "chance_check": row_checks(rows, ", initial poses")}
    write_results(run, summary, upper_bound_markdown(summary),
                  {"upper_bound.png": lambda p: plot_upper_bound(summary, p)}, echo=True)
    return run.path


UPPER_BOUND_REPRODUCTION = reproduction(
    "logocap.upper_bound", "LOGO-CAP supplement §2: center-offset AP vs the KEM empirical upper bound",
    "LOGO-CAP supplement, §2 and Algorithm 1", reproduce_upper_bound)

__all__ = ["COCO_KEYS", "DEMO", "SCALES", "coco_markdown", "upper_bound_jobs", "SMOKE", "SYNTHETIC", "SYNTHETIC_DEMO", "UPPER_BOUND_REPRODUCTION", "evaluate_run",
           "plot_upper_bound", "reproduce_upper_bound", "summary_rows", "upper_bound_markdown",
           "synthetic_settings", "synthetic_source", "write_synthetic"]
