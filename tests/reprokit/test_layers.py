"""The fused BatchNorm computes what Keras's BatchNormalization computes (issue 18: the same
maths in one kernel), in training and inference, for its output, moving statistics and
gradients, and falls back to Keras wherever the kernel does not apply."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from reprokit.layers import (FusedBatchNormalization, NearestUpSampling2D,
                             SwitchableBatchNormalization)


def _pair(cls=FusedBatchNormalization, shape=(3, 5, 7, 4), **kwargs):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    ours, ref = cls(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(x.shape)
    ref.build(x.shape)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in ref.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    return x, ours, ref


def _grads(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.cos(y))           # a gradient that is not all ones
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9, "epsilon": 1e-5}, {},
                                    {"center": False, "scale": False}])
def test_fused_equals_keras_in_training(kwargs):
    x, ours, ref = _pair(**kwargs)
    y_ours, g_ours = _grads(ours, x)
    y_ref, g_ref = _grads(ref, x)
    np.testing.assert_allclose(y_ours.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(g_ours, g_ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
    for a, b in zip(ours.get_weights(), ref.get_weights()):     # moving mean and variance too
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(x, training=False).numpy(), ref(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_unknown_batch_size_gives_the_same_statistics():
    # the (n - 1) / n rescaling is a constant for static shapes, a tensor otherwise
    x, ours, ref = _pair(momentum=0.9)
    spec = tf.TensorSpec([None, *x.shape[1:]], tf.float32)
    y = tf.function(lambda v: ours(v, training=True), input_signature=[spec])(x)
    np.testing.assert_allclose(y.numpy(), ref(x, training=True).numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_one_value_per_channel_has_zero_variance_not_nan():
    x, ours, ref = _pair(shape=(1, 1, 1, 4))
    np.testing.assert_allclose(ours(x, training=True).numpy(), ref(x, training=True).numpy(),
                               atol=1e-5)
    assert np.isfinite(ours.moving_variance.numpy()).all()
    np.testing.assert_allclose(ours.moving_variance.numpy(), ref.moving_variance.numpy(), atol=1e-6)


def test_mixed_bfloat16_keeps_the_input_dtype():
    x, ours, ref = _pair(dtype="mixed_bfloat16")
    xb = tf.cast(x, tf.bfloat16)
    y_ours, y_ref = ours(xb, training=True), ref(xb, training=True)
    assert y_ours.dtype == y_ref.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y_ours, tf.float32).numpy(), tf.cast(y_ref, tf.float32).numpy(),
                               atol=0.05)
    np.testing.assert_allclose(ours.moving_mean.numpy(), ref.moving_mean.numpy(), rtol=1e-5)


def test_other_ranks_and_axes_fall_back_to_keras():
    for shape, kwargs in (((6, 4), {}), ((3, 4, 5, 6), {"axis": 1})):
        x, ours, ref = _pair(shape=shape, **kwargs)
        np.testing.assert_allclose(ours(x, training=True).numpy(), ref(x, training=True).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_fused_kernel_is_what_runs():
    x, ours, _ = _pair()
    graph = tf.function(lambda v: ours(v, training=True)).get_concrete_function(x).graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}


def test_switchable_fused_equals_keras_and_respects_its_switches():
    x, ours, ref = _pair(SwitchableBatchNormalization, momentum=0.9, epsilon=1e-5)
    y_ours, g_ours = _grads(ours, x)
    y_ref, g_ref = _grads(ref, x)
    np.testing.assert_allclose(y_ours.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(g_ours, g_ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.moving_variance.numpy(), ref.moving_variance.numpy(), rtol=1e-5)
    before = ours.moving_mean.numpy().copy()
    ours.set_switches(update_moving_stats=False, train_affine=False)
    _, grads = _grads(ours, x)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), before)
    assert all(not np.any(g.numpy()) for g in grads[1:])       # gamma and beta frozen


@pytest.mark.parametrize("size,policy", [(2, "float32"), ((2, 3), "float32"), (4, "mixed_bfloat16")])
def test_nearest_upsampling_equals_keras(size, policy):
    ours = NearestUpSampling2D(size, dtype=policy)
    ref = keras.layers.UpSampling2D(size, dtype=policy)
    dtype = ours.compute_dtype
    x = tf.cast(tf.random.stateless_normal((2, 5, 3, 4), seed=(1, 2)), dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_ours, y_ref = ours(x), ref(x)
        weights = tf.cast(tf.range(tf.size(y_ref)) % 7, dtype)   # sums exact in bfloat16
        losses = [tf.reduce_sum(tf.reshape(y, [-1]) * weights) for y in (y_ours, y_ref)]
    assert y_ours.dtype == y_ref.dtype == dtype
    np.testing.assert_array_equal(tf.cast(y_ours, tf.float32), tf.cast(y_ref, tf.float32))
    np.testing.assert_array_equal(tf.cast(tape.gradient(losses[0], x), tf.float32),
                                  tf.cast(tape.gradient(losses[1], x), tf.float32))
    graph = tf.function(ours).get_concrete_function(x).graph
    assert "ResizeNearestNeighbor" in {op.type for op in graph.get_operations()}


def test_nearest_upsampling_trains_under_xla():
    """XLA has no kernel for the resize's own gradient in a Keras train step: ``--jit`` must
    still compile (the benchmark suite's float32+jit hourglass found it) and train as Keras."""
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(2, 16, 18, 2)).astype("float32")

    def train(upsampling):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((8, 6, 3)), keras.layers.Conv2D(2, 3, padding="same"),
                                  upsampling((2, 3))])
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=True)
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        return losses, model.layers[0].kernel.numpy()

    ours, ref = train(NearestUpSampling2D), train(keras.layers.UpSampling2D)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-6, atol=1e-7)


def test_nearest_upsampling_falls_back_to_keras():
    x = tf.random.stateless_normal((2, 5, 3, 4), seed=(1, 2))
    bilinear = NearestUpSampling2D(2, interpolation="bilinear")
    np.testing.assert_allclose(bilinear(x), keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    spec = tf.TensorSpec([None, None, None, 4])
    y = tf.function(NearestUpSampling2D(2), input_signature=[spec])(x)   # unknown sizes
    np.testing.assert_array_equal(y, keras.layers.UpSampling2D(2)(x))
