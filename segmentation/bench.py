"""Time to the first training step, and the step time after it (a benchmark, never a test).

``python -m segmentation.bench [--scale smoke|paper] [--rows ROW ...]`` builds each row's
network as :mod:`segmentation.reproduce` configures it, compiles it with the row's losses and
optimizer (:mod:`segmentation.train`), and times ``build``, the first ``fit`` step (graph
tracing included) and the mean of the next ``--steps`` steps on random inputs. Printed as
seconds and as the first step's ratio to one steady step; compare ratios between runs, this
machine is noisy.
"""
from __future__ import annotations

import argparse
import sys
import time

from reprokit.bench import BenchCase

# The commands import the library inside their functions: `--help` and argument errors
# answer without loading TensorFlow (docs/design.md, import policy).


def _make_case(batch: int):
    import numpy as np     # lazy: entry points load without TensorFlow

    from segmentation.spec import SegTrainConfig, build_model, make_losses, make_optimizer

    conf = SegTrainConfig(network="icnet").resolve()
    model = build_model(conf)
    losses, weights = make_losses(conf)
    model.compile(make_optimizer(conf), loss=losses, loss_weights=weights)
    rng = np.random.default_rng(0)
    s = conf.input_size
    x = rng.normal(size=(batch, s, s, 3)).astype("float32")
    y = [rng.integers(0, 25, (batch, s, s)).astype("int32") for _ in losses]
    return model, x, y


#: ``python -m reprokit.bench``: ICNet on 320 x 320 SURREAL frames (the thesis' Table 1 network)
BENCH_CASE = BenchCase(
    "segmentation", "ICNet (filter scale 1), 320 x 320", 64,
    "batch 64: hellochick ICNet train.py (segmentation.spec SCHEDULES); 320 x 320: the "
    "thesis' frame size (segmentation.spec INPUT_SIZE); training steps timed at batch 8",
    _make_case, train_batch=8)


def bench_row(row: str, scale: str = "smoke", steps: int = 5, batch_size: int | None = None) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from segmentation.reproduce import row_config
    from segmentation.spec import build_model, make_losses, make_optimizer

    conf = row_config(row, scale, "").resolve()
    if batch_size:
        conf = conf.replace(batch_size=batch_size)
    n, s = conf.batch_size, conf.input_size
    t0 = time.perf_counter()
    model = build_model(conf)
    losses, weights = make_losses(conf)
    model.compile(make_optimizer(conf), loss=losses if len(losses) > 1 else losses[0],
                  loss_weights=weights if len(losses) > 1 else None)
    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, s, s, 3)).astype("float32")
    labels = rng.integers(0, 25, (n, s, s)).astype("int32")
    heat = np.zeros((n, s, s, 24), "float32")
    ys = tuple(labels if k == "labels" else heat for k in conf.output_kinds)
    ds = tf.data.Dataset.from_tensors((x, ys if len(ys) > 1 else ys[0])).repeat()
    model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
    t2 = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    t3 = time.perf_counter()
    keras.backend.clear_session()
    step = (t3 - t2) / steps
    return {"row": row, "input": s, "batch": n, "build_s": t1 - t0, "first_step_s": t2 - t1,
            "step_s": step, "ratio": (t2 - t1) / step}


def main(argv=None) -> int:
    from segmentation.reproduce import ROWS

    parser = argparse.ArgumentParser(prog="python -m segmentation.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=("smoke", "paper"), default="smoke")
    parser.add_argument("--rows", nargs="*", default=["icnet_normal", "icnet_doubled", "segnet_normal",
                                                      "segnet_doubled", "hourglass_plain"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None, help="override (paper scale on a CPU: 1)")
    args = parser.parse_args(argv)
    for row in args.rows:
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; valid: {', '.join(ROWS)}")
    print(f"{'row':<24} {'input':>5} {'batch':>5} {'build s':>8} {'1st step s':>10} {'step s':>8} {'1st/step':>9}")
    for row in args.rows:
        r = bench_row(row, args.scale, args.steps, args.batch_size)
        print(f"{r['row']:<24} {r['input']:>5} {r['batch']:>5} {r['build_s']:>8.1f} "
              f"{r['first_step_s']:>10.1f} {r['step_s']:>8.2f} {r['ratio']:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
