"""Weight and annotation files never run code: crafted files of each format are refused, their
payload never runs, and real-format files still load (Python 2 and 3 pickles, .npy dicts)."""
import os
import pickle

import numpy as np
import pytest

from reprokit.safeload import UnsafeFileError, load_npy, load_pickle


class _Payload:
    """Unpickling this object calls ``os.system`` (the classic malicious pickle)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hand3d_pickle(path, extra):
    arrays = {"HandSegNet/conv1_1/weights": np.ones((3, 3, 3, 64), np.float32), **extra}
    with open(path, "wb") as f:
        pickle.dump(arrays, f, protocol=2)
    return str(path)


def test_malicious_hand3d_pickle_is_refused_and_its_payload_never_runs(tmp_path):
    from handpose.model import build_handsegnet
    from handpose.weights import load_hand3d_pickle

    marker = tmp_path / "pwned"
    path = _hand3d_pickle(tmp_path / "handsegnet-rhd.pickle", {"x": _Payload(marker)})
    model = build_handsegnet("hand3d", input_shape=(32, 32, 3))
    with pytest.raises(UnsafeFileError, match=r"handsegnet-rhd\.pickle.*(posix|os)\.system"):
        load_hand3d_pickle(model, path)
    assert not marker.exists()


def test_malicious_caffe_tensorflow_npy_is_refused_and_its_payload_never_runs(tmp_path):
    from segmentation.model import ICNet, load_icnet_npy

    marker = tmp_path / "pwned"
    path = tmp_path / "icnet_cityscapes_bnnomerge.npy"
    np.save(path, {"conv1_sub1": {"weights": _Payload(marker)}}, allow_pickle=True)
    model = ICNet(25, input_shape=(65, 65, 3))
    with pytest.raises(UnsafeFileError, match=r"icnet_cityscapes_bnnomerge\.npy.*system"):
        load_icnet_npy(model, str(path))
    assert not marker.exists()


def test_malicious_rhd_annotation_pickle_is_refused(tmp_path):
    from handpose.data import read_rhd_annotations

    marker = tmp_path / "pwned"
    folder = tmp_path / "RHD" / "training"
    folder.mkdir(parents=True)
    with open(folder / "anno_training.pickle", "wb") as f:
        pickle.dump({0: {"uv_vis": _Payload(marker)}}, f, protocol=3)
    with pytest.raises(UnsafeFileError, match="anno_training.pickle"):
        read_rhd_annotations(str(tmp_path / "RHD"), "training")
    assert not marker.exists()


@pytest.mark.parametrize("global_name", ["builtins.eval", "subprocess.Popen", "numpy.load",
                                         "numpy.testing._private.utils.runstring"])
def test_any_global_outside_the_numpy_reconstruction_set_is_refused(tmp_path, global_name):
    module, name = global_name.rsplit(".", 1)
    # protocol 0 GLOBAL opcode naming the callable, then a call: c<module>\n<name>\n(S'x'\ntR.
    path = tmp_path / "evil.pickle"
    path.write_bytes(f"c{module}\n{name}\n(S'1'\ntR.".encode())
    with pytest.raises(UnsafeFileError, match=rf"evil\.pickle.*{module}\.{name}"):
        load_pickle(str(path))


def test_real_format_files_still_load(tmp_path):
    """Python 3 protocols 2-5, nested dicts of arrays of several dtypes, numpy scalars, and
    caffe-tensorflow .npy dicts."""
    data = {"a/weights": np.arange(12, dtype=np.float32).reshape(3, 4),
            "b": {"idx": np.arange(5, dtype=np.int64), "flag": True, "name": "x"},
            7: [np.float64(2.5), (1, 2)]}
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.pickle"
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=protocol)
        back = load_pickle(str(path))
        np.testing.assert_array_equal(back["a/weights"], data["a/weights"])
        assert back["b"]["name"] == "x" and back[7][0] == 2.5
    # Python 2 protocol-2 pickles (latin-1 byte strings, numpy.core globals) go through the
    # same unpickler: tests/handpose/test_weights.py::test_python2_pickle_loads_through_...
    npy = tmp_path / "weights.npy"
    np.save(npy, {"conv1": {"weights": data["a/weights"], "biases": np.zeros(4, np.float32)}},
            allow_pickle=True)
    d = load_npy(str(npy))
    np.testing.assert_array_equal(d["conv1"]["weights"], data["a/weights"])
    plain = tmp_path / "plain.npy"
    np.save(plain, np.eye(3))
    np.testing.assert_array_equal(load_npy(str(plain)), np.eye(3))


def test_truncated_files_name_the_file(tmp_path):
    path = tmp_path / "cut.pickle"
    with open(path, "wb") as f:
        pickle.dump({"w": np.ones(1000, np.float32)}, f, protocol=2)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match=r"cut\.pickle.*truncated"):
        load_pickle(str(path))
    npy = tmp_path / "cut.npy"
    np.save(npy, {"w": np.ones(1000, np.float32)}, allow_pickle=True)
    npy.write_bytes(npy.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cut\.npy.*truncated"):
        load_npy(str(npy))
