"""Heatmap batches for the training-accuracy parity case (shared by the test and its producer).

Three batches (4, 4 and 2 samples) of 8x8 maps with 16 MPII channels, drawn from :data:`RECIPE`
(see ``tests/golden.py``): one-hot targets at ``floor(peak)`` (so about one in eight peaks lies
in row 0 or column 0), all-zero targets where ``vis < 0.2``; predictions are uniform noise, with
a +2 spike at the target peak where ``near < 0.5`` and shifted below zero (every value negative)
where ``neg < 0.15``.
"""
import numpy as np

SIZES = (4, 4, 2)
RECIPE = {"streams": [{"seed": 7, "draws": [
    d for b, n in enumerate(SIZES) for d in (
        [f"pred{b}", [n, 8, 8, 16], "uniform", -1.0, 1.0],
        [f"peak{b}", [n, 16, 2], "uniform", 0.0, 8.0],
        [f"vis{b}", [n, 16], "uniform", 0.0, 1.0],
        [f"near{b}", [n, 16], "uniform", 0.0, 1.0],
        [f"neg{b}", [n, 16], "uniform", 0.0, 1.0])]}]}


def heatmap_batches(arrays):
    """Yield ``(target, pred)`` NHWC float32 batches from the drawn arrays."""
    for b, n in enumerate(SIZES):
        peak = np.floor(arrays[f"peak{b}"]).astype(int)          # (n, 16, 2) as (x, y)
        target = np.zeros((n, 8, 8, 16), np.float32)
        pred = arrays[f"pred{b}"].copy()
        for i in range(n):
            for k in range(16):
                x, y = peak[i, k]
                if arrays[f"vis{b}"][i, k] >= 0.2:
                    target[i, y, x, k] = 1.0
                if arrays[f"near{b}"][i, k] < 0.5:
                    pred[i, y, x, k] += 2.0
                if arrays[f"neg{b}"][i, k] < 0.15:
                    pred[i, :, :, k] -= 3.0
        yield target, pred
