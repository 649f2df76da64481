"""The supplement's empirical upper bound (LOGO-CAP supplement §2, Table 1 of the submission):
COCOeval of a trained center-offset model's initial poses beside the best-of-KEM poses.

Scales (``--scale``):

``paper``
    HRNet-W32 at 512 and HRNet-W48 at 640 with the supplement's schedule (Adam 1e-3, x0.1 at
    epochs 90 and 120, 140 epochs, 12 images per GPU, offsets' loss factor 0.01) on COCO
    train2017, evaluated on val2017 (``--data-dir``); GPU-days per row.
``smoke`` / ``demo``
    the narrow ``smoke`` HRNet on a synthetic COCO in the official layout
    (:data:`SYNTHETIC`): see :data:`SMOKE` for the schedule; ``demo`` is the same row, what
    ``repro demo`` runs.

Every table also gives the chance level: the same network with its random initial weights
through the same decoding and COCOeval. Deviations at smoke / demo scale (so that a CPU run
learns in minutes): the narrow backbone, 128-pixel inputs, the schedule of :data:`SMOKE` and
the offsets' loss factor of :data:`SMOKE` (see its comment).
"""
from __future__ import annotations

import os
import time

from logocap.bench import CONFIGS as BENCH_CONFIGS
from reprokit.experiment import (RowJob, Scale, get_scale, reproduction, run_rows, select_data,
                                 write_results)
from reprokit.viz import pyplot

# Lazy imports below (inside functions) load TensorFlow: `repro list` imports this module
# through its entry point and must answer in a second (docs/design.md).

#: The synthetic COCO of the smoke and demo scales (images per split, image size, people).
SYNTHETIC = {"train": 512, "val": 64, "image_size": (128, 160), "seed": 0}
#: Smoke schedule (not the paper's; see the module docstring): 3000 steps of 8 images, the
#: supplement's Adam 1e-3 with one x0.1 step at 80 %. The offsets' loss factor is 1.0, not the
#: reference's 0.01: at this scale 0.01 left the offsets untrained (AP 0.001 after 1200 steps,
#: 0.023 with 0.1, 0.046 with 1.0; measured with the earlier targets, docs/results.md).
SMOKE = {"backbone": "smoke", "input_size": 128, "epochs": 60, "steps_per_epoch": 50,
         "decay_epochs": (48,), "batch_size": 8, "learning_rate": 1e-3,
         "offset_loss_weight": 1.0}
#: Demo: the same with 800 steps (what `repro demo` runs, about 3 minutes on 2 cores).
DEMO = {**SMOKE, "epochs": 16, "decay_epochs": (13,)}
_NOTE = ("narrow HRNet (logocap.hrnet 'smoke'), 128 x 128 crops of 128 x 160 synthetic "
         "images, {epochs} x {steps_per_epoch} steps at batch {batch_size}, Adam "
         "{learning_rate:g} (x0.1 at epoch {decay_epochs[0]}), offsets' loss factor "
         "{offset_loss_weight:g} (reference 0.01)")
SCALES = {
    "demo": Scale("demo", DEMO, ("smoke",), 1, _NOTE.format(**DEMO)),
    "smoke": Scale("smoke", SMOKE, ("smoke",), 1, _NOTE.format(**SMOKE)),
    "paper": Scale("paper", {}, ("w32", "w48"), 1, "the supplement's schedule"),
}


def write_synthetic(root: str, scale: str = "smoke") -> str:
    """The synthetic COCO of the smoke / demo scales under ``root`` (train and val splits)."""
    from logocap.synthetic import write_synthetic_coco

    for split, seed in (("train", SYNTHETIC["seed"]), ("val", SYNTHETIC["seed"] + 1)):
        write_synthetic_coco(root, split, SYNTHETIC[split], SYNTHETIC["image_size"], seed)
    return root


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
    from logocap.train import LogocapConfig, build_model, detect, evaluate_detections, load_split, train

    spec = LogocapConfig(backbone=config["backbone"], data_dir=config["data_dir"], seed=config["seed"],
                         **{k: v for k, v in config["settings"].items() if k != "backbone"})
    start = time.perf_counter()
    run, model, res = train(spec, config["runs_root"], name=row, verbose=0)
    spec = spec.resolve()
    gt_path, data = load_split(spec, spec.val_split, spec.val_limit)
    ub = evaluate_upper_bound(gt_path, data, detect(model, data, spec.test_size, spec.flip_test))
    keras.utils.set_random_seed(spec.seed)
    untrained = build_model(spec, (None, None, 3))
    chance = evaluate_detections(gt_path, detect(untrained, data, spec.test_size, spec.flip_test))
    print(f"{row}: AP {ub['initial']['AP']:.3f}, upper bound {ub['upper_bound']['AP']:.3f}, "
          f"untrained {chance['AP']:.3f}", flush=True)
    return {"initial": ub["initial"], "upper_bound": ub["upper_bound"], "untrained": chance,
            "matched": ub["matched"], "poses": ub["poses"], "train_seconds": res["train_seconds"],
            "steps": res["steps"], "params": res["params"], "run": run.path,
            "wall_seconds": time.perf_counter() - start}


def upper_bound_markdown(summary: dict) -> str:
    keys = ("AP", "AP50", "AP75", "APM", "APL", "AR")
    head = ["Backbone", "Poses", *keys]
    lines = [f"# LOGO-CAP supplement §2: empirical upper bound, scale `{summary['scale']}`", "",
             f"Data: {summary['data']}. COCOeval (pycocotools, OKS) of the center-offset model's "
             "initial poses, of the best pose in each keypoint's 11 x 11 sigma-scaled KEM "
             "(Algorithm 1: the upper bound) and of the untrained network (chance level). "
             "-1 = no ground truth in that area range.", ""]
    if summary.get("scale_note"):
        lines += [f"Scale `{summary['scale']}`: {summary['scale_note']}.", ""]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, r in summary["rows"].items():
        for label, key in (("initial poses", "initial"), ("KEM upper bound", "upper_bound"),
                           ("untrained (chance)", "untrained")):
            cells = [f"{name}: {label}", str(r["poses"]) if key != "untrained" else "-"]
            cells += [f"{r[key][k]:.3f}" for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
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


def reproduce_upper_bound(scale: str = "smoke", data_dir: str | None = None,
                          out_root: str = "runs", seed: int = 0) -> str:
    """Train each row's center-offset model, evaluate initial poses vs the KEM upper bound;
    returns the results directory (rows cached in ``<out_root>/rows/logocap``)."""
    from reprokit.training import create_run_dir

    sc = get_scale(SCALES, scale)
    data_dir, label = select_data(
        data_dir, lambda: write_synthetic(os.path.join(out_root, "data", "synthetic-coco"), scale),
        "synthetic COCO (logocap.synthetic, {train} train / {val} val images)".format(**SYNTHETIC),
        "COCO 2017")
    config = {"scale": scale, "rows": list(sc.rows), "settings": dict(sc.settings),
              "data_dir": os.path.abspath(data_dir), "seed": seed}
    run = create_run_dir(f"logocap-upper-bound-{scale}", config, out_root)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "logocap")
    jobs = [RowJob(f"upper-bound-{name}-{scale}",
                   {"backbone": name, "settings": dict(sc.settings), "seed": seed,
                    "data_dir": os.path.abspath(data_dir), "runs_root": os.path.join(rows_root, "runs")},
                   _row) for name in sc.rows]
    done = run_rows(jobs, rows_root, sc.workers)
    summary = {"scale": scale, "data": label, "scale_note": sc.note,
               "rows": {name: done[f"upper-bound-{name}-{scale}"] for name in sc.rows}}
    text = upper_bound_markdown(summary)
    write_results(run, summary, text, {"upper_bound.png": lambda p: plot_upper_bound(summary, p)})
    print(text)
    return run.path


def _run(scale: str, data_dir: str | None, out_root: str) -> str:
    return reproduce_upper_bound(scale, data_dir, out_root)


# ------------------------------------------------------------------ LOGO-CAP adaptation levels

#: LOGO-CAP at smoke / demo scale (not the paper's; see :func:`reproduce_adaptation`): the
#: narrow backbone and CMP (:data:`logocap.model.CMP_WIDTHS`), started from the upper-bound
#: row's trained center-offset weights, then trained with every loss of LOGO-CAP; the global
#: window, its prior and the adapted-heatmap target scaled with the input (128 / 512: 25 px,
#: sigma 4 and 1 instead of 97, 16 and 4); a buffer of 32 kept centres per batch (each batch
#: of 8 keeps about 12; :func:`logocap.adaptation.adaptation_losses`).
ADAPT_SMOKE = {"head": "logocap", "epochs": 24, "steps_per_epoch": 50, "decay_epochs": (20,),
               "global_size": 25, "global_sigma": 4.0, "target_sigma": 1.0, "max_instances": 32}
ADAPT_DEMO = {**ADAPT_SMOKE, "epochs": 6, "decay_epochs": (5,)}
_ADAPT_NOTE = ("LOGO-CAP with the narrow HRNet and CMP, initialised from the center-offset row of "
               "logocap.upper_bound at the same scale, then {epochs} x {steps_per_epoch} steps of "
               "LOGO-CAP training (every loss; Adam 1e-3, x0.1 at epoch {decay_epochs[0]}); global "
               "window {global_size} px, prior sigma {global_sigma:g}, target sigma "
               "{target_sigma:g} (the reference's 97 / 16 / 4 at 512 px, scaled to 128)")
ADAPT_SCALES = {
    "demo": Scale("demo", ADAPT_DEMO, ("smoke",), 1, _ADAPT_NOTE.format(**ADAPT_DEMO)),
    "smoke": Scale("smoke", ADAPT_SMOKE, ("smoke",), 1, _ADAPT_NOTE.format(**ADAPT_SMOKE)),
    "paper": Scale("paper", {"head": "logocap"}, ("w32", "w48"), 1,
                   "the supplement's schedule, end to end from ImageNet"),
}


def _adaptation_row(row: str, config: dict) -> dict:
    """Train LOGO-CAP (from the center-offset run ``config["init"]`` when given), then COCOeval
    at the three adaptation levels on the same weights, and of the untrained LOGO-CAP."""
    import keras

    from logocap.train import LogocapConfig, build_model, detect, evaluate_detections, load_split, train

    base = {k: v for k, v in config["base_settings"].items() if k != "backbone"}
    spec = LogocapConfig(backbone=config["backbone"], data_dir=config["data_dir"], seed=config["seed"],
                         init_weights=config.get("init") or "", **{**base, **config["settings"]})
    start = time.perf_counter()
    run, model, res = train(spec, config["runs_root"], name=row, verbose=0)
    spec = spec.resolve()
    gt_path, data = load_split(spec, spec.val_split, spec.val_limit)
    levels, timing = {}, {}
    for level in ("none", "partial", "full"):
        t = {}
        levels[level] = evaluate_detections(gt_path, detect(model, data, spec.test_size, spec.flip_test, level, t))
        timing[level] = {k: v / max(len(data["images"]), 1) for k, v in t.items()}
    keras.utils.set_random_seed(spec.seed)
    untrained = build_model(spec, (None, None, 3))
    chance = evaluate_detections(gt_path, detect(untrained, data, spec.test_size, spec.flip_test, "full"))
    print(f"{row}: AP none {levels['none']['AP']:.3f}, partial {levels['partial']['AP']:.3f}, "
          f"full {levels['full']['AP']:.3f}, untrained {chance['AP']:.3f}", flush=True)
    return {"levels": levels, "untrained": chance, "timing": timing, "backbone": spec.backbone,
            "size": spec.test_size, "train_seconds": res["train_seconds"], "steps": res["steps"],
            "params": res["params"], "run": run.path, "val_images": len(data["images"]),
            "wall_seconds": time.perf_counter() - start}


def adaptation_markdown(summary: dict) -> str:
    keys = ("AP", "AP50", "AP75", "APM", "APL", "AR")
    head = ["Backbone", "Adaptation", *keys]
    lines = [f"# LOGO-CAP: adaptation levels on the same weights, scale `{summary['scale']}`", "",
             f"Data: {summary['data']}. COCOeval (pycocotools, OKS) of one trained LOGO-CAP model "
             "decoded three ways: `none` (the initial center-offset poses), `partial` (each "
             "keypoint moved to its KAM's best mesh point), `full` (the local-global "
             "adaptation); the center-offset model it started from; the untrained LOGO-CAP "
             "(chance level). -1 = no ground truth in that area range.", ""]
    if summary.get("scale_note"):
        lines += [f"Scale `{summary['scale']}`: {summary['scale_note']}.", ""]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, r in summary["rows"].items():
        entries = [(f"LOGO-CAP: {lv}", r["levels"][lv]) for lv in ("none", "partial", "full")]
        if r.get("center_offset"):
            entries.append(("center-offset start (none)", r["center_offset"]))
        entries.append(("untrained (chance)", r["untrained"]))
        for label, stats in entries:
            lines.append("| " + " | ".join([name, label] + [f"{stats[k]:.3f}" for k in keys]) + " |")
    for name, r in summary["rows"].items():
        gain = r["levels"]["full"]["AP"] - r["levels"]["none"]["AP"]
        lines += ["", f"{name}: full - none = {gain:+.3f} AP on {r['val_images']} images."]
    return "\n".join(lines) + "\n"


def plot_adaptation(summary: dict, path: str):
    """AP / AP50 / AP75 per adaptation level beside the chance level."""
    plt = pyplot()
    rows = summary["rows"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4.8 * len(rows), 3.6), dpi=100, squeeze=False)
    for ax, (name, r) in zip(axes[0], rows.items()):
        keys = ("AP", "AP50", "AP75")
        bars = [("untrained (chance)", r["untrained"], "0.6")]
        bars += [(f"LOGO-CAP {lv}", r["levels"][lv], c) for lv, c in
                 (("none", "tab:blue"), ("partial", "tab:green"), ("full", "tab:orange"))]
        width = 0.8 / len(bars)
        for i, (label, stats, colour) in enumerate(bars):
            ax.bar([j + (i - (len(bars) - 1) / 2) * width for j in range(3)],
                   [max(stats[k], 0) for k in keys], width, label=label, color=colour)
        ax.set(xticks=range(3), xticklabels=keys, ylim=(0, 1), title=name, ylabel="COCO OKS")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"LOGO-CAP adaptation levels ({summary['scale']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def reproduce_adaptation(scale: str = "smoke", data_dir: str | None = None, out_root: str = "runs",
                         seed: int = 0) -> str:
    """LOGO-CAP decoded at ``none`` / ``partial`` / ``full`` on the same weights (the
    supplement's ablation switch). At smoke / demo scale the model starts from the center-offset
    row of :func:`reproduce_upper_bound` (same scale, same cache: reused when it exists);
    returns the results directory."""
    from reprokit.training import create_run_dir

    sc = get_scale(ADAPT_SCALES, scale)
    data_dir, label = select_data(
        data_dir, lambda: write_synthetic(os.path.join(out_root, "data", "synthetic-coco"), scale),
        "synthetic COCO (logocap.synthetic, {train} train / {val} val images)".format(**SYNTHETIC),
        "COCO 2017")
    data_dir = os.path.abspath(data_dir)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "logocap")
    run = create_run_dir(f"logocap-adaptation-{scale}", {"scale": scale, "rows": list(sc.rows),
                                                          "settings": dict(sc.settings),
                                                          "data_dir": data_dir, "seed": seed}, out_root)
    base_settings = dict(get_scale(SCALES, scale).settings) if scale != "paper" else {}
    starts = {}
    if scale != "paper":                       # the center-offset rows of logocap.upper_bound
        ub_jobs = [RowJob(f"upper-bound-{name}-{scale}",
                          {"backbone": name, "settings": dict(base_settings), "seed": seed,
                           "data_dir": data_dir, "runs_root": os.path.join(rows_root, "runs")},
                          _row) for name in sc.rows]
        ub = run_rows(ub_jobs, rows_root, sc.workers)
        starts = {name: ub[f"upper-bound-{name}-{scale}"] for name in sc.rows}
    jobs = [RowJob(f"adaptation-{name}-{scale}",
                   {"backbone": name, "base_settings": base_settings, "settings": dict(sc.settings),
                    "seed": seed, "data_dir": data_dir, "runs_root": os.path.join(rows_root, "runs"),
                    "init": starts[name]["run"] if name in starts else ""},
                   _adaptation_row) for name in sc.rows]
    done = run_rows(jobs, rows_root, sc.workers)
    rows = {}
    for name in sc.rows:
        rows[name] = dict(done[f"adaptation-{name}-{scale}"])
        if name in starts:
            rows[name]["center_offset"] = starts[name]["initial"]
    summary = {"scale": scale, "data": label, "scale_note": sc.note, "rows": rows}
    text = adaptation_markdown(summary)
    write_results(run, summary, text, {"adaptation.png": lambda p: plot_adaptation(summary, p)})
    print(text)
    return run.path


def _run_adaptation(scale: str, data_dir: str | None, out_root: str) -> str:
    return reproduce_adaptation(scale, data_dir, out_root)


ADAPTATION_REPRODUCTION = reproduction(
    "logocap.adaptation", "LOGO-CAP: none / partial / full adaptation on the same weights",
    "LOGO-CAP supplement (ablation switch TEST.ADAPTATION_LEVEL)", _run_adaptation)


# ------------------------------------------------------------------------- speed comparison

#: Configurations and image counts of the speed table per scale (:mod:`logocap.bench`).
SPEED_SCALES = {"demo": ((("smoke", 128), ("w32", 384)), 2),
                "smoke": ((("smoke", 128),) + BENCH_CONFIGS, 3),
                "paper": ((("smoke", 128),) + BENCH_CONFIGS, 20)}


def reproduce_speed(scale: str = "smoke", data_dir: str | None = None, out_root: str = "runs",
                    ap_results=()) -> str:
    """The speed table and the AP-vs-FPS plot (:mod:`logocap.bench`) in a run directory;
    ``ap_results``: ``logocap.adaptation`` results.json files whose AP the plot uses (the
    newest one under ``out_root`` when none are given)."""
    import glob

    from logocap import bench
    from reprokit.training import create_run_dir

    if scale not in SPEED_SCALES:
        raise ValueError(f"scale must be one of {sorted(SPEED_SCALES)}, got {scale!r}")
    configs, images = SPEED_SCALES[scale]
    if not ap_results:
        found = sorted(glob.glob(os.path.join(out_root, "*logocap-adaptation-*", "results.json")))
        ap_results = found[-1:]
    run = create_run_dir(f"logocap-speed-{scale}", {"scale": scale, "configs": configs,
                                                     "images": images}, out_root)
    result = bench.run_bench(configs, images=images, ap=bench.load_ap(ap_results))
    result["ap_from"] = list(ap_results)
    gflops = bench.gflops_table(configs)
    path = bench.write(result, run.path, gflops)
    text = open(path, encoding="utf-8").read()
    write_results(run, {**result, "gflops": {f"{b}/{s}": g for (b, s), g in gflops.items()}}, text)
    print(text)
    return run.path


def _run_speed(scale: str, data_dir: str | None, out_root: str) -> str:
    return reproduce_speed(scale, data_dir, out_root)


SPEED_REPRODUCTION = reproduction(
    "logocap.speed", "LOGO-CAP supplement Fig. 1: images/s of LOGO-CAP and the center-offset model",
    "LOGO-CAP supplement, Fig. 1", _run_speed, demo=False)


UPPER_BOUND_REPRODUCTION = reproduction(
    "logocap.upper_bound", "LOGO-CAP supplement §2: center-offset AP vs the KEM empirical upper bound",
    "LOGO-CAP supplement, §2 and Algorithm 1", _run)

__all__ = ["ADAPTATION_REPRODUCTION", "ADAPT_SCALES", "DEMO", "SCALES", "SMOKE", "SPEED_REPRODUCTION",
           "SYNTHETIC", "UPPER_BOUND_REPRODUCTION", "adaptation_markdown", "evaluate_run",
           "plot_adaptation", "reproduce_adaptation", "reproduce_speed",
           "plot_upper_bound", "reproduce_upper_bound", "summary_rows", "upper_bound_markdown",
           "write_synthetic"]
