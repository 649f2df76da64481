"""Keras callbacks and learning-rate schedules shared by every training run.

Schedules are ``keras.optimizers.schedules.LearningRateSchedule`` subclasses of the optimizer
step (``optimizer.iterations``, 0-based), so they resume exactly with the optimizer state.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from reprokit.layers import SwitchableBatchNormalization


# --------------------------------------------------------------------------- schedules
@keras.saving.register_keras_serializable(package="reprokit")
class StepDecayByEpoch(keras.optimizers.schedules.LearningRateSchedule):
    """``lr = initial * gamma ** (number of decay epochs <= current epoch)``.

    The current epoch is ``step // steps_per_epoch`` (0-based). This is anibali's
    ``adjust_learning_rate`` (``lr *= gamma`` at the start of every epoch in ``--schedule``);
    CV701 ran ``--lr 1e-3 --schedule 15 17 --gamma 0.1`` (reference/hourglass.md §2.2).
    """

    def __init__(self, initial_learning_rate: float, steps_per_epoch: int,
                 decay_epochs: Sequence[int] = (15, 17), gamma: float = 0.1):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch!r}")
        self.initial_learning_rate, self.steps_per_epoch = float(initial_learning_rate), int(steps_per_epoch)
        self.decay_epochs, self.gamma = tuple(int(e) for e in decay_epochs), float(gamma)

    def __call__(self, step):
        epoch = tf.cast(step, tf.int64) // self.steps_per_epoch
        n = tf.reduce_sum(tf.cast(epoch >= tf.constant(self.decay_epochs or (2 ** 62,), tf.int64),
                                  tf.float32))
        return self.initial_learning_rate * tf.pow(self.gamma, n)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "steps_per_epoch": self.steps_per_epoch, "decay_epochs": list(self.decay_epochs),
                "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="reprokit")
class PiecewiseConstantByIteration(keras.optimizers.schedules.LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``.

    The semantics of ``tf.compat.v1.train.piecewise_constant`` used by hand3d's training scripts
    (HandSegNet: boundaries (20000, 30000), values (1e-5, 1e-6, 1e-7); reference/handpose.md §3).
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"need len(values) == len(boundaries) + 1, got {len(values)} values "
                             f"for {len(boundaries)} boundaries")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"boundaries must be increasing, got {list(boundaries)}")
        self.boundaries, self.values = tuple(int(b) for b in boundaries), tuple(float(v) for v in values)

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        index = tf.reduce_sum(tf.cast(step > tf.constant(self.boundaries or (2 ** 62,), tf.int64), tf.int32))
        return tf.gather(tf.constant(self.values, tf.float32), index)

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


@keras.saving.register_keras_serializable(package="reprokit")
class PolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``lr = (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``.

    ICNet's "poly" policy with ``power=0.9`` and ``end=0`` (hellochick ``train.py``;
    reference/segmentation.md §G). ``restart_every`` restarts the decay every that many steps
    (hellochick's two invocations of ``train.py`` for the two BN phases).
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0,
                 power: float = 0.9, restart_every: int | None = None):
        if decay_steps < 1:
            raise ValueError(f"decay_steps must be >= 1, got {decay_steps!r}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), int(decay_steps)
        self.end_learning_rate, self.power, self.restart_every = float(end_learning_rate), float(power), restart_every

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.restart_every:
            step = tf.math.floormod(step, float(self.restart_every))
        frac = 1.0 - tf.minimum(step, float(self.decay_steps)) / float(self.decay_steps)
        return (self.initial_learning_rate - self.end_learning_rate) * tf.pow(frac, self.power) + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power,
                "restart_every": self.restart_every}


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
            self.model.save_weights(self.weights_path)
            self.best = value
            with open(self.state_path, "w", encoding="utf-8") as f:
                json.dump({"monitor": self.monitor, "value": value, "epoch": epoch,
                           "step": _step(self.model)}, f)


class BatchNormPhase(keras.callbacks.Callback):
    """Two-phase BatchNorm: switches of every ``SwitchableBatchNormalization`` before/after a step.

    Before ``release_step`` the layers use ``update_moving_stats=before[0]`` and
    ``train_affine=before[1]``; from ``release_step`` on both are True. ICNet: frozen for the
    first 20k of 40k steps (reference/segmentation.md §G). The phase is derived from the
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
           "PiecewiseConstantByIteration", "PolynomialDecay", "StepDecayByEpoch"]
