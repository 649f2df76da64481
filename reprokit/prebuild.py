"""Everything a compiled Keras model creates at its first train step, created before it.

Keras creates the optimizer slots and the loss and metric variables inside the first trace of
the train step; a ``tf.function`` that creates variables is traced a second time. Building them
first from the data's ``element_spec`` (shapes only) leaves one trace: the first training step
of the CV701 hourglass went from 22.2 s to 15.0 s on the 2-core CPU (issue 18,
docs/performance.md).

Keras's own ``Trainer._symbolic_build`` does this, but first runs the whole model symbolically
to learn the shapes of its outputs (0.8 s for the hourglass). A functional model already holds
them (``model.output``), so :func:`prebuild` skips that pass for one and uses Keras's for any
other model. Both paths use Keras internals (Keras 3.15: ``_symbolic_build``,
``_compile_loss``, ``_compile_metrics``, ``_compute_loss``); if they ever fail, training goes on
unchanged (it traces twice) and the failure is logged.
"""
from __future__ import annotations

import logging

import keras
from keras.src import backend as keras_backend   # compute_output_spec: no public equivalent

logger = logging.getLogger("reprokit")


def _symbolic(spec):
    return None if spec is None else keras.KerasTensor(spec.shape, spec.dtype.name)


def _unbuilt(container) -> bool:
    return container is not None and not container.built


def _functional_outputs(model):
    """``model.output`` as fresh symbolic tensors, or ``None`` (not a built functional model)."""
    if not model.built:
        return None
    try:
        outputs = model.output
    except (AttributeError, ValueError):      # a subclassed model has no symbolic output
        return None
    return keras.tree.map_structure(lambda t: keras.KerasTensor(t.shape, t.dtype), outputs)


def _lean_build(model, element_spec) -> bool:
    y_pred = _functional_outputs(model)
    if y_pred is None:
        return False
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
        keras.tree.map_structure(_symbolic, element_spec))
    if _unbuilt(model._compile_metrics):
        keras_backend.compute_output_spec(model.compute_metrics, x, y, y_pred,
                                          sample_weight=sample_weight)
    if _unbuilt(model._compile_loss):
        keras_backend.compute_output_spec(model._compute_loss, x, y, y_pred,
                                          sample_weight=sample_weight, training=False)
    return True


def prebuild(model: keras.Model, element_spec) -> bool:
    """Build the optimizer, loss and metric variables of a compiled ``model`` from the data's
    ``element_spec`` before the first train step (call it in the strategy scope the model was
    built in). Returns whether it ran; ``tests/reprokit/test_prebuild.py`` checks that the first
    step then creates no variable."""
    try:
        if not _lean_build(model, element_spec):
            model._symbolic_build(data_batch=element_spec)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        return True
    except Exception as err:   # noqa: BLE001 (a speed-up only: never fail training for it)
        logger.warning("could not pre-build %s before the first step (%s: %s); the first step "
                       "traces twice", model.name, type(err).__name__, err)
        return False
