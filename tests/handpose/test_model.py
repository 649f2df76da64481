"""Exact parameter counts (docs/reference/handpose.md §8) and the legacy resize."""
import numpy as np
import pytest
import tensorflow as tf

from handpose.model import BilinearResize, build_handsegnet, build_posenet


@pytest.mark.parametrize("kwargs, expected", [
    ({"variant": "hand3d"}, 13_601_986),
    ({"variant": "paper"}, 12_945_986),
])
def test_handsegnet_counts(kwargs, expected):
    model = build_handsegnet(**kwargs)
    assert model.count_params() == expected
    names = {layer.name for layer in model.layers}
    assert {"conv1_1", "conv5_1", "conv6_2"} <= names


@pytest.mark.parametrize("kwargs, expected", [
    ({"variant": "hand3d", "refinement": "conv"}, 17_518_847),
    ({"variant": "hand3d", "refinement": "separable"}, 9_461_257),
    ({"variant": "hand3d", "refinement": "separable", "separable_outputs": True}, 9_461_769),
    ({"variant": "hand3d", "refinement": "separable", "kernel_size": 3}, 9_408_377),
    ({"variant": "paper", "refinement": "conv"}, 26_202_623),
    ({"variant": "paper", "refinement": "separable"}, 13_336_078),
    ({"variant": "paper", "refinement": "separable", "separable_outputs": True}, 13_336_334),
    ({"variant": "paper", "refinement": "separable", "kernel_size": 3}, 13_251_638),
])
def test_posenet_counts(kwargs, expected):
    assert build_posenet(**kwargs).count_params() == expected


def test_posenet_outputs_three_maps_and_hand3d_names():
    model = build_posenet(input_shape=(64, 64, 3))
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert [tuple(o.shape) for o in out] == [(1, 8, 8, 21)] * 3
    names = {layer.name for layer in model.layers}
    assert {"conv4_7", "conv5_2", "conv6_7", "conv7_7"} <= names
    assert model.get_layer("concat6").output.shape[-1] == 149
    paper = build_posenet("paper", input_shape=(64, 64, 3))
    assert paper.get_layer("stage2_concat").output.shape[-1] == 533
    assert paper.get_layer("stage3_concat").output.shape[-1] == 554


def test_leaky_relu_slope_and_linear_outputs():
    model = build_posenet(input_shape=(32, 32, 3))
    assert model.get_layer("conv1_1_lrelu").negative_slope == pytest.approx(0.01)
    assert "conv5_2_lrelu" not in {layer.name for layer in model.layers}


def test_legacy_and_half_pixel_resize_put_the_peak_where_hand3d_and_tf2_do():
    x = np.zeros((1, 32, 32, 1), np.float32)
    x[0, 10, 10, 0] = 1.0
    legacy = BilinearResize((256, 256), "legacy")(x).numpy()[0, ..., 0]
    half = BilinearResize((256, 256), "half_pixel")(x).numpy()[0, ..., 0]
    # legacy: output i samples input i / 8 -> the peak is at 10 * 8 = 80 exactly
    assert np.unravel_index(legacy.argmax(), legacy.shape) == (80, 80)
    # half-pixel: output i samples (i + 0.5) / 8 - 0.5 -> peak near 83.5 (argmax 83 or 84)
    assert np.unravel_index(half.argmax(), half.shape)[0] in (83, 84)
    with pytest.raises(ValueError, match="mode"):
        BilinearResize((8, 8), "nearest")


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="'cpm'"):
        build_posenet("cpm")
    with pytest.raises(ValueError, match="divisible by 8"):
        build_handsegnet(input_shape=(100, 100, 3))
    with pytest.raises(ValueError, match="kernel_size"):
        build_posenet(kernel_size=4)
