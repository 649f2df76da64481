"""Reproduce the thesis' Tables 1-6 and the hourglass experiments, beside the thesis' numbers.

``python -m segmentation reproduce table1|...|table6|hourglass|all [--scale smoke|paper]``,
also registered in ``repro`` (``segmentation.table1`` ...). Each table is a list of rows; a
row is one training run (:func:`segmentation.train.train_segmentation`). Rows live in
``<out>/rows/segmentation/`` (the experiment spine's row cache, ``reprokit.experiment``) and are
shared between tables: Table 2's "Normal" is Table 1's,
so running Table 1 then Table 2 (or ``all``) trains it once. Interrupting and rerunning
continues: finished rows are reused, the interrupted one resumes from its last epoch backup.

Scales:

``paper``
    the thesis' schedules (:data:`segmentation.spec.SCHEDULES`): 320 x 320 inputs, ICNet
    batch 64 / SGD poly / BN released at 20k, SegNet batch 32 / Adam 0.01, the hourglass
    (4 stacks, 256-channel trunk) with RMSprop; 40k steps (90k for Tables 3 and 6),
    validation every 200 steps. Meant for a GPU and the real SURREAL (``--data-dir``).
``smoke``
    every row on a synthetic SURREAL (written in the published mp4 + mat format, extracted
    like the real one) with the same networks (ICNet and SegNet at full width; the hourglass
    with 3 stacks, 16-plane bottlenecks and depth 2): ICNet at 64 x 64 batch 8, SegNet and the
    hourglass at 48 x 48 batch 4; 100 steps (225 for the "90k" rows: the same 2.25 ratio);
    BN momentum 0.9. Two rows train at a time. About 12 minutes on 2 CPU cores.
``demo``
    the smoke setting with 300 steps, for the table's first row only (``repro demo`` runs
    Table 1's).

Deviations (smoke and demo only): input size, step counts, batch sizes, BN momentum and the
hourglass size are scaled down to run on a CPU; the learning rates and optimizers are the
thesis'. Parameter
counts in the tables are those of the full-size networks (built and counted; the tests assert
them against docs/reference/segmentation.md §H).
"""
from __future__ import annotations

import logging
import os
import shutil
import time

import numpy as np

from reprokit.errors import ConfigError
from reprokit.experiment import (RowJob, Scale, full_size_params, get_scale, reproduction,
                                 run_rows, write_results)
from reprokit.metrics.chance import row_checks
from reprokit.metrics.segmentation import segmentation_report
from reprokit.viz import pyplot
from segmentation.tables import _G13, ROWS, TABLES, Table

# Modules that load TensorFlow are imported inside the functions that train: ``repro list``
# imports this module through its entry point and must answer in a second (docs/design.md).

logger = logging.getLogger("reprokit.segmentation")

TABLE_NAMES = tuple(TABLES)

#: Per scale: settings shared by every row, and per-network overrides (batch, input side,
#: model size). Smoke: ICNet at 64 (its step time is dominated by per-op overhead there, so
#: smaller inputs gain nothing), SegNet and the hourglass (full-resolution 7x7 convs and stem)
#: at 48; BN momentum 0.9 so that 100 steps leave usable moving statistics.
SMOKE = {"input_size": 64, "steps": 100, "steps_per_epoch": 25, "validate": False,
         "bn_momentum": 0.9,
         "networks": {"icnet": {"batch_size": 8},
                      "segnet": {"batch_size": 4, "input_size": 48},
                      "hourglass": {"batch_size": 4, "input_size": 48,
                                    "model": {"num_stacks": 3, "num_features": 16, "depth": 2}}}}
PAPER = {"input_size": 320, "steps": None, "steps_per_epoch": 200, "validate": True,
         "bn_momentum": None, "networks": {"hourglass": {"model": {"num_stacks": 4}}}}
_SMOKE_NOTE = ("synthetic SURREAL; ICNet at 64 x 64 batch 8, SegNet and a 3-stack hourglass "
               "(16-plane bottlenecks, depth 2) at 48 x 48 batch 4; 100 steps (225 for the 90k "
               "rows); BN momentum 0.9")
#: demo: 300 steps (at the smoke scale's 100, ICNet's mIoU was 4.6 against 3.5 for background
#: everywhere; 400 gave 7.5 (+10.0 SE), 800 gave 8.4; 2026-12-01, /tmp script on the demo row;
#: 300 since 2026-12-02, for the demo's 10-minute budget: docs/results.md, "repro demo against
#: chance")
DEMO = {**SMOKE, "steps": 300}
SCALES = {"demo": Scale("demo", DEMO, None, 2, _SMOKE_NOTE.replace("100 steps (225 for the 90k rows)", "300 steps")
                        + "; each table's first row only"),
          "smoke": Scale("smoke", SMOKE, None, 2, _SMOKE_NOTE),
          "paper": Scale("paper", PAPER, None, 1, "the thesis' schedules (segmentation.spec.SCHEDULES)")}
LONG_FACTOR = 90_000 / 40_000
#: Synthetic SURREAL of smoke/demo: clips x frames per split (one figure per frame).
SYNTHETIC = {"train": (8, 16), "val": (2, 16), "test": (2, 16), "image_size": (120, 160)}
#: Frames selected per split from a real SURREAL (thesis Sec. 2: about 90k / 15k / 15k).
REAL_FRAMES = {"train": 90_000, "val": 15_000, "test": 15_000}


def input_size(row: str, scale: str) -> int:
    """The square input side of ``row`` at ``scale``."""
    settings = get_scale(SCALES, scale).settings
    net = settings["networks"].get(ROWS[row]["network"], {})
    return int(net.get("input_size", settings["input_size"]))


def row_config(row: str, scale: str, frames_root: str, seed: int = 0):
    """The :class:`SegTrainConfig` of one row at one scale; its frames are
    ``frames_root/<input side>/{train,val,test}`` (:func:`prepare_data`)."""
    from segmentation.spec import SCHEDULES, SegTrainConfig   # lazy: TensorFlow

    if row not in ROWS:
        raise ConfigError(f"unknown row {row!r}; valid: {sorted(ROWS)}")
    spec = dict(ROWS[row])
    long = spec.pop("long", False)
    settings = get_scale(SCALES, scale).settings
    net = settings["networks"].get(spec["network"], {})
    model = {**net.get("model", {}), **spec.pop("model", {})}
    steps = settings["steps"] or SCHEDULES[spec["network"]]["steps"]
    size = input_size(row, scale)
    kw = {k: v for k, v in net.items() if k not in ("model", "input_size")}
    return SegTrainConfig(data_dir=os.path.join(frames_root, str(size)), model=model,
                          input_size=size, steps=int(round(steps * LONG_FACTOR)) if long else steps,
                          steps_per_epoch=settings["steps_per_epoch"],
                          validate=settings["validate"], eval_split="test" if long else "val",
                          bn_momentum=settings["bn_momentum"], seed=seed, **kw, **spec)


def prepare_data(scale: str, data_dir: str | None, out_root: str, sizes=None) -> tuple[str, str]:
    """Extracted frames at every input side in ``sizes``: from ``data_dir`` (a SURREAL ``data``
    folder) or a synthetic SURREAL written under ``out_root/data``.

    Returns:
        ``(frames_root, label)``; frames of side ``s`` are in ``frames_root/<s>/<split>``.
    """
    from segmentation.data import extract_frames
    from segmentation.synthetic import write_synthetic_surreal

    sizes = sorted(set(sizes or [get_scale(SCALES, scale).settings["input_size"]]))
    if data_dir is None:
        raw = os.path.join(out_root, "data", "synthetic-surreal")
        root = os.path.join(out_root, "data", "synthetic-surreal-frames")
        for i, split in enumerate(("train", "val", "test")):
            clips, n = SYNTHETIC[split]
            write_synthetic_surreal(raw, split, clips, n, SYNTHETIC["image_size"], seed=i)
        source, counts = raw, {s: SYNTHETIC[s][0] * SYNTHETIC[s][1] for s in ("train", "val", "test")}
        label = ("synthetic SURREAL (segmentation.synthetic; {train} / {val} / {test} "
                 "frames)").format(**counts)
    else:
        source, root = data_dir, os.path.join(out_root, "data", "surreal-frames")
        label = f"SURREAL at {data_dir}"
    for size in sizes:
        for i, split in enumerate(("train", "val", "test")):
            dst = os.path.join(root, str(size), split)
            if not os.path.exists(os.path.join(dst, "index.json")):
                num = REAL_FRAMES[split] if (data_dir and scale == "paper") else None
                extract_frames(source, dst, split, size=(size, size), num_frames=num, seed=i)
    return root, label


def full_size_row_params(row: str) -> dict:
    """``{"trainable", "total"}`` of the row's network at full size (paper scale, 25 classes)."""
    from segmentation.spec import build_model                 # lazy: TensorFlow

    return full_size_params(lambda: build_model(row_config(row, "paper", "").resolve()))


def _train_row(row_id: str, config: dict) -> dict:
    """One row (a :class:`reprokit.experiment.RowJob` function): train (or reuse) and evaluate
    ``config["row"]`` at ``config["scale"]``."""
    from segmentation.train import train_segmentation

    row, scale = config["row"], config["scale"]
    cfg = row_config(row, scale, config["frames"], config["seed"])
    start = time.perf_counter()
    run, res = train_segmentation(cfg, runs_root=config["runs_root"], name=row_id, verbose=0)
    res["full_size_params"] = full_size_row_params(row)
    res["wall_seconds"] = time.perf_counter() - start
    res["run"] = run.path
    print(f"{row}: mIoU {res['mIoU']:.2f}, accuracy {res['accuracy']:.2f} "
          f"({res['train_seconds']:.0f} s training)", flush=True)
    return res


def _cost(row: str) -> float:
    """Rough relative training time of a row at smoke scale (for scheduling only)."""
    spec = ROWS[row]
    doubled = spec["model"].get("filter_scale") == 2 or spec["model"].get("filters") == 128
    return (LONG_FACTOR if spec.get("long") else 1.0) * (3.0 if doubled else 1.0) * (
        1.5 if spec["network"] == "hourglass" else 1.0)


def reproduce(table: str = "table1", scale: str = "smoke", data_dir: str | None = None,
              out_root: str = "runs", seed: int = 0, workers: int | None = None) -> str:
    """Train and evaluate the rows of ``table`` (or ``"all"``); returns the results directory.

    Args:
        workers: rows trained at the same time in separate processes (default 2 at smoke and
            demo scale, where tracing, single-threaded, dominates; 1 at paper scale).
    """
    from reprokit.training import create_run_dir

    names = TABLE_NAMES if table == "all" else (table,)
    for t in names:
        if t not in TABLES:
            raise ValueError(f"unknown table {t!r}; valid: {', '.join(TABLE_NAMES)}, all")
    sc = get_scale(SCALES, scale)
    rows = []
    for t in names:
        picked = TABLES[t].rows[:1] if scale == "demo" else TABLES[t].rows
        rows += [r for _, r, _ in picked if r not in rows]
    frames, data_label = prepare_data(scale, data_dir, out_root, [input_size(r, scale) for r in rows])
    config = {"tables": list(names), "scale": scale, "rows": rows, "frames": os.path.abspath(frames),
              "seed": seed}
    run = create_run_dir(f"segmentation-{table}-{scale}", config, out_root)
    rows_root = os.path.join(os.path.abspath(out_root), "rows", "segmentation")
    jobs = [RowJob(f"{r}-{scale}", {"row": r, "scale": scale, "frames": os.path.abspath(frames),
                                    "seed": seed, "runs_root": os.path.join(rows_root, "runs")},
                   _train_row, _cost(r)) for r in rows]
    done = run_rows(jobs, rows_root, workers or sc.workers)
    results = {r: done[f"{r}-{scale}"] for r in rows}
    summary = {"tables": list(names), "scale": scale, "data": data_label, "rows": results,
               "scale_note": sc.note, "chance_check": row_checks(results)}
    md = [tables_markdown(summary, t) for t in names]
    for r, res in results.items():
        for fig in ("confusion", "overlays"):
            src = os.path.join(res["run"], f"{fig}.png")
            if os.path.exists(src):
                shutil.copyfile(src, run.file(f"{r}_{fig}.png"))
    text = "\n\n".join(md) + "\n\n" + figures_markdown(results)
    write_results(run, summary, text, {"tables.png": lambda p: plot_tables(summary, names, p)})
    print("\n\n".join(md))
    return run.path


def _cell(ours, paper, digits=2):
    o = "-" if ours is None else f"{ours:.{digits}f}"
    p = "-" if paper is None else f"{paper:.{digits}f}"
    return f"{o} / {p}"


def chance_level(cm) -> dict:
    """Scores of predicting background everywhere, from a confusion matrix's ground truth."""

    cm = np.asarray(cm)
    bg = np.zeros_like(cm)
    bg[:, 0] = cm.sum(1)
    rep = segmentation_report(bg)
    return {"mIoU": rep["mIoU"] * 100, "accuracy": rep["pixel_accuracy"] * 100,
            "F1": rep["mean_f1"] * 100, "F1_weighted": rep["weighted_f1"] * 100,
            "mean_class_accuracy": rep["mean_recall"] * 100}


def tables_markdown(summary: dict, table: str) -> str:
    t = TABLES[table]
    rows = summary["rows"]
    lines = [f"## {table}: {t.title}", "",
             f"Scale `{summary['scale']}`, data: {summary['data']}. Cells are ours / thesis ({t.source}), "
             "percent. Ours: one confusion matrix over the split (rows = ground truth), mIoU and "
             "macro F1 averaged over the classes present (background included); F1 cells give "
             "macro; pixel-weighted. The thesis does not define its F1: ICNet's (88-92, above "
             "its mIoU by far) behaves like the weighted one, SegNet's (33-54) like the macro one."
             + (f" Scale: {summary['scale_note']}." if summary.get("scale_note") else ""), ""]
    present = [(title, r, paper) for title, r, paper in t.rows if r in rows]
    if t.kind == "summary":
        lines += ["| Row | mIoU | Accuracy | F1 macro; weighted | Params (full size, total) | Steps | Train s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for title, r, paper in present:
            res = rows[r]
            p = paper or (None, None, None)
            lines.append(f"| {title} | {_cell(res['mIoU'], p[0])} | {_cell(res['accuracy'], p[1])} | "
                         f"{res['F1']:.2f}; {_cell(res['F1_weighted'], p[2])} | "
                         f"{res['full_size_params']['total']:,} | "
                         f"{res['steps']} | {res['train_seconds']:.0f} |")
        if present:
            ch = chance_level(rows[present[0][1]]["confusion"])
            lines.append(f"| Background everywhere (chance) | {ch['mIoU']:.2f} / - | "
                         f"{ch['accuracy']:.2f} / - | {ch['F1']:.2f}; {ch['F1_weighted']:.2f} / - | 0 | - | - |")
    else:
        head = ["Row", "mIoU", "Mean class acc.", *_G13]
        lines += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for title, r, paper in present:
            res = rows[r]
            p = paper or (None, None, (None,) * 13)
            cells = [title, _cell(res["mIoU"], p[0], 1), _cell(res["mean_class_accuracy"], p[1], 1)]
            cells += [_cell(o, q, 1) for o, q in zip(res["group_accuracy"], p[2])]
            lines.append("| " + " | ".join(cells) + " |")
    if summary["scale"] != "paper":
        lines += ["", "Smoke/demo scale: tiny schedules on synthetic frames; the numbers show that "
                  "the path runs, not the thesis' values; whether each row beats chance is "
                  "below."]
    return "\n".join(lines)


def figures_markdown(results: dict) -> str:
    lines = ["## Figures", "", "![ours vs thesis](tables.png)", ""]
    for r in results:
        lines += [f"### {r}", "", f"![confusion]({r}_confusion.png)", "",
                  f"![overlays]({r}_overlays.png)", ""]
    return "\n".join(lines)


def plot_tables(summary: dict, names, path: str):
    """Grouped bars: our mIoU beside the thesis' for every row of the tables."""

    plt = pyplot()

    labels, ours, theirs = [], [], []
    for t in names:
        for title, r, paper in TABLES[t].rows:
            if r in summary["rows"]:
                labels.append(f"{t}: {title}")
                ours.append(summary["rows"][r]["mIoU"] or 0.0)
                theirs.append(paper[0] if paper else np.nan)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(labels) + 2), 4.2), dpi=100)
    ax.bar(x - 0.2, ours, 0.4, label=f"ours ({summary['scale']})")
    ax.bar(x + 0.2, theirs, 0.4, label="thesis")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("mIoU (%)")
    ax.set_title("mIoU: ours vs thesis (no bar: the thesis gives no number)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _runner(table: str):
    def run(scale: str, data_dir: str | None, out_root: str) -> str:
        return reproduce(table, scale, data_dir, out_root)

    return run


def reproductions() -> dict:
    """The ``repro`` registrations (entry points ``segmentation.<table>``); only Table 1 takes
    part in ``repro demo`` (one small run per paper)."""
    return {t: reproduction(f"segmentation.{t}", f"Thesis {TABLES[t].title}", TABLES[t].source,
                            _runner(t), demo=(t == "table1"))
            for t in TABLE_NAMES}


_REPRODUCTIONS = reproductions()
TABLE1_REPRODUCTION, TABLE2_REPRODUCTION, TABLE3_REPRODUCTION = (
    _REPRODUCTIONS["table1"], _REPRODUCTIONS["table2"], _REPRODUCTIONS["table3"])
TABLE4_REPRODUCTION, TABLE5_REPRODUCTION, TABLE6_REPRODUCTION = (
    _REPRODUCTIONS["table4"], _REPRODUCTIONS["table5"], _REPRODUCTIONS["table6"])
HOURGLASS_REPRODUCTION = _REPRODUCTIONS["hourglass"]

__all__ = ["HOURGLASS_REPRODUCTION", "ROWS", "SCALES", "SYNTHETIC", "TABLES", "TABLE_NAMES",
           "Table", "chance_level", "plot_tables", "prepare_data", "reproduce", "row_config",
           "tables_markdown"]
