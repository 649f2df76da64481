"""MPII readers on small files written in each real format (hourglass.synthetic)."""
import gzip
import json
import os
import shutil

import h5py
import numpy as np
import pytest

from hourglass.data import (FLIP_INDEX, MPIIFormatError, MPIIReader, load_mpii, read_detections,
                            read_h5, read_json)
from hourglass.synthetic import write_synthetic_mpii

NUM_TRAIN, NUM_VALID = 14, 6


@pytest.fixture(scope="module")
def mpii_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("mpii"))
    # Figures may leave the frame by up to 45 % so that some joints are not annotated.
    return write_synthetic_mpii(d, NUM_TRAIN, NUM_VALID, image_size=(64, 64), seed=3,
                                out_of_frame=0.45, formats=("h5", "detections", "json", "mat"))


def test_h5_has_the_pose_hg_train_fields_and_dtypes(mpii_dir):
    with h5py.File(os.path.join(mpii_dir, "annot", "valid.h5")) as f:
        assert {"center", "scale", "part", "visible", "normalize", "imgname"} <= set(f)
        assert f["part"].shape == (NUM_VALID, 16, 2) and f["part"].dtype == np.float64
        assert f["center"].shape == (NUM_VALID, 2) and f["scale"].shape == (NUM_VALID,)
        assert f["visible"].shape == (NUM_VALID, 16)
        assert f["imgname"].dtype == np.dtype("S13")
        assert os.path.exists(os.path.join(mpii_dir, "images", f["imgname"][0].decode()))


@pytest.mark.parametrize("split", ["train", "valid"])
def test_all_three_formats_give_the_same_records(mpii_dir, split):
    tables = {s: load_mpii(mpii_dir, split, source=s) for s in ("h5", "json", "mat")}
    ref = tables["h5"]
    assert len(ref["image_path"]) == (NUM_TRAIN if split == "train" else NUM_VALID)
    for source, table in tables.items():
        assert list(table["image_path"]) == list(ref["image_path"]), source
        for key in ("keypoints", "annotated", "visible", "center", "scale"):
            np.testing.assert_allclose(table[key], ref[key], atol=1e-4, err_msg=f"{source} {key}")
        assert table["keypoints"].dtype == np.float32


def test_h5_centre_and_scale_are_used_as_stored_and_json_ones_adjusted_once(mpii_dir):
    h5 = read_h5(os.path.join(mpii_dir, "annot", "train.h5"), "")
    with h5py.File(os.path.join(mpii_dir, "annot", "train.h5")) as f:
        np.testing.assert_allclose(h5["center"], f["center"][()], rtol=1e-6)
        np.testing.assert_allclose(h5["scale"], f["scale"][()], rtol=1e-6)
    raw = [e for e in json.load(open(os.path.join(mpii_dir, "mpii_annotations.json")))
           if not e["isValidation"]]
    s = np.array([e["scale_provided"] for e in raw])
    objpos = np.array([e["objpos"] for e in raw])
    js = read_json(os.path.join(mpii_dir, "mpii_annotations.json"), "", "train")
    np.testing.assert_allclose(js["scale"], 1.25 * s, rtol=1e-6)
    np.testing.assert_allclose(js["center"][:, 1], objpos[:, 1] + 15 * s, rtol=1e-6)
    np.testing.assert_allclose(js["center"][:, 0], objpos[:, 0], rtol=1e-6)
    # ... and the h5 (pre-adjusted) and the JSON (raw) agree after loading: not adjusted twice.
    np.testing.assert_allclose(js["center"], h5["center"], atol=1e-4)


def test_missing_joints_are_zero_unannotated_and_invisible(mpii_dir):
    t = load_mpii(mpii_dir, "train")
    missing = t["annotated"] == 0
    assert missing.any() and (~missing).any(), "the fixture should have both kinds of joint"
    assert np.all(t["keypoints"][missing] == 0)
    assert np.all(t["visible"][missing] == 0)
    occluded = (t["annotated"] == 1) & (t["visible"] == 0)
    assert occluded.any(), "some annotated joints are occluded"


def test_validation_head_sizes_come_from_the_detections_file(mpii_dir):
    det = read_detections(os.path.join(mpii_dir, "detections_our_format.mat"))
    for source in ("h5", "json", "mat"):
        v = load_mpii(mpii_dir, "valid", source=source)
        np.testing.assert_allclose(v["head_size"], det["head_size"], rtol=1e-5)
        np.testing.assert_allclose(v["annotated"], det["annotated"])
    # the synthetic h5 'normalize' is the same 0.6 x head-box diagonal (MPII util_get_head_size)
    with h5py.File(os.path.join(mpii_dir, "annot", "valid.h5")) as f:
        np.testing.assert_allclose(det["head_size"], f["normalize"][()], rtol=1e-5)


def test_gzipped_json_reads_like_the_plain_one(mpii_dir, tmp_path):
    src = os.path.join(mpii_dir, "mpii_annotations.json")
    dst = str(tmp_path / "mpii_annotations.json.gz")
    with open(src, "rb") as fi, gzip.open(dst, "wb") as fo:
        fo.write(fi.read())
    a, b = read_json(src, "x", "valid"), read_json(dst, "x", "valid")
    np.testing.assert_array_equal(a["keypoints"], b["keypoints"])


def test_bad_files_fail_with_the_file_and_the_problem(mpii_dir, tmp_path):
    bad = str(tmp_path / "bad.h5")
    with h5py.File(bad, "w") as f:
        f["center"] = np.zeros((2, 2))
    with pytest.raises(MPIIFormatError, match=r"bad\.h5.*missing field.*'part'"):
        read_h5(bad, "")
    with pytest.raises(FileNotFoundError, match="no MPII annotations"):
        load_mpii(str(tmp_path), "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mpii(str(tmp_path / "nope"), "train")
    # a detections file for other people: the joint check catches it
    mixed = tmp_path / "mixed"
    shutil.copytree(mpii_dir, mixed)
    shutil.copy(os.path.join(mpii_dir, "annot", "train.h5"), mixed / "annot" / "valid.h5")
    with pytest.raises(MPIIFormatError, match="detections file has 6 people"):
        load_mpii(str(mixed), "valid", source="h5")


def test_reader_weight_column_and_flip_index():
    assert FLIP_INDEX == (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10)
    records = {"image_path": np.array(["a.jpg"]), "keypoints": np.zeros((1, 16, 2), np.float32),
               "annotated": np.ones((1, 16), np.float32), "visible": np.zeros((1, 16), np.float32),
               "center": np.zeros((1, 2), np.float32), "scale": np.ones(1, np.float32)}
    assert MPIIReader(records, "annotated").records["visible"].sum() == 16
    assert MPIIReader(records, "visible").records["visible"].sum() == 0
    with pytest.raises(ValueError, match="'both'"):
        MPIIReader(records, "both")


def test_detections_file_with_zeroed_coordinates_pairs_other_differences_fail(mpii_dir, tmp_path):
    """The real detections_our_format.mat stores some coordinates as 0 (10 of 2958 people):
    such a pair still loads (the annotation's joints are kept); a joint moved elsewhere fails
    naming the person, the joint and both values."""
    from scipy.io import loadmat, savemat

    src = loadmat(os.path.join(mpii_dir, "detections_our_format.mat"))
    keep = {k: v for k, v in src.items() if not k.startswith("__")}
    pos = keep["pos_gt_src"]                                         # (16, 2, N)
    person = int(np.flatnonzero(keep["jnt_missing"][0] == 0)[0])     # r_ankle annotated
    want = load_mpii(mpii_dir, "valid", source="h5")["keypoints"][person, 0].copy()
    quirk = tmp_path / "quirk"
    shutil.copytree(mpii_dir, quirk)
    zeroed = pos.copy()
    zeroed[0, 0, person] = 0.0
    savemat(quirk / "detections_our_format.mat", {**keep, "pos_gt_src": zeroed})
    r = load_mpii(str(quirk), "valid", source="h5")
    np.testing.assert_array_equal(r["keypoints"][person, 0], want)
    moved = pos.copy()
    moved[0, 0, person] += 50.0
    savemat(quirk / "detections_our_format.mat", {**keep, "pos_gt_src": moved})
    with pytest.raises(MPIIFormatError, match=rf"person {person} .*r_ankle .* vs "):
        load_mpii(str(quirk), "valid", source="h5")
