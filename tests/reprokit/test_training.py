import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reprokit import training

CHILD = os.path.join(os.path.dirname(__file__), "scripts", "train_child.py")


def _run_child(root, strategy="default", sleep=0.0, timeout=120):
    out = subprocess.run([sys.executable, CHILD, str(root), strategy, str(sleep)], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    final = [l for l in out.stdout.splitlines() if l.startswith("FINAL")][-1].split()
    return int(final[1]), int(final[2]), int(final[3])


def test_sigkill_mid_epoch_resumes_and_ends_with_the_same_number_of_steps(tmp_path):
    killed_root, clean_root = tmp_path / "killed", tmp_path / "clean"
    killed_root.mkdir()
    proc = subprocess.Popen([sys.executable, CHILD, str(killed_root), "default", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    step_file = killed_root / "step"
    deadline = time.time() + 120
    while time.time() < deadline:
        if step_file.exists() and int(step_file.read_text() or 0) >= 12:   # epoch 2 (0-based), batch 1
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = [d for d in os.listdir(killed_root) if d.endswith("-child")]
    assert len(runs) == 1
    run = killed_root / runs[0]
    assert not (run / "DONE").exists()
    backup = json.load(open(run / "checkpoints" / "backup" / "training_metadata.json"))
    assert backup["epoch"] == 2
    steps, first_epoch, _ = _run_child(killed_root)
    assert first_epoch == 2, "the rerun restarted instead of resuming"
    assert [d for d in os.listdir(killed_root) if d.endswith("-child")] == runs  # same run dir
    assert (run / "DONE").exists() and (run / "checkpoints" / "final.weights.h5").exists()
    clean_root.mkdir()
    clean_steps, clean_first, _ = _run_child(clean_root)
    assert clean_first == 0 and steps == clean_steps == 20
    lines = [json.loads(l) for l in open(run / "metrics.jsonl")]
    assert [l["epoch"] for l in lines if l["kind"] == "epoch"] == [0, 1, 2, 3]


def test_mirrored_strategy_fits_on_two_logical_cpus(tmp_path):
    steps, _, replicas = _run_child(tmp_path, "mirrored")
    assert replicas == 2 and steps == 20


def test_run_dir_contents_and_reuse(tmp_path):
    cfg = {"lr": 1e-3, "name": "x"}
    run = training.create_run_dir("unit", cfg, root=str(tmp_path))
    assert json.load(open(run.file("config.json"))) == cfg
    versions = json.load(open(run.file("versions.json")))
    assert {"python", "tensorflow", "keras", "numpy", "reprokit", "git"} <= set(versions)
    assert os.path.exists(run.file("run.log"))
    assert training.create_run_dir("unit", cfg, root=str(tmp_path)).path == run.path
    assert training.create_run_dir("unit", {**cfg, "lr": 1}, root=str(tmp_path)).path != run.path
    run.mark_finished()
    assert training.create_run_dir("unit", cfg, root=str(tmp_path)).path != run.path
    with pytest.raises(ValueError, match="strategy"):
        training.get_strategy("tpu")
    with pytest.raises(ValueError, match="precision"):
        training.set_precision("float8")
