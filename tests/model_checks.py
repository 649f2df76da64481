"""One model test for every builder of every package (tiny configurations, seconds each).

:func:`check_model` runs the checks a user's workflow depends on: an eager call, a
``get_config`` / ``from_config`` clone with the same weights, a ``.keras`` save and load, layer
names kept, ``predict`` on a ``tf.data.Dataset``, one ``fit`` step that changes the weights, and
the exact trainable parameter count when one is given. Outputs must agree within 1e-5.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _as_list(out):
    if isinstance(out, dict):                      # named outputs, in a fixed order
        out = [out[k] for k in sorted(out)]
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def check_model(model: keras.Model, tmp_path, batch: int = 2, trainable: int | None = None):
    """Run the shared checks on ``model`` (see the module docstring); returns the eager outputs.

    Args:
        tmp_path: a folder for the ``.keras`` file.
        batch: batch size of the random inputs.
        trainable: expected number of trainable parameters, if known.

    Calls use ``training=False`` (BatchNorm on its moving statistics), so the outputs compare.
    """
    shape = tuple(model.input_shape[1:])
    assert None not in shape, f"{model.name}: check_model needs a static input shape, got {shape}"
    x = np.random.default_rng(0).uniform(0, 1, (batch, *shape)).astype("float32")
    out = _as_list(model(x, training=False))
    assert all(np.all(np.isfinite(o)) for o in out), f"{model.name}: non-finite outputs"

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    for a, b in zip(_as_list(clone(x, training=False)), out):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"{model.name}: from_config clone")

    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    for a, b in zip(_as_list(again(x, training=False)), out):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"{model.name}: .keras round trip")

    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch)
    predicted = _as_list(model.predict(ds, verbose=0))
    for a, b in zip(predicted, out):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"{model.name}: predict on a Dataset")

    targets = [np.zeros_like(o) for o in out]
    if isinstance(model.output, dict):
        names = sorted(model.output)
        model.compile(keras.optimizers.SGD(1e-3), loss={k: "mse" for k in names})
        y = dict(zip(names, targets))
    else:
        model.compile(keras.optimizers.SGD(1e-3), loss=["mse"] * len(out) if len(out) > 1 else "mse")
        y = targets if len(out) > 1 else targets[0]
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    changed = sum(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    assert changed > 0, f"{model.name}: one fit step changed no weight"

    if trainable is not None:
        count = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert count == trainable, f"{model.name}: {count:,} trainable parameters, expected {trainable:,}"
    return out
