"""LOGO-CAP's tables on the experiment spine: the adaptation levels on the same weights
(``repro run logocap.adaptation``) and the speed comparison of the supplement's Fig. 1
(``repro run logocap.speed``, :mod:`logocap.bench`).

The adaptation table at smoke / demo scale starts LOGO-CAP from the center-offset row of
``logocap.upper_bound`` (:mod:`logocap.reproduce`, same scale, same row cache), so the two tables
share one trained baseline.
"""
from __future__ import annotations

import os
import time

from logocap.bench import CONFIGS as BENCH_CONFIGS
from logocap.reproduce import SCALES, coco_markdown, synthetic_source, upper_bound_jobs
from reprokit.experiment import (RowJob, Scale, get_scale, reproduction, run_rows, select_data,
                                 write_results)
from reprokit.metrics.chance import row_checks
from reprokit.viz import pyplot

# Lazy imports below (inside functions) load TensorFlow: `repro list` imports this module
# through its entry point and must answer in a second (docs/design.md).

#: LOGO-CAP at smoke / demo scale (not the paper's; see :func:`reproduce_adaptation`): the
#: narrow backbone and CMP (:data:`logocap.model.CMP_WIDTHS`), started from the upper-bound
#: row's trained center-offset weights, then trained with every loss of LOGO-CAP; the global
#: window, its prior and the adapted-heatmap target scaled with the input (128 / 512: 25 px,
#: sigma 4 and 1 instead of 97, 16 and 4); a buffer of 32 kept centres per batch (each batch
#: of 8 keeps about 12; :func:`logocap.adaptation_train.adaptation_losses`).
ADAPT_SMOKE = {"head": "logocap", "epochs": 24, "steps_per_epoch": 50, "decay_epochs": (20,),
               "global_size": 25, "global_sigma": 4.0, "target_sigma": 1.0, "max_instances": 32}
#: Demo: 200 LOGO-CAP steps, evaluated on the first 64 of the demo's 128 validation images (about
#: 2 minutes; :data:`logocap.reproduce.SYNTHETIC_DEMO`): full AP 0.038 against 0.000 untrained,
#: +4.3 SE (docs/results.md, "repro demo against chance").
ADAPT_DEMO = {**ADAPT_SMOKE, "epochs": 4, "decay_epochs": (3,), "val_limit": 64}
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

    from logocap.train import (LogocapConfig, ap_margin, build_model, detect, evaluate_detections,
                               load_split, train)

    base = {k: v for k, v in config["base_settings"].items() if k != "backbone"}
    spec = LogocapConfig(backbone=config["backbone"], data_dir=config["data_dir"], seed=config["seed"],
                         init_weights=config.get("init") or "", **{**base, **config["settings"]})
    start = time.perf_counter()
    run, model, res = train(spec, config["runs_root"], name=row, verbose=0)
    spec = spec.resolve()
    gt_path, data = load_split(spec, spec.val_split, spec.val_limit)
    levels, timing, dets = {}, {}, {}
    for level in ("none", "partial", "full"):
        t = {}
        dets[level] = detect(model, data, spec.test_size, spec.flip_test, level, t)
        levels[level] = evaluate_detections(gt_path, dets[level])
        timing[level] = {k: v / max(len(data["images"]), 1) for k, v in t.items()}
    keras.utils.set_random_seed(spec.seed)
    untrained = build_model(spec, (None, None, 3))
    chance_dets = detect(untrained, data, spec.test_size, spec.flip_test, "full")
    chance = evaluate_detections(gt_path, chance_dets)
    print(f"{row}: AP none {levels['none']['AP']:.3f}, partial {levels['partial']['AP']:.3f}, "
          f"full {levels['full']['AP']:.3f}, untrained {chance['AP']:.3f}", flush=True)
    return {"levels": levels, "untrained": chance, "timing": timing, "backbone": spec.backbone,
            "chance_check": ap_margin(gt_path, dets["full"], chance_dets, seed=spec.seed),
            "size": spec.test_size, "train_seconds": res["train_seconds"], "steps": res["steps"],
            "params": res["params"], "run": run.path, "val_images": len(data["images"]),
            "wall_seconds": time.perf_counter() - start}


def adaptation_markdown(summary: dict) -> str:
    body = []
    for name, r in summary["rows"].items():
        entries = [(f"LOGO-CAP: {lv}", r["levels"][lv]) for lv in ("none", "partial", "full")]
        if r.get("center_offset"):
            entries.append(("center-offset start (none)", r["center_offset"]))
        body += [([name, label], stats) for label, stats in entries + [("untrained (chance)", r["untrained"])]]
    lines = coco_markdown(
        f"# LOGO-CAP: adaptation levels on the same weights, scale `{summary['scale']}`",
        "COCOeval (pycocotools, OKS) of one trained LOGO-CAP model decoded three ways: `none` (the "
        "initial center-offset poses), `partial` (each keypoint moved to its KAM's best mesh "
        "point), `full` (the local-global adaptation); the center-offset model it started from; "
        "the untrained LOGO-CAP (chance level).", summary, ["Backbone", "Adaptation"], body)
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
    data_dir, label = select_data(data_dir, *synthetic_source(out_root, scale), "COCO 2017")
    data_dir = os.path.abspath(data_dir)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "logocap")
    run = create_run_dir(f"logocap-adaptation-{scale}", {"scale": scale, "rows": list(sc.rows),
                                                          "settings": dict(sc.settings),
                                                          "data_dir": data_dir, "seed": seed}, out_root)
    base_settings = dict(get_scale(SCALES, scale).settings) if scale != "paper" else {}
    starts = {}
    if scale != "paper":                       # the center-offset rows of logocap.upper_bound
        base = get_scale(SCALES, scale)
        base = Scale(base.name, base.settings, sc.rows, sc.workers, base.note)
        ub = run_rows(upper_bound_jobs(base, seed, data_dir, rows_root), rows_root, sc.workers)
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
    summary = {"scale": scale, "data": label, "scale_note": sc.note, "rows": rows,
               "chance_check": row_checks(rows, ", full adaptation")}
    write_results(run, summary, adaptation_markdown(summary),
                  {"adaptation.png": lambda p: plot_adaptation(summary, p)}, echo=True)
    return run.path


#: Not in ``repro demo`` (one reproduction per paper; logocap's is ``logocap.upper_bound``): its
#: 200 LOGO-CAP steps and three decodings add about 2.7 minutes to the 10-minute budget
#: (docs/results.md, "repro demo against chance"). After the demo,
#: ``repro run logocap.adaptation --scale demo`` reuses the demo's center-offset row.
ADAPTATION_REPRODUCTION = reproduction(
    "logocap.adaptation", "LOGO-CAP: none / partial / full adaptation on the same weights",
    "LOGO-CAP supplement (ablation switch TEST.ADAPTATION_LEVEL)", reproduce_adaptation,
    demo=False)


# ------------------------------------------------------------------------- speed comparison

#: The smoke LOGO-CAP of the speed table uses its training window (the others the reference's).
SMOKE_LOGOCAP = {"smoke": {k: ADAPT_SMOKE[k] for k in ("global_size", "global_sigma")}}
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
    result = bench.run_bench(configs, images=images, ap=bench.load_ap(ap_results),
                             logocap_kwargs=SMOKE_LOGOCAP)
    result["ap_from"] = list(ap_results)
    gflops = bench.gflops_table(configs)
    path = bench.write(result, run.path, gflops)
    text = open(path, encoding="utf-8").read()
    write_results(run, {**result, "gflops": {f"{b}/{s}": g for (b, s), g in gflops.items()}}, text)
    print(text)
    return run.path


SPEED_REPRODUCTION = reproduction(
    "logocap.speed", "LOGO-CAP supplement Fig. 1: images/s of LOGO-CAP and the center-offset model",
    "LOGO-CAP supplement, Fig. 1", reproduce_speed, demo=False)



__all__ = ["ADAPTATION_REPRODUCTION", "ADAPT_DEMO", "ADAPT_SCALES", "ADAPT_SMOKE", "SPEED_REPRODUCTION",
           "SMOKE_LOGOCAP", "SPEED_SCALES", "adaptation_markdown", "plot_adaptation", "reproduce_adaptation",
           "reproduce_speed"]
