"""PoseNet training on synthetic STB, GT-crop evaluation with corruptions, Table IV output."""
import json
import os

import numpy as np
import pytest

from handpose.corruptions import corruption_sets
from handpose.data import read_stb
from handpose.reproduce import mean_pose_chance, table4_markdown, write_noise_copies
from handpose.synthetic import write_synthetic_stb
from handpose.train import PoseNetConfig, evaluate_gt_cropped, train_dataset, train_posenet

TINY = dict(width=0.0625, crop_size=32, steps=4, batch_size=2, boundaries=(2, 3),
            values=(1e-3, 1e-4, 1e-5), center_noise=2.0, uv_noise=0.3, steps_per_epoch=2)


@pytest.fixture(scope="module")
def stb(tmp_path_factory):
    root = write_synthetic_stb(str(tmp_path_factory.mktemp("stb")), ("B1Counting", "B2Counting"),
                               frames=3, image_size=(96, 128), seed=4)
    return read_stb(root, ("B2Counting",)), read_stb(root, ("B1Counting",))


def test_training_batches_hold_maps_and_visibility(stb):
    cfg = PoseNetConfig(**TINY)
    x, (y, y2, y3) = next(iter(train_dataset(stb[0], cfg, seed=0)))
    assert x.shape == (2, 32, 32, 3) and y.shape == (2, 32, 32, 42)
    vis = y.numpy()[:, 0, 0, 21:]
    peaks = y.numpy()[..., :21].max(axis=(1, 2))
    np.testing.assert_array_equal(vis > 0, peaks > 0)


def test_train_resume_and_evaluate_every_corruption(stb, tmp_path):
    cfg = PoseNetConfig(**TINY)
    model, run = train_posenet(cfg, stb[0], "posenet-tiny", str(tmp_path))
    assert int(model.optimizer.iterations.numpy()) == 4
    assert os.path.exists(run.file("DONE"))
    sets = corruption_sets()
    clean = evaluate_gt_cropped(model, stb[1], cfg)
    occluded = evaluate_gt_cropped(model, stb[1], cfg, sets["occlusion_0.3"])
    assert clean["predictions"].shape == (6, 21, 2)
    assert 0 <= clean["auc"] <= 1 and clean["mean"] > 0
    assert set(clean["mmpose"]) == {"mean", "median", "auc"}
    assert occluded["predictions"].shape == clean["predictions"].shape


def test_noise_copies_triple_the_training_set(stb, tmp_path):
    out = write_noise_copies(stb[0], str(tmp_path / "noise"))
    assert len(out["image_path"]) == 3 * len(stb[0]["image_path"])
    np.testing.assert_array_equal(out["uv"][:6], out["uv"][6:12])
    assert all(os.path.exists(p) for p in out["image_path"])


def test_chance_level_and_table_layout(stb):
    chance = mean_pose_chance(stb[0], stb[1], 64)
    assert chance["mean"] > 0 and 0 <= chance["auc"] <= 1
    row = {"params": 10, "train_seconds": 1.0, "sets": {
        n: {"mean": 1.0, "median": 2.0, "auc": 0.5, "thresholds": [0, 30], "pck_curve": [0, 1]}
        for n in corruption_sets()}}
    text = table4_markdown({"scale": "smoke", "data": "x", "chance": chance,
                            "models": {"S-train/original": row, "S-train/mixed": row}})
    assert "| Standard (S-train) | - | 1.000 / 16.958 | 2.000 / 6.095 | 0.500 / 0.733 |" in text
    assert "| S-train* | 0.3 | - / 27.783" in text and "Chance level" in text


def test_predict_cli_writes_keypoints_and_overlay(tmp_path):
    """hand3d-format pickles of fresh full-size models -> `python -m handpose predict`."""
    import pickle
    import subprocess
    import sys

    import cv2

    from handpose.model import build_handsegnet, build_posenet
    from reprokit.synthetic import HAND21, render_figure

    for name, model, scope in (("seg.pickle", build_handsegnet("hand3d"), "HandSegNet"),
                               ("pose.pickle", build_posenet("hand3d"), "PoseNet2D")):
        arrays = {}
        for layer in model.layers:
            if layer.weights:
                k, b = layer.get_weights()
                arrays[f"{scope}/{layer.name}/weights"], arrays[f"{scope}/{layer.name}/biases"] = k, b
        with open(tmp_path / name, "wb") as f:
            pickle.dump(arrays, f, protocol=2)
    image = render_figure(HAND21, (240, 320), seed=3)["image"]
    path = str(tmp_path / "hand.png")
    cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = subprocess.run([sys.executable, "-m", "handpose", "predict", path, "--handsegnet",
                          str(tmp_path / "seg.pickle"), "--posenet", str(tmp_path / "pose.pickle")],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.load(open(tmp_path / "hand.keypoints.json"))
    assert len(data["keypoints"]) == 21 and len(data["crop_box"]) == 4
    assert cv2.imread(str(tmp_path / "hand.overlay.png")).shape == (240, 320, 3)


def test_handsegnet_trains_on_synthetic_rhd_crops(tmp_path):
    from handpose.data import read_rhd_annotations
    from handpose.synthetic import write_synthetic_rhd
    from handpose.train import HandSegConfig, handseg_dataset, train_handsegnet

    root = write_synthetic_rhd(str(tmp_path / "rhd"), "training", 4, image_size=(96, 96), seed=2)
    rec = read_rhd_annotations(root, "training")
    cfg = HandSegConfig(crop_size=64, steps=2, batch_size=2, boundaries=(1, 2), steps_per_epoch=1)
    x, y = next(iter(handseg_dataset(rec, cfg)))
    assert x.shape == (2, 64, 64, 3) and y.shape == (2, 64, 64)
    assert set(np.unique(y.numpy())) <= {0.0, 1.0}
    model, run = train_handsegnet(cfg, rec, "handseg-tiny", str(tmp_path / "runs"))
    assert int(model.optimizer.iterations.numpy()) == 2 and os.path.exists(run.file("DONE"))
