import keras
import numpy as np
import pytest

from reprokit.weights import (TORCH_BATCHNORM, WeightLoadError, assign_weights, bgr_to_rgb,
                              depthwise_oihw_to_hwcm, linear_oi_to_io, load_state_dict, oihw_to_hwio,
                              strip_prefix)


def _model():
    inp = keras.Input((5, 5, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inp, x)


def _torch_like_conv(x_nhwc, w_oihw, b):
    """Direct valid cross-correlation in PyTorch's layout, written out by hand."""
    n, h, w, c = x_nhwc.shape
    o, i, kh, kw = w_oihw.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, o))
    for y in range(h - kh + 1):
        for xx in range(w - kw + 1):
            patch = x_nhwc[:, y:y + kh, xx:xx + kw, :]              # n, kh, kw, c
            out[:, y, xx, :] = np.einsum("nhwc,ochw->no", patch, w_oihw) + b
    return out


def test_conv_transpose_reproduces_a_hand_computed_output():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
    model = _model()
    weights = {"conv/kernel": oihw_to_hwio(w), "conv/bias": b,
               "bn/gamma": np.ones(2), "bn/beta": np.zeros(2), "bn/moving_mean": np.zeros(2),
               "bn/moving_variance": np.ones(2) - 1e-3}
    report = assign_weights(model, weights)
    assert report.ok and len(report.loaded) == 6
    x = rng.normal(size=(1, 5, 5, 3)).astype("float32")
    np.testing.assert_allclose(model.get_layer("conv")(x).numpy(), _torch_like_conv(x, w, b), atol=1e-5)


def test_strict_loading_names_unused_missing_and_mismatched_keys():
    model = _model()
    good = {w.path: np.zeros(w.shape) for w in model.weights}
    bad = dict(good)
    bad["conv/kernel"] = np.zeros((3, 3, 3, 4))
    bad.pop("bn/moving_mean")
    bad["extra/unused_tensor"] = np.zeros(1)
    with pytest.raises(WeightLoadError) as err:
        assign_weights(model, bad, source="ckpt.npz")
    text = str(err.value)
    assert "ckpt.npz" in text and "conv/kernel" in text and "(3, 3, 3, 2)" in text
    assert "bn/moving_mean" in text and "extra/unused_tensor" in text
    # non-strict: loads what fits, reports the rest, touches nothing else
    report = assign_weights(model, bad, strict=False)
    assert not report.ok and "bn/gamma" in report.loaded and "conv/kernel" not in report.loaded
    # partial initialisation: allowed missing by pattern
    partial = {k: v for k, v in good.items() if k.startswith("conv/")}
    assert assign_weights(model, partial, allow_missing=[r"^bn/"]).ok


def test_layout_helpers():
    w = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert oihw_to_hwio(w).shape == (4, 5, 3, 2) and oihw_to_hwio(w)[1, 2, 0, 1] == w[1, 0, 1, 2]
    dw = np.arange(6 * 9).reshape(6, 1, 3, 3)     # C=3 channels, multiplier 2
    k = depthwise_oihw_to_hwcm(dw, 3)
    assert k.shape == (3, 3, 3, 2) and k[0, 1, 2, 1] == dw[2 * 2 + 1, 0, 0, 1]
    with pytest.raises(ValueError, match="C=4"):
        depthwise_oihw_to_hwcm(dw, 4)
    np.testing.assert_array_equal(linear_oi_to_io(np.eye(3)[:2]), np.eye(3)[:2].T)
    rgb = bgr_to_rgb(oihw_to_hwio(np.arange(2 * 3).reshape(2, 3, 1, 1)))
    assert rgb[0, 0, :, 0].tolist() == [2, 1, 0]
    assert TORCH_BATCHNORM["running_var"] == "moving_variance"
    assert strip_prefix({"module.a": 1, "b": 2}) == {"a": 1, "b": 2}


def test_depthwise_transpose_matches_keras_depthwise_conv():
    rng = np.random.default_rng(1)
    dw = rng.normal(size=(4, 1, 3, 3))     # C=2, multiplier 2
    layer = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    x = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    layer.build(x.shape)
    layer.kernel.assign(depthwise_oihw_to_hwcm(dw, 2))
    got = layer(x).numpy()
    # PyTorch groups=C: output channel o reads input channel o // M with kernel dw[o, 0]
    for o in range(4):
        expect = _torch_like_conv(x[..., o // 2:o // 2 + 1], dw[o:o + 1], np.zeros(1))[..., 0]
        np.testing.assert_allclose(got[..., o], expect, atol=1e-5)


def test_load_state_dict_npz_and_clear_errors(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{"conv1.weight": np.ones((2, 3, 1, 1))})
    assert load_state_dict(str(path))["conv1.weight"].shape == (2, 3, 1, 1)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_state_dict(str(tmp_path / "nope.pth"))
    with pytest.raises(ValueError, match=".ckpt"):
        (tmp_path / "x.ckpt").write_bytes(b"0")
        load_state_dict(str(tmp_path / "x.ckpt"))
    try:
        import torch  # noqa: F401
    except ImportError:
        (tmp_path / "m.pth").write_bytes(b"0")
        with pytest.raises(ImportError, match="needs PyTorch"):
            load_state_dict(str(tmp_path / "m.pth"))


def test_manifest_parses_and_verify_file_names_the_problem(tmp_path):
    import os

    from reprokit.weights import read_manifest, verify_file

    manifest = read_manifest(os.path.join(os.path.dirname(__file__), "..", "..", "weights", "manifest.tsv"))
    assert manifest["handsegnet-rhd.pickle"]["bytes"] == 82_069_342
    f = tmp_path / "handsegnet-rhd.pickle"
    f.write_bytes(b"abc")
    verify_file(str(f), 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(ValueError, match="expected 82,069,342 bytes, found 3"):
        verify_file(str(f), 82_069_342)
    with pytest.raises(ValueError, match="sha256"):
        verify_file(str(f), 3, "0" * 64)
