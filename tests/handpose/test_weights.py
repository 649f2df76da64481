"""Loaders on pickles, a TF V1 checkpoint and caffemodels written here with the real key names."""
import pickle

import numpy as np
import pytest
import tensorflow as tf

from handpose.model import build_handsegnet, build_posenet
from handpose.weights import (load_caffemodel, load_cpm_checkpoint, load_hand3d_pickle,
                              read_caffemodel, write_caffemodel)
from reprokit.weights import WeightLoadError
from tests.golden import write_v1_checkpoint


@pytest.fixture(scope="module")
def handsegnet():
    return build_handsegnet("hand3d", input_shape=(32, 32, 3))


def _hand3d_arrays(model, scope, rng):
    arrays = {}
    for layer in model.layers:
        if layer.weights and type(layer).__name__ == "Conv2D":
            k, b = layer.get_weights()
            arrays[f"{scope}/{layer.name}/weights"] = rng.standard_normal(k.shape).astype(np.float32)
            arrays[f"{scope}/{layer.name}/biases"] = rng.standard_normal(b.shape).astype(np.float32)
    return arrays


def test_hand3d_pickle_loads_every_array_into_its_layer(handsegnet, tmp_path):
    rng = np.random.default_rng(0)
    arrays = _hand3d_arrays(handsegnet, "HandSegNet", rng)
    assert len(arrays) == 32                      # 16 convs x (weights, biases)
    arrays["PosePrior/fc_rel0/weights"] = np.zeros((3, 3), np.float32)   # another scope
    path = tmp_path / "handsegnet-rhd.pickle"
    with open(path, "wb") as f:
        pickle.dump(arrays, f, protocol=2)
    report = load_hand3d_pickle(handsegnet, str(path))
    assert len(report.loaded) == 32 and report.skipped == ["PosePrior/fc_rel0/weights"]
    np.testing.assert_array_equal(handsegnet.get_layer("conv3_2").kernel.numpy(),
                                  arrays["HandSegNet/conv3_2/weights"])
    np.testing.assert_array_equal(handsegnet.get_layer("conv6_2").bias.numpy(),
                                  arrays["HandSegNet/conv6_2/biases"])


def test_pickle_problems_are_reported_by_name(handsegnet, tmp_path):
    rng = np.random.default_rng(1)
    arrays = _hand3d_arrays(handsegnet, "HandSegNet", rng)
    arrays["HandSegNet/conv1_1/weights"] = np.zeros((3, 3, 3, 32), np.float32)   # wrong shape
    arrays["HandSegNet/conv9_9/weights"] = np.zeros((1,), np.float32)           # unexpected
    del arrays["HandSegNet/conv2_1/biases"]                                       # missing
    path = tmp_path / "bad.pickle"
    with open(path, "wb") as f:
        pickle.dump(arrays, f)
    with pytest.raises(WeightLoadError) as err:
        load_hand3d_pickle(handsegnet, str(path))
    text = str(err.value)
    assert "conv1_1/kernel" in text and "conv9_9" in text and "conv2_1/bias" in text
    assert "bad.pickle" in text
    report = load_hand3d_pickle(handsegnet, str(path), strict=False)
    assert ("conv1_1/kernel", (3, 3, 3, 64), (3, 3, 3, 32)) in report.mismatched


def test_cpm_checkpoint_with_hand3d_discard_and_rename_lists(tmp_path):
    model = build_handsegnet("hand3d", input_shape=(32, 32, 3))
    before6 = model.get_layer("conv6_1").kernel.numpy().copy()
    rng = np.random.default_rng(2)
    arrays = {}
    for layer in model.layers:
        if layer.weights and layer.name not in ("conv6_1", "conv6_2"):
            k, b = layer.get_weights()
            src = layer.name + ("_CPM" if layer.name == "conv5_2" else "")
            arrays[f"CPM/PersonNet/{src}/weights"] = rng.standard_normal(k.shape).astype(np.float32)
            arrays[f"CPM/PersonNet/{src}/biases"] = rng.standard_normal(b.shape).astype(np.float32)
    arrays["CPM/PersonNet/conv6_1_CPM/weights"] = np.zeros((1, 1, 128, 512), np.float32)
    arrays["CPM/PersonNet/Mconv1_stage2/weights"] = np.zeros((7, 7, 4, 4), np.float32)
    arrays["CPM/PoseNet/conv1_1/weights"] = np.zeros((3, 3, 3, 64), np.float32)
    path = str(tmp_path / "cpm-model-mpii")
    write_v1_checkpoint(path, arrays)
    report = load_cpm_checkpoint(model, path)
    assert len(report.loaded) == 28                   # conv1_1 .. conv5_2: 14 layers
    assert set(report.skipped) == {"CPM/PersonNet/conv6_1_CPM/weights",
                                   "CPM/PersonNet/Mconv1_stage2/weights",
                                   "CPM/PoseNet/conv1_1/weights"}
    np.testing.assert_array_equal(model.get_layer("conv5_2").kernel.numpy(),
                                  arrays["CPM/PersonNet/conv5_2_CPM/weights"])
    np.testing.assert_array_equal(model.get_layer("conv6_1").kernel.numpy(), before6)  # stays random


@pytest.mark.parametrize("legacy", [False, True])
def test_caffemodel_transposes_maps_names_and_flips_bgr(tmp_path, legacy):
    model = build_posenet("hand3d", input_shape=(32, 32, 3))
    rng = np.random.default_rng(3)
    layers = {}
    for name in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                 "conv3_4", "conv4_1", "conv4_2"):
        k = model.get_layer(name).kernel
        o, i = k.shape[3], k.shape[2]
        layers[name] = [rng.standard_normal((o, i, 3, 3)).astype(np.float32),
                        rng.standard_normal(o).astype(np.float32)]
    layers["conv4_3_CPM"] = [rng.standard_normal((256, 512, 3, 3)).astype(np.float32),
                             rng.standard_normal(256).astype(np.float32)]
    layers["conv5_2_CPM"] = [np.zeros((15, 512, 1, 1), np.float32), np.zeros(15, np.float32)]
    path = str(tmp_path / "pose_iter_320000.caffemodel")
    write_caffemodel(path, layers, legacy=legacy)
    read = read_caffemodel(path)
    np.testing.assert_array_equal(read["conv2_1"][0], layers["conv2_1"][0])
    report = load_caffemodel(model, path, {**{n: n for n in layers if not n.endswith("CPM")},
                                           "conv4_3_CPM": "conv4_3"})
    assert report.skipped == ["conv5_2_CPM"] and len(report.loaded) == 22
    got = model.get_layer("conv1_1").kernel.numpy()
    want = layers["conv1_1"][0].transpose(2, 3, 1, 0)[:, :, ::-1, :]       # OIHW -> HWIO, BGR -> RGB
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.get_layer("conv4_3").kernel.numpy(),
                                  layers["conv4_3_CPM"][0].transpose(2, 3, 1, 0))
    # a wrong-shaped blob is reported by name
    write_caffemodel(path, {"conv1_2": [np.zeros((64, 32, 3, 3), np.float32)]}, legacy=legacy)
    with pytest.raises(WeightLoadError, match="conv1_2/kernel"):
        load_caffemodel(model, path, {"conv1_2": "conv1_2"})


def test_named_caffe_maps_exist_and_unknown_names_fail():
    model = build_handsegnet("hand3d", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="cpm_person/handsegnet"):
        load_caffemodel(model, "x.caffemodel", "cpm/hand")


def _python2_pickle(arrays: dict) -> bytes:
    """Protocol-2 bytes laid out as Python 2 + NumPy 1 wrote hand3d's pickles: keys and array
    data as Python 2 ``str`` (BINSTRING opcodes, raw bytes), reconstructed through
    ``numpy.core.multiarray._reconstruct``."""
    import io
    import struct

    class Py2Str(bytes):
        """Bytes that the pickler below writes as a Python 2 ``str`` (BINSTRING)."""

    class Pickler(pickle._Pickler):
        dispatch = dict(pickle._Pickler.dispatch)

        def save_py2str(self, obj):
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + bytes(obj))
            self.memoize(obj)

        dispatch[Py2Str] = save_py2str

        def reducer_override(self, obj):
            if isinstance(obj, np.ndarray):
                return (np._core.multiarray._reconstruct, (np.ndarray, (0,), Py2Str(b"b")),
                        (1, obj.shape, obj.dtype, False, Py2Str(obj.tobytes())))
            return NotImplemented

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({Py2Str(k.encode()): v for k, v in arrays.items()})
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def test_python2_pickle_loads_through_the_latin1_fallback(handsegnet, tmp_path):
    import pickletools

    rng = np.random.default_rng(5)
    arrays = _hand3d_arrays(handsegnet, "HandSegNet", rng)
    data = _python2_pickle(arrays)
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert "BINSTRING" in ops and b"numpy.core.multiarray" in data
    with pytest.raises(UnicodeDecodeError):           # what a plain Python 3 load does
        pickle.loads(data)
    path = tmp_path / "handsegnet-rhd.pickle"
    path.write_bytes(data)
    report = load_hand3d_pickle(handsegnet, str(path))
    assert len(report.loaded) == 32
    np.testing.assert_array_equal(handsegnet.get_layer("conv4_1").kernel.numpy(),
                                  arrays["HandSegNet/conv4_1/weights"])
