"""The center-offset baseline: targets decode back to the poses they encode, the pipeline on a
synthetic COCO, the losses, the flip test's bookkeeping on a symmetric input, and the resize
protocol."""
import numpy as np
import pytest
import tensorflow as tf

from logocap.data import FLIP_INDEX, NUM_KEYPOINTS
from logocap.decode import (FLIP_INDEX_WITH_CENTER, decode_poses, flip_average, pose_nms,
                            predict_image, resize_affine)
from logocap.losses import HeatmapLoss, OffsetLoss
from logocap.model import build_center_offset
from logocap.targets import encode_targets


def _two_people():
    rng = np.random.default_rng(0)
    kp = np.zeros((3, NUM_KEYPOINTS, 2), np.float32)
    kp[0] = rng.uniform(10, 60, (NUM_KEYPOINTS, 2))
    kp[1] = rng.uniform(70, 120, (NUM_KEYPOINTS, 2))
    flags = np.full((3, NUM_KEYPOINTS), 2.0, np.float32)
    flags[0, 3] = 0                                          # an unlabelled keypoint
    flags[2] = 0                                             # padding
    return kp, flags, np.array([2500.0, 2500.0, 0.0], np.float32), np.array([1, 1, 0], np.float32)


def test_targets_decode_back_to_the_encoded_poses():
    kp, flags, areas, valid = _two_people()
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        kp, flags, areas, valid, np.zeros((128, 128)), (32, 32)))
    assert heat.shape == (32, 32, 18) and off.shape == (32, 32, 34)
    assert heat[..., 17].max() == pytest.approx(1.0, abs=0.05)           # two centres
    np.testing.assert_allclose(np.unique(heat_w), [0.1, 1.0], rtol=1e-6)
    poses, kscores, scores = decode_poses(heat, off, (128, 128))
    # the two people come first; the other "centres" are the flat edges of the upsampled
    # Gaussians' tails, which the reference's max-pool NMS keeps too, with low scores
    assert scores[1] > 5 * scores[2:].max()
    poses = poses[:2]
    for p in range(2):
        labelled = flags[p] > 0
        got = poses[np.argmin([np.abs(q[labelled] - kp[p][labelled]).sum() for q in poses])]
        # the reference adds the offset of the cell int(c / 4) to the centre pixel c itself:
        # every keypoint of a person moves by the same c - 4 int(c / 4), in [0, 4) px
        shift = got[labelled] - kp[p][labelled]
        np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-3)
        assert (shift[0] > -1e-3).all() and (shift[0] < 4).all()
        np.testing.assert_allclose(shift[0], np.round(shift[0]), atol=1e-3)
    # offsets carry weight 1/sqrt(area) (input pixels^2, as the reference) on labelled ones only
    assert off_w.max() == pytest.approx(1 / np.sqrt(2500), rel=1e-5)


def test_small_people_and_ignored_regions():
    kp, flags, areas, valid = _two_people()
    areas[1] = 30.0 ** 2                                     # below 32^2: no centre, no offsets
    ignore = np.zeros((128, 128))
    ignore[:64] = 1
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        kp, flags, areas, valid, ignore, (32, 32)))
    assert (heat_w[:16] == 0).all() and (heat_w[16:] > 0).all()
    cy, cx = (kp[1].mean(0) / 4).round().astype(int)[::-1]
    assert heat[..., 17][cy, cx] < 0.5 and off_w[cy, cx].max() == 0.0


def test_losses_weight_and_normalise():
    y = np.zeros((1, 4, 4, 36), np.float32)
    y[..., 18:] = 0.1
    y[0, 1, 1, 18] = 1.0
    pred = np.ones((1, 4, 4, 18), np.float32)
    expect = (16 * 18 - 1) * 0.1 / (16 * 18) + 1.0 / (16 * 18)
    assert float(HeatmapLoss()(y, pred)) == pytest.approx(expect, rel=1e-6)
    yo = np.zeros((1, 2, 2, 68), np.float32)
    yo[0, 0, 0, 34] = 0.5                                    # one positive, weight 0.5
    po = np.zeros((1, 2, 2, 34), np.float32)
    po[0, 0, 0, 0] = 1.0                                     # |diff| = 1 >= 1/9: L1 branch
    assert float(OffsetLoss()(yo, po)) == pytest.approx(0.5 * (1 - 0.5 / 9), rel=1e-6)


def test_flip_test_on_a_symmetric_input_is_flip_equivariant():
    assert tuple(FLIP_INDEX_WITH_CENTER[i] for i in FLIP_INDEX_WITH_CENTER) == tuple(range(18))
    model = build_center_offset("smoke", (64, 64, 3))
    half = np.random.default_rng(1).normal(size=(64, 32, 3)).astype(np.float32)
    x = np.concatenate([half, half[:, ::-1]], 1)[None]        # x equals its mirror
    out = model(np.concatenate([x, x[:, :, ::-1]]), training=False)
    hm, off = flip_average(out["heatmaps"].numpy(), out["offsets"].numpy())
    np.testing.assert_allclose(hm[:, ::-1][..., list(FLIP_INDEX_WITH_CENTER)], hm, atol=1e-5)
    o = off[:, ::-1].reshape(16, 16, 17, 2)[:, :, list(FLIP_INDEX)] * np.array([-1.0, 1.0])
    np.testing.assert_allclose(o.reshape(16, 16, 34), off, atol=1e-5)


def test_resize_protocol_and_pose_nms():
    m, (oh, ow) = resize_affine(425, 640, 512)
    assert (oh, ow) == (512, 832) and m[0, 0] == pytest.approx(512 / 425)
    poses = np.zeros((3, 17, 2))
    poses[0] = np.random.default_rng(0).uniform(0, 100, (17, 2))
    poses[1] = poses[0] + 0.5                                # a duplicate
    poses[2] = poses[0] + 200.0
    # the group of pose 0 is {0, 1}: its best (1) is kept; then pose 2
    assert pose_nms(poses, np.array([0.5, 0.9, 0.7])).tolist() == [1, 2]
    many = np.random.default_rng(1).uniform(0, 1000, (40, 17, 2))
    assert len(pose_nms(many, np.arange(40.0))) == 30              # at most 30 people


@pytest.mark.parametrize("backbone", ["smoke", "hourglass"])
def test_predict_image_returns_poses_in_image_pixels(backbone):
    """Any image size: the test-time model is built for (None, None, 3), the hourglass
    backbone included."""
    kw = {"hourglass_kwargs": {"num_features": 8, "depth": 2}} if backbone == "hourglass" else {}
    model = build_center_offset(backbone, (None, None, 3), **kw)
    image = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
    poses, kscores, scores = predict_image(model, image, size=64)
    assert poses.shape[1:] == (17, 2) and len(poses) == len(scores) <= 30


def test_training_pipeline_on_synthetic_coco(tmp_path):
    from logocap.data import read_coco_keypoints
    from logocap.pipeline import prepare_records, train_dataset
    from logocap.synthetic import coco_paths, write_synthetic_coco

    path = write_synthetic_coco(str(tmp_path), "train", 6, seed=4)
    data = read_coco_keypoints(path, coco_paths(str(tmp_path), "train")[1])
    rec = prepare_records(data, str(tmp_path / "masks"), max_people=8)
    x, y = next(iter(train_dataset(rec, 64, 3, seed=0)))
    assert x.shape == (3, 64, 64, 3) and y["heatmaps"].shape == (3, 16, 16, 36)
    assert y["offsets"].shape == (3, 16, 16, 68)
    assert np.isfinite(y["offsets"].numpy()).all() and float(tf.reduce_max(y["heatmaps"][..., :17])) > 0.5


def test_augmented_keypoints_stay_on_their_pixels(tmp_path):
    """Every keypoint is painted in its own grey level; after random rotation, scale,
    translation and flip, the pixel under each labelled keypoint has its keypoint's level
    (its mirror's before the flip index is applied: so left/right bookkeeping is checked)."""
    import cv2

    from logocap.pipeline import COCOKeypointsReader, augmentation

    h, w, people = 96, 120, 2
    kp = np.zeros((1, people, NUM_KEYPOINTS, 3), np.float32)
    grid = np.stack(np.meshgrid(np.arange(6), np.arange(3)), -1).reshape(-1, 2)[:NUM_KEYPOINTS]
    kp[0, 0, :, :2] = 12 + grid * [9, 9]
    kp[0, 1, :, :2] = [64, 46] + grid * [9, 9]
    kp[0, :, :, 2] = 2
    image = np.zeros((h, w, 3), np.uint8)
    level = 40 + 12 * np.arange(NUM_KEYPOINTS)
    for p in range(people):
        for k in range(NUM_KEYPOINTS):
            x, y = kp[0, p, k, :2].astype(int)
            image[y - 3:y + 4, x - 3:x + 4] = level[k]
    cv2.imwrite(str(tmp_path / "im.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), np.zeros((h, w), np.uint8))
    rec = {"image_path": np.array([str(tmp_path / "im.png")]),
           "mask_path": np.array([str(tmp_path / "mask.png")]), "keypoints": kp,
           "areas": np.full((1, people), 2000.0, np.float32), "valid": np.ones((1, people), np.float32)}
    reader = COCOKeypointsReader(rec)
    ex = reader.decode({**{k: tf.constant(v[0]) for k, v in rec.items()}, "index": tf.constant(0)})
    apply = augmentation(people, 96, augment=True)
    flipped = 0
    for i in range(12):
        out = apply(ex, tf.constant([0, i], tf.int64))
        img = out["image"].numpy()[..., 0].astype(int)
        xy = np.round(out["keypoints"].numpy()).astype(int)
        inside = ((xy >= 0) & (xy < 96)).all(-1)
        seen = (out["flags"].numpy() > 0) & inside          # cut-off keypoints keep their flag
        assert seen.sum() > 10
        got = img[xy[seen][:, 1], xy[seen][:, 0]]
        k = np.broadcast_to(np.arange(NUM_KEYPOINTS), seen.shape)[seen]
        direct, mirror = np.abs(got - level[k]) <= 3, np.abs(got - level[np.asarray(FLIP_INDEX)[k]]) <= 3
        # a flip renames left/right, so the pixel shows the keypoint's mirror partner
        assert direct.all() or mirror.all(), (i, got, level[k])
        flipped += int(mirror.all() and not direct.all())
    assert 0 < flipped < 12


def test_train_runs_end_to_end_and_evaluates_with_cocoeval(tmp_path):
    """One tiny run on a synthetic COCO: the run directory, COCOeval numbers, a resolved spec
    with the supplement's defaults (not a learning claim: two steps)."""
    import json

    from logocap.synthetic import write_synthetic_coco
    from logocap.train import LogocapConfig, train

    write_synthetic_coco(str(tmp_path / "coco"), "train", 4, seed=0)
    write_synthetic_coco(str(tmp_path / "coco"), "val", 2, seed=1)
    cfg = LogocapConfig(backbone="smoke", data_dir=str(tmp_path / "coco"), input_size=64,
                        epochs=1, steps_per_epoch=2, batch_size=2)
    spec = cfg.resolve()
    assert (spec.learning_rate, spec.decay_epochs, spec.offset_loss_weight, spec.test_size) == (
        1e-3, (90, 120), 0.01, 64)
    assert LogocapConfig(backbone="w48").resolve().input_size == 640
    run, model, res = train(cfg, str(tmp_path / "runs"), verbose=0)
    assert res["steps"] == 2 and res["val_images"] == 2 and -1 <= res["AP"] <= 1
    assert json.load(open(run.file("config.json")))["input_size"] == 64
    assert run.synthetic_data is True and "| ours |" in open(run.file("results.md")).read()
