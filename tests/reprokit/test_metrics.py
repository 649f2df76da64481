import numpy as np
import pytest
import tensorflow as tf

from reprokit.metrics.segmentation import segmentation_report
from reprokit.metrics import (confusion_matrix, epe_auc, f1, head_size_from_boxes, iou, mean_iou,
                              merge_confusion, oks, pck, pckh, pixel_accuracy, precision, recall)
from reprokit.metrics.keras_metrics import ConfusionMatrixMetric, HeatmapPCK


def test_pck_inclusive_vs_strict_on_the_threshold():
    gt = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 1.0]], [[0.0, 6.0], [0.0, 0.0]]])  # distances 5,1 / 6,0
    mask = np.array([[1, 1], [1, 0]])
    per, pooled = pck(pred, gt, mask, normalizer=10.0, threshold=0.5, inclusive=True)
    np.testing.assert_allclose(per, [0.5, 1.0])
    assert pooled == pytest.approx(2 / 3)
    per, pooled = pck(pred, gt, mask, normalizer=10.0, threshold=0.5, inclusive=False)
    np.testing.assert_allclose(per, [0.0, 1.0])
    assert pooled == pytest.approx(1 / 3)


def test_head_size_is_point_six_of_the_box_diagonal():
    np.testing.assert_allclose(head_size_from_boxes([[0, 0, 30, 40]]), [30.0])


def _mpii_case():
    """Two people, 16 joints, head size 10: distances chosen to separate the variants."""
    gt = np.zeros((2, 16, 2))
    pred = np.zeros((2, 16, 2))
    mask = np.ones((2, 16))
    pred[:, :, 0] = 1.0                      # every joint 0.1 head sizes off: all correct
    pred[0, 9, 0] = 5.0                      # head top exactly at 0.5: <= hit, < miss
    pred[1, 9, 0] = 8.0                      # head top miss
    pred[:, 8, 0] = 9.0                      # neck misses (matters when Head = neck + top)
    pred[:, 7, 0] = 9.0                      # thorax misses (only princeton's mean sees it)
    mask[1, 0] = 0                           # r_ankle missing once: weighting differs
    pred[0, 0, 0] = 9.0                      # ... and the only remaining r_ankle misses
    return pred, gt, mask, np.full(2, 10.0)


def test_pckh_variants_disagree_exactly_where_they_should():
    pred, gt, mask, head = _mpii_case()
    r = {v: pckh(pred, gt, mask, head, 0.5, v) for v in ("official", "bearpaw", "princeton", "msra", "mmpose")}
    # Head: official = mean(neck 0%, top 50%) = 25; msra (<=) top = 50; bearpaw/mmpose (<) = 0
    assert r["official"]["Head"] == pytest.approx(25.0)
    assert r["msra"]["Head"] == pytest.approx(50.0)
    assert r["bearpaw"]["Head"] == r["mmpose"]["Head"] == r["princeton"]["Head"] == 0.0
    # Ankle: r_ankle 0/1, l_ankle 2/2 -> mean of per-joint values = 50
    assert r["bearpaw"]["Ankle"] == pytest.approx(50.0)
    # Mean over 14 joints (no pelvis/thorax). Hits: 11 joints all 2/2 = 22 (incl. l_ankle),
    # r_ankle 0/1, neck 0/2, head top 0/2 (<) or 1/2 (<=).
    assert r["bearpaw"]["Mean"] == pytest.approx(100 * 11 / 14)          # unweighted per joint
    assert r["mmpose"]["Mean"] == pytest.approx(100 * 22 / 27)           # pooled
    assert r["msra"]["Mean"] == pytest.approx(100 * 23 / 27)             # pooled, <=
    assert r["official"]["Mean"] == pytest.approx(100 * 23 / 27)
    # princeton pools all 16 joints: + pelvis 2/2 + thorax 0/2
    assert r["princeton"]["Mean"] == pytest.approx(100 * 24 / 31)
    assert r["bearpaw"]["variant"] == "bearpaw"
    with pytest.raises(ValueError, match="valid"):
        pckh(pred, gt, mask, head, 0.5, "hrnet")


def test_epe_auc_hand3d_and_mmpose_differ_on_a_hand_computed_case():
    gt = np.zeros((2, 2, 2))
    pred = np.array([[[0.0, 0.0], [3.0, 0.0]], [[10.0, 0.0], [0.0, 30.0]]])
    mask = np.array([[1, 1], [1, 1]])
    h = epe_auc(pred, gt, mask, "hand3d")
    m = epe_auc(pred, gt, mask, "mmpose")
    # per keypoint: kp0 {0, 10}, kp1 {3, 30}
    assert h["mean"] == pytest.approx((5 + 16.5) / 2) and h["median"] == pytest.approx((5 + 16.5) / 2)
    assert m["mean"] == pytest.approx(43 / 4) and m["median"] == pytest.approx(6.5)
    t = np.linspace(0, 30, 20)
    def trap(c): return np.trapezoid(c, t) / 30
    kp0 = np.array([np.mean(np.array([0, 10]) <= x) for x in t])
    kp1 = np.array([np.mean(np.array([3, 30]) <= x) for x in t])
    assert h["auc"] == pytest.approx((trap(kp0) + trap(kp1)) / 2)
    tm = np.arange(20) * 1.5
    m0 = np.array([np.mean(np.array([0, 10]) < x) for x in tm])
    m1 = np.array([np.mean(np.array([3, 30]) < x) for x in tm])
    assert m["auc"] == pytest.approx(((m0 + m1) / 2).sum() / 20)
    assert h["auc"] != pytest.approx(m["auc"], abs=1e-3)
    # a distance of exactly 0 counts in hand3d (<=) at t = 0 but never in mmpose (<)
    assert h["pck_curve"][0] == pytest.approx(0.25) and m["pck_curve"][0] == 0.0


def test_epe_excludes_invisible_and_rejects_all_invisible():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[1.0, 0.0], [100.0, 0.0]]])
    assert epe_auc(pred, gt, np.array([[1, 0]]))["mean"] == 1.0
    with pytest.raises(ValueError, match="no visible"):
        epe_auc(pred, gt, np.zeros((1, 2)))


def test_oks_matches_the_cocoeval_formula():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[1.0, 0.0], [0.0, 2.0]]])
    sig = np.array([0.1, 0.2])
    area = np.array([50.0])
    e0 = 1.0 / (2 * 0.1) ** 2 / (50 + np.spacing(1)) / 2
    e1 = 4.0 / (2 * 0.2) ** 2 / (50 + np.spacing(1)) / 2
    np.testing.assert_allclose(oks(pred, gt, [[2, 2]], area, sig), [(np.exp(-e0) + np.exp(-e1)) / 2])
    np.testing.assert_allclose(oks(pred, gt, [[2, 0]], area, sig), [np.exp(-e0)])
    assert np.isnan(oks(pred, gt, [[0, 0]], area, sig)[0])


def test_segmentation_metrics_on_a_hand_computed_matrix():
    gt = np.array([0, 0, 0, 1, 1, 2, 255])
    pred = np.array([0, 0, 1, 1, 2, 2, 1])
    cm = confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(iou(cm), [2 / 3, 1 / 3, 1 / 2])
    assert mean_iou(cm) == pytest.approx((2 / 3 + 1 / 3 + 1 / 2) / 3)
    assert mean_iou(cm, include_background=False) == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert pixel_accuracy(cm) == pytest.approx(4 / 6)
    np.testing.assert_allclose(recall(cm), [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(precision(cm), [1, 1 / 2, 1 / 2])
    np.testing.assert_allclose(f1(cm), [0.8, 0.5, 2 / 3])
    merged = merge_confusion(cm, [0, 1, 1])
    np.testing.assert_array_equal(merged, [[2, 1], [0, 3]])
    # an absent class is nan, not 0, and does not drag the mean down
    cm4 = confusion_matrix(gt, pred, 4)
    assert np.isnan(iou(cm4)[3]) and mean_iou(cm4) == pytest.approx(mean_iou(cm))
    assert np.isnan(f1(cm4)[3])
    # a class that occurs but is never predicted scores F1 = 0 (not NaN, which would inflate
    # the macro mean): "background everywhere" has the F1 of its background class only / 3
    never = np.array([[5, 0, 0], [3, 0, 0], [2, 0, 0]])
    np.testing.assert_allclose(f1(never), [2 * 5 / (5 + 10), 0, 0])
    assert segmentation_report(never)["mean_f1"] == pytest.approx(2 / 3 / 3)
    assert segmentation_report(cm)["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)


def test_keras_confusion_metric_equals_numpy():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 4, (3, 8, 8))
    gt[0, 0, :3] = 255
    logits = rng.normal(size=(3, 8, 8, 4))
    m = ConfusionMatrixMetric(4)
    m.update_state(gt[:2], logits[:2])
    m.update_state(gt[2:], logits[2:])
    cm = confusion_matrix(gt, logits.argmax(-1), 4)
    np.testing.assert_array_equal(m.matrix.numpy(), cm)
    assert float(m.result()) == pytest.approx(mean_iou(cm))
    acc = ConfusionMatrixMetric(4, result_metric="pixel_accuracy")
    acc.update_state(gt, logits)
    assert float(acc.result()) == pytest.approx(pixel_accuracy(cm))


def test_heatmap_pck_counts_hits_per_keypoint():
    y = np.zeros((2, 16, 16, 2), np.float32)
    p = np.zeros_like(y)
    y[0, 5, 5, 0] = y[1, 5, 5, 0] = y[0, 8, 8, 1] = 1   # kp1 has no target in sample 1
    p[0, 5, 5, 0] = 1          # exact
    p[1, 5, 7, 0] = 1          # 2 px off: 2 / 1.6 >= 0.5 -> miss
    p[0, 8, 8, 1] = 1
    m = HeatmapPCK(2)
    m.update_state(tf.constant(y), tf.constant(p))
    assert float(m.result()) == pytest.approx((0.5 + 1.0) / 2)
