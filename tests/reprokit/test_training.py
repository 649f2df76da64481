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
    return int(final[1]), int(final[2]), int(final[3]), out.stderr


def _kill_child(root, until, env=None):
    """Start the child (0.3 s per step) and SIGKILL it once ``until()`` is true."""
    proc = subprocess.Popen([sys.executable, CHILD, str(root), "default", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    deadline = time.time() + 120
    while time.time() < deadline and not until():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = [d for d in os.listdir(root) if d.endswith("-child")]
    assert len(runs) == 1
    run = root / runs[0]
    assert not (run / "DONE").exists()
    return run


def _backups(run):
    return sorted(os.listdir(run / "checkpoints" / "backup"))


def _step_at_least(root, n):
    step = root / "step"
    return lambda: step.exists() and int(step.read_text() or 0) >= n


def test_sigkill_mid_epoch_resumes_and_ends_with_the_same_number_of_steps(tmp_path):
    killed_root, clean_root = tmp_path / "killed", tmp_path / "clean"
    killed_root.mkdir()
    run = _kill_child(killed_root, _step_at_least(killed_root, 12))    # epoch 2 (0-based), batch 1
    assert _backups(run) == ["epoch-000001", "epoch-000002"]           # two kept, atomic names
    state = json.load(open(run / "checkpoints" / "backup" / "epoch-000002" / "state.json"))
    assert state["epoch"] == 2 and state["step"] == 10 and state["train_seconds"] >= 10 * 0.3
    steps, first_epoch, _, err = _run_child(killed_root)
    assert first_epoch == 2, "the rerun restarted instead of resuming"
    assert f"resuming {run} at epoch 2 of 4" in err
    assert [d for d in os.listdir(killed_root) if d.endswith("-child")] == [run.name]  # same run
    assert (run / "DONE").exists() and (run / "checkpoints" / "final.weights.h5").exists()
    assert not (run / "checkpoints" / "backup").exists()               # removed once finished
    clean_root.mkdir()
    clean_steps, clean_first, _, _ = _run_child(clean_root)
    assert clean_first == 0 and steps == clean_steps == 20
    lines = [json.loads(l) for l in open(run / "metrics.jsonl")]
    assert [l["epoch"] for l in lines if l["kind"] == "epoch"] == [0, 1, 2, 3]
    # training time sums both processes: the first one's 10 backed-up steps of 0.3 s each (the
    # rerun does not sleep) plus the rerun, not only the rerun's ~1 s
    assert training.RunDir(str(run)).train_seconds > state["train_seconds"] >= 10 * 0.3


def test_sigkill_during_a_backup_write_and_damaged_backups_never_brick_the_run(tmp_path):
    """Killed inside the write of the epoch-2 backup (its file half written): the rerun drops
    the unfinished write and resumes at epoch 1. Then the newest backup is damaged on disk: the
    rerun names it and falls back to the older one; with every backup damaged it starts over.
    Every path ends with the 20 steps of an uninterrupted run."""
    root = tmp_path / "blocked"
    root.mkdir()
    run = _kill_child(root, lambda: (root / "blocked").exists(), {"CHILD_BLOCK_BACKUP": "2"})
    names = _backups(run)
    assert names[0] == "epoch-000001" and names[1].startswith("tmp-") and len(names) == 2
    steps, first_epoch, _, err = _run_child(root)
    assert (steps, first_epoch) == (20, 1)
    assert "removing" in err and "interrupted" in err

    for case, damage in (("newest", ["epoch-000002"]), ("all", ["epoch-000001", "epoch-000002"])):
        r = tmp_path / case
        r.mkdir()
        run = _kill_child(r, _step_at_least(r, 12))
        assert _backups(run) == ["epoch-000001", "epoch-000002"]
        for name in damage:
            weights = run / "checkpoints" / "backup" / name / "weights.weights.h5"
            weights.write_bytes(weights.read_bytes()[:200])
        steps, first_epoch, _, err = _run_child(r)
        assert steps == 20, err[-2000:]
        assert f"backup {run / 'checkpoints' / 'backup' / 'epoch-000002'} is damaged" in err
        if case == "newest":
            assert first_epoch == 1 and "resuming" in err
        else:
            assert first_epoch == 0 and "starting" in err and "over from epoch 0" in err


def test_mirrored_strategy_fits_on_two_logical_cpus(tmp_path):
    steps, _, replicas, _ = _run_child(tmp_path, "mirrored")
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


def test_optimizer_factory_uses_the_reference_frameworks_settings():
    adam = training.make_optimizer("adam", 1e-3)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.9, 0.999, 1e-8)     # TF1 / PyTorch
    rms = training.make_optimizer("rmsprop", 1e-3)
    assert (rms.rho, rms.epsilon, rms.momentum) == (0.99, 1e-8, 0.0)        # PyTorch RMSprop
    sgd = training.make_optimizer("sgd", 0.01, momentum=0.9, ema_momentum=0.9999)
    assert sgd.momentum == 0.9 and sgd.use_ema and sgd.ema_momentum == 0.9999
    with pytest.raises(ValueError, match="momentum is an SGD setting"):
        training.make_optimizer("adam", 1e-3, momentum=0.9)
    with pytest.raises(ValueError, match="valid"):
        training.make_optimizer("adagrad", 1e-3)
