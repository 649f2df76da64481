"""The handpose case of ``python -m reprokit.bench``: PoseNet (the paper variant, full width) on
256 x 256 crops with hand3d's loss and Adam (:mod:`handpose.train`)."""
from __future__ import annotations

from reprokit.bench import BenchCase

# Lazy imports below (inside functions) load TensorFlow: the entry points of `reprokit.bench`
# are read without it.


def _make(batch: int):
    import numpy as np     # lazy: entry points load without TensorFlow

    from handpose.losses import PoseNetLoss
    from handpose.spec import PoseNetConfig
    from reprokit.training import make_optimizer

    cfg = PoseNetConfig(variant="paper").resolve()
    model = cfg.build()
    model.compile(optimizer=make_optimizer("adam", 1e-5), loss=[PoseNetLoss(cfg.crop_size)] * 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (batch, cfg.crop_size, cfg.crop_size, 3)).astype("float32")
    y = [rng.uniform(0, 1, (batch, cfg.crop_size, cfg.crop_size, 21)).astype("float32")] * 3
    return model, x, y


BENCH_CASE = BenchCase(
    "handpose", "PoseNet (paper variant), 256 x 256 crops", 8,
    "batch 8, crop 256: hand3d training_posenet.py (handpose.spec.PoseNetConfig)", _make)
