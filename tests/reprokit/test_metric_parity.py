"""Metric edge cases against the peers' own code, executed (numbers in this file).

Each expected number below was printed by the peer's code run on exactly these inputs
(``tests/data/parity/README.md``: MPII MATLAB, bearpaw, anibali, MSRA/HRNet, princeton-vl and
mmpose through ``../shared/parity``'s metrics-pckh harness; pycocotools 2.0.8
``COCOeval.computeOks``; hand3d ``EvalUtil``; mmpose ``keypoint_epe`` / ``keypoint_auc``;
anibali ``utils/evaluation.py`` ``accuracy`` + ``AverageMeter``). A variant's name is a promise
of its peer's numbers, including where the peer's behaviour is a bug (mmpose's -100).
"""
import math

import numpy as np
import pytest

from reprokit.metrics import epe_auc, oks, pckh
from reprokit.metrics.keras_metrics import HeatmapPCK
from reprokit.metrics.keypoints import COCO_SIGMAS, head_size_from_boxes
from tests.golden import draw_streams
from tests.reprokit.heatmap_case import RECIPE, heatmap_batches

NAN = float("nan")


def _same(got, want, tol=1e-9):
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return abs(got - want) <= tol


def _mpii(n_people):
    gt = np.tile((np.arange(16, dtype=np.float64)[:, None] * 10 + 100)[None], (n_people, 1, 2))
    boxes = np.array([[100.0, 100.0, 130.0, 140.0]] * n_people)     # head size 30
    return gt, gt.copy(), np.ones((n_people, 16)), head_size_from_boxes(boxes)


def _lr_case():
    """2 people; r_ankle annotated once (hit), l_ankle twice (one 20 px miss)."""
    gt, pred, mask, head = _mpii(2)
    pred[1, 5, 0] += 20.0
    mask[1, 0] = 0
    return pred, gt, mask, head


def _empty_case():
    """1 person, l_ankle never annotated."""
    gt, pred, mask, head = _mpii(1)
    mask[0, 5] = 0
    return pred, gt, mask, head


# variant: (Ankle, Mean) on the left/right case; (l_ankle joint, Ankle, Mean) on the empty case
PEERS_LR = {"official": (75.0, 96.29629629629629), "bearpaw": (75.0, 96.42857142857143),
            "anibali": (75.0, 96.42857142857143), "msra": (75.0, 96.29629629629628),
            "mmpose": (75.0, 96.29629629629628), "princeton": (66.66666666666666, 96.7741935483871)}
PEERS_EMPTY = {"official": (NAN, NAN, 100.0), "bearpaw": (NAN, NAN, NAN), "anibali": (NAN, NAN, NAN),
               "msra": (NAN, NAN, NAN), "mmpose": (-100.0, 0.0, 100.0), "princeton": (NAN, 100.0, 100.0)}


@pytest.mark.parametrize("variant", sorted(PEERS_LR))
def test_pckh_left_right_pooling_as_each_peer(variant):
    ankle, mean = PEERS_LR[variant]
    r = pckh(*_lr_case(), threshold=0.5, variant=variant)
    assert _same(r["Ankle"], ankle) and _same(r["Mean"], mean), (r["Ankle"], r["Mean"])


@pytest.mark.parametrize("variant", sorted(PEERS_EMPTY))
def test_pckh_joint_without_annotations_as_each_peer(variant):
    """MATLAB / bearpaw / anibali / MSRA: NaN joint, NaN column, NaN per-joint Mean (the pooled
    official Mean is unaffected); mmpose: -100 for the joint, halved into its column (peer bug,
    reproduced); princeton pools the column over the instances it has."""
    joint, ankle, mean = PEERS_EMPTY[variant]
    r = pckh(*_empty_case(), threshold=0.5, variant=variant)
    if variant != "princeton":           # princeton prints categories only, no per-joint value
        assert _same(float(r["per_joint"][5]), joint)
    assert _same(r["Ankle"], ankle) and _same(r["Mean"], mean), (r["Ankle"], r["Mean"])


def _oks_case():
    """pycocotools inputs: (gt (3, 17, 3), bbox, area, pred (3, 17, 2))."""
    gts, preds = [], []
    g, d = np.zeros((17, 3)), np.full((17, 2), 30.0)     # unlabelled GT, box (10, 20, 30, 40)
    d[1], d[2], d[3], d[4] = (-30.0, 25.0), (80.0, 150.0), (70.0, 100.0), (-21.0, -25.0)
    gts.append(g)
    preds.append(d)
    rng = np.random.default_rng(5)                        # labelled GT, NaN at a v=0 keypoint
    g = np.zeros((17, 3))
    g[:, :2] = rng.uniform(100, 200, (17, 2))
    g[:, 2] = 2
    g[[3, 7, 11], 2] = 0
    g[5, 2] = 1
    g[g[:, 2] == 0, :2] = 0
    d = g[:, :2] + rng.normal(0, 4, (17, 2))
    d[7] = np.nan
    gts.append(g)
    preds.append(d)
    gts.append(np.zeros((17, 3)))                         # unlabelled GT, far prediction
    preds.append(np.full((17, 2), 400.0))
    bbox = [[10.0, 20.0, 30.0, 40.0], [100.0, 100.0, 100.0, 100.0], [10.0, 20.0, 30.0, 40.0]]
    return np.stack(gts), bbox, [1200.0, 6000.0, 1200.0], np.stack(preds)


def test_oks_unlabelled_ground_truth_and_nan_at_unlabelled_keypoints_as_pycocotools():
    gt, bbox, area, pred = _oks_case()
    got = oks(pred, gt[..., :2], gt[..., 2], area, COCO_SIGMAS, bbox=bbox)
    np.testing.assert_allclose(got, [0.8299766902940483, 0.7603839989083375, 0.0], rtol=0, atol=1e-12)
    no_box = oks(pred, gt[..., :2], gt[..., 2], area, COCO_SIGMAS)
    assert np.isnan(no_box[0]) and np.isnan(no_box[2]) and no_box[1] == pytest.approx(got[1])


def test_epe_auc_with_a_nan_prediction_as_hand3d_and_mmpose():
    gt = np.array([[[10.0, 10.0], [20.0, 20.0]], [[30.0, 30.0], [40.0, 40.0]], [[5.0, 5.0], [6.0, 6.0]]])
    pred = gt + np.array([[[3.0, 4.0], [0.0, 12.0]], [[np.nan, 1.0], [30.0, 0.0]],
                          [[0.0, 0.0], [1.0, 0.0]]])
    h = epe_auc(pred, gt, np.ones((3, 2)), "hand3d")
    assert math.isnan(h["mean"]) and math.isnan(h["median"])
    assert h["auc"] == pytest.approx(0.5701754385964911, abs=1e-12)
    np.testing.assert_allclose(h["pck_curve"][[0, 1, 4, 8, 19]], [1 / 6, 1 / 3, 0.5, 2 / 3, 5 / 6])
    m = epe_auc(pred, gt, np.ones((3, 2)), "mmpose")
    assert math.isnan(m["mean"])
    assert m["auc"] == pytest.approx(0.5416666666666666, abs=1e-12)


def test_heatmap_pck_equals_anibali_training_accuracy():
    """Three batches (4, 4, 2) with targets in row/column 0, all-zero targets and all-negative
    predictions; anibali's accuracy(..., Mpii.ACC_JOINTS) per batch and its AverageMeter."""
    joints = (0, 1, 2, 3, 4, 5, 10, 11, 14, 15)
    per_batch = [0.4333333373069763, 0.3499999940395355, 0.3333333432674408]
    total = HeatmapPCK(16, joints=joints)
    for (target, pred), want in zip(heatmap_batches(draw_streams(RECIPE["streams"])), per_batch):
        one = HeatmapPCK(16, joints=joints)
        one.update_state(target, pred)
        assert float(one.result()) == pytest.approx(want, abs=1e-6)
        total.update_state(target, pred)
    assert float(total.result()) == pytest.approx(0.3799999952316284, abs=1e-6)
