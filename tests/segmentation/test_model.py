"""Exact parameter counts (docs/reference/segmentation.md §H), output sizes, unpooling, BN switches."""
import numpy as np
import pytest
import tensorflow as tf

from segmentation.model import (ICNet, HourglassSegmenter, MaxPoolWithArgmax, MaxUnpool,
                                SegNetBasic, caffe_interp_size)


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("fs,total,trainable", [(1, 6_738_955, 6_710_411),
                                                (2, 26_812_363, 26_755_275)])
def test_icnet_counts(fs, total, trainable):
    model = ICNet(25, filter_scale=fs)
    assert model.count_params() == total and _trainable(model) == trainable


@pytest.mark.parametrize("size,expected", [(321, (21, 41, 81)), (320, (19, 39, 79))])
def test_icnet_output_sizes(size, expected):
    model = ICNet(25, input_shape=(size, size, 3))
    outs = model(tf.zeros((1, size, size, 3)))
    assert tuple(o.shape[1] for o in outs) == expected
    assert [layer.name for layer in model.layers if layer.name.endswith(("_out", "_cls"))] == [
        "sub4_out", "sub24_out", "conv6_cls"]
    assert caffe_interp_size(321, shrink=0.5) == 161 and caffe_interp_size(21, zoom=2) == 41


@pytest.mark.parametrize("filters,unpool,bias,total,trainable", [
    (64, "deconv", True, 1_483_033, 1_482_009), (64, "argmax", True, 1_417_497, 1_416_473),
    (64, "argmax", False, 1_417_241, 1_416_217), (128, "deconv", True, 5_906_969, 5_904_921),
    (128, "argmax", True, 5_644_825, 5_642_777), (128, "argmax", False, 5_644_313, 5_642_265)])
def test_segnet_counts(filters, unpool, bias, total, trainable):
    model = SegNetBasic(25, filters, unpool, bias)
    assert model.count_params() == total and _trainable(model) == trainable


@pytest.mark.parametrize("stacks,total,trainable", [(1, 3_445_401, 3_428_761),
                                                    (2, 6_608_818, 6_577_330)])
def test_hourglass_counts_and_full_resolution(stacks, total, trainable):
    model = HourglassSegmenter(25, stacks)
    assert model.count_params() == total and _trainable(model) == trainable
    assert all(o.shape[1:] == (320, 320, 25) for o in model.outputs)


@pytest.mark.large
@pytest.mark.parametrize("stacks,total,trainable", [(4, 12_935_652, 12_874_468),
                                                    (8, 25_589_320, 25_468_744)])
def test_hourglass_counts_deep(stacks, total, trainable):
    model = HourglassSegmenter(25, stacks)
    assert model.count_params() == total and _trainable(model) == trainable


def test_hourglass_progressive_classes_and_joint_branch():
    model = HourglassSegmenter(25, 4, num_features=8, depth=2, input_shape=(32, 32, 3),
                               stack_classes=(2, 5, 13, 25), joints_head=24)
    names = list(model.output_names)
    assert [o.shape[-1] for o in model.outputs] == [2, 24, 5, 24, 13, 24, 25, 24]
    assert names[:2] == ["stack0_logits", "stack0_joints"]
    assert model.get_layer("stack0_merge_joints").kernel.shape == (1, 1, 24, 16)
    with pytest.raises(ValueError, match="last stack"):
        HourglassSegmenter(25, 2, stack_classes=(2, 5))


def test_unpool_puts_values_back_at_their_argmax_and_passes_gradients():
    x = tf.constant([[1., 5., 2., 0.], [3., 4., 8., 7.], [0., 9., 1., 1.], [6., 2., 3., 4.]])
    x = tf.reshape(tf.stack([x, -x + 10]), (2, 4, 4, 1))   # two images
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled, idx = MaxPoolWithArgmax()(x)
        up = MaxUnpool()(pooled * 2.0, idx, x)
        total = tf.reduce_sum(up)
    np.testing.assert_array_equal(pooled.numpy()[0, ..., 0], [[5, 8], [9, 4]])
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[2, 1], expected[3, 3] = 10, 16, 18, 8
    np.testing.assert_array_equal(up.numpy()[0, ..., 0], expected)
    assert up.numpy()[1, ..., 0][0, 3] == 20            # second image: max of -x+10 is 10 at (0,3)
    grad = tape.gradient(total, x).numpy()[0, ..., 0]
    np.testing.assert_array_equal(grad, (expected > 0) * 2.0)


def test_icnet_bn_switches_use_batch_stats_while_moving_averages_stay_frozen():
    from reprokit.layers import SwitchableBatchNormalization

    model = ICNet(25, input_shape=(65, 65, 3))
    bns = [layer for layer in model.layers if isinstance(layer, SwitchableBatchNormalization)]
    assert len(bns) > 50
    for bn in bns:
        bn.set_switches(update_moving_stats=False, train_affine=False)
    x = tf.random.normal((2, 65, 65, 3), seed=1) * 50
    bn = model.get_layer("conv1_sub1_bn")
    before = bn.moving_mean.numpy().copy()
    train_out = model(x, training=True)[-1].numpy()
    infer_out = model(x, training=False)[-1].numpy()
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)      # frozen
    assert not np.allclose(train_out, infer_out)                      # batch statistics used
    bn.set_switches(update_moving_stats=True)
    model(x, training=True)
    assert not np.allclose(bn.moving_mean.numpy(), before)
