"""Every reader, fed a damaged file in its real format, either reads it or raises the project's
named error (:class:`reprokit.errors.DataFormatError`): never a raw ``OSError`` /
``JSONDecodeError`` / ``EOFError`` / ``KeyError`` / numpy error that names no file.

Property-based (hypothesis): truncations of a valid file at every length, empty files, and
valid structures with one field replaced by a value of the wrong type or shape. The cases of
the reliability table (docs/reliability.md) are also pinned as plain tests.
"""
import json
import os
import pickle

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from reprokit.errors import DataFormatError
from reprokit.safeload import UnsafeFileError, load_npy, load_pickle

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

#: wrong-typed / wrong-shaped replacements for a field
BAD_VALUES = st.one_of(
    st.none(), st.text(max_size=5), st.booleans(), st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-2, 2), max_size=4),
    st.builds(lambda shape: np.zeros(shape), st.lists(st.integers(0, 4), min_size=0, max_size=3)),
    st.builds(lambda shape: np.full(shape, np.nan), st.lists(st.integers(1, 3), min_size=1, max_size=2)),
)


def _only_named_errors(fn, *args):
    """Call a reader: success or DataFormatError (UnsafeFileError for pickles) only."""
    try:
        fn(*args)
    except (DataFormatError, UnsafeFileError) as err:
        assert str(err).strip(), "empty error message"
        return err
    return None


# ----------------------------------------------------------------------------- MPII
def _mpii_h5(path, n=3, **override):
    fields = {"center": np.full((n, 2), 50.0), "scale": np.ones(n), "part": np.ones((n, 16, 2)),
              "visible": np.ones((n, 16)), "normalize": np.ones(n),
              "imgname": np.array([b"a.jpg"] * n)}
    fields.update(override)
    with h5py.File(path, "w") as f:
        for k, v in fields.items():
            if v is not None:
                f[k] = v
    return str(path)


def _mpii_json(n=3):
    return [{"img_paths": "a.jpg", "joint_self": [[1.0, 2.0, 1.0]] * 16, "objpos": [50.0, 60.0],
             "scale_provided": 1.5, "isValidation": 1} for _ in range(n)]


@SETTINGS
@given(cut=st.floats(0.0, 0.99))
def test_truncated_mpii_h5_is_named(tmp_path_factory, cut):
    from hourglass.data import read_h5

    good = _mpii_h5(tmp_path_factory.mktemp("h5") / "valid.h5")
    data = open(good, "rb").read()
    bad = tmp_path_factory.mktemp("cut") / "valid.h5"
    bad.write_bytes(data[:int(len(data) * cut)])
    err = _only_named_errors(read_h5, str(bad), "images")
    assert err is not None and "valid.h5" in str(err)


@SETTINGS
@given(field=st.sampled_from(["center", "scale", "part", "visible", "normalize", "imgname"]),
       value=BAD_VALUES)
def test_mpii_h5_fields_of_the_wrong_shape_or_type_are_named(tmp_path_factory, field, value):
    from hourglass.data import read_h5

    path = tmp_path_factory.mktemp("h5") / "train.h5"
    try:
        _mpii_h5(path, **{field: value})
    except (TypeError, ValueError):          # h5py cannot store it: not a file we can test
        return
    err = _only_named_errors(read_h5, str(path), "images")
    if err is not None:
        assert "train.h5" in str(err)


@pytest.mark.parametrize("scale", [np.nan, -1.0, 0.0])
def test_mpii_h5_scale_nan_or_not_positive_is_refused_naming_the_person(tmp_path, scale):
    from hourglass.data import MPIIFormatError, read_h5

    path = _mpii_h5(tmp_path / "train.h5", scale=np.array([1.0, scale, 1.0]))
    with pytest.raises(MPIIFormatError, match=r"train\.h5, entry 1, key 'scale'"):
        read_h5(path, "images")


@SETTINGS
@given(cut=st.integers(0, 400))
def test_truncated_mpii_json_is_named(tmp_path_factory, cut):
    from hourglass.data import read_json

    text = json.dumps(_mpii_json())
    path = tmp_path_factory.mktemp("js") / "mpii_annotations.json"
    path.write_text(text[:cut])
    err = _only_named_errors(read_json, str(path), "images", "valid")
    assert err is not None and "mpii_annotations.json" in str(err)


@SETTINGS
@given(entry=st.integers(0, 2), key=st.sampled_from(["joint_self", "objpos", "scale_provided",
                                                    "isValidation", "img_paths"]),
       value=st.one_of(BAD_VALUES.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v),
                       st.just([[1.0, 2.0, 1.0]] * 15)))
def test_mpii_json_entries_with_wrong_fields_are_named(tmp_path_factory, entry, key, value):
    from hourglass.data import read_json

    entries = _mpii_json()
    entries[entry][key] = value
    path = tmp_path_factory.mktemp("js") / "mpii_annotations.json"
    try:
        path.write_text(json.dumps(entries))
    except ValueError:                      # NaN is still valid JSON for Python; others not
        return
    err = _only_named_errors(read_json, str(path), "images", "all")
    if err is not None:
        assert "mpii_annotations.json" in str(err)


def test_mpii_json_with_15_joints_names_entry_key_and_shapes(tmp_path):
    from hourglass.data import MPIIFormatError, read_json

    entries = _mpii_json()
    entries[2]["joint_self"] = entries[2]["joint_self"][:15]
    path = tmp_path / "mpii_annotations.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(MPIIFormatError, match=r"entry 2, key 'joint_self': wrong shape "
                                              r"\(expected \(16, 3\), got \(15, 3\)\)"):
        read_json(str(path), "images", "valid")


@SETTINGS
@given(cut=st.floats(0.0, 0.99))
@example(cut=0.365234375)     # exactly after the first variable: scipy reads it without an error
@example(cut=0.6)             # inside the second variable: scipy drops it without an error
def test_truncated_detections_mat_is_named(tmp_path_factory, cut):
    from hourglass.data import read_detections

    good = tmp_path_factory.mktemp("d") / "detections_our_format.mat"
    savemat(good, {"headboxes_src": np.ones((2, 2, 4)), "jnt_missing": np.zeros((16, 4))})
    data = good.read_bytes()
    good.write_bytes(data[:int(len(data) * cut)])
    err = _only_named_errors(read_detections, str(good))
    assert err is not None and "detections_our_format.mat" in str(err)


# ------------------------------------------------------------------------------ RHD
def _rhd_root(tmp, anno):
    folder = tmp / "RHD" / "training"
    folder.mkdir(parents=True)
    with open(folder / "anno_training.pickle", "wb") as f:
        f.write(anno if isinstance(anno, bytes) else pickle.dumps(anno, protocol=2))
    return str(tmp / "RHD")


def _rhd_sample():
    return {"uv_vis": np.ones((42, 3)), "K": np.eye(3), "xyz": np.ones((42, 3))}


@SETTINGS
@given(cut=st.floats(0.0, 0.99))
def test_truncated_rhd_pickle_is_named(tmp_path_factory, cut):
    from handpose.data import read_rhd_annotations

    data = pickle.dumps({0: _rhd_sample(), 1: _rhd_sample()}, protocol=2)
    root = _rhd_root(tmp_path_factory.mktemp("r"), data[:int(len(data) * cut)])
    err = _only_named_errors(read_rhd_annotations, root, "training")
    assert err is not None and "anno_training.pickle" in str(err)


@SETTINGS
@given(key=st.sampled_from(["uv_vis", "K", "xyz"]), value=BAD_VALUES,
       drop=st.booleans(), sample_id=st.sampled_from([3, -1, "x", 2.5]))
def test_rhd_entries_with_missing_or_wrong_fields_are_named(tmp_path_factory, key, value, drop,
                                                            sample_id):
    from handpose.data import read_rhd_annotations

    sample = _rhd_sample()
    if drop:
        del sample[key]
    else:
        sample[key] = value
    anno = {0: _rhd_sample(), sample_id: sample}
    root = _rhd_root(tmp_path_factory.mktemp("r"), anno)
    err = _only_named_errors(read_rhd_annotations, root, "training")
    if err is not None:
        assert "anno_training.pickle" in str(err)


def test_rhd_entry_without_uv_vis_names_the_sample_and_key(tmp_path):
    from handpose.data import read_rhd_annotations

    sample = _rhd_sample()
    del sample["uv_vis"]
    root = _rhd_root(tmp_path, {0: _rhd_sample(), 7: sample})
    with pytest.raises(DataFormatError, match=r"anno_training\.pickle, entry 7, key 'uv_vis': "
                                              r"field missing"):
        read_rhd_annotations(root, "training")


# ------------------------------------------------------------------------------ STB
@SETTINGS
@given(cut=st.floats(0.0, 0.99), value=st.one_of(st.none(), BAD_VALUES))
def test_stb_labels_truncated_or_with_a_bad_handpara_are_named(tmp_path_factory, cut, value):
    from handpose.data import read_stb

    root = tmp_path_factory.mktemp("stb")
    (root / "labels").mkdir()
    label = root / "labels" / "B1Counting_BB.mat"
    if value is None:                                      # truncate a valid file
        savemat(label, {"handPara": np.ones((3, 21, 2))})
        data = label.read_bytes()
        label.write_bytes(data[:int(len(data) * cut)])
    else:
        try:
            savemat(label, {"handPara": value} if cut > 0.5 else {"other": np.ones(3)})
        except (TypeError, ValueError):
            return
    err = _only_named_errors(read_stb, str(root), ("B1Counting",))
    if value is None or cut <= 0.5:
        assert err is not None
    if err is not None:
        assert "B1Counting_BB.mat" in str(err)


def test_stb_without_handpara_names_the_key(tmp_path):
    from handpose.data import read_stb

    (tmp_path / "labels").mkdir()
    savemat(tmp_path / "labels" / "B1Counting_BB.mat", {"handPoints": np.ones((3, 21, 2))})
    with pytest.raises(DataFormatError, match=r"B1Counting_BB\.mat, key 'handPara': field missing"):
        read_stb(str(tmp_path), ("B1Counting",))


# --------------------------------------------------------------------- SURREAL, files
@SETTINGS
@given(cut=st.floats(0.0, 0.99))
def test_truncated_surreal_info_is_named(tmp_path_factory, cut):
    from segmentation.data import SurrealError, read_info

    stem = tmp_path_factory.mktemp("s") / "01_01_c0001"
    savemat(str(stem) + "_info.mat", {"zrot": np.zeros((2, 1)), "joints2D": np.ones((2, 24, 2)),
                                      "joints3D": np.ones((3, 24, 2))})
    path = str(stem) + "_info.mat"
    data = open(path, "rb").read()
    open(path, "wb").write(data[:int(len(data) * cut)])
    with pytest.raises(SurrealError, match="01_01_c0001"):
        read_info(str(stem))


@SETTINGS
@given(content=st.binary(max_size=64), kind=st.sampled_from(["pickle", "npy"]))
def test_random_bytes_as_pickle_or_npy_raise_named_errors(tmp_path_factory, content, kind):
    path = tmp_path_factory.mktemp("b") / f"weights.{kind}"
    if kind == "npy" and content[:1] == b"x":
        content = np.lib.format.MAGIC_PREFIX + content           # a header that breaks later
    path.write_bytes(content)
    err = _only_named_errors(load_pickle if kind == "pickle" else load_npy, str(path))
    if err is not None and not isinstance(err, UnsafeFileError):
        assert f"weights.{kind}" in str(err)


@SETTINGS
@given(cut=st.floats(0.05, 0.98), fmt=st.sampled_from([".jpg", ".png"]))
def test_truncated_images_are_refused_with_their_path(tmp_path_factory, cut, fmt):
    import cv2

    from reprokit.data import load_rgb

    folder = tmp_path_factory.mktemp("img")
    path = str(folder / f"photo{fmt}")
    rng = np.random.default_rng(0)
    cv2.imwrite(path, rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    assert load_rgb(path).shape == (40, 50, 3)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:int(len(data) * cut)])
    with pytest.raises(DataFormatError, match=f"photo\\{fmt}"):
        load_rgb(path)


def test_empty_files_are_named_by_every_reader(tmp_path):
    from hourglass.data import read_detections, read_h5, read_json

    for name, fn, args in (("valid.h5", read_h5, ("images",)),
                           ("mpii_annotations.json", read_json, ("images",)),
                           ("detections_our_format.mat", read_detections, ()),
                           ("w.pickle", load_pickle, ()), ("w.npy", load_npy, ())):
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(DataFormatError, match=name.replace(".", r"\.")):
            fn(str(path), *args)
    assert not os.path.exists(tmp_path / "images")
