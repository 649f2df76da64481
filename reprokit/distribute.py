"""``tf.distribute`` for the training spine: the strategies of ``--strategy`` and the two
Keras 3 multi-worker problems worked around here, in one place.

``--batch-size`` is always the global batch: each step splits it over the replicas, so one
worker and N workers take the same optimizer steps on the same batches
(tests/reprokit/test_multi_worker.py).
"""
from __future__ import annotations

import contextlib

import tensorflow as tf

from reprokit.execution import STRATEGIES


def split_cpu(num_devices: int):
    """Expose ``num_devices`` logical CPUs (for the mirrored strategy on a CPU-only machine).

    Must run before TensorFlow initialises its devices (before any op executes).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * int(num_devices))


_STRATEGIES: dict = {}


def get_strategy(name: str = "default"):
    """The ``tf.distribute`` strategy every model is built and trained under.

    ``default``: the current (single-device) strategy. ``mirrored``: synchronous data
    parallelism over the local GPUs (or logical CPUs, see :func:`split_cpu`).
    ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the machines of ``TF_CONFIG`` (README,
    "Several GPUs and machines"); created once per process (collectives are configured once).
    The batch size of every train command is the global batch: each step splits it over the
    replicas, so one worker and N workers take the same optimizer steps on the same batches.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid: {list(STRATEGIES)}")
    if name not in _STRATEGIES:
        if name == "mirrored":
            gpus = tf.config.list_logical_devices("GPU")
            devices = ([d.name for d in gpus]
                       or [d.name for d in tf.config.list_logical_devices("CPU")])
            _STRATEGIES[name] = tf.distribute.MirroredStrategy(devices)
        else:
            try:
                _STRATEGIES[name] = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as err:
                raise RuntimeError(f"{err}: call reprokit.training.get_strategy('multi_worker') "
                                   "at the start of the program, before any TensorFlow op "
                                   "(the train commands do this for --strategy multi_worker)") from None
    return _STRATEGIES[name]


@contextlib.contextmanager
def _scalar_mean_across_workers():
    """Keras 3.15's multi-worker reduction of the train step's logs reduces a scalar along
    axis 0 and fails (``Invalid reduction dimension 0 for input with 0 dimensions``); while
    this is active, scalar logs are averaged over the replicas instead (what the single-worker
    reduction computes). Patches one private Keras function for the duration of ``fit``."""
    from keras.src.backend.tensorflow import trainer as tf_trainer   # lazy: private module, patched only here

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or isinstance(strategy, tf.distribute.TPUStrategy):
            return original(values, strategy, reduction)

        def mean(v):
            if not isinstance(v, tf.distribute.DistributedValues):
                return v
            rank = strategy.experimental_local_results(v)[0].shape.rank
            return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)
        return tf.nest.map_structure(mean, values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original


def fit_in_strategy(model, strat, name: str, data, **fit_kwargs):
    """``model.fit(data, **fit_kwargs)`` for a model built in ``strat.scope()``.

    ``multi_worker``: Keras 3 reduces the first distributed batch eagerly to build the model,
    which ``MultiWorkerMirroredStrategy`` cannot do (keras-team/keras#20585); the model is
    already built, so it is fitted inside the scope, where Keras finds the strategy without
    that step, and the logs are averaged over the replicas (:func:`_scalar_mean_across_workers`).
    """
    if name != "multi_worker":
        return model.fit(data, **fit_kwargs)
    model._distribute_strategy = None
    with strat.scope(), _scalar_mean_across_workers():
        return model.fit(data, **fit_kwargs)


__all__ = ["fit_in_strategy", "get_strategy", "split_cpu"]
