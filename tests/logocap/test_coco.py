"""COCO keypoints on the REAL sample (``../shared/real/coco``: 4 val2017 images, 14 people):
the reader, pycocotools evaluation (ground truth as predictions = AP 1.0; a jittered copy gives
what pycocotools gives when called directly), and the KEM upper bound (Algorithm 1) with an
independent, by-hand check of the mesh."""
import contextlib
import io
import json
import os

import numpy as np
import pytest

from logocap.data import COCO, FLIP_INDEX, SIGMAS, read_coco_keypoints
from logocap.evaluate import coco_eval, format_table, results_list
from logocap.kem import evaluate_upper_bound, kem_points, mesh_offsets, upper_bound_poses
from reprokit.errors import DataFormatError


@pytest.fixture(scope="module")
def coco_sample(real_dir):
    path = os.path.join(real_dir, "coco", "person_keypoints_sample.json")
    if not os.path.exists(path):
        if os.environ.get("REPROKIT_REQUIRE_REAL") == "1":       # as the real_dir fixture
            pytest.fail(f"real COCO sample not found at {path}")
        pytest.skip(f"real COCO sample not found at {path}")
    return path


def _gt_detections(dataset, jitter=0.0, seed=0):
    """The labelled people of every image as detections (optionally jittered)."""
    rng = np.random.default_rng(seed)
    out = {}
    for rec in dataset["images"]:
        keep = ~rec["iscrowd"] & (rec["num_keypoints"] > 0)
        poses = rec["keypoints"][keep, :, :2] + rng.normal(0, jitter, rec["keypoints"][keep, :, :2].shape)
        out[rec["image_id"]] = (poses, np.linspace(1.0, 0.5, len(poses)))
    return out


def test_metadata_is_the_official_category(coco_sample):
    cat = json.load(open(coco_sample))["categories"][0]
    assert list(COCO.keypoint_names) == cat["keypoints"]
    assert [tuple(e) for e in cat["skeleton"]] == [(a + 1, b + 1) for a, b in COCO.skeleton]
    assert FLIP_INDEX == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    assert SIGMAS[0] == pytest.approx(0.026) and SIGMAS[11] == pytest.approx(0.107)


def test_reader_on_the_real_sample(coco_sample):
    data = read_coco_keypoints(coco_sample)
    recs = {r["image_id"]: r for r in data["images"]}
    assert len(recs) == 4 and sum(len(r["area"]) for r in recs.values()) == 14
    for r in recs.values():
        assert os.path.exists(r["image_path"])
        # num_keypoints is the number of labelled (v > 0) keypoints, as COCO defines it
        np.testing.assert_array_equal(r["num_keypoints"], (r["keypoints"][..., 2] > 0).sum(-1))
    assert sorted(recs[196141]["num_keypoints"].tolist()) == [0, 12, 15, 15, 17]
    assert recs[40083]["keypoints"].shape == (3, 17, 3)


def test_reader_names_file_annotation_and_key(tmp_path, coco_sample):
    data = json.load(open(coco_sample))
    data["annotations"][3]["keypoints"] = data["annotations"][3]["keypoints"][:48]   # 16 joints
    bad = tmp_path / "person_keypoints_bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=r"person_keypoints_bad\.json, entry annotation 3, "
                                              r"key 'keypoints': wrong shape \(expected \(51,\)"):
        read_coco_keypoints(str(bad))
    bad.write_text(json.dumps(data)[:500])
    with pytest.raises(DataFormatError, match="not readable JSON"):
        read_coco_keypoints(str(bad))


def test_ground_truth_as_predictions_gives_ap_1(coco_sample):
    data = read_coco_keypoints(coco_sample)
    dets = _gt_detections(data)
    res = []
    for image_id, (poses, scores) in dets.items():
        res += results_list([image_id] * len(poses), poses, scores)
    stats = coco_eval(coco_sample, res)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    assert stats["num_detections"] == 12
    assert "| 100.0 |" in format_table({"gt": stats})


def test_jittered_predictions_match_pycocotools_called_directly(coco_sample, tmp_path):
    from pycocotools.coco import COCO as CocoApi
    from pycocotools.cocoeval import COCOeval

    data = read_coco_keypoints(coco_sample)
    res = []
    for image_id, (poses, scores) in _gt_detections(data, jitter=6.0, seed=3).items():
        res += results_list([image_id] * len(poses), poses, scores)
    ours = coco_eval(coco_sample, res)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = CocoApi(coco_sample)
        ev = COCOeval(gt, gt.loadRes(res), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert 0.0 < ours["AP"] < 1.0
    np.testing.assert_allclose([ours[k] for k in ("AP", "AP50", "AP75", "APM", "APL", "AR")],
                               ev.stats[:6], rtol=0, atol=1e-12)
    assert coco_eval(coco_sample, [])["AP"] == 0.0


def test_kem_mesh_by_hand():
    """11 x 11 points, centred on the keypoint, spacing sigma_k / min(sigma): nose 0.026 / 0.025
    = 1.04 px, left hip 0.107 / 0.025 = 4.28 px (reference §1.2)."""
    pose = np.zeros((1, 17, 2))
    pose[0, 0] = (100.0, 50.0)
    pose[0, 11] = (10.0, 20.0)
    pts = kem_points(pose)
    assert pts.shape == (1, 17, 121, 2)
    np.testing.assert_allclose(pts[0, 0, 0], (100 - 5 * 1.04, 50 - 5 * 1.04))        # first row
    np.testing.assert_allclose(pts[0, 0, 60], (100.0, 50.0))                        # centre
    np.testing.assert_allclose(pts[0, 0, 61], (100 + 1.04, 50.0))                   # dx inner
    np.testing.assert_allclose(pts[0, 0, 71], (100.0, 50 + 1.04))                   # next row
    np.testing.assert_allclose(pts[0, 11, 120], (10 + 5 * 4.28, 20 + 5 * 4.28))
    assert mesh_offsets().shape == (17, 121, 2)


def test_upper_bound_moves_each_keypoint_to_its_best_mesh_point():
    gt = np.zeros((1, 17, 3))
    gt[0, :, 0], gt[0, :, 1], gt[0, :, 2] = np.arange(17) * 10.0, 30.0, 2
    gt[0, 3, 2] = 0                                         # an unlabelled keypoint stays put
    pose = gt[:, :, :2] + 3.0                               # 3 px off: inside every mesh
    best, match = upper_bound_poses(pose, gt, [900.0])
    assert match.tolist() == [0]
    labelled = gt[0, :, 2] > 0
    step = (SIGMAS / SIGMAS.min())[:, None]
    # the nearest mesh point to the truth, by hand: round the offset to the mesh step
    expect = pose[0] - np.round(3.0 / step) * step
    np.testing.assert_allclose(best[0][labelled], expect[labelled])
    np.testing.assert_allclose(best[0][~labelled], pose[0][~labelled])
    # nothing to match: the pose is returned unchanged
    best, match = upper_bound_poses(pose, gt, [900.0], gt_ignore=[True])
    assert match.tolist() == [-1] and np.array_equal(best, pose)


def test_upper_bound_on_the_real_sample_beats_the_initial_poses(coco_sample):
    data = read_coco_keypoints(coco_sample)
    result = evaluate_upper_bound(coco_sample, data, _gt_detections(data, jitter=8.0, seed=1))
    assert result["matched"] == result["poses"] == 12
    assert result["upper_bound"]["AP"] > result["initial"]["AP"]
    assert result["upper_bound"]["AP"] > 0.9


def test_synthetic_coco_is_the_official_format(tmp_path):
    """Written like COCO 2017: the reader, pycocotools (GT as predictions = AP 1.0, crowd
    regions ignored) and pycocotools' own RLE decoder accept it; it has several people per
    image, small people, crowd regions and images without people."""
    from pycocotools import mask as mask_utils

    from logocap.synthetic import coco_paths, uncompressed_rle, write_synthetic_coco
    from reprokit.synthetic import is_synthetic

    path = write_synthetic_coco(str(tmp_path), "val", 20, seed=2)
    assert (path, str(tmp_path / "val2017")) == coco_paths(str(tmp_path), "val")
    assert is_synthetic(path)
    data = read_coco_keypoints(path, str(tmp_path / "val2017"))
    people = [len(r["area"]) - int(r["iscrowd"].sum()) for r in data["images"]]
    assert max(people) >= 3 and min(people) == 0
    crowd = [r for r in data["images"] if r["iscrowd"].any()]
    assert crowd and all(r["num_keypoints"][r["iscrowd"]].max() == 0 for r in crowd)
    areas = np.concatenate([r["area"][~r["iscrowd"]] for r in data["images"]])
    assert (areas < 32 ** 2).any() and (areas >= 32 ** 2).any()
    nkp = np.concatenate([r["num_keypoints"][~r["iscrowd"]] for r in data["images"]])
    assert (nkp[areas < 32 ** 2] == 0).all() and (nkp[areas >= 32 ** 2] > 0).any()  # as COCO
    flags = np.concatenate([r["keypoints"][~r["iscrowd"], :, 2].ravel() for r in data["images"]])
    assert {0, 1, 2} <= set(flags.tolist())
    raw = json.load(open(path))
    rle = next(a for a in raw["annotations"] if a["iscrowd"])["segmentation"]
    decoded = mask_utils.decode(mask_utils.frPyObjects(rle, *rle["size"]))
    assert decoded.sum() == next(a for a in raw["annotations"] if a["iscrowd"])["area"]
    m = np.zeros((5, 4), bool)
    m[0, 0] = m[2:4, 1] = True
    assert mask_utils.decode(mask_utils.frPyObjects(uncompressed_rle(m), 5, 4)).astype(bool).tolist() == m.tolist()
    res = []
    for rec in data["images"]:
        keep = ~rec["iscrowd"] & (rec["num_keypoints"] > 0)
        res += results_list([rec["image_id"]] * int(keep.sum()), rec["keypoints"][keep, :, :2],
                            np.ones(int(keep.sum())))
    assert coco_eval(path, res)["AP"] == pytest.approx(1.0)
