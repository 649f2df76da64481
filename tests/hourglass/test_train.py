"""Training recipe pieces, decoding through random crops, flip test, and train/predict/resume."""
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from hourglass.data import MPIIReader, load_mpii
from hourglass.data import heatmap_codec
from hourglass.evaluate import flip_input, make_predict_fn, mean_pose_baseline
from hourglass.reproduce import paper_minutes, table1_markdown
from hourglass.synthetic import write_synthetic_mpii
from hourglass.train import (MPII_MEAN, RECIPES, TrainConfig, compile_model, make_augment,
                             make_optimizer, train_dataset)
from reprokit.data import build_dataset
from reprokit.losses import HeatmapMSE

TINY = {"num_features": 8, "depth": 2}


@pytest.fixture(scope="module")
def mpii_dir(tmp_path_factory):
    return write_synthetic_mpii(str(tmp_path_factory.mktemp("mpii")), 32, 8, image_size=(64, 64))


def test_heatmap_loss_masks_empty_targets_and_scales_like_the_references():
    gt = np.zeros((1, 4, 4, 2), np.float32)
    gt[0, 1, 1, 0] = 1.0                      # joint 0 has a target, joint 1 has none
    pred = np.full((1, 4, 4, 2), 0.5, np.float32)
    anibali = float(HeatmapMSE(0.5, True)(gt, pred))
    # joint 0: (15 * 0.25 + 0.25) / 16 = 0.25; joint 1 masked; mean over 2 joints; x 0.5
    assert anibali == pytest.approx(0.5 * (0.25 + 0.0) / 2)
    princeton = float(HeatmapMSE(1.0, False)(gt, pred))
    assert princeton == pytest.approx((0.25 + 0.25) / 2)


def test_stack_losses_are_summed_for_anibali_and_averaged_for_princeton():
    from hourglass.model import build_stacked_hourglass

    model = build_stacked_hourglass(input_shape=(32, 32, 3), **TINY)
    compile_model(model, RECIPES["anibali"], 10)
    assert model._compile_config.config["loss_weights"] == [1.0, 1.0]
    compile_model(model, RECIPES["princeton"], 10)
    assert model._compile_config.config["loss_weights"] == [0.5, 0.5]
    compile_model(model, RECIPES["anibali"], 10, stack_weights=(0.3, 0.7))
    assert model._compile_config.config["loss_weights"] == [0.3, 0.7]
    with pytest.raises(ValueError, match="does not match 2 stacks"):
        compile_model(model, RECIPES["anibali"], 10, stack_weights=(1.0,))


def test_anibali_optimizer_and_schedule():
    opt = make_optimizer(RECIPES["anibali"], steps_per_epoch=100)
    assert isinstance(opt, keras.optimizers.RMSprop)
    assert opt.rho == pytest.approx(0.99) and opt.epsilon == pytest.approx(1e-8)
    lr = opt.learning_rate if not callable(opt._learning_rate) else opt._learning_rate
    values = [float(lr(e * 100)) for e in (0, 14, 15, 16, 17, 19)]
    np.testing.assert_allclose(values, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5], rtol=1e-5)
    r = RECIPES["anibali"]
    assert (r.batch_size, r.epochs, r.decay_epochs, r.learning_rate) == (24, 20, (15, 17), 1e-3)


def test_training_batches_are_mean_subtracted_with_one_target_per_stack(mpii_dir):
    records = load_mpii(mpii_dir, "train")
    ds = train_dataset(records, RECIPES["anibali"], 64, 2, 4, seed=1)
    x, (y0, y1) = next(iter(ds))
    assert x.shape == (4, 64, 64, 3) and y0.shape == (4, 16, 16, 16)
    assert np.array_equal(y0.numpy(), y1.numpy())
    assert float(tf.reduce_min(x)) >= -max(MPII_MEAN) - 1e-6
    assert float(tf.reduce_min(x)) < 0  # mean subtracted, not [0, 1]


@pytest.mark.parametrize("seed", [0, 1])
def test_keypoints_through_random_crops_decode_back_within_one_original_pixel(mpii_dir, seed):
    """anibali augmentation (scale, rotation, flip) -> heatmaps -> decode -> inverse transform."""
    records = load_mpii(mpii_dir, "train")
    codec = heatmap_codec(256, RECIPES["anibali"].patch_size)
    ds = build_dataset(MPIIReader(records, "annotated"), make_augment(RECIPES["anibali"], 256),
                       codec, 8, training=True, seed=seed)
    batch = next(iter(ds))
    pred, _ = heatmap_codec(256).decode(batch["heatmaps"].numpy(), batch["meta"]["transform"].numpy())
    index = batch["meta"]["index"].numpy()
    truth = records["keypoints"][index]
    # a flipped sample's joint j came from joint FLIP_INDEX[j]; keypoints were permuted with it
    w = batch["target_weight"].numpy() > 0
    flipped = np.linalg.det(batch["meta"]["transform"].numpy()[:, :2, :2]) < 0
    from hourglass.data import FLIP_INDEX

    truth = np.where(flipped[:, None, None], truth[:, list(FLIP_INDEX)], truth)
    err = np.linalg.norm(pred - truth, axis=-1)[w]
    assert w.sum() > 50
    # heatmap px <= 0.5 per axis; 1 heatmap px = 200 s f / 64 original px <= 1.4 px here
    px = 200 * records["scale"][index] * 1.25 / 64
    assert px.max() < 1.42
    assert err.max() <= 1.0, err.max()


def _sampling_model(num_keypoints=16):
    """heatmap[i, j] = sum_c x[4i, 4j, c] for every keypoint: equivariant to the aligned flip."""
    inp = keras.Input((32, 32, 3))
    h = keras.layers.MaxPooling2D(pool_size=1, strides=4)(inp)
    out = keras.layers.Conv2D(num_keypoints, 1, use_bias=False, kernel_initializer="ones")(h)
    return keras.Model(inp, [out, out])


def test_aligned_flip_test_is_exact_and_the_reference_flip_is_not():
    model = _sampling_model()
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    plain = make_predict_fn(model, flip_test=False)(x).numpy()
    aligned = make_predict_fn(model, flip_test=True)(x).numpy()
    reference = make_predict_fn(model, flip_test=True, flip_align=False)(x).numpy()
    # interior columns: the aligned flip reproduces the unflipped heatmaps exactly
    np.testing.assert_allclose(aligned[:, :, :7], plain[:, :, :7], atol=1e-6)
    assert np.abs(reference - plain).max() > 0.1
    assert flip_input(tf.constant(x)).shape == x.shape


def test_mean_pose_baseline_is_perfect_on_identical_people():
    kp = np.tile(np.linspace(10, 40, 32, dtype=np.float32).reshape(1, 16, 2), (3, 1, 1))
    rec = {"keypoints": kp, "annotated": np.ones((3, 16), np.float32),
           "center": np.full((3, 2), 25.0, np.float32), "scale": np.full(3, 0.3, np.float32),
           "head_size": np.full(3, 5.0, np.float32)}
    assert mean_pose_baseline(rec, rec)["Mean"] == pytest.approx(100.0)


def test_table_markdown_puts_the_paper_beside_ours():
    assert paper_minutes("2hr 30min(20)") == 150 and paper_minutes("") is None
    row = {"Head": 50.0, "Shoulder": 40.0, "Elbow": 30.0, "Wrist": 20.0, "Hip": 45.0,
           "Knee": 35.0, "Ankle": 25.0, "Mean": 33.3, "train_seconds": 10.0,
           "full_size_params": {"trainable": 6_730_912, "total": 6_762_912}}
    summary = {"scale": "smoke", "data": "synthetic", "variant": "bearpaw",
               "rows": {"cv701_baseline": row, "cv701_ds_all": {**row, "train_seconds": 5.0,
                                                                "full_size_params": {"trainable": 2_920_224,
                                                                                     "total": 2_952_224}}},
               "mean_pose": {k: 10.0 for k in row}}
    text = table1_markdown(summary)
    assert "| Baseline | 50.0 / 93.18 |" in text
    assert "2.92M / 2.92M" in text and "6.73M / 6.73M" in text
    assert "0.50 / 0.93 (2hr 20min(17))" in text   # ours 5/10; paper 140/150 min
    assert "Mean pose (chance level)" in text and "`bearpaw`" in text


def _train_cmd(out, data_dir):
    return [sys.executable, "-m", "hourglass", "train", "--data-dir", data_dir, "--out", out,
            "--input-size", "32", "--model", json.dumps(TINY), "--epochs", "4",
            "--steps-per-epoch", "3", "--batch-size", "4"]


def test_train_killed_with_sigkill_resumes_then_evaluate_and_predict(mpii_dir, tmp_path):
    out = str(tmp_path / "runs")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(_train_cmd(out, mpii_dir), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    meta = None
    while time.time() < deadline and proc.poll() is None:
        runs = [os.path.join(out, d) for d in os.listdir(out) if d.endswith("cv701_baseline")] \
            if os.path.isdir(out) else []
        if runs:
            meta = os.path.join(runs[0], "checkpoints", "backup", "epoch-000001", "state.json")
            if os.path.exists(meta):          # complete backups are renamed into place
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert meta and os.path.exists(meta), "the child never wrote an epoch backup"
    run = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(meta))))
    assert not os.path.exists(os.path.join(run, "DONE"))

    done = subprocess.run(_train_cmd(out, mpii_dir), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(d for d in os.listdir(out) if d.endswith("cv701_baseline")) == [os.path.basename(run)]
    log = open(os.path.join(run, "run.log")).read()
    assert "resumed at epoch" in log and f"resuming {run} at epoch" in done.stderr
    results = json.load(open(os.path.join(run, "results.json")))
    assert results["steps"] == 4 * 3          # same optimizer steps as an uninterrupted run
    assert results["variant"] == "bearpaw" and 0 <= results["Mean"] <= 100
    # the chance level is in the table and on the curve plot
    assert 0 <= results["mean_pose"]["Mean"] <= 100
    assert "| mean pose (chance level) |" in open(os.path.join(run, "results.md")).read()
    assert os.path.exists(os.path.join(run, "pckh_curve.png"))

    ev = subprocess.run([sys.executable, "-m", "hourglass", "evaluate", run, "--no-flip"],
                        env=env, capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert "variant `official`" in ev.stdout and "variant `bearpaw`" in ev.stdout

    image = load_mpii(mpii_dir, "valid")["image_path"][0]
    stem = str(tmp_path / "person")
    predict = [sys.executable, "-m", "hourglass", "predict", image, "--weights", run,
               "--output", stem + ".png"]
    pr = subprocess.run(predict, env=env, capture_output=True, text=True)
    assert pr.returncode == 0, pr.stderr[-2000:]
    data = json.load(open(stem + ".hourglass.json"))
    assert len(data["keypoints"]) == 16 and data["keypoints"][9]["name"] == "head_top"
    assert os.path.getsize(stem + ".hourglass.png") > 0
    # trained on the synthetic MPII: said in the JSON and on the console
    assert "synthetic data only" in data["warning"] and "synthetic data only" in pr.stderr
    # never overwrites without --force; one line, exit 2
    again = subprocess.run(predict, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr
    last = again.stderr.strip().splitlines()[-1]
    assert "Traceback" not in again.stderr and last.startswith("python -m hourglass: error: ")
    assert subprocess.run(predict + ["--force"], env=env, capture_output=True).returncode == 0
    # a run's own checkpoint file works as --weights too
    ckpt = os.path.join(run, "checkpoints", "final.weights.h5")
    assert subprocess.run(predict[:6] + [ckpt, "--output", stem + "2.png"], env=env,
                          capture_output=True).returncode == 0


def test_table1_is_registered_with_repro():
    from reprokit.cli import discover

    assert "hourglass.table1" in [r.name for r in discover()]


def test_interrupted_reproduction_keeps_finished_rows(tmp_path, monkeypatch, mpii_dir):
    import hourglass.reproduce as rp
    import hourglass.train as tr

    calls = []

    def fake_train(cfg, runs_root, name, verbose):
        calls.append(cfg.preset)
        if cfg.preset == "cv701_ds_all" and calls.count("cv701_ds_all") == 1:
            raise KeyboardInterrupt
        r = {g: 50.0 for g in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")}
        return None, {**r, "train_seconds": 2.0 if cfg.preset == "cv701_ds_all" else 4.0,
                      "curve": {"thresholds": [0, 0.5], "pckh": [0, 50]}}

    monkeypatch.setattr(tr, "train", fake_train)
    monkeypatch.setattr(rp, "full_size_params", lambda build: {"trainable": 1_000_000, "total": 1_000_001})
    rows = ["cv701_baseline", "cv701_ds_all"]
    with pytest.raises(KeyboardInterrupt):
        rp.reproduce_table1("smoke", mpii_dir, str(tmp_path), rows, workers=1)
    out = rp.reproduce_table1("smoke", mpii_dir, str(tmp_path), rows, workers=1)
    assert calls == ["cv701_baseline", "cv701_ds_all", "cv701_ds_all"]   # baseline not redone
    cached = os.path.join(tmp_path, "rows", "hourglass", "cv701_baseline-smoke.json")
    assert json.load(open(cached))["config"]["preset"] == "cv701_baseline"
    # a later table run with another row subset reuses the cached rows
    rp.reproduce_table1("smoke", mpii_dir, str(tmp_path), rows[:1], workers=1)
    assert calls == ["cv701_baseline", "cv701_ds_all", "cv701_ds_all"]
    text = open(os.path.join(out, "results.md")).read()
    assert "| 3x3 Depthwise Separable Convolutions | 50.0 / 93.25 |" in text
    assert "0.50 / 0.93" in text
    for name in ("results.json", "table1.png", "pckh_curves.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0


def test_predict_with_converted_weights_outside_a_run(tmp_path):
    """`hourglass predict --weights converted.weights.h5` (the output of `convert`, no run):
    the architecture comes from --format / --stacks; a mismatch is one named error."""
    import cv2

    from hourglass.model import build_stacked_hourglass
    from hourglass.predict import load_predictor, predict_file
    from reprokit.errors import ConfigError

    path = str(tmp_path / "converted.weights.h5")
    build_stacked_hourglass(1, 16, num_features=8, depth=1).save_weights(path)
    import warnings

    with pytest.raises(ConfigError, match="converted.weights.h5 does not fit a 2-stack bearpaw"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")          # Keras lists every layer it could not match
        load_predictor(path, "bearpaw", 2)
    image = str(tmp_path / "person.jpg")
    cv2.imwrite(image, np.full((120, 90, 3), 100, np.uint8))
    full = str(tmp_path / "hg2.weights.h5")
    saved = build_stacked_hourglass(2, 16)
    saved.save_weights(full)
    predictor = load_predictor(full, "bearpaw", 2)
    assert predictor.warning is None and predictor.input_size == 256
    for a, b in zip(saved.weights, predictor.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    data = predict_file(image, predictor, flip_test=False)
    assert len(data["keypoints"]) == 16 and os.path.exists(tmp_path / "person.hourglass.png")
