"""Keras callbacks shared by every training run: logging, periodic validation, atomic backups
and resume, the best checkpoint, ICNet's BN phase. The learning-rate schedules are in
:mod:`reprokit.schedules`.
"""
from __future__ import annotations

import glob
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Callable

import keras
import numpy as np

from reprokit.files import write_json_atomic
from reprokit.layers import SwitchableBatchNormalization

logger = logging.getLogger("reprokit")


# --------------------------------------------------------------------------- logging
def _to_builtin(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "numpy"):
        return _to_builtin(value.numpy())
    return value


def _step(model) -> int:
    return int(model.optimizer.iterations.numpy()) if model.optimizer is not None else 0


class MetricLogger(keras.callbacks.Callback):
    """Appends metrics to ``metrics.jsonl``: every ``every_n_steps`` steps and at each epoch end.

    Each line is ``{"kind": "train"|"epoch"|"val", "step", "epoch", "time", ...metrics}``. Lines
    are flushed immediately, so an interrupted run loses nothing already logged; a resumed run
    appends to the same file.
    """

    def __init__(self, path: str, every_n_steps: int = 10):
        super().__init__()
        self.path, self.every_n_steps = path, max(1, int(every_n_steps))
        self._epoch = 0

    def write(self, kind: str, values: dict, step: int | None = None):
        record = {"kind": kind, "step": _step(self.model) if step is None else step,
                  "epoch": self._epoch, "time": round(time.time(), 3)}
        record.update({k: _to_builtin(v) for k, v in values.items()})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step % self.every_n_steps == 0:
            lr = self.model.optimizer.learning_rate
            lr = lr.numpy() if hasattr(lr, "numpy") else lr
            self.write("train", {**(logs or {}), "learning_rate": float(lr)}, step)

    def on_epoch_end(self, epoch, logs=None):
        self.write("epoch", logs or {})


class PeriodicValidation(keras.callbacks.Callback):
    """Runs a task metric every ``every_n_steps`` optimizer steps and at every epoch end.

    Args:
        evaluate_fn: ``f(model) -> dict[str, float]`` computing the paper's metric (e.g. decode
            heatmaps with the codec and call ``reprokit.metrics.pckh``).
        every_n_steps: validation period in steps; ``None`` = only at epoch ends.
        logger: optional :class:`MetricLogger` that receives ``"val"`` records.
        prefix: prepended to metric names in Keras logs (so ``BestCheckpoint`` can monitor them).
    """

    def __init__(self, evaluate_fn: Callable, every_n_steps: int | None = None,
                 logger: MetricLogger | None = None, prefix: str = "val_"):
        super().__init__()
        self.evaluate_fn, self.every_n_steps, self.logger, self.prefix = (
            evaluate_fn, every_n_steps, logger, prefix)
        self.latest: dict = {}
        self._last_step = -1

    def _run(self, logs):
        step = _step(self.model)
        if step != self._last_step:
            results = self.evaluate_fn(self.model)
            self.latest = {self.prefix + k: float(v) for k, v in results.items()}
            self._last_step = step
            if self.logger is not None:
                self.logger.write("val", self.latest, step)
        if logs is not None:
            logs.update(self.latest)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps and _step(self.model) % self.every_n_steps == 0:
            self._run(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._run(logs)


def save_weights_atomic(model, path: str):
    """``model.save_weights(path)`` that never leaves a half-written file at ``path``: the
    weights go to a temporary ``.weights.h5`` beside it, then ``os.replace`` puts it in place
    (atomic on one filesystem), so a kill during the write keeps the previous file."""
    directory, name = os.path.split(os.path.abspath(path))
    if not name.endswith(".weights.h5"):
        raise ValueError(f"Keras weight files end in .weights.h5, got {path!r}")
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class RunBackup(keras.callbacks.Callback):
    """End-of-epoch backups that a kill cannot damage, and a resume that survives a damaged one.

    Each backup is a directory ``<directory>/epoch-NNNNNN/`` holding ``weights.weights.h5``
    (model and optimizer variables) and ``state.json`` (next epoch, optimizer step, training
    seconds so far). It is written under a temporary name and renamed into place when complete,
    so a process killed while writing leaves the previous backups intact (the temporary
    directory is removed on the next start); the two newest complete backups are kept.

    On ``on_train_begin`` the newest backup is loaded; a backup whose files cannot be read, or
    whose optimizer step disagrees with its state, is reported with its path and the next older
    one is tried; with none usable the run starts over from epoch 0, saying so (never a crash).
    What was resumed is printed: ``resuming <run> at epoch N of M``.

    Replaces Keras' ``BackupAndRestore``, which writes in place: a kill during its first write
    left a file every rerun failed to open (h5py ``OSError`` naming no file), and a kill
    between its weights and its metadata write paired them from different epochs.

    Args:
        directory: the backup folder (``checkpoints/backup`` of a run).
        epochs: the run's epoch count (for the message).
        label: the run's name or path (for the message).
        start_time: ``time.perf_counter()`` when this process's work on the run began
            (defaults to now); ``train_seconds`` adds the restored backup's seconds to the time
            since then.
    """

    KEEP = 2
    WEIGHTS = "weights.weights.h5"

    def __init__(self, directory: str, epochs: int, label: str = "",
                 start_time: float | None = None):
        super().__init__()
        self.directory, self.epochs, self.label = directory, int(epochs), label or directory
        self.start_time = time.perf_counter() if start_time is None else start_time
        self.restored_seconds = 0.0
        self.resumed_epoch = 0

    @property
    def train_seconds(self) -> float:
        """Seconds of training behind the model now: restored + this process since start."""
        return self.restored_seconds + time.perf_counter() - self.start_time

    def backups(self) -> list[tuple[int, str]]:
        """Complete backups as ``(next epoch, path)``, newest first."""
        found = []
        for path in glob.glob(os.path.join(self.directory, "epoch-*")):
            suffix = os.path.basename(path)[len("epoch-"):]
            if suffix.isdigit():
                found.append((int(suffix), path))
        return sorted(found, reverse=True)

    def _say(self, level, message):
        logger.log(level, message)
        print(message, file=sys.stderr, flush=True)

    def on_train_begin(self, logs=None):
        for stale in glob.glob(os.path.join(self.directory, "tmp-*")):
            self._say(logging.WARNING, f"removing {stale}: a backup whose writing was "
                                       "interrupted (the previous backups are intact)")
            shutil.rmtree(stale, ignore_errors=True)
        candidates = self.backups()
        if not candidates:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        variables = list(self.model.weights) + (list(optimizer.variables) if optimizer else [])
        initial = [v.numpy() for v in variables]
        for epoch, path in candidates:
            try:
                with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
                    state = json.load(f)
                self.model.load_weights(os.path.join(path, self.WEIGHTS))
                step = _step(self.model)
                if step != int(state["step"]) or int(state["epoch"]) != epoch:
                    raise ValueError(f"optimizer step {step} / epoch {epoch} do not match the "
                                     f"state file (step {state['step']}, epoch {state['epoch']})")
            except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
                self._say(logging.WARNING, f"backup {path} is damaged ({type(err).__name__}: "
                                           f"{err}); trying an older one")
                for v, value in zip(variables, initial):
                    v.assign(value)
                continue
            self.model._initial_epoch = epoch
            self.resumed_epoch = epoch
            self.restored_seconds = float(state.get("train_seconds", 0.0))
            self._say(logging.INFO, f"resuming {self.label} at epoch {epoch} of {self.epochs} "
                                    f"(step {step}, backup {path})")
            return
        self._say(logging.WARNING, f"no usable backup in {self.directory}: starting {self.label} "
                                   "over from epoch 0")

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="tmp-", dir=self.directory)
        self.model.save_weights(os.path.join(tmp, self.WEIGHTS))
        write_json_atomic(os.path.join(tmp, "state.json"),
                          {"epoch": epoch + 1, "step": _step(self.model),
                           "train_seconds": self.train_seconds})
        final = os.path.join(self.directory, f"epoch-{epoch + 1:06d}")
        if os.path.exists(final):            # the same epoch again after a resume: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        for _, old in self.backups()[self.KEEP:]:
            shutil.rmtree(old, ignore_errors=True)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves ``best.weights.h5`` whenever ``monitor`` improves (checked at epoch ends).

    The best value is kept in ``best.json`` beside the weights, so a resumed run does not
    overwrite a better checkpoint from before the interruption.
    """

    def __init__(self, directory: str, monitor: str, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.directory, self.monitor, self.mode = directory, monitor, mode
        self.weights_path = os.path.join(directory, "best.weights.h5")
        self.state_path = os.path.join(directory, "best.json")
        self.best = None
        if os.path.exists(self.state_path):
            with open(self.state_path, encoding="utf-8") as f:
                self.best = json.load(f)["value"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        value = float(value)
        better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        if better:
            os.makedirs(self.directory, exist_ok=True)
            save_weights_atomic(self.model, self.weights_path)
            self.best = value
            write_json_atomic(self.state_path, {"monitor": self.monitor, "value": value,
                                                "epoch": epoch, "step": _step(self.model)})


class BatchNormPhase(keras.callbacks.Callback):
    """Two-phase BatchNorm: switches of every ``SwitchableBatchNormalization`` before/after a step.

    Before ``release_step`` the layers use ``update_moving_stats=before[0]`` and
    ``train_affine=before[1]``; from ``release_step`` on both are True. ICNet: frozen for the
    first 20k of 40k steps (docs/reference/segmentation.md §G). The phase is derived from the
    optimizer step, so a resumed run lands in the right phase.
    """

    def __init__(self, release_step: int, before: tuple[bool, bool] = (False, False)):
        super().__init__()
        self.release_step, self.before = int(release_step), tuple(before)
        self._released = None

    def _layers(self):
        layers = [l for l in self.model._flatten_layers() if isinstance(l, SwitchableBatchNormalization)]
        if not layers:
            raise ValueError("BatchNormPhase needs SwitchableBatchNormalization layers; the model has none")
        return layers

    def _apply(self):
        released = _step(self.model) >= self.release_step
        if released != self._released:
            update, affine = (True, True) if released else self.before
            for layer in self._layers():
                layer.set_switches(update, affine)
            self._released = released

    def on_train_begin(self, logs=None):
        self._apply()

    def on_train_batch_begin(self, batch, logs=None):
        self._apply()


__all__ = ["BatchNormPhase", "BestCheckpoint", "MetricLogger", "PeriodicValidation",
           "RunBackup", "save_weights_atomic"]
