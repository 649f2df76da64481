"""Golden parity files: outputs of the ORIGINAL implementations, and the recipe of their inputs.

A golden file ``tests/data/parity/<name>.npz`` (``np.load(..., allow_pickle=False)``) holds

* ``recipe``: a JSON string. ``streams`` is a list of ``{"seed": s, "draws": [...]}``; every
  draw ``[name, shape, dist, a, b]`` takes the next values of ``np.random.default_rng(s)``:
  ``normal`` (``rng.normal(a, b, shape)``), ``uniform`` (``rng.uniform(a, b, shape)``),
  ``smooth_u8`` (smooth random uint8 RGB images, ``a`` = cell size, see :func:`smooth_u8`) or
  ``given`` (the array ``given/<name>`` of the file; no draw). Arrays are cast to float32
  (``smooth_u8`` stays uint8). The same recipe produced the reference's weights and inputs, so
  the weights are regenerated here and never committed. ``meta`` holds the case's settings.
* ``out/<name>``: a reference output, whole; ``sub/<name>/idx|val|shape``: a fixed random
  subsample of a large output (flat indices, values, full shape);
  ``bits/<name>`` + ``bits/<name>/shape``: a binary map packed with ``np.packbits``.

The producing steps (which reference code, which commit, which command) are in
``tests/data/parity/README.md``. No reference code is in this repository: only its outputs.
"""
from __future__ import annotations

import json
import os

import numpy as np

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "parity")
#: Tolerance of every golden comparison: 1e-4 of the output's scale (max |reference|).
TOL = 1e-4


def smooth_u8(rng, n, h, w, cell=16):
    """Random smooth RGB images (bilinear upsampled noise + fine noise), uint8 ``(n, h, w, 3)``."""
    low = rng.uniform(0, 255, (n, h // cell + 2, w // cell + 2, 3))
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    r0, r1 = low[:, y0], low[:, y0 + 1]
    img = ((r0[:, :, x0] * (1 - fx) + r0[:, :, x0 + 1] * fx) * (1 - fy)
           + (r1[:, :, x0] * (1 - fx) + r1[:, :, x0 + 1] * fx) * fy)
    img += rng.uniform(-6, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def draw_streams(streams, given=None) -> dict:
    """Execute a recipe's ``streams``; returns ``{name: array}`` in draw order."""
    out = {}
    for stream in streams:
        rng = np.random.default_rng(stream["seed"])
        for name, shape, dist, a, b in stream["draws"]:
            shape = tuple(int(s) for s in shape)
            if dist == "normal":
                out[name] = rng.normal(a, b, shape).astype(np.float32)
            elif dist == "uniform":
                out[name] = rng.uniform(a, b, shape).astype(np.float32)
            elif dist == "smooth_u8":
                out[name] = smooth_u8(rng, *shape[:3], cell=int(a))
            elif dist == "given":
                out[name] = np.asarray(given[name])
            else:
                raise ValueError(f"unknown draw {dist!r} for {name!r}")
    return out


class Golden:
    """One golden file: ``recipe``, ``meta``, regenerated ``arrays`` and the reference outputs."""

    def __init__(self, name: str):
        self.name = name
        self.path = os.path.join(GOLDEN_DIR, f"{name}.npz")
        with np.load(self.path, allow_pickle=False) as z:
            self.data = {k: z[k] for k in z.files}
        self.recipe = json.loads(str(self.data["recipe"]))
        self.meta = self.recipe.get("meta", {})
        given = {k[len("given/"):]: v for k, v in self.data.items() if k.startswith("given/")}
        self.arrays = draw_streams(self.recipe["streams"], given)

    def out(self, name: str) -> np.ndarray:
        return self.data[f"out/{name}"]

    def bits(self, name: str) -> np.ndarray:
        shape = tuple(self.data[f"bits/{name}/shape"])
        return np.unpackbits(self.data[f"bits/{name}"])[:int(np.prod(shape))].reshape(shape)

    def has(self, name: str) -> bool:
        return f"out/{name}" in self.data or f"sub/{name}/idx" in self.data

    def compare(self, name: str, got, tol: float = TOL, absolute: float | None = None) -> float:
        """Assert ``got`` equals the reference output ``name`` (whole or subsampled).

        Passes when ``max |got - ref| <= tol * max |ref|`` (or ``<= absolute`` when given, for
        pixel coordinates); the message names the golden file, the output and the worst
        element. Returns the measured max difference.
        """
        got = np.asarray(got, np.float64)
        if f"sub/{name}/idx" in self.data:
            shape = tuple(int(s) for s in self.data[f"sub/{name}/shape"])
            assert got.shape == shape, f"{self.name}:{name}: shape {got.shape}, reference {shape}"
            idx = self.data[f"sub/{name}/idx"]
            got, ref = got.ravel()[idx], self.data[f"sub/{name}/val"].astype(np.float64)
        else:
            ref = self.data[f"out/{name}"].astype(np.float64)
            assert got.shape == ref.shape, f"{self.name}:{name}: shape {got.shape}, reference {ref.shape}"
        err = np.abs(got - ref)
        worst = float(err.max()) if err.size else 0.0
        limit = absolute if absolute is not None else tol * max(float(np.abs(ref).max()), 1e-30)
        if not worst <= limit:
            i = int(np.argmax(err))
            raise AssertionError(f"{self.name}:{name}: max |ours - reference| = {worst:.3g} > "
                                 f"{limit:.3g} (element {i}: ours {got.ravel()[i]!r}, reference "
                                 f"{ref.ravel()[i]!r}; {int((err > limit).sum())}/{err.size} off)")
        return worst


def write_golden(path: str, recipe: dict, outputs: dict, subsample: dict | None = None,
                 bits: dict | None = None, given: dict | None = None, seed: int = 12345,
                 samples: int = 2048):
    """Write a golden file (used by the producing harnesses, see the README next to the files).

    ``outputs`` are stored whole, ``subsample`` as ``samples`` fixed random elements each,
    ``bits`` packed. ``recipe`` must regenerate the inputs and weights the reference ran on.
    """
    rng = np.random.default_rng(seed)
    data = {"recipe": np.array(json.dumps(recipe))}
    for k, v in (outputs or {}).items():
        data[f"out/{k}"] = np.asarray(v)
    for k, v in (subsample or {}).items():
        v = np.asarray(v)
        idx = np.sort(rng.choice(v.size, min(v.size, samples), replace=False))
        data[f"sub/{k}/idx"], data[f"sub/{k}/val"] = idx.astype(np.int32), v.ravel()[idx]
        data[f"sub/{k}/shape"] = np.asarray(v.shape)
    for k, v in (bits or {}).items():
        v = np.asarray(v).astype(bool)
        data[f"bits/{k}"], data[f"bits/{k}/shape"] = np.packbits(v.ravel()), np.asarray(v.shape)
    for k, v in (given or {}).items():
        data[f"given/{k}"] = np.asarray(v)
    np.savez_compressed(path, **data)


def write_v1_checkpoint(path: str, arrays: dict):
    """A TF1 (V1 single-file) checkpoint with exactly these variable names, as hand3d's
    ``cpm-model-mpii`` is (written with ``tf.compat.v1.train.Saver``)."""
    import tensorflow as tf

    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(k, initializer=v) for k, v in arrays.items()]
        saver = tf.compat.v1.train.Saver(variables, write_version=tf.compat.v1.train.SaverDef.V1)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, path, write_meta_graph=False)
