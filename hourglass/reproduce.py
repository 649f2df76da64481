"""Reproduce CV701 Table 1: every block variant trained and evaluated, beside the paper.

Scales (``--scale``):

``paper``
    the full-size presets (256 x 256 input, 2 stacks, 128 features, depth 4) with the
    anibali recipe exactly (batch 24, 20 epochs over the training split, RMSprop 1e-3, x0.1 at
    epochs 15 and 17), validation every epoch. Days per row on a CPU; meant for a GPU and the
    real MPII (``--data-dir``).
``smoke``
    every row on the synthetic MPII with a tiny version of the same network (64 x 64 input,
    depth 2, 16 features; the row's block/stem/stack weights unchanged): 20 epochs of 30
    steps at batch 8 (600 steps), lr 2.5e-3, same decay epochs. About a minute per row on 2
    CPU cores.
``demo``
    the smoke setting for the baseline row only (what ``repro demo`` runs; about 1.5 minutes).

Deviations (smoke and demo only): input, depth, width, batch, steps and learning rate are
scaled down so that the whole table runs in minutes on a CPU; lr 2.5e-3 instead of 1e-3 lets
600 steps leave the all-zero-heatmap plateau. Parameter counts in the table are those of the
full-size presets (built, counted, and asserted in the tests), not of the tiny models.

The table prints, per row: our PCKh@0.5 (bearpaw variant, the one CV701 reports) beside the
paper's, parameters beside the paper's column, and training time relative to the baseline
beside the paper's own ratio (the report's framing). A "mean pose" row gives the chance level:
every joint placed at its mean position in the person box.
"""
from __future__ import annotations

import logging
import os
import re
import time

import numpy as np

# presets and the experiment spine are plain data (no TensorFlow); train/evaluate are imported
# where used, so that `repro list` stays fast.
from hourglass.presets import GROUPS, TABLE1, TABLE1_PRESETS, get_preset
from reprokit.experiment import (RowJob, Scale, full_size_params, get_scale, reproduction,
                                 run_rows, select_data, write_results)
from reprokit.metrics.chance import binomial_margin
from reprokit.viz import pyplot

# Lazy imports below (inside functions) are the TensorFlow-loading modules: `repro list`
# imports this module through its entry point and must answer in a second (docs/design.md).

logger = logging.getLogger("reprokit.hourglass")

SMOKE = {"input_size": 64, "model": {"num_features": 16, "depth": 2}, "epochs": 20,
         "steps_per_epoch": 30, "batch_size": 8, "learning_rate": 2.5e-3, "validate": False}
_ALL = tuple(p.name for p in TABLE1_PRESETS)
_SMALL = ("tiny network (64 x 64 input, depth 2, 16 features; the row's block, stem and stack "
          "weights unchanged), 20 epochs x 30 steps at batch 8, lr 2.5e-3")
SCALES = {
    "demo": Scale("demo", SMOKE, ("cv701_baseline",), 1, _SMALL + "; the baseline row only"),
    "smoke": Scale("smoke", SMOKE, _ALL, 2, _SMALL),
    "paper": Scale("paper", {"input_size": 256, "model": {}, "validate": True}, _ALL, 1,
                   "the anibali recipe CV701 ran (batch 24, 20 epochs, RMSprop 1e-3, x0.1 at 15 and 17)"),
}
#: Synthetic MPII used by smoke/demo (people per split, image side).
SYNTHETIC = {"num_train": 1024, "num_valid": 128, "image_size": (96, 96), "seed": 0}


def paper_minutes(cell: str) -> float | None:
    """``"2hr 30min(20)"`` -> 150.0; ``""`` -> None."""
    m = re.match(r"\s*(\d+)\s*hr\s*(\d+)\s*min", cell or "")
    return int(m.group(1)) * 60 + int(m.group(2)) if m else None


def _train_row(row: str, config: dict) -> dict:
    """One Table 1 row (a :class:`reprokit.experiment.RowJob` function): train and evaluate the
    preset ``config["preset"]`` with the scale's settings; the result carries the full-size
    preset's parameters."""
    from hourglass.presets import build_preset
    from hourglass.train import TrainConfig, train

    preset = config["preset"]
    print(f"{preset}: training", flush=True)
    cfg = TrainConfig(preset=preset, data_dir=config["data_dir"], seed=config["seed"],
                      **config["settings"])
    start = time.perf_counter()
    _, res = train(cfg, runs_root=config["runs_root"], name=row, verbose=0)
    res["wall_seconds"] = time.perf_counter() - start
    res["full_size_params"] = full_size_params(lambda: build_preset(preset))
    print(f"{preset}: Mean PCKh {res['Mean']:.2f} ({res['train_seconds']:.0f} s)", flush=True)
    return res


def reproduce_table1(scale: str = "smoke", data_dir: str | None = None, out_root: str = "runs",
                     rows=None, seed: int = 0, workers: int | None = None) -> str:
    """Train and evaluate the Table 1 rows; returns the results directory.

    Rows run on the experiment spine (:mod:`reprokit.experiment`): a finished row is cached in
    ``<out_root>/rows/hourglass/`` and reused by any later run with the same settings; an
    interrupted row resumes from its last epoch backup.

    Args:
        rows: preset names (default: the scale's rows).
        workers: rows trained at the same time in separate processes, each with its share of
            the CPU threads (default: the scale's; 2 for ``smoke``, where two small rows keep a
            2-core CPU busy). Relative training times are measured under the same sharing.
    """
    from hourglass.data import load_mpii
    from hourglass.evaluate import mean_pose_baseline
    from hourglass.synthetic import write_synthetic_mpii
    from reprokit.training import create_run_dir

    sc = get_scale(SCALES, scale)
    names = tuple(rows) if rows else sc.rows
    for n in names:
        get_preset(n)
    data_dir, data_label = select_data(
        data_dir, lambda: write_synthetic_mpii(os.path.join(out_root, "data", "synthetic-mpii"),
                                               **SYNTHETIC),
        "synthetic MPII (hourglass.synthetic, {num_train} train / {num_valid} valid)".format(**SYNTHETIC),
        "MPII")
    config = {"table": TABLE1, "scale": scale, "rows": list(names), "settings": dict(sc.settings),
              "data_dir": os.path.abspath(data_dir), "seed": seed}
    run = create_run_dir(f"hourglass-table1-{scale}", config, out_root)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "hourglass")
    jobs = [RowJob(f"{name}-{scale}", {"preset": name, "settings": dict(sc.settings), "seed": seed,
                                       "data_dir": os.path.abspath(data_dir),
                                       "runs_root": os.path.join(rows_root, "runs")},
                   _train_row) for name in names]
    done = run_rows(jobs, rows_root, workers or sc.workers)
    results = {name: done[f"{name}-{scale}"] for name in names}
    valid = load_mpii(data_dir, "valid")
    chance = mean_pose_baseline(load_mpii(data_dir, "train"), valid)
    # joints in the bearpaw Mean: all but pelvis (6) and thorax (7) (hourglass.evaluate GROUPS)
    counted = int(np.delete(np.asarray(valid["annotated"]) > 0, [6, 7], axis=1).sum())
    checks = [{"row": n, **binomial_margin(r["Mean"] / 100, chance["Mean"] / 100, counted,
                                           "PCKh Mean")} for n, r in results.items()]
    summary = {"scale": scale, "data": data_label, "variant": "bearpaw", "rows": results,
               "mean_pose": chance, "scale_note": sc.note, "chance_check": checks}
    write_results(run, summary, table1_markdown(summary),
                  {"table1.png": lambda p: plot_table1(summary, p),
                   "pckh_curves.png": lambda p: _plot_all_curves(results, p, chance)}, echo=True)
    return run.path


def table1_markdown(summary: dict) -> str:
    rows = summary["rows"]
    base = rows.get("cv701_baseline")
    paper_base = paper_minutes(get_preset("cv701_baseline").paper_time)
    head = ["Row", *[f"{g} ours / paper" for g in GROUPS], "Params (trainable, full size) ours / paper",
            "Time vs baseline ours / paper"]
    lines = [f"# CV701 Table 1, scale `{summary['scale']}`", "",
             f"Data: {summary['data']}. PCKh@0.5, variant `{summary['variant']}` (Head = head top, "
             "Mean = unweighted mean of 14 joints without pelvis and thorax; bearpaw "
             "`eval_PCKh.py`, what CV701 reports). Paper numbers: CV701 report Table 1 "
             "(MPII validation, full-size models, 20 epochs). Params: full-size preset "
             "(trainable). Time: this run's training wall time (tracing included) relative "
             "to the baseline row; paper: its training-time cell relative to its baseline.", ""]
    if summary.get("scale_note"):
        lines += [f"Scale `{summary['scale']}`: {summary['scale_note']}.", ""]
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, r in rows.items():
        p = get_preset(name)
        pp = p.paper_pckh or (None,) * len(GROUPS)
        cells = [p.title]
        for g, paper in zip(GROUPS, pp):
            cells.append(f"{r[g]:.1f} / {paper:.2f}" if paper is not None else f"{r[g]:.1f} / -")
        cells.append(f"{r['full_size_params']['trainable'] / 1e6:.2f}M / {p.paper_params or '-'}")
        ours = f"{r['train_seconds'] / base['train_seconds']:.2f}" if base else "-"
        pm = paper_minutes(p.paper_time)
        theirs = f"{pm / paper_base:.2f} ({p.paper_time})" if pm and paper_base else "-"
        cells.append(f"{ours} / {theirs}")
        lines.append("| " + " | ".join(cells) + " |")
    ch = summary["mean_pose"]
    lines.append("| Mean pose (chance level) | " + " | ".join(f"{ch[g]:.1f} / -" for g in GROUPS)
                 + " | 0 / - | - |")
    notes = [p for p in (get_preset(n) for n in rows) if p.note]
    if notes:
        lines += ["", "Notes:"] + [f"- {p.title}: {p.note}" for p in notes]
    return "\n".join(lines) + "\n"


def plot_table1(summary: dict, path: str):
    """Params (full size) vs relative training time, coloured by Mean PCKh, one point per row."""

    plt = pyplot()

    rows = summary["rows"]
    base = rows.get("cv701_baseline") or next(iter(rows.values()))
    names = list(rows)
    params = [rows[n]["full_size_params"]["trainable"] / 1e6 for n in names]
    rel = [rows[n]["train_seconds"] / base["train_seconds"] for n in names]
    mean = [rows[n]["Mean"] for n in names]
    paper = [get_preset(n).paper_pckh[-1] for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    sc = axes[0].scatter(params, rel, c=mean, cmap="viridis", s=60)
    for x, y, n in zip(params, rel, names):
        axes[0].annotate(n.replace("cv701_", ""), (x, y), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
    fig.colorbar(sc, ax=axes[0], label=f"Mean PCKh@0.5 ({summary['scale']})")
    axes[0].set(xlabel="parameters, full-size preset (M)", ylabel="training time / baseline",
                title="params vs time vs PCKh")
    axes[1].scatter(paper, mean)
    for x, y, n in zip(paper, mean, names):
        axes[1].annotate(n.replace("cv701_", ""), (x, y), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
    axes[1].axhline(summary["mean_pose"]["Mean"], ls="--", c="gray", label="mean pose (chance)")
    axes[1].set(xlabel="paper Mean PCKh@0.5 (CV701 Table 1)", ylabel="our Mean PCKh@0.5",
                title="ours vs paper")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_all_curves(results: dict, path: str, chance: dict | None = None):
    from hourglass.evaluate import plot_curves

    plot_curves({n.replace("cv701_", ""): (r["curve"]["thresholds"], r["curve"]["pckh"])
                 for n, r in results.items()}, path, "PCKh curves (bearpaw variant)",
                chance=(chance["curve"]["thresholds"], chance["curve"]["pckh"]) if chance else None)


def _run(scale: str, data_dir: str | None, out_root: str) -> str:
    return reproduce_table1(scale, data_dir, out_root)


TABLE1_REPRODUCTION = reproduction(
    "hourglass.table1", "CV701 Table 1: stacked-hourglass block variants on MPII", TABLE1, _run)

__all__ = ["SCALES", "SYNTHETIC", "TABLE1_REPRODUCTION", "paper_minutes", "plot_table1",
           "reproduce_table1", "table1_markdown"]
