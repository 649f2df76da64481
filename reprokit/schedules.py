"""Learning-rate schedules of the reproduced papers, as Keras ``LearningRateSchedule`` subclasses.

They are functions of the optimizer step (``optimizer.iterations``, 0-based), so they resume
exactly with the optimizer state; each is registered for ``.keras`` saving.
"""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="reprokit")
class StepDecayByEpoch(keras.optimizers.schedules.LearningRateSchedule):
    """``lr = initial * gamma ** (number of decay epochs <= current epoch)``.

    The current epoch is ``step // steps_per_epoch`` (0-based). This is anibali's
    ``adjust_learning_rate`` (``lr *= gamma`` at the start of every epoch in ``--schedule``);
    CV701 ran ``--lr 1e-3 --schedule 15 17 --gamma 0.1`` (docs/reference/hourglass.md §2.2).
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
    """``values[i]`` while ``boundaries[i-1] <= step < boundaries[i]`` (0-based optimizer step).

    hand3d's own ``LearningRateScheduler.get_lr`` (``utils/general.py``; HandSegNet boundaries
    (20000, 30000), values (1e-5, 1e-6, 1e-7), docs/reference/handpose.md §3): ``step < s0``,
    ``s0 <= step < s1``, ``step >= s1``; executed, it gives 1e-5 at step 20000. princeton-vl
    changes its learning rate when ``batch_id == decay_iters``, before that step: the same rule.

    Deviations:
        hand3d's two-value case uses ``step > s0`` (its scripts always pass three values).
        ``tf.compat.v1.train.piecewise_constant`` (``boundary < step``) is one step later at
        each boundary; an earlier version of this class followed it.
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
        index = tf.reduce_sum(tf.cast(step >= tf.constant(self.boundaries or (2 ** 62,), tf.int64), tf.int32))
        return tf.gather(tf.constant(self.values, tf.float32), index)

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


@keras.saving.register_keras_serializable(package="reprokit")
class PolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``lr = (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``.

    ICNet's "poly" policy with ``power=0.9`` and ``end=0`` (hellochick ``train.py``;
    docs/reference/segmentation.md §G). ``restart_every`` restarts the decay every that many steps
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


__all__ = ["PiecewiseConstantByIteration", "PolynomialDecay", "StepDecayByEpoch"]
