"""Converter tests on state_dicts written from the reference key layouts (docs/reference/hourglass.md
§1.4 princeton-vl, §2.1 bearpaw/anibali), generated here independently of the converter's map."""
import subprocess
import sys

import keras
import numpy as np
import pytest

from hourglass import build_stacked_hourglass
from hourglass.convert import convert_state_dict, load_checkpoint
from reprokit.weights import WeightLoadError


class _SD(dict):
    def __init__(self, seed):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def conv(self, name, cin, cout, k):
        self[f"{name}.weight"] = self.rng.normal(0, 0.05, (cout, cin, k, k)).astype("float32")
        self[f"{name}.bias"] = self.rng.normal(0, 0.05, cout).astype("float32")

    def bn(self, name, c):
        self[f"{name}.weight"] = self.rng.uniform(0.5, 1.5, c).astype("float32")
        self[f"{name}.bias"] = self.rng.normal(0, 0.1, c).astype("float32")
        self[f"{name}.running_mean"] = self.rng.normal(0, 0.1, c).astype("float32")
        self[f"{name}.running_var"] = self.rng.uniform(0.5, 1.5, c).astype("float32")
        self[f"{name}.num_batches_tracked"] = np.array(100)

    def block(self, p, inp, out, convs, skip, always_skip=False):
        """Pre-act bottleneck inp -> out (mid out/2); ``convs``/``skip`` are the layout's member names."""
        mid = out // 2
        for i, (cin, cout, k) in enumerate(((inp, mid, 1), (mid, mid, 3), (mid, out, 1)), 1):
            self.bn(f"{p}.bn{i}", cin)
            self.conv(f"{p}.{convs.format(i)}", cin, cout, k)
        if always_skip or inp != out:
            self.conv(f"{p}.{skip}", inp, out, 1)


def bearpaw_state_dict(num_stacks, classes=16, seed=0):
    """bearpaw HourglassNet(Bottleneck, num_stacks, num_blocks=1): §2.1."""
    sd = _SD(seed)

    def bottleneck(p, inplanes, planes):
        sd.block(p, inplanes, 2 * planes, "conv{}", "downsample.0")

    sd.conv("conv1", 3, 64, 7)
    sd.bn("bn1", 64)
    bottleneck("layer1.0", 64, 64)
    bottleneck("layer2.0", 128, 128)
    bottleneck("layer3.0", 256, 128)
    for s in range(num_stacks):
        for level in range(4):
            for j in range(4 if level == 0 else 3):
                bottleneck(f"hg.{s}.hg.{level}.{j}.0", 256, 128)
        bottleneck(f"res.{s}.0", 256, 128)
        sd.conv(f"fc.{s}.0", 256, 256, 1)
        sd.bn(f"fc.{s}.1", 256)
        sd.conv(f"score.{s}", 256, classes, 1)
        if s < num_stacks - 1:
            sd.conv(f"fc_.{s}", 256, 256, 1)
            sd.conv(f"score_.{s}", classes, 256, 1)
    return dict(sd)


def princeton_state_dict(num_stacks, classes=16, seed=0):
    """princeton-vl PoseNet(nstack, 256, 16) wrapped in DataParallel: §1.2, §1.4."""
    sd = _SD(seed)

    def residual(p, inp, out):
        sd.block(p, inp, out, "conv{}.conv", "skip_layer.conv", always_skip=True)  # built even when unused

    sd.conv("pre.0.conv", 3, 64, 7)
    sd.bn("pre.0.bn", 64)
    residual("pre.1", 64, 128)
    residual("pre.3", 128, 128)
    residual("pre.4", 128, 256)
    for s in range(num_stacks):
        p = f"hgs.{s}.0"
        for _ in range(4):
            for branch in ("up1", "low1", "low3"):
                residual(f"{p}.{branch}", 256, 256)
            p += ".low2"
        residual(p, 256, 256)
        residual(f"features.{s}.0", 256, 256)
        sd.conv(f"features.{s}.1.conv", 256, 256, 1)
        sd.bn(f"features.{s}.1.bn", 256)
        sd.conv(f"outs.{s}.conv", 256, classes, 1)
        if s < num_stacks - 1:
            sd.conv(f"merge_features.{s}.conv.conv", 256, 256, 1)
            sd.conv(f"merge_preds.{s}.conv.conv", classes, 256, 1)
    return {f"model.module.{k}": v for k, v in sd.items()}


@pytest.fixture(scope="module")
def hg2():
    return build_stacked_hourglass(2)


def test_bearpaw_checkpoint_loads_with_nothing_unused_or_missing(hg2):
    sd = bearpaw_state_dict(2)
    assert len(sd) == 684  # the key count of anibali's pretrained hg2 (§2.1)
    report = load_checkpoint(hg2, {f"module.{k}": v for k, v in sd.items()}, "bearpaw")
    assert report.ok and not report.unused and not report.missing
    assert len(report.loaded) == len(hg2.weights)
    assert len(report.skipped) == sum(k.endswith("num_batches_tracked") for k in sd)
    bn = hg2.get_layer("stack1_hg1_low2_r0_2_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), sd["hg.1.hg.0.3.0.bn2.running_var"])


def test_princeton_checkpoint_loads_and_skips_the_unused_skip_layers():
    model = build_stacked_hourglass(2, stem="newell")
    sd = princeton_state_dict(2)
    assert len(sd) == 742  # §1.4
    report = load_checkpoint(model, sd, "princeton")
    assert report.ok and len(report.loaded) == len(model.weights)
    unused_skips = [k for k in report.skipped if "skip_layer" in k]
    # 3 stem Residuals: only 64->128 and 128->256 project; every hourglass/feature Residual is 256->256
    assert len(unused_skips) == 2 * (1 + 2 * 14)
    merge = model.get_layer("stack0_merge_heatmaps").kernel.numpy()
    np.testing.assert_array_equal(merge, sd["model.module.merge_preds.0.conv.conv.weight"].transpose(2, 3, 1, 0))


def test_missing_or_wrong_shaped_keys_raise_naming_the_key(hg2):
    sd = bearpaw_state_dict(2, seed=1)
    del sd["hg.0.hg.2.1.0.conv2.weight"]
    sd["score.1.weight"] = np.zeros((15, 256, 1, 1), "float32")
    sd["extra.layer.weight"] = np.zeros(3, "float32")
    with pytest.raises(WeightLoadError) as err:
        load_checkpoint(hg2, sd, "bearpaw")
    text = str(err.value)
    assert "stack0_hg3_low1_r0_conv2/kernel" in text          # missing target, by our name
    assert "stack1_heatmaps/kernel" in text and "(1, 1, 256, 16)" in text and "(1, 1, 256, 15)" in text
    assert "extra.layer.weight" in text                      # unused source key, by its name


def _conv_by_hand(x, w, b, stride, pad):
    """PyTorch Conv2d (cross-correlation, symmetric zero padding) in numpy, NHWC in/out."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    k = w.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nhwcij,ocij->nhwo", win, w) + b


def test_transposes_verified_on_the_stem_conv_computed_by_hand(hg2):
    sd = bearpaw_state_dict(2, seed=2)
    load_checkpoint(hg2, sd, "bearpaw")
    x = np.random.default_rng(3).normal(size=(1, 256, 256, 3)).astype("float32")
    stem = keras.Model(hg2.input, hg2.get_layer("stem_conv").output)
    expect = _conv_by_hand(x, sd["conv1.weight"], sd["conv1.bias"], stride=2, pad=3)
    np.testing.assert_allclose(stem(x).numpy(), expect, atol=1e-4)


def test_unknown_format_is_rejected(hg2):
    with pytest.raises(ValueError, match="bearpaw"):
        convert_state_dict({}, hg2, "mmpose")


def test_cli_converts_an_npz_checkpoint(tmp_path):
    src = tmp_path / "hg1.npz"
    np.savez(src, **{f"module.{k}": v for k, v in bearpaw_state_dict(1, seed=4).items()})
    dst = tmp_path / "hg1.weights.h5"
    out = subprocess.run([sys.executable, "-m", "hourglass", "convert", str(src), str(dst), "--format",
                          "bearpaw", "--stacks", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "unused 0, missing 0, shape mismatches 0" in out.stdout and dst.exists()
    model = build_stacked_hourglass(1)
    model.load_weights(str(dst))
    np.testing.assert_array_equal(model.get_layer("stack0_fc_bn").moving_mean.numpy(),
                                  np.load(src)["module.fc.0.1.running_mean"])
