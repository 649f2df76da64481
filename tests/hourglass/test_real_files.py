"""The MPII readers and the predict CLI on the REAL files (``../shared/real/mpii``).

Measured facts these tests hold (``../shared/real/README.md``): the princeton-vl ``valid.h5``,
the bearpaw/anibali JSON's validation people and bearpaw's ``detections_our_format.mat`` list
the same 2958 people in the same order; the JSON has 22246 training people; the ``.mat`` stores
a coordinate as 0 for 10 people; the h5 stores neck and head top truncated to integers.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hourglass.data import load_mpii, read_detections, read_h5, read_json
from reprokit.metrics.keypoints import PCKH_VARIANTS, pckh

pytestmark = pytest.mark.real
ZEROED = [682, 786, 1081, 1897, 2636, 2739, 2763, 2775, 2897, 2921]


@pytest.fixture(scope="module")
def mpii(real_dir):
    d = os.path.join(real_dir, "mpii")
    images = os.path.join(d, "images")
    return {"dir": d, "h5": read_h5(os.path.join(d, "annot", "valid.h5"), images),
            "json": read_json(os.path.join(d, "mpii_annotations.json.gz"), images, "valid"),
            "det": read_detections(os.path.join(d, "detections_our_format.mat"))}


def test_counts_of_the_real_files(mpii):
    assert len(mpii["h5"]["image_path"]) == len(mpii["json"]["image_path"]) == 2958
    assert len(mpii["det"]["head_size"]) == 2958
    train = read_json(os.path.join(mpii["dir"], "mpii_annotations.json.gz"), "images", "train")
    assert len(train["image_path"]) == 22246


def test_h5_and_json_list_the_same_people(mpii):
    h, j = mpii["h5"], mpii["json"]
    np.testing.assert_array_equal(h["image_path"], j["image_path"])
    np.testing.assert_array_equal(h["annotated"], j["annotated"])
    np.testing.assert_array_equal(h["visible"], j["visible"])
    np.testing.assert_allclose(h["center"], j["center"], atol=0.01)     # float32 in the h5
    np.testing.assert_allclose(h["scale"], j["scale"], atol=1e-3)
    diff = np.abs(h["keypoints"] - j["keypoints"])
    assert diff.max() < 1.0 + 1e-3                                       # h5: neck/top truncated
    others = [k for k in range(16) if k not in (8, 9)]
    assert diff[:, others].max() == 0.0


def test_pairing_with_the_real_detections_file(mpii):
    """The validation split pairs with detections_our_format.mat from the h5 and from the
    JSON; its 10 zeroed coordinates are tolerated, the annotation's joints are kept."""
    for source in ("h5", "json"):
        r = load_mpii(mpii["dir"], "valid", source=source)
        assert len(r["image_path"]) == 2958
        np.testing.assert_allclose(r["head_size"], mpii["det"]["head_size"], rtol=1e-6)
        assert r["keypoints"][2739, 0, 0] == 571.0                       # x = 0 in the .mat
    off = np.abs(mpii["h5"]["keypoints"] - mpii["det"]["keypoints"]).max(-1) > 1.0
    both = (mpii["h5"]["annotated"] > 0) & (mpii["det"]["annotated"] > 0)
    assert np.flatnonzero((off & both).any(-1)).tolist() == ZEROED
    train = load_mpii(mpii["dir"], "train")            # no annot/train.h5 here: the JSON
    assert len(train["image_path"]) == 22246


def test_json_reader_agrees_with_mmpose_conversion_of_the_same_people(mpii, real_dir):
    """mmpose's own JSON of the 5 real images (an independent conversion of MPII): same joints,
    same visibility, and its raw centre/scale are ours before Newell's adjustment (the JSON keeps
    the scale to 3 decimals)."""
    entries = json.load(open(os.path.join(real_dir, "mpii", "mmpose_test_mpii.json")))
    j = mpii["json"]
    names = np.array([os.path.basename(p) for p in j["image_path"]])
    for e in entries:
        rows = np.flatnonzero(names == e["image"])
        centers = j["center"][rows] - [0.0, 15 * j["scale"][rows][0] / 1.25]
        i = rows[np.argmin(np.abs(centers - e["center"]).sum(-1))]
        vis = np.asarray(e["joints_vis"], np.float32)
        np.testing.assert_array_equal(j["annotated"][i], vis)          # mmpose: -1 when missing
        np.testing.assert_allclose(j["keypoints"][i][vis > 0], np.asarray(e["joints"])[vis > 0],
                                   atol=1e-3)
        # the bearpaw JSON rounds MPII's scale to 3 decimals (4.718 vs mmpose's 4.718488)
        assert abs(j["scale"][i] / 1.25 - e["scale"]) < 5e-4 + 1e-6


@pytest.fixture(scope="module")
def paired(mpii):
    return load_mpii(mpii["dir"], "valid")


@pytest.mark.parametrize("variant", sorted(PCKH_VARIANTS))
def test_ground_truth_against_itself_is_100_in_every_variant(paired, variant):
    r = paired
    t = pckh(r["keypoints"], r["keypoints"], r["annotated"], r["head_size"], 0.5, variant)
    for column in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"):
        assert t[column] == 100.0, (column, t[column])


def test_predict_cli_on_real_photographs(real_dir, tmp_path):
    """``python -m hourglass predict`` on the 5 real MPII images (centre/scale from mmpose's
    annotations) and on man_running.jpg (whole image): JSON and overlay written, sizes kept."""
    import cv2

    from hourglass import __main__ as cli
    from hourglass.train import TrainConfig, build_model

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    cfg = TrainConfig(input_size=64, model={"num_features": 8, "depth": 2})
    json.dump(cfg.resolved(), open(run / "config.json", "w"))
    build_model(cfg).save_weights(str(run / "checkpoints" / "final.weights.h5"))
    entries = json.load(open(os.path.join(real_dir, "mpii", "mmpose_test_mpii.json")))
    jobs = [(os.path.join(real_dir, "mpii", "images", e["image"]),
             ["--center", *map(str, e["center"]), "--scale", str(e["scale"])]) for e in entries]
    for image, extra in jobs:
        stem = str(tmp_path / os.path.splitext(os.path.basename(image))[0])
        assert cli.main(["predict", image, "--run", str(run), "--output", stem + ".jpg", *extra]) == 0
        h, w = cv2.imread(image).shape[:2]
        assert cv2.imread(stem + ".hourglass.png").shape[:2] == (h, w)
        assert len(json.load(open(stem + ".hourglass.json"))["keypoints"]) == 16
    man = os.path.join(real_dir, "mpii", "man_running.jpg")
    stem = str(tmp_path / "man_running")
    p = subprocess.run([sys.executable, "-m", "hourglass", "predict", man, "--run", str(run),
                        "--output", stem + ".jpg"], capture_output=True, text=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert p.returncode == 0, p.stderr[-2000:]
    assert cv2.imread(stem + ".hourglass.png").shape[:2] == (512, 512)
