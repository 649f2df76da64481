"""After reprokit's prebuild, the first training step creates no variable (so its tf.function
traces once), for a functional model (the lean path) and a subclassed one (Keras's path)."""
import keras
import numpy as np
import tensorflow as tf

from reprokit.prebuild import prebuild
from reprokit.training import make_optimizer


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def _functional():
    x = keras.Input((5,))
    return keras.Model(x, [keras.layers.Dense(3, name="a")(x), keras.layers.Dense(2, name="b")(x)])


def _count(model):
    return len(model.variables) + len(model.optimizer.variables) + len(model.metrics_variables)


def _check(model, x, y, loss, metrics):
    model.compile(make_optimizer("adam", 1e-3), loss=loss, metrics=metrics)
    spec = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, tf.float32), (x, y))
    assert prebuild(model, spec)
    before = _count(model)
    model.train_on_batch(x, y)
    assert _count(model) == before


def test_functional_model_needs_no_variable_at_the_first_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype("float32")
    y = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 2)).astype("float32")]
    _check(_functional(), x, y, ["mse", "mae"], [["mae"], ["mse"]])


def test_subclassed_model_needs_no_variable_at_the_first_step():
    rng = np.random.default_rng(0)
    _check(Subclassed(), rng.normal(size=(4, 5)).astype("float32"),
           rng.normal(size=(4, 3)).astype("float32"), "mse", ["mae"])
