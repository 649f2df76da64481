"""``--strategy multi_worker``: two worker processes on localhost (``TF_CONFIG``) train like one
process with the same global batch, the chief writes the run, and both resume after a stop."""
import json
import os
import socket
import subprocess
import sys

import numpy as np

CHILD = os.path.join(os.path.dirname(__file__), "scripts", "train_child.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _losses(path):
    """{step: running-mean loss} (the last line of each step: a resumed run rewrites steps)."""
    with open(path) as f:
        return {int(a): float(b) for a, b in (line.split() for line in f)}


def _two_workers(root, env=None):
    cluster = {"worker": [f"localhost:{p}" for p in _ports(2)]}
    procs = [subprocess.Popen([sys.executable, CHILD, str(root), "multi_worker"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**ENV, **(env or {}), "TF_CONFIG": json.dumps(
                                  {"cluster": cluster, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    return [p.returncode for p in procs], outs


def _final(out):
    return [int(v) for v in [l for l in out.splitlines() if l.startswith("FINAL")][-1].split()[1:]]


def _single(root, env=None):
    out = subprocess.run([sys.executable, CHILD, str(root), "default"], capture_output=True,
                         text=True, env={**ENV, **(env or {})}, timeout=180)
    return out.returncode, out


def _run_dirs(root):
    return [os.path.join(root, d) for d in os.listdir(root) if d.endswith("-child")]


def test_two_workers_match_one_and_resume(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    # stop after epoch 2 of 4 (as if the job were pre-empted), then rerun: one process, then
    # two workers (a resumed run restarts the data order, so both take the same path)
    assert _single(single, {"CHILD_STOP_AFTER": "2"})[0] == 3
    code, out = _single(single)
    assert code == 0, out.stderr[-3000:]
    assert _final(out.stdout) == [20, 2, 1]
    codes, outs = _two_workers(multi, {"CHILD_STOP_AFTER": "2"})
    assert codes == [3, 3], [o[1][-2000:] for o in outs]
    codes, outs = _two_workers(multi)
    assert codes == [0, 0], [o[1][-2000:] for o in outs]
    # the same 20 optimizer steps, resumed at epoch 2, over 2 replicas (one per worker)
    assert [_final(o[0]) for o in outs] == [[20, 2, 2], [20, 2, 2]]

    # the chief (worker 0) writes the run; worker 1 keeps its backups in .workers/
    (run,) = _run_dirs(multi)
    assert os.path.exists(os.path.join(run, "DONE"))
    assert [s["task"] for s in json.load(open(os.path.join(run, "execution.json")))] == \
        ["worker:0", "worker:0"]
    (scratch,) = _run_dirs(multi / ".workers" / "worker-1")
    assert not os.path.exists(os.path.join(run, "checkpoints", "backup"))

    # each worker logs the loss of its half of the global batch of 4: their mean is the
    # loss of one process on the whole batch, step for step (a different curve would mean
    # other batches or other gradients)
    one = _losses(single / "losses-single.txt")
    w0, w1 = (_losses(multi / f"losses-worker-{i}.txt") for i in range(2))
    assert sorted(one) == sorted(w0) == sorted(w1) == list(range(1, 21))
    mean = np.array([(w0[s] + w1[s]) / 2 for s in sorted(one)])
    np.testing.assert_allclose(mean, [one[s] for s in sorted(one)], rtol=1e-4, atol=1e-6)
    assert not np.allclose([w0[s] for s in sorted(w0)], [w1[s] for s in sorted(w1)])

    import keras      # the final weights of the chief are those of the single process
    weights = []
    for path in (_run_dirs(single)[0], run):
        inp = keras.Input((3,))
        m = keras.Model(inp, keras.layers.Dense(1, name="out")(
            keras.layers.Dense(4, activation="relu")(inp)))
        m.load_weights(os.path.join(path, "checkpoints", "final.weights.h5"))
        weights.append(m.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert os.path.isdir(scratch)
