import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from reprokit.callbacks import BatchNormPhase, BestCheckpoint, MetricLogger, PeriodicValidation
from reprokit.schedules import PiecewiseConstantByIteration, PolynomialDecay, StepDecayByEpoch
from reprokit.layers import SwitchableBatchNormalization


def _values(schedule, steps):
    return [float(schedule(s)) for s in steps]


def test_step_decay_by_epoch_value_by_value():
    # CV701: lr 1e-3, x0.1 at epochs 15 and 17 (docs/reference/hourglass.md §2.2); 10 steps/epoch
    s = StepDecayByEpoch(1e-3, 10, (15, 17), 0.1)
    got = _values(s, [0, 149, 150, 169, 170, 199, 10_000])
    np.testing.assert_allclose(got, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5], rtol=1e-6)


def test_piecewise_by_iteration_equals_hand3d_learning_rate_scheduler():
    # hand3d's own LearningRateScheduler executed (TF1 graph, ../shared/parity's hand3d copy)
    # at these steps: 1e-5 up to 19999, 1e-6 from 20000, 1e-7 from 30000
    s = PiecewiseConstantByIteration([20000, 30000], [1e-5, 1e-6, 1e-7])
    steps = [0, 1, 9999, 10000, 19999, 20000, 20001, 29999, 30000, 30001]
    hand3d = [1e-5, 1e-5, 1e-5, 1e-5, 1e-5, 1e-6, 1e-6, 1e-6, 1e-7, 1e-7]
    np.testing.assert_allclose(_values(s, steps), hand3d, rtol=1e-6)
    p = PiecewiseConstantByIteration([10000, 20000], [1e-4, 1e-5, 1e-6])      # PoseNet
    np.testing.assert_allclose(_values(p, [9999, 10000, 19999, 20000]), [1e-4, 1e-5, 1e-5, 1e-6],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="len"):
        PiecewiseConstantByIteration([1], [1.0])


def test_polynomial_decay_value_by_value_and_restart():
    s = PolynomialDecay(0.01, 100, 0.0, 0.9)
    np.testing.assert_allclose(_values(s, [0, 50, 99, 100, 150]),
                               [0.01, 0.01 * 0.5 ** 0.9, 0.01 * 0.01 ** 0.9, 0.0, 0.0], rtol=1e-5, atol=1e-12)
    r = PolynomialDecay(0.01, 100, restart_every=100)
    np.testing.assert_allclose(_values(r, [100, 150]), [0.01, 0.01 * 0.5 ** 0.9], rtol=1e-5)


def test_schedules_serialise():
    for s in (StepDecayByEpoch(1e-3, 5), PiecewiseConstantByIteration([1], [1.0, 0.5]), PolynomialDecay(1.0, 10)):
        again = type(s).from_config(s.get_config())
        assert _values(again, [0, 3, 7, 12]) == _values(s, [0, 3, 7, 12])


def _bn_model():
    inp = keras.Input((4,))
    out = SwitchableBatchNormalization(update_moving_stats=False, train_affine=False, momentum=0.5, name="bn")(inp)
    model = keras.Model(inp, keras.layers.Dense(1, name="head")(out))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_switchable_bn_uses_batch_stats_while_moving_averages_stay_frozen():
    bn = SwitchableBatchNormalization(update_moving_stats=False, train_affine=False, momentum=0.5, epsilon=0.0)
    x = tf.constant([[1.0, 2.0], [3.0, 6.0]])
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]], atol=1e-5)      # batch statistics used
    np.testing.assert_allclose(bn.moving_mean.numpy(), [0, 0])         # frozen
    bn.set_switches(update_moving_stats=True)
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [1.0, 2.0])    # 0.5 * 0 + 0.5 * [2, 4]
    # frozen affine gets no gradient, released affine does
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bn(x, training=True) * tf.constant([[1.0, 2.0], [3.0, 1.0]]))
    grad = tape.gradient(loss, bn.gamma)
    assert grad is None or np.all(grad.numpy() == 0)
    bn.set_switches(train_affine=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bn(x, training=True) * tf.constant([[1.0, 2.0], [3.0, 1.0]]))
    assert np.any(tape.gradient(loss, bn.gamma).numpy() != 0)


def test_batchnorm_phase_releases_at_the_given_step():
    model = _bn_model()
    x, y = np.random.default_rng(0).normal(size=(16, 4)).astype("float32") + 3, np.zeros((16, 1), "float32")
    bn = model.get_layer("bn")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[BatchNormPhase(release_step=3)])
    # 4 steps: steps 0-2 frozen, step 3 released -> moving mean moved once, gamma trained once
    assert float(bn.update_moving_stats.numpy()) == 1.0
    assert np.all(bn.moving_mean.numpy() != 0)
    model2 = _bn_model()
    model2.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[BatchNormPhase(release_step=100)])
    bn2 = model2.get_layer("bn")
    np.testing.assert_array_equal(bn2.moving_mean.numpy(), 0)
    np.testing.assert_array_equal(bn2.gamma.numpy(), 1)


def test_logger_validation_and_best_checkpoint(tmp_path):
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    scores = iter([0.1, 0.5, 0.3, 0.7, 0.2, 0.9])
    log = MetricLogger(str(tmp_path / "metrics.jsonl"), every_n_steps=2)
    val = PeriodicValidation(lambda m: {"score": next(scores)}, every_n_steps=None, logger=log)
    best = BestCheckpoint(str(tmp_path / "ckpt"), "val_score", "max")
    model.fit(x, y, batch_size=2, epochs=3, verbose=0, callbacks=[val, log, best])
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    kinds = [l["kind"] for l in lines]
    assert kinds.count("train") == 6 and kinds.count("epoch") == 3 and kinds.count("val") == 3
    assert [l["val_score"] for l in lines if l["kind"] == "val"] == [0.1, 0.5, 0.3]
    assert json.load(open(tmp_path / "ckpt" / "best.json"))["value"] == 0.5
    # a second BestCheckpoint on the same folder remembers the best so far
    assert BestCheckpoint(str(tmp_path / "ckpt"), "val_score").best == 0.5
