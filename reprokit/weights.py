"""Strict, name-mapped weight assignment with a load report, and layout helpers.

Converters (next to each model, in the sibling packages) turn a source file's tensors into a
mapping ``Keras variable path -> array`` with the helpers below, then call
:func:`assign_weights`, which is strict by default: any source tensor left unused, any model
weight left unassigned or any shape mismatch raises :class:`WeightLoadError` with the full
report, naming every key.

Layouts: PyTorch and Caffe store conv kernels as ``OIHW``; Keras as ``HWIO``. PyTorch depthwise
kernels are ``(C * M, 1, kh, kw)``; Keras ``DepthwiseConv2D`` wants ``(kh, kw, C, M)``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from typing import Iterable, Mapping

import numpy as np


class WeightLoadError(ValueError):
    """Raised by strict loading; ``.report`` holds the :class:`LoadReport`."""

    def __init__(self, report: "LoadReport", source: str = ""):
        self.report = report
        where = f" from {source}" if source else ""
        super().__init__(f"weights{where} do not fit the model:\n{report}")


@dataclasses.dataclass
class LoadReport:
    """What happened to every tensor: loaded, skipped on purpose, unused, missing, mismatched."""

    loaded: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    unused: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unused or self.missing or self.mismatched)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)}, skipped {len(self.skipped)}, unused {len(self.unused)}, "
                 f"missing {len(self.missing)}, shape mismatches {len(self.mismatched)}"]
        for title, items in (("unused source tensors", self.unused),
                             ("model weights not assigned", self.missing)):
            if items:
                lines.append(f"  {title}: " + ", ".join(items[:20])
                             + (f" ... (+{len(items) - 20})" if len(items) > 20 else ""))
        for name, expected, got in self.mismatched[:20]:
            lines.append(f"  shape mismatch {name}: model expects {expected}, source has {got}")
        return "\n".join(lines)


def model_weights(model) -> dict:
    """The model's variables by path (``"layer_name/kernel"``), trainable and not."""
    return {w.path: w for w in model.weights}


def assign_weights(model, weights: Mapping[str, np.ndarray], *, strict: bool = True,
                   skipped: Iterable[str] = (), allow_missing: Iterable[str] = (),
                   source: str = "") -> LoadReport:
    """Assign arrays to model variables by path.

    Args:
        model: a built Keras model.
        weights: variable path -> array, already in Keras layout.
        strict: raise :class:`WeightLoadError` unless every array is used, every weight
            assigned (except ``allow_missing``) and every shape matches. When False, assign
            what fits and return the report.
        skipped: source keys deliberately not converted (listed in the report as skipped).
        allow_missing: regular expressions of variable paths that may stay unassigned (e.g.
            partial initialisation of the first layers only).
        source: file name for error messages.

    Returns:
        The :class:`LoadReport`.
    """
    targets = model_weights(model)
    patterns = [re.compile(p) for p in allow_missing]
    report = LoadReport(skipped=sorted(skipped))
    pending = []
    for name, array in weights.items():
        if name not in targets:
            report.unused.append(name)
            continue
        array = np.asarray(array)
        expected = tuple(targets[name].shape)
        if tuple(array.shape) != expected:
            report.mismatched.append((name, expected, tuple(array.shape)))
            continue
        pending.append((name, array))
    assigned = {name for name, _ in pending}
    report.missing = [n for n in targets if n not in assigned and not any(p.search(n) for p in patterns)]
    if strict and not report.ok:
        raise WeightLoadError(report, source)
    for name, array in pending:
        targets[name].assign(array.astype(targets[name].dtype))
        report.loaded.append(name)
    return report


# --------------------------------------------------------------------------- layouts
def oihw_to_hwio(kernel: np.ndarray) -> np.ndarray:
    """PyTorch / Caffe conv kernel ``(O, I, kh, kw)`` -> Keras ``(kh, kw, I, O)``."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"conv kernel must be 4-D OIHW, got shape {kernel.shape}")
    return kernel.transpose(2, 3, 1, 0)


def depthwise_oihw_to_hwcm(kernel: np.ndarray, in_channels: int) -> np.ndarray:
    """PyTorch depthwise kernel ``(C * M, 1, kh, kw)`` -> Keras ``(kh, kw, C, M)``.

    Output channel ``o = c * M + m`` in PyTorch (``groups = C``).
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[1] != 1 or kernel.shape[0] % in_channels:
        raise ValueError(f"depthwise kernel must be (C*M, 1, kh, kw) with C={in_channels}, "
                         f"got shape {kernel.shape}")
    m = kernel.shape[0] // in_channels
    return kernel.reshape(in_channels, m, *kernel.shape[2:]).transpose(2, 3, 0, 1)


def linear_oi_to_io(kernel: np.ndarray) -> np.ndarray:
    """PyTorch ``Linear.weight`` ``(out, in)`` -> Keras ``Dense.kernel`` ``(in, out)``."""
    return np.asarray(kernel).T


def bgr_to_rgb(kernel_hwio: np.ndarray) -> np.ndarray:
    """Reverse the input-channel axis of a first-layer ``HWIO`` kernel (Caffe BGR -> RGB)."""
    kernel_hwio = np.asarray(kernel_hwio)
    if kernel_hwio.shape[2] != 3:
        raise ValueError(f"bgr_to_rgb needs 3 input channels, got kernel shape {kernel_hwio.shape}")
    return kernel_hwio[:, :, ::-1, :].copy()


#: PyTorch BatchNorm buffer/parameter suffix -> Keras BatchNormalization variable name.
TORCH_BATCHNORM = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                   "running_var": "moving_variance"}


def strip_prefix(state_dict: Mapping[str, np.ndarray], prefix: str = "module.") -> dict:
    """Remove a ``DataParallel``-style prefix from every key that has it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """Read a checkpoint as ``name -> numpy array``.

    ``.npz`` needs only numpy. ``.pth`` / ``.pt`` need PyTorch (``pip install torch``); a
    checkpoint dict with a ``state_dict`` entry is unwrapped.

    Raises:
        FileNotFoundError: the file does not exist.
        ImportError: a PyTorch file without PyTorch installed (the message says what to do).
        ValueError: an unsupported extension.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if ext in (".pth", ".pt"):
        try:
            import torch           # lazy and optional: only .pth files need it
        except ImportError as err:
            raise ImportError(
                f"{path} is a PyTorch checkpoint and reading it needs PyTorch, which is not "
                "installed. Install it (`pip install torch`) or convert the file to .npz on a "
                "machine that has it: np.savez(out, **{k: v.numpy() for k, v in sd.items()})."
            ) from err
        data = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
            data = data["state_dict"]
        return {k: v.detach().cpu().numpy() for k, v in data.items() if hasattr(v, "detach")}
    raise ValueError(f"unsupported checkpoint extension {ext!r} for {path}; use .npz, .pth or .pt")


def read_manifest(path: str) -> dict[str, dict]:
    """Parse ``weights/manifest.tsv`` (columns ``file, bytes, sha256, source``; empty = unknown)."""
    rows = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:3] != ["file", "bytes", "sha256"]:
            raise ValueError(f"{path}: expected the columns file, bytes, sha256, source; got {header}")
        for line in f:
            if line.strip():
                name, size, digest, source = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
                rows[name] = {"bytes": int(size) if size else None, "sha256": digest or None,
                              "source": source}
    return rows


def verify_file(path: str, expected_bytes: int | None = None, sha256: str | None = None):
    """Check a weight file's size and digest before parsing it; errors name file and values."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"weight file not found: {path} (see weights/README.md for where to get it)")
    size = os.path.getsize(path)
    if expected_bytes is not None and size != expected_bytes:
        raise ValueError(f"{path}: expected {expected_bytes:,} bytes, found {size:,} "
                         "(truncated download or a different release?)")
    if sha256 is not None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != sha256:
            raise ValueError(f"{path}: sha256 {h.hexdigest()} does not match the expected {sha256}")
