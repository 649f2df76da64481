"""The fused optimizers compute what Keras's Adam, RMSprop and SGD compute (issue 18: the same
update in one kernel per variable), eagerly and in a traced step, with Keras's extras
(clipping, weight decay) and its own code for what the kernels do not cover; and they shrink
the train step's graph."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from reprokit.optimizers import FusedAdam, FusedRMSprop, FusedSGD
from reprokit.training import make_optimizer

SHAPES = [(3, 3, 4, 5), (5,), (7, 2)]
CASES = [
    (FusedAdam, keras.optimizers.Adam, {}),
    (FusedAdam, keras.optimizers.Adam, {"weight_decay": 0.01, "clipnorm": 1.0}),
    (FusedAdam, keras.optimizers.Adam, {"amsgrad": True}),              # Keras's own code
    (FusedRMSprop, keras.optimizers.RMSprop, {"rho": 0.99, "epsilon": 1e-8}),
    (FusedRMSprop, keras.optimizers.RMSprop, {"momentum": 0.9}),
    (FusedRMSprop, keras.optimizers.RMSprop, {"centered": True}),      # Keras's own code
    (FusedSGD, keras.optimizers.SGD, {}),
    (FusedSGD, keras.optimizers.SGD, {"momentum": 0.9}),
    (FusedSGD, keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
]


def _train(opt, traced: bool, steps: int = 6):
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    opt.build(variables)

    def step(grads):
        opt.apply(grads, variables)

    step = tf.function(step) if traced else step
    for _ in range(steps):
        step([tf.constant(rng.normal(size=s).astype("float32")) for s in SHAPES])
    return [v.numpy() for v in variables], [v.numpy() for v in opt.variables]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fused_cls,keras_cls,kwargs", CASES)
def test_fused_equals_keras(fused_cls, keras_cls, kwargs, traced):
    weights, slots = _train(fused_cls(1e-2, **kwargs), traced)
    ref_weights, ref_slots = _train(keras_cls(1e-2, **kwargs), traced)
    assert len(slots) == len(ref_slots)        # the same checkpointed state
    for a, b in zip(weights + slots, ref_weights + ref_slots):
        # float rounding only (the kernels order some products differently)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_factory_uses_them_and_they_serialize():
    for name, cls in [("adam", FusedAdam), ("rmsprop", FusedRMSprop), ("sgd", FusedSGD)]:
        opt = make_optimizer(name, 1e-3)
        assert type(opt) is cls
        again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
        assert type(again) is cls and again.get_config() == opt.get_config()


def _graph_size(opt) -> int:
    model = keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(4) for _ in range(10)])
    model.compile(opt, loss="mse")
    model.optimizer.build(model.trainable_variables)
    x, y = tf.zeros((2, 4)), tf.zeros((2, 4))
    graph = tf.function(model.train_step).get_concrete_function((x, y)).graph
    return len(graph.get_operations())


def test_fused_update_is_a_smaller_graph():
    # 20 variables: Keras's RMSprop adds ~17 nodes per variable, the fused one ~4
    fused, plain = _graph_size(FusedRMSprop(1e-3)), _graph_size(keras.optimizers.RMSprop(1e-3))
    assert plain - fused > 20 * 10, (plain, fused)
