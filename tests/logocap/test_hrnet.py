"""HRNet-W32 / W48 against timm 1.0.31 (``features_only=True, feature_location=""``), executed:
golden files ``tests/data/parity/hrnet_w{32,48}.npz`` hold timm's outputs on weights and an
input regenerated here from their recipe (``tests/data/parity/README.md``)."""
import keras
import numpy as np
import pytest

from logocap.hrnet import TIMM_PARAMS, build_hrnet, convert_timm, upsample_concat
from tests.golden import Golden


@pytest.mark.parametrize("width", ["w32", "w48"])
def test_parameter_counts_equal_timm(width):
    model = build_hrnet(width)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == TIMM_PARAMS[width]
    assert [int(o.shape[-1]) for o in model.outputs] == (
        [32, 64, 128, 256] if width == "w32" else [48, 96, 192, 384])


@pytest.mark.parametrize("width", ["w32", "w48"])
def test_branches_equal_timm_on_converted_weights(width):
    g = Golden(f"hrnet_{width}")
    h, w = g.arrays["input"].shape[1:3]
    model = build_hrnet(width, (h, w, 3))
    state = {k: v for k, v in g.arrays.items() if k != "input"}
    report = convert_timm(model, state)                 # strict: every array used, every weight set
    assert not report.missing and not report.unused
    probe = keras.Model(model.input, [model.get_layer("bn1.relu").output] + model.outputs)
    outs = probe(g.arrays["input"], training=False)
    g.compare("stem", outs[0].numpy())
    for i in range(1, 5):
        g.compare(f"branch{i}", outs[i].numpy())


def test_upsample_concat_is_480_channels_at_stride_4():
    model = build_hrnet("w32", (64, 64, 3))
    feat = upsample_concat(model.outputs)
    assert tuple(feat.shape[1:]) == (16, 16, 480)
