"""Training runs: run directories, seeds, strategies, precision, and one ``fit`` for everything.

A run directory (docs/design.md, "Runs, data and scales") is ``runs/<time>-<name>/`` with
``config.json``, ``versions.json``, ``run.log``, ``metrics.jsonl``, ``history.csv``,
``tensorboard/``, ``checkpoints/`` (``backup/`` while running, ``best.weights.h5``,
``final.weights.h5``) and the results written by the reproduction.

Resuming: rerunning the same command finds the newest unfinished run directory with the same
name and identical ``config.json`` and continues it from its last backup.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import glob
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from reprokit import __version__
from reprokit import optimizers as fused
from reprokit.callbacks import (BestCheckpoint, MetricLogger, PeriodicValidation, RunBackup,
                                save_weights_atomic)
from reprokit.distribute import fit_in_strategy, get_strategy, split_cpu  # noqa: F401 (API)
from reprokit.execution import PRECISIONS, Execution, is_chief, worker_role
from reprokit.files import write_json_atomic
from reprokit.prebuild import prebuild  # noqa: F401 (API: reprokit.training.prebuild)
from reprokit.synthetic import is_synthetic

logger = logging.getLogger("reprokit")



def git_hash(path: str = ".") -> str | None:
    """The commit of the checkout at ``path`` (``+dirty`` when modified), or None."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=path, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def versions() -> dict:
    """Versions of everything that changes numbers: Python, TF, Keras, numpy, reprokit, git."""

    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "reprokit": __version__,
            "git": git_hash(os.path.dirname(os.path.abspath(__file__))),
            "devices": [d.name for d in tf.config.list_logical_devices()]}


@dataclasses.dataclass
class RunDir:
    """Paths of one run directory."""

    path: str

    def file(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    @property
    def checkpoints(self) -> str:
        return self.file("checkpoints")

    @property
    def finished(self) -> bool:
        return os.path.exists(self.file("DONE"))

    def mark_finished(self):
        with open(self.file("DONE"), "w", encoding="utf-8") as f:
            f.write(_dt.datetime.now().isoformat() + "\n")

    def record_data(self, path: str):
        """Write ``data.json``: the training data's location and whether it is synthetic
        (:func:`reprokit.synthetic.is_synthetic`); ``predict`` warns from it."""
        write_json_atomic(self.file("data.json"), {"path": os.path.abspath(str(path)),
                                                   "synthetic": is_synthetic(path)})

    def checkpoint(self) -> str:
        """The run's best, else final, weights (``checkpoints/*.weights.h5``)."""
        for name in ("best.weights.h5", "final.weights.h5"):
            path = self.file("checkpoints", name)
            if os.path.exists(path):
                return path
        raise FileNotFoundError(f"{self.path}: no checkpoints/best.weights.h5 or "
                                "final.weights.h5 (has the run finished an epoch?)")

    @property
    def synthetic_data(self) -> bool | None:
        """Whether the run trained on synthetic data (``None``: not recorded)."""
        path = self.file("data.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return bool(json.load(f).get("synthetic"))

    @property
    def train_seconds(self) -> float | None:
        """Training wall time of the finished run, summed over the processes that resumed it
        (``train_state.json``, written by :func:`fit`); ``None`` before it finishes."""
        path = self.file("train_state.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return float(json.load(f)["train_seconds"])


def find_run(name: str, config: dict, root: str = "runs", finished: bool = True) -> RunDir | None:
    """The newest run ``root/*-<name>`` with exactly this config that is finished (or, with
    ``finished=False``, unfinished); ``None`` if there is none. Lets a multi-phase job skip
    phases that already completed."""
    config_text = json.dumps(config, indent=2, sort_keys=True, default=str)
    for candidate in sorted(glob.glob(os.path.join(root, f"*-{name}")), reverse=True):
        cfg = os.path.join(candidate, "config.json")
        if os.path.exists(cfg) and os.path.exists(os.path.join(candidate, "DONE")) == finished:
            with open(cfg, encoding="utf-8") as f:
                if f.read() == config_text:
                    return RunDir(candidate)
    return None


def create_run_dir(name: str, config: dict, root: str = "runs", resume: bool = True) -> RunDir:
    """Create ``root/<time>-<name>/`` (or reuse an unfinished one with the same config).

    Args:
        name: run name, e.g. ``"hourglass-table1-hg2"``; must be a valid file name.
        config: JSON-serialisable configuration; written to ``config.json``.
        root: parent directory.
        resume: reuse the newest unfinished run with this name and an identical config.

    Returns:
        The :class:`RunDir`; ``run.log`` receives the ``reprokit`` logger's records.
    """
    if not name or os.sep in name:
        raise ValueError(f"run name must be a non-empty file name, got {name!r}")
    if not is_chief():
        # Multi-worker training: the chief writes the run; every other worker keeps its own
        # backups (to resume from) in a scratch folder beside it, so a shared file system
        # sees no concurrent writes to one file.
        kind, index = worker_role()
        root = os.path.join(root, ".workers", f"{kind}-{index}")
    config_text = json.dumps(config, indent=2, sort_keys=True, default=str)
    run = find_run(name, config, root, finished=False) if resume else None
    if run is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        run = RunDir(os.path.join(root, f"{stamp}-{name}"))
        os.makedirs(run.checkpoints, exist_ok=True)
        with open(run.file("config.json"), "w", encoding="utf-8") as f:
            f.write(config_text)
        with open(run.file("versions.json"), "w", encoding="utf-8") as f:
            json.dump(versions(), f, indent=2)
    _attach_log(run.file("run.log"))
    logger.info("run directory %s", run.path)
    return run


def _attach_log(path: str):
    root = logging.getLogger("reprokit")
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler) and getattr(handler, "_reprokit_run", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._reprokit_run = True
    root.addHandler(handler)


def set_seed(seed: int, deterministic_ops: bool = True):
    """Seed Python, numpy and TF (``keras.utils.set_random_seed``); optionally make TF ops
    deterministic (``tf.config.experimental.enable_op_determinism``, slower on GPU)."""
    keras.utils.set_random_seed(int(seed))
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()


def set_precision(policy: str = "float32"):
    """Set the Keras global dtype policy (call before building the model).

    ``mixed_bfloat16`` is 2.3x *slower* on CPUs without bf16 units (docs/reference/feasibility.md §3);
    use mixed precision on GPUs.
    """
    if policy not in PRECISIONS:
        raise ValueError(f"unknown precision {policy!r}; valid: {list(PRECISIONS)}")
    keras.mixed_precision.set_global_policy(policy)


#: The reference frameworks' optimizer settings where they differ from Keras' defaults. TF1
#: ``tf.train.AdamOptimizer`` (hand3d, tkuanlun) and PyTorch ``Adam``: beta 0.9 / 0.999, epsilon
#: 1e-8 (Keras: 1e-7). PyTorch ``RMSprop`` (anibali, CV701) and Torch7 ``optim.rmsprop`` (Varol):
#: alpha 0.99, epsilon 1e-8, no momentum (Keras: rho 0.9, epsilon 1e-7); docs/reference/hourglass.md
#: §7. TF1 ``MomentumOptimizer`` (hellochick ICNet): SGD with the given momentum.
OPTIMIZERS = {
    "adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "rmsprop": {"rho": 0.99, "epsilon": 1e-8, "momentum": 0.0},
    "sgd": {"momentum": 0.0},
}


def make_optimizer(name: str, learning_rate, *, momentum: float | None = None,
                   ema_momentum: float | None = None) -> keras.optimizers.Optimizer:
    """The one optimizer factory of every package, with the references' settings.

    Args:
        name: a key of :data:`OPTIMIZERS` (``"adam"``, ``"rmsprop"``, ``"sgd"``).
        learning_rate: a float or a ``LearningRateSchedule`` (``reprokit.callbacks``).
        momentum: SGD momentum (ICNet: 0.9, hellochick ``train.py``); not used by the others.
        ema_momentum: keep an exponential moving average of the weights with this momentum
            (tkuanlun's SegNet evaluates its 0.9999 average); ``None``: no average.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {sorted(OPTIMIZERS)}")
    kwargs = dict(OPTIMIZERS[name])
    if momentum is not None:
        if name != "sgd":
            raise ValueError(f"momentum is an SGD setting; {name!r} uses its reference's value")
        kwargs["momentum"] = float(momentum)
    if ema_momentum is not None:
        kwargs.update(use_ema=True, ema_momentum=float(ema_momentum))
    # Keras's optimizers with one fused kernel per variable (reprokit.optimizers: the same
    # maths, half the train step's graph for the hourglass, issue 18)
    cls = {"adam": fused.FusedAdam, "rmsprop": fused.FusedRMSprop, "sgd": fused.FusedSGD}[name]
    return cls(learning_rate, **kwargs)


def fit(build_fn: Callable[[], keras.Model], compile_fn: Callable[[keras.Model], None],
        train_data, run: RunDir, *, epochs: int, steps_per_epoch: int,
        execution: Execution | None = None, validation: PeriodicValidation | None = None,
        monitor: str | None = None, monitor_mode: str = "max", log_every_n_steps: int = 10,
        extra_callbacks: Sequence[keras.callbacks.Callback] = (), tensorboard: bool = True,
        verbose: int | str = "auto"):
    """Build, compile and train a model under one strategy scope, with resume and logging.

    Args:
        build_fn: returns the model (called inside the strategy scope).
        compile_fn: ``compile_fn(model)`` calls ``model.compile(...)`` (optimizer, loss,
            ``jit_compile``), also inside the scope.
        train_data: a repeating ``tf.data.Dataset`` (steps are counted by ``steps_per_epoch``).
        run: the run directory.
        epochs: number of epochs of ``steps_per_epoch`` steps each. Keep epochs short:
            an interrupted run resumes at the start of the interrupted epoch from the backup
            taken at the end of the previous one (backups are taken at epoch ends,
            docs/reference/feasibility.md §2), so it ends with the same number of
            optimizer steps as an uninterrupted run; the data order after a resume differs.
        execution: strategy, precision, XLA and steps per execution
            (:class:`reprokit.execution.Execution`; default: this process's,
            ``Execution.current()``); written to ``execution.json``.
        validation: optional periodic task-metric callback.
        monitor: log key for ``best.weights.h5`` (e.g. ``"val_PCKh"``).
        monitor_mode: ``"max"`` or ``"min"``.
        log_every_n_steps: period of ``"train"`` lines in ``metrics.jsonl``.
        extra_callbacks: e.g. ``BatchNormPhase``.
        tensorboard: also write TensorBoard logs.
        verbose: Keras progress bar setting.

    Returns:
        ``(model, history)``; ``final.weights.h5`` is written (atomically), the run marked
        finished, its training time summed over every process that worked on it written to
        ``train_state.json`` (:attr:`RunDir.train_seconds`), and the backups removed.

    Backups: :class:`reprokit.callbacks.RunBackup` (atomic, two kept, a damaged one is
    reported and the next older used).
    """
    start = time.perf_counter()
    execution = execution or Execution.current()
    strat = get_strategy(execution.strategy)
    previous_policy = keras.mixed_precision.global_policy().name
    set_precision(execution.precision)
    try:
        with strat.scope():
            model = build_fn()
            compile_fn(model)
    finally:
        set_precision(previous_policy)
    execution.apply(model)
    with strat.scope():
        prebuild(model, train_data.element_spec)
    _record_execution(run, execution, strat)
    log = MetricLogger(run.file("metrics.jsonl"), log_every_n_steps)
    backup = RunBackup(os.path.join(run.checkpoints, "backup"), epochs, run.path, start)
    callbacks = [backup, keras.callbacks.TerminateOnNaN()]
    if validation is not None:
        validation.logger = validation.logger or log
        callbacks.append(validation)
    callbacks += [log, keras.callbacks.CSVLogger(run.file("history.csv"), append=True)]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(run.file("tensorboard"), update_freq="epoch"))
    if monitor:
        callbacks.append(BestCheckpoint(run.checkpoints, monitor, monitor_mode))
    callbacks += list(extra_callbacks)
    logger.info("training %s for %d epochs x %d steps (%s)", model.name, epochs,
                steps_per_epoch, execution)
    history = fit_in_strategy(model, strat, execution.strategy, train_data, epochs=epochs,
                              steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                              verbose=verbose, shuffle=False)
    if history.epoch and history.epoch[0] > 0:
        logger.info("resumed at epoch %d", history.epoch[0])
    if model.stop_training:
        logger.error("training stopped early (TerminateOnNaN or another callback)")
    save_weights_atomic(model, os.path.join(run.checkpoints, "final.weights.h5"))
    write_json_atomic(run.file("train_state.json"),
                      {"train_seconds": backup.train_seconds, "epochs": epochs,
                       "steps": int(model.optimizer.iterations.numpy()),
                       "resumed_at_epoch": backup.resumed_epoch})
    run.mark_finished()
    shutil.rmtree(os.path.join(run.checkpoints, "backup"), ignore_errors=True)
    return model, history


def _record_execution(run: RunDir, execution: Execution, strat):
    """Append this process's execution settings and replicas to ``execution.json``."""
    path = run.file("execution.json")
    sessions = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            sessions = json.load(f)
    kind, index = worker_role()
    sessions.append({**execution.to_dict(), "replicas": int(strat.num_replicas_in_sync),
                     "task": None if kind is None else f"{kind}:{index}",
                     "time": _dt.datetime.now().isoformat(timespec="seconds")})
    write_json_atomic(path, sessions)


def add_weight_decay(model: keras.Model, rate: float, layer_types=(keras.layers.Conv2D,),
                     attribute: str = "kernel") -> int:
    """Add TF1-style weight decay ``rate * tf.nn.l2_loss(w)`` (= ``rate/2 * sum(w**2)``) on the
    ``attribute`` weight of every layer of ``layer_types``, as a regulariser on the variable
    (it enters ``model.losses``, so it goes through the optimizer's momentum as it did in the
    TF1 references; Keras' ``weight_decay`` optimizer argument is decoupled and would not).

    Returns:
        How many weights got the decay.
    """
    reg = keras.regularizers.L2(rate / 2.0)
    n = 0
    for layer in model._flatten_layers(include_self=False):
        w = getattr(layer, attribute, None) if isinstance(layer, tuple(layer_types)) else None
        if w is not None:
            w.regularizer = reg
            n += 1
    if n == 0:
        raise ValueError(f"{model.name} has no {[t.__name__ for t in layer_types]} layers with "
                         f"a {attribute!r} weight")
    return n
