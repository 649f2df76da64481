import json
import os
import subprocess
import sys

from reprokit import cli


def test_list_and_demo_say_plainly_when_nothing_is_registered(capsys, monkeypatch):
    monkeypatch.setattr(cli, "discover", lambda: [])
    assert cli.main(["list"]) == 0
    assert "No reproductions are registered yet" in capsys.readouterr().out
    assert cli.main(["demo"]) == 0
    assert "nothing to run" in capsys.readouterr().out


def test_demo_runs_every_registered_reproduction_at_demo_scale(capsys, monkeypatch, tmp_path):
    calls = []
    fake = cli.Reproduction("pkg.table1", "a table", "paper, Table 1",
                            lambda scale, data_dir, out: calls.append((scale, data_dir, out)) or out)
    monkeypatch.setattr(cli, "discover", lambda: [fake])
    assert cli.main(["list"]) == 0
    assert "pkg.table1" in capsys.readouterr().out
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    assert calls == [("demo", None, str(tmp_path))]
    summary = capsys.readouterr().out.split("repro demo: 1 reproduction(s) in")[1]
    assert "pkg.table1" in summary and os.path.join(str(tmp_path), "results.md") in summary
    assert "repro run pkg.table1 --scale smoke" in summary and "repro report" in summary
    # a paper with several tables marks one for the demo; the others run only on request
    other = cli.Reproduction("pkg.table2", "another table", "paper, Table 2",
                             lambda scale, data_dir, out: calls.append(("t2", scale)) or out, demo=False)
    monkeypatch.setattr(cli, "discover", lambda: [fake, other])
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    assert ("t2", "demo") not in calls and calls[-1] == ("demo", None, str(tmp_path))
    assert cli.main(["run", "pkg.table2", "--scale", "demo"]) == 0 and calls[-1] == ("t2", "demo")
    assert cli.main(["run", "pkg.table1", "--scale", "paper", "--data-dir", "/data"]) == 0
    assert calls[-1] == ("paper", "/data", "runs")


def test_demo_summary_reports_each_row_against_chance(tmp_path):
    from reprokit.metrics.chance import chance_margin

    out = tmp_path / "pkg-demo"
    out.mkdir()
    good = {"row": "a", **chance_margin([0.9, 0.8, 0.85, 0.95], [0.1, 0.2, 0.1, 0.15], "PCK")}
    flat = {"row": "b", **chance_margin([0.5, 0.2, 0.4, 0.3], [0.4, 0.3, 0.3, 0.4], "PCK")}
    (out / "results.json").write_text(json.dumps({"chance_check": [good, flat]}))
    text = cli.demo_summary([("pkg.table1", 3.0, str(out))], str(tmp_path))
    line = next(l for l in text.splitlines() if "pkg.table1 a:" in l)
    assert "PCK 0.875 vs 0.138" in line and line.endswith(" beats chance")
    assert "b: PCK 0.350 vs 0.350 (+0.0 SE) does NOT beat chance at demo scale" in text


def test_unknown_reproduction_lists_the_valid_ones(monkeypatch, capsys):
    monkeypatch.setattr(cli, "discover", lambda: [])
    assert cli.main(["run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "valid" in err


def _registered_in_setup():
    """Entry points of the ``reprokit.reproductions`` group as written in setup.py."""
    import ast
    import os

    setup = os.path.join(os.path.dirname(__file__), "..", "..", "setup.py")
    tree = ast.parse(open(setup, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == cli.GROUP:
                    return [ast.literal_eval(v).split("=")[0].strip() for v in value.elts]
    raise AssertionError(f"setup.py declares no {cli.GROUP!r} entry points")


def test_installed_repro_script_lists_every_registered_reproduction():
    """The console script on PATH next to this interpreter (what `pip install -e .` made), not
    the module: a stale install or a broken entry point makes a reproduction disappear."""
    import os

    expected = _registered_in_setup()
    assert {name.split(".")[0] for name in expected} >= {"hourglass", "handpose", "segmentation"}
    script = os.path.join(os.path.dirname(sys.executable), "repro")
    assert os.path.exists(script), f"no installed repro script at {script}"
    out = subprocess.run([script, "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    listed = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    missing = sorted(set(expected) - set(listed))
    assert not missing, f"registered in setup.py but not listed by `repro list`: {missing}"
