"""PoseNet training on synthetic STB, GT-crop evaluation with corruptions, Table IV output."""
import json
import os

import numpy as np
import pytest

from handpose.corruptions import corruption_sets
from handpose.data import read_stb
from handpose.reproduce import mean_pose_chance, plot_pck, table4_markdown, write_noise_copies
from handpose.synthetic import write_synthetic_stb
from handpose.evaluate import evaluate_gt_cropped
from handpose.spec import PoseNetConfig
from handpose.train import train_dataset, train_posenet

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
    row = {"trained_params": 10, "full_size_params": {"trainable": 20, "total": 20},
           "train_seconds": 1.0, "sets": {
        n: {"mean": 1.0, "median": 2.0, "auc": 0.5, "thresholds": [0, 30], "pck_curve": [0, 1]}
        for n in corruption_sets()}}
    text = table4_markdown({"scale": "smoke", "data": "x", "chance": chance,
                            "models": {"S-train/original": row, "S-train/mixed": row}})
    assert "| Standard (S-train) | - | 1.000 / 16.958 | 2.000 / 6.095 | 0.500 / 0.733 |" in text
    assert "| S-train* | 0.3 | - / 27.783" in text and "Chance level" in text
    assert len(chance["pck_curve"]) == len(chance["thresholds"]) == 20


def test_pck_plot_draws_the_chance_curve(stb, tmp_path):
    from reprokit.viz import pyplot

    chance = mean_pose_chance(stb[0], stb[1], 64)
    s = {"mean": 1.0, "median": 2.0, "auc": 0.5, "thresholds": [0, 30], "pck_curve": [0, 1]}
    summary = {"chance": chance, "models": {"m": {"sets": {n: s for n in corruption_sets()}}}}
    seen = []
    plt = pyplot()
    real_close = plt.close
    plt.close = lambda fig: seen.append([ln.get_label() for ln in fig.axes[0].get_lines()]) or real_close(fig)
    try:
        plot_pck(summary, str(tmp_path / "pck.png"))
    finally:
        plt.close = real_close
    assert (tmp_path / "pck.png").stat().st_size > 0
    assert seen and seen[0][-1].startswith("mean pose, clean (chance")


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
    data = json.load(open(tmp_path / "hand.handpose.json"))
    assert cv2.imread(str(tmp_path / "hand.handpose.png")).shape == (240, 320, 3)
    # fresh random weights: either no hand (empty mask) or 21 points flagged by score
    if data["hand_found"]:
        assert len(data["keypoints"]) == 21 and len(data["crop_box"]) == 4
        assert all(k["confident"] == (k["score"] >= data["min_score"]) for k in data["keypoints"])
    else:
        assert data["keypoints"] == [] and "no hand found" in data["notes"]


def test_predict_reports_no_hand_instead_of_inventing_one(tmp_path):
    """A HandSegNet whose mask is empty: no keypoints, "no hand found" in JSON and overlay."""
    import cv2

    from handpose.model import build_handsegnet, build_posenet
    from handpose.pipeline import HandPosePipeline
    from handpose.predict import predict_file

    seg = build_handsegnet("hand3d", (240, 320, 3))
    last = seg.layers[-1] if seg.layers[-1].weights else [l for l in seg.layers if l.weights][-1]
    k, b = last.get_weights()
    b[:] = 0
    b[0] = 100.0                                          # background wins everywhere
    last.set_weights([np.zeros_like(k), b])
    image = np.full((240, 320, 3), 128, np.uint8)
    path = str(tmp_path / "wall.png")
    cv2.imwrite(path, image)
    data = predict_file(path, HandPosePipeline(seg, build_posenet("hand3d")), "random weights")
    assert data["hand_found"] is False and data["keypoints"] == []
    assert data["notes"][0] == "no hand found" and "WARNING: random weights" in data["notes"]
    assert os.path.exists(tmp_path / "wall.handpose.png")
    with pytest.raises(Exception, match="--force"):
        predict_file(path, HandPosePipeline(seg, build_posenet("hand3d")))


def test_handsegnet_trains_on_synthetic_rhd_crops(tmp_path):
    from handpose.data import read_rhd_annotations
    from handpose.synthetic import write_synthetic_rhd
    from handpose.spec import HandSegConfig
    from handpose.train import handseg_dataset, train_handsegnet

    root = write_synthetic_rhd(str(tmp_path / "rhd"), "training", 4, image_size=(96, 96), seed=2)
    rec = read_rhd_annotations(root, "training")
    cfg = HandSegConfig(crop_size=64, steps=2, batch_size=2, boundaries=(1, 2), steps_per_epoch=1)
    x, y = next(iter(handseg_dataset(rec, cfg)))
    assert x.shape == (2, 64, 64, 3) and y.shape == (2, 64, 64)
    assert set(np.unique(y.numpy())) <= {0.0, 1.0}
    model, run = train_handsegnet(cfg, rec, "handseg-tiny", str(tmp_path / "runs"))
    assert int(model.optimizer.iterations.numpy()) == 2 and os.path.exists(run.file("DONE"))


@pytest.fixture(scope="module")
def rhd(tmp_path_factory):
    from handpose.data import read_rhd_annotations
    from handpose.synthetic import write_synthetic_rhd

    root = write_synthetic_rhd(str(tmp_path_factory.mktemp("rhd")), "training", 4,
                               image_size=(96, 96), seed=2)
    return read_rhd_annotations(root, "training")


def test_reader_options_scoremap_dropout_scale_and_offset_noise(stb):
    base = dict(TINY, center_noise=0.0, uv_noise=0.0, batch_size=6)
    x0, (y0, _, _) = next(iter(train_dataset(stb[0], PoseNetConfig(**base), seed=1)))
    cfg = PoseNetConfig(**base, scoremap_dropout=0.5)
    x1, (y1, _, _) = next(iter(train_dataset(stb[0], cfg, seed=1)))
    np.testing.assert_array_equal(x0.numpy(), x1.numpy())           # dropout leaves the image
    np.testing.assert_array_equal(y0.numpy()[..., 21:], y1.numpy()[..., 21:])  # and the weights
    peak0, peak1 = y0.numpy()[..., :21].max((1, 2)), y1.numpy()[..., :21].max((1, 2))
    dropped = (peak0 > 0) & (peak1 == 0)
    assert 0 < dropped.sum() < (peak0 > 0).sum()                     # about half the maps
    kept = peak1 > 0
    np.testing.assert_array_equal(y1.numpy()[..., :21].transpose(0, 3, 1, 2)[kept],
                                  y0.numpy()[..., :21].transpose(0, 3, 1, 2)[kept])  # unscaled
    for option in ({"crop_scale_noise": True}, {"crop_offset_noise": 10.0}):
        x2, _ = next(iter(train_dataset(stb[0], PoseNetConfig(**base, **option), seed=1)))
        assert not np.allclose(x0.numpy(), x2.numpy()), option


def test_rhd_records_feed_posenet_with_palm_or_wrist(rhd):
    cfg = PoseNetConfig(**dict(TINY, center_noise=0.0, uv_noise=0.0))
    _, (palm, _, _) = next(iter(train_dataset(rhd, cfg, seed=3)))
    _, (wrist, _, _) = next(iter(train_dataset(rhd, PoseNetConfig(**dict(
        TINY, center_noise=0.0, uv_noise=0.0, use_wrist_coord=True)), seed=3)))
    assert palm.shape == (2, 32, 32, 42)
    np.testing.assert_array_equal(palm.numpy()[..., 1:21], wrist.numpy()[..., 1:21])
    assert not np.array_equal(palm.numpy()[..., 0], wrist.numpy()[..., 0])


def test_two_phase_r_train_then_s_train_reuses_a_finished_phase(rhd, stb, tmp_path):
    import glob

    from handpose.spec import initialize
    from handpose.train import train_posenet_two_phase

    cfg = PoseNetConfig(**TINY)
    model, run = train_posenet_two_phase(cfg, rhd, stb[0], "pn", str(tmp_path), r_steps=2)
    phase1 = glob.glob(str(tmp_path / "*-pn-R-train"))
    assert len(phase1) == 1
    config = json.load(open(run.file("config.json")))
    assert config["init"] == os.path.join(phase1[0], "checkpoints", "final.weights.h5")
    assert json.load(open(os.path.join(phase1[0], "config.json")))["steps"] == 2
    # phase 2 starts from phase 1: a model built from phase 2's config holds phase 1's weights
    start = cfg.replace(init=config["init"]).build()
    ref = cfg.build()
    ref.load_weights(config["init"])
    for a, b in zip(start.weights, ref.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(model.optimizer.iterations.numpy()) == cfg.steps
    train_posenet_two_phase(cfg, rhd, stb[0], "pn", str(tmp_path), r_steps=2)
    assert len(glob.glob(str(tmp_path / "*-pn-R-train"))) == 1       # not trained again
    with pytest.raises(FileNotFoundError, match="missing-cpm"):
        initialize(cfg.build(), str(tmp_path / "missing-cpm"))


def test_full_pipeline_protocol_wrist_vs_palm_and_frame(rhd):
    """A pipeline that returns the ground-truth palm hand exactly: EPE 0 with palm GT; with the
    paper's wrist GT only keypoint 0 errs, by |wrist - palm| in the 240 x 320 frame."""
    import cv2

    from handpose.data import select_hand
    from handpose.evaluate import evaluate_full_pipeline

    truth = {}
    for i, (uv, vis, mp) in enumerate(zip(rhd["uv"], rhd["visible"], rhd["mask_path"])):
        mask = cv2.imread(mp, cv2.IMREAD_UNCHANGED)
        palm = select_hand(mask, uv, vis)[0].numpy()
        wrist, wvis = (a.numpy() for a in select_hand(mask, uv, vis, use_wrist_coord=True)[:2])
        truth[i] = (palm, wrist, wvis)

    class Oracle:
        input_size = (240, 320)
        calls = 0

        def __call__(self, images):
            out = np.stack([truth[self.calls + j][0] for j in range(len(images))])
            self.calls += len(images)
            return {"keypoints": out}

    palm = evaluate_full_pipeline(Oracle(), rhd, "palm", batch_size=3)
    assert palm["mean"] == 0 and palm["auc"] == 1
    wrist = evaluate_full_pipeline(Oracle(), rhd, "wrist", batch_size=3)
    scale = np.array([320 / 96, 240 / 96])
    d = [np.linalg.norm((p[0] - w[0]) * scale) for p, w, v in truth.values() if v[0] > 0]
    # keypoint 0 is one of 21 per-keypoint means; the other 20 are exact
    assert wrist["mean"] == pytest.approx(np.mean(d) / 21, rel=1e-5)
    np.testing.assert_allclose(wrist["predictions"], palm["predictions"])
    assert palm["predictions"][..., 1].max() <= 240 and palm["predictions"][..., 0].max() <= 320
    orig = evaluate_full_pipeline(Oracle(), rhd, "wrist", frame="original")
    assert orig["mean"] < wrist["mean"]                      # 96 px images: smaller distances
    with pytest.raises(ValueError, match="keypoint0"):
        evaluate_full_pipeline(Oracle(), rhd, "thumb")


def test_cli_trains_r_then_s_and_evaluates_gt_crops_on_rhd(tmp_path):
    import subprocess
    import sys

    from handpose.data import STB_TRAIN
    from handpose.synthetic import write_synthetic_rhd, write_synthetic_stb

    rhd_root = str(tmp_path / "rhd")
    for split in ("training", "evaluation"):
        write_synthetic_rhd(rhd_root, split, 3, image_size=(96, 96), seed=7)
    stb_root = write_synthetic_stb(str(tmp_path / "stb"), STB_TRAIN, frames=1,
                                   image_size=(96, 128), seed=7)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-m", "handpose", "train", "posenet", "--rhd", rhd_root,
                          "--stb", stb_root, "--width", "0.0625", "--steps", "2", "--r-steps", "1",
                          "--batch-size", "2", "--out", str(tmp_path / "runs")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    weights = out.stdout.strip().splitlines()[-1].split("weights in ")[1]
    assert "-posenet-S-train" in weights and os.path.exists(weights)
    # the run's config.json gives variant and width: no flags repeated
    out = subprocess.run([sys.executable, "-m", "handpose", "evaluate", "--posenet", weights,
                          "--rhd", rhd_root], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "mean EPE" in out.stdout and "AUC (0-30 px)" in out.stdout


def test_paper_schedules_are_hand3d_scripts_and_step():
    """hand3d training_posenet.py / training_handsegnet.py: Adam (TF1 eps 1e-8), batch 8,
    PoseNet 30k at 1e-4 / 1e-5 / 1e-6 (boundaries 10k, 20k), HandSegNet 40k at 1e-5 / 1e-6 /
    1e-7 (20k, 30k); ours steps (theirs never advances global_step)."""
    from handpose.spec import HandSegConfig, PoseNetConfig
    from reprokit.schedules import PiecewiseConstantByIteration
    from reprokit.training import make_optimizer

    p, h = PoseNetConfig(), HandSegConfig()
    assert (p.steps, p.batch_size, p.boundaries, p.values) == (30_000, 8, (10_000, 20_000),
                                                              (1e-4, 1e-5, 1e-6))
    assert (h.steps, h.batch_size, h.boundaries, h.values) == (40_000, 8, (20_000, 30_000),
                                                              (1e-5, 1e-6, 1e-7))
    lr = PiecewiseConstantByIteration(list(p.boundaries), list(p.values))
    assert [float(lr(s)) for s in (0, 9_999, 10_000, 20_000)] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-6])
    assert make_optimizer("adam", lr).epsilon == 1e-8
