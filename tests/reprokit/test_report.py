"""`repro report` gathers run folders into one Markdown file with copied, relinked figures."""
import json
import os

import numpy as np
import pytest

from reprokit import cli


def _fake_run(root, name, with_md=True):
    from reprokit.viz import plot_pck_curves

    run = root / name
    run.mkdir()
    t = np.linspace(0, 1, 5)
    plot_pck_curves({"a": (t, t * 100)}, str(run / "curve.png"))
    plot_pck_curves({"b": (t, t * 50)}, str(run / "extra.png"))
    if with_md:
        (run / "results.md").write_text("# My table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![c](curve.png)\n")
    else:
        (run / "results.json").write_text(json.dumps({"Mean": 77.5, "rows": {"x": 1}}))
    with open(run / "metrics.jsonl", "w") as f:
        for s in range(1, 6):
            f.write(json.dumps({"kind": "train", "step": s, "loss": 1.0 / s}) + "\n")
    (run / "DONE").write_text("")
    return run


def test_report_copies_and_relinks_figures(tmp_path, capsys):
    a = _fake_run(tmp_path, "20260101-a-table1")
    b = _fake_run(tmp_path, "20260101-b-table4", with_md=False)
    out = tmp_path / "out" / "report.md"
    os.makedirs(out.parent)
    assert cli.main(["report", str(a), str(b), "-o", str(out)]) == 0
    text = out.read_text()
    assert "### My table" in text and "| 1 | 2 |" in text          # demoted under the run heading
    assert "](report_files/20260101-a-table1/curve.png)" in text
    assert "](report_files/20260101-a-table1/extra.png)" in text     # unreferenced PNGs are added
    assert "| Mean | 77.5 |" in text                                # results.json fallback
    for run in ("20260101-a-table1", "20260101-b-table4"):
        for png in ("curve.png", "extra.png", "training_curves.png"):
            assert os.path.getsize(out.parent / "report_files" / run / png) > 1000
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "repro: error: not run directories" in capsys.readouterr().err


def test_report_of_a_run_without_numeric_metrics_has_no_curve(tmp_path):
    from reprokit.report import render_report

    run = tmp_path / "20260101-c-unfinished"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "epoch", "step": 0, "epoch": 0}) + "\n")
    out = tmp_path / "r.md"
    render_report([str(run)], str(out))
    assert "not finished" in out.read_text() and "has not finished" in out.read_text()
    assert not (tmp_path / "r_files" / run.name / "training_curves.png").exists()
