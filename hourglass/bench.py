"""The hourglass case of ``python -m reprokit.bench``: the CV701 baseline (bearpaw hg2, 256 x 256)
with the anibali recipe's losses and optimizer, timed beside the PyTorch reference
(:mod:`reprokit.bench_torch`)."""
from __future__ import annotations

from reprokit.bench import BenchCase

# Lazy imports below (inside functions) load TensorFlow: the entry points of `reprokit.bench`
# are read without it.


def _make(batch: int):
    import numpy as np     # lazy: entry points load without TensorFlow

    from hourglass.train import TrainConfig, build_model, compile_model, get_recipe

    cfg = TrainConfig().resolve()                      # cv701_baseline, anibali, 256 x 256
    model = build_model(cfg)
    compile_model(model, get_recipe(cfg.recipe), 100, cfg.stack_weights, cfg.learning_rate)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (batch, cfg.input_size, cfg.input_size, 3)).astype("float32")
    y = [rng.uniform(0, 1, (batch, *o.shape[1:])).astype("float32") for o in model.outputs]
    return model, x, y


BENCH_CASE = BenchCase(
    "hourglass", "CV701 baseline hg2 (bearpaw), 256 x 256", 8,
    "batch 8: issue 18's measured comparison (anibali's train_mpii.py default is 6); 256 x 256: "
    "docs/reference/hourglass.md §2", _make)
