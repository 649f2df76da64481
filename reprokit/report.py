"""``repro report RUN_DIR... [-o report.md]``: one Markdown report from run directories.

Each run directory contributes a section: its ``results.md`` (tables and the paper's numbers
beside ours, as the reproduction wrote them), then every PNG of the folder. The PNGs are copied
next to the report (``<report stem>_files/<run>/``) and the image links of ``results.md`` are
rewritten to the copies, so the report folder can be moved or shared on its own. A run with a
``metrics.jsonl`` also gets its training curves (:func:`reprokit.viz.plot_training_curves`).
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil

from reprokit.viz import plot_training_curves, read_metrics


def _section(run: str, files_dir: str, rel_dir: str) -> str:
    name = os.path.basename(os.path.normpath(run))
    dst = os.path.join(files_dir, name)
    os.makedirs(dst, exist_ok=True)
    pngs = sorted(glob.glob(os.path.join(run, "*.png")))
    for p in pngs:
        shutil.copyfile(p, os.path.join(dst, os.path.basename(p)))
    if os.path.exists(os.path.join(run, "metrics.jsonl")):

        # a run that has logged nothing numeric yet gets no curve figure (the plot would raise)
        if any(isinstance(v, (int, float)) and k not in ("step", "epoch", "time")
               for rec in read_metrics(run) for k, v in rec.items()):
            plot_training_curves(run, os.path.join(dst, "training_curves.png"), title=name)
            pngs.append(os.path.join(dst, "training_curves.png"))
    link = f"{rel_dir}/{name}"
    md_path = os.path.join(run, "results.md")
    if os.path.exists(md_path):
        with open(md_path, encoding="utf-8") as f:
            body = f.read()
        # demote the run's own headings under the section heading
        body = re.sub(r"^(#{1,4}) ", lambda m: "##" + m.group(1) + " ", body, flags=re.M)
        body = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", lambda m: f"![{m.group(1)}]({link}/{m.group(2)})", body)
    elif os.path.exists(os.path.join(run, "results.json")):
        with open(os.path.join(run, "results.json"), encoding="utf-8") as f:
            data = json.load(f)
        scalars = {k: v for k, v in data.items() if isinstance(v, (int, float, str))}
        body = "| key | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in scalars.items())
    else:
        body = "_No results.md or results.json: the run has not finished._"
    shown = set(re.findall(r"\]\([^)]*/([^/)]+\.png)\)", body))
    extra = [p for p in pngs if os.path.basename(p) not in shown]
    figs = "".join(f"\n![{os.path.basename(p)[:-4]}]({link}/{os.path.basename(p)})\n" for p in extra)
    status = "finished" if os.path.exists(os.path.join(run, "DONE")) else "not finished"
    return f"## {name}\n\n`{os.path.abspath(run)}` ({status})\n\n{body.strip()}\n" + (
        f"\n### Figures\n{figs}" if figs else "")


def render_report(run_dirs, out_path: str = "report.md", title: str = "reprokit report") -> str:
    """Write the report for ``run_dirs`` to ``out_path``; returns its path."""
    missing = [r for r in run_dirs if not os.path.isdir(r)]
    if missing:
        raise FileNotFoundError(f"not run directories: {', '.join(missing)}")
    if not run_dirs:
        raise ValueError("give at least one run directory")
    out_dir = os.path.dirname(os.path.abspath(out_path))
    stem = os.path.splitext(os.path.basename(out_path))[0]
    files_dir = os.path.join(out_dir, f"{stem}_files")
    os.makedirs(files_dir, exist_ok=True)
    sections = [_section(r, files_dir, f"{stem}_files") for r in run_dirs]
    toc = "\n".join(f"- [{os.path.basename(os.path.normpath(r))}](#{_anchor(os.path.basename(os.path.normpath(r)))})"
                    for r in run_dirs)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(f"# {title}\n\n{toc}\n\n" + "\n\n".join(sections))
    return out_path


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", text.lower().replace(" ", "-"))


__all__ = ["render_report"]
