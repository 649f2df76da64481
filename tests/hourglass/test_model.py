import keras
import numpy as np
import pytest

from hourglass import BLOCKS, BlockOptions, build_stacked_hourglass
from hourglass.blocks import hru_block, prm_block
from hourglass.model import fuse_stacks, stack_outputs
from hourglass.presets import PRESETS, TABLE1_PRESETS, build_preset, get_preset
from hourglass.summary import summarize


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_full_size_presets_have_the_exact_reference_parameter_counts(name):
    preset = PRESETS[name]
    model = build_preset(name)
    assert _trainable(model) == preset.expected_trainable
    assert model.count_params() == preset.expected_total


def test_table1_rows_carry_the_papers_numbers():
    assert len(TABLE1_PRESETS) == 11
    base = get_preset("cv701_baseline")
    assert base.paper_pckh[-1] == 77.84 and base.paper_params == "6.73M"
    assert get_preset("cv701_weights_03_07").stack_weights == (0.3, 0.7)
    two_ds = get_preset("cv701_two_ds")
    assert two_ds.paper_params == "1.90M" and "2,373,856" in two_ds.note
    with pytest.raises(ValueError, match="valid"):
        get_preset("hg3")


def test_ds3_bias_flags_give_both_documented_counts():
    both = build_stacked_hourglass(2, block="ds3", block_options=BlockOptions(ds_dw_bias=True))
    assert _trainable(both) == 2_805_024


def _single_block_trainable(fn, channels=256, **opts):
    inp = keras.Input((16, 16, channels))
    return _trainable(keras.Model(inp, fn(inp, 256, "b", BlockOptions(**opts))))


def test_prm_and_hru_blocks_match_the_reference_block_counts():
    assert _single_block_trainable(prm_block) == 254_396                      # B = 9, C = 4
    assert _single_block_trainable(prm_block, prm_base_width=6, prm_cardinality=30) == 709_046
    assert _single_block_trainable(hru_block) == 1_395_712
    assert _single_block_trainable(BLOCKS["bottleneck"]) == 214_528


@pytest.mark.parametrize("num_stacks", [1, 2, 4, 8])
def test_output_shapes_for_stack_counts(num_stacks):
    model = build_stacked_hourglass(num_stacks, 5, num_features=16, input_shape=(64, 64, 3))
    out = stack_outputs(model(np.zeros((2, 64, 64, 3), "float32")))
    assert len(out) == num_stacks and all(o.shape == (2, 16, 16, 5) for o in out)
    assert list(model.output_names) == [f"stack{s}_heatmaps" for s in range(num_stacks)]


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_each_block_tiny_forward_shapes(block):
    """Shapes per block at depth 2; round trips, predict and a fit step of every block run in
    tests/test_models.py (the shared model checks)."""
    model = build_stacked_hourglass(2, 4, block=block, num_features=16, depth=2, input_shape=(64, 64, 3))
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    assert [o.shape for o in model(x)] == [(1, 16, 16, 4)] * 2


def test_layer_names_are_deterministic_and_hierarchical():
    a = build_stacked_hourglass(2, 4, num_features=16, depth=2, input_shape=(64, 64, 3))
    b = build_stacked_hourglass(2, 4, num_features=16, depth=2, input_shape=(64, 64, 3))
    assert [l.name for l in a.layers] == [l.name for l in b.layers]
    names = {l.name for l in a.layers}
    assert {"stem_conv", "stem_block1_conv1", "stack0_hg2_up1_r0_conv2", "stack1_hg1_low2_r0_3_bn",
            "stack0_merge_features", "stack0_merge_heatmaps", "stack1_heatmaps"} <= names
    assert "stack1_merge_features" not in names  # the last stack has no merges


@pytest.mark.parametrize("kwargs, match", [
    ({"block": "resnext"}, "valid"), ({"stem": "vit"}, "valid"), ({"num_stacks": 0}, "num_stacks"),
    ({"input_shape": (100, 100, 3)}, "divisible"), ({"input_shape": (64, 64)}, "input_shape")])
def test_bad_arguments_quote_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_stacked_hourglass(**kwargs)


def test_summary_reports_params_flops_and_layers():
    s = summarize(build_stacked_hourglass(1, 16, num_features=16, depth=2, input_shape=(64, 64, 3)))
    assert s["trainable"] < s["total"] and s["flops"] > 0 and s["weight_layers"] > 10
    # stem conv alone: 2 * 32*32 * 7*7*3 * 64 MACs + bias adds
    stem = keras.Model(*(lambda m: (m.input, m.get_layer("stem_conv").output))(
        build_stacked_hourglass(1, 16, num_features=16, depth=2, input_shape=(64, 64, 3))))
    from hourglass.summary import count_flops
    assert count_flops(stem) == 2 * 32 * 32 * 49 * 3 * 64 + 32 * 32 * 64


def test_fuse_stacks_weights_each_stack():
    a, b = np.ones((1, 2, 2, 1)), np.full((1, 2, 2, 1), 3.0)
    np.testing.assert_allclose(fuse_stacks([a, b], (0.3, 0.7)), np.full((1, 2, 2, 1), 2.4))
    with pytest.raises(ValueError, match="one weight per stack"):
        fuse_stacks([a, b], (1.0,))
