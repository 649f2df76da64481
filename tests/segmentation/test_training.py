"""Thesis schedules, progressive tables, joint targets through augmentation, weight decay,
one tiny end-to-end run (with reuse) and the reproduction tables."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from reprokit.training import add_weight_decay
from segmentation import labels as L
from reprokit.errors import ConfigError
from segmentation.pipeline import mirror_tf, part_centroids, random_scale_crop
from segmentation.spec import (SegTrainConfig, build_model, make_losses, make_optimizer,
                               stack_tables)


def test_progressive_tables_and_per_stack_outputs():
    assert [int(t.max()) + 1 for t in stack_tables(4)] == [2, 5, 13, 25]
    assert [int(t.max()) + 1 for t in stack_tables(3)] == [2, 13, 25]
    assert [int(t.max()) + 1 for t in stack_tables(2)] == [2, 25]
    conf = SegTrainConfig(network="hourglass", input_size=32, progressive=True, joints="centroids",
                          model={"num_stacks": 3, "num_features": 8, "depth": 1}).resolve()
    model = build_model(conf)
    assert [o.shape[-1] for o in model.outputs] == [2, 24, 13, 24, 25, 24]
    losses, weights = make_losses(conf)
    assert [getattr(l, "num_classes", None) for l in losses] == [2, None, 13, None, 25, None]
    # the coarse stacks see remapped labels: hips (1) is body (1) at stack 0, torso (2) at stack 1
    assert losses[0].remap[1] == 1 and losses[2].remap[1] == L.TO_THESIS13[1]
    with pytest.raises(ConfigError, match="hourglass"):
        SegTrainConfig(network="icnet", progressive=True)


def test_icnet_schedule_poly_restarts_at_the_bn_release():
    conf = SegTrainConfig(network="icnet", steps=100).resolve()
    assert (conf.batch_size, conf.learning_rate, conf.momentum) == (64, 0.01, 0.9)
    assert conf.resolve() == conf                     # resolving is idempotent
    lr = make_optimizer(conf).learning_rate
    sched = make_optimizer(conf)._learning_rate
    assert float(sched(0)) == pytest.approx(0.01) and float(sched(50)) == pytest.approx(0.01)
    assert float(sched(49)) == pytest.approx(0.01 * (1 / 50) ** 0.9, rel=1e-4)
    single = make_optimizer(conf.replace(restart_poly=False))._learning_rate
    assert float(single(50)) == pytest.approx(0.01 * 0.5 ** 0.9, rel=1e-5)
    assert float(lr) == pytest.approx(0.01)
    seg = SegTrainConfig(network="segnet").resolve()
    opt = make_optimizer(seg)
    assert isinstance(opt, keras.optimizers.Adam) and seg.batch_size == 32
    assert float(opt.learning_rate) == pytest.approx(0.01)
    hg = make_optimizer(SegTrainConfig(network="hourglass").resolve())
    assert isinstance(hg, keras.optimizers.RMSprop) and hg.rho == 0.99


def test_weight_decay_is_tf1_l2_loss_on_conv_kernels():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="a")(inp)
    x = keras.layers.BatchNormalization()(x)
    out = keras.layers.Conv2D(2, 1, name="b")(x)
    model = keras.Model(inp, out)
    assert add_weight_decay(model, 1e-4) == 2
    expected = 1e-4 * sum(0.5 * float(tf.reduce_sum(model.get_layer(n).kernel ** 2)) for n in "ab")
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="no"):
        add_weight_decay(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), 1e-4)


def test_joints_follow_mirror_and_scale_crop():
    rng = np.random.default_rng(0)
    labels = np.zeros((40, 50), np.int32)
    joints = np.zeros((24, 2), np.float32)
    for j, (y, x) in enumerate(rng.integers(2, 38, (24, 2))):
        x = x + 5
        labels[y, x] = j + 1                       # a one-pixel part at each joint
        joints[j] = (x, y)
    image = np.zeros((40, 50, 3), np.uint8)
    _, ml, mj = mirror_tf(tf.constant(image), tf.constant(labels), joints=tf.constant(joints))
    ml, mj = ml.numpy(), mj.numpy()
    for j in range(24):
        x, y = np.round(mj[j]).astype(int)
        # the pixel under the mirrored joint j carries joint j's swapped part id
        assert ml[y, x] == L.MIRROR_SWAP[L.JOINT_MIRROR_SWAP[j] + 1]
    big = np.kron(labels, np.ones((4, 4), np.int32))               # 4x4 blocks survive scaling
    bj = joints * 4 + 1.5
    _, sl, sj = random_scale_crop(tf.zeros((160, 200, 3)), tf.constant(big), [3, 4], (120, 150),
                                  scale_range=(0.8, 0.8), joints=tf.constant(bj))
    sl, sj = sl.numpy(), sj.numpy()
    inside = 0
    for j in range(24):
        x, y = np.round(sj[j]).astype(int)
        if 0 <= x < 150 and 0 <= y < 120:
            inside += 1
            assert sl[y, x] == j + 1
    assert inside >= 8


def test_part_centroids():
    labels = np.zeros((10, 12), np.int32)
    labels[2:4, 6:10] = 16                       # head: x 6..9, y 2..3
    centres, vis = part_centroids(tf.constant(labels))
    np.testing.assert_allclose(centres.numpy()[15], [7.5, 2.5])
    assert vis.numpy()[15] == 1 and vis.numpy().sum() == 1


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory):
    from segmentation.data import extract_frames
    from segmentation.synthetic import write_synthetic_surreal

    raw = str(tmp_path_factory.mktemp("raw"))
    out = str(tmp_path_factory.mktemp("frames"))
    for i, split in enumerate(("train", "val")):
        write_synthetic_surreal(raw, split, 1, 4, (60, 80), seed=i)
        extract_frames(raw, os.path.join(out, split), split, size=(32, 32), progress=False)
    return out


def test_tiny_segnet_run_writes_results_figures_and_is_reused(frames_root, tmp_path):
    from segmentation.train import train_segmentation

    cfg = SegTrainConfig(network="segnet", data_dir=frames_root, input_size=32, steps=2,
                         steps_per_epoch=1, batch_size=2, model={"filters": 8},
                         weighting="w1", augment=True)
    run, res = train_segmentation(cfg, runs_root=str(tmp_path), verbose=0, overlays=2)
    assert res["steps"] == 2 and 0 <= res["mIoU"] <= 100 and len(res["group_accuracy"]) == 13
    assert len(res["class_weights"]) == 25 and os.path.exists(os.path.join(frames_root, "train",
                                                                            "class_counts.json"))
    for name in ("results.json", "results.md", "confusion.png", "overlays.png", "DONE"):
        assert os.path.exists(run.file(name)), name
    again, res2 = train_segmentation(cfg, runs_root=str(tmp_path), verbose=0)
    assert again.path == run.path and res2["mIoU"] == res["mIoU"]


def test_tiny_hourglass_with_progressive_gt_and_joint_branch_trains(frames_root, tmp_path):
    from segmentation.train import train_segmentation

    cfg = SegTrainConfig(network="hourglass", data_dir=frames_root, input_size=32, steps=1,
                         steps_per_epoch=1, batch_size=2,
                         model={"num_stacks": 2, "num_features": 8, "depth": 1},
                         progressive=True, joints="surreal")
    run, res = train_segmentation(cfg, runs_root=str(tmp_path), verbose=0, overlays=0)
    hist = open(run.file("history.csv")).read()
    assert "joints" in hist and np.isfinite(res["accuracy"])


def test_reproduction_rows_resolve_and_tables_render():
    from segmentation.reproduce import (ROWS, SCALES, TABLES, chance_level, row_config,
                                        tables_markdown)

    for scale in SCALES:
        for row in ROWS:
            conf = row_config(row, scale, "/data").resolve()
            assert conf.steps > 0
    assert row_config("icnet_normal_90k", "paper", "/d").resolve().steps == 90_000
    assert row_config("icnet_normal_90k", "paper", "/d").eval_split == "test"
    assert row_config("hourglass_plain", "paper", "/d").model["num_stacks"] == 4
    cm = np.diag([90, 5, 5] + [0] * 22)
    cm[1, 0] = 10
    fake = {"mIoU": 50.0, "accuracy": 90.0, "F1": 60.0, "F1_weighted": 88.0,
            "mean_class_accuracy": 70.0, "group_accuracy": [50.0] * 13, "steps": 3,
            "train_seconds": 1.0, "full_size_params": {"trainable": 6_710_411, "total": 6_738_955},
            "confusion": cm.tolist()}
    summary = {"scale": "smoke", "data": "synthetic", "rows": {r: fake for _, r, _ in
                                                                TABLES["table2"].rows + TABLES["table1"].rows}}
    md1 = tables_markdown(summary, "table1")
    assert "50.00 / 38.19" in md1 and "6,738,955" in md1 and "chance" in md1
    md2 = tables_markdown(summary, "table2")
    assert "| W1 (Direct) | 50.0 / 6.5 | 70.0 / 7.9 | 50.0 / 99.9" in md2
    ch = chance_level(cm)
    assert ch["accuracy"] == pytest.approx(100 * 90 / 110)
