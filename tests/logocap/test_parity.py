"""Targets equal to LOGO-CAP's released target generators, executed (golden file
``tests/data/parity/logocap_targets.npz``; its README section says how it was produced): the
windowed Gaussians, the shared heatmap weight with the keep mask, the 8 x 8 offset squares
around the truncated centre, the painting order and overlap rule, the 1/sqrt(area) weights and
the 32^2 centre rule, on six seeded scenes (overlapping people, small people, points outside
the map, an ignored region)."""
import os

import numpy as np
import pytest

from logocap.targets import encode_targets

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "data", "parity", "logocap_targets.npz")


@pytest.mark.parametrize("case", range(6))
def test_targets_equal_the_released_generators(case):
    g = np.load(GOLDEN)
    c = f"c{case}_"
    res = int(g["res"])
    kp, flags = g[c + "keypoints"], g[c + "flags"]
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        kp * 4, flags, g[c + "area_aug"], np.ones(len(kp), np.float32), 1 - g[c + "keep"],
        (res, res), 4, g[c + "area_orig"]))
    np.testing.assert_allclose(heat, g[c + "heatmaps"].transpose(1, 2, 0), atol=1e-6)
    for ch in range(18):                  # one weight map for every channel
        np.testing.assert_allclose(heat_w[..., ch], g[c + "heat_weight"][0], atol=1e-7)
    # the reference stores pixel - keypoint and subtracts it; we store keypoint - pixel
    np.testing.assert_allclose(off, -g[c + "offsets"].transpose(1, 2, 0), atol=2e-5)
    np.testing.assert_allclose(off_w, g[c + "offset_weight"].transpose(1, 2, 0), rtol=1e-6)
    assert (g[c + "offset_weight"] > 0).any() and (g[c + "heatmaps"][17] > 0).any() or case == 5


def test_an_image_without_people_has_empty_finite_targets():
    heat, heat_w, off, off_w = (t.numpy() for t in encode_targets(
        np.zeros((3, 17, 2)), np.zeros((3, 17)), np.zeros(3), np.zeros(3), np.zeros((16, 16)), (16, 16)))
    assert (heat == 0).all() and (heat_w == 0.1).all() and (off == 0).all() and (off_w == 0).all()


# ---- the LOGO-CAP head, decoding, adaptation and training losses (logocap_head.npz)

def _head_models():
    import keras

    from logocap.cmp import ConvMessagePassing
    from logocap.model import heads, load_reference_heads
    from tests.golden import Golden

    g = Golden("logocap_head")
    inp = keras.Input((None, None, 480))
    net = keras.Model(inp, heads(inp, "w32", 64))
    cmp = ConvMessagePassing(17)
    cmp.build((None, 11, 11, 17 * 64))
    used = load_reference_heads(net, cmp, g.arrays)
    drawn = [d[0] for d in g.recipe["streams"][0]["draws"]]
    assert sorted(used) == sorted(drawn)           # every reference tensor, nothing else
    return g, net, cmp


@pytest.fixture(scope="module")
def head():
    return _head_models()


def test_head_parameter_count_is_the_references(head):
    """Heads + embedding + CMP of the reference at W32: 6,685,893 PyTorch parameters
    (``sum(p.numel())`` of ``Model`` without its backbone, W32 config, counted by the harness)."""
    _, net, cmp = head
    n = sum(int(np.prod(w.shape)) for w in net.trainable_weights + cmp.trainable_weights)
    assert n == 6_685_893


def _same_centres(ours, ref, hw):
    """Every reference centre is ours, or its twin across a border tie (and the same score
    where given)."""
    mine = {(int(x), int(y)): row for x, y, *row in ours}
    border = lambda v, n: v <= 1 or v >= n - 2  # noqa: E731
    for x, y, *score in ref:
        x, y = int(x), int(y)
        twins = [(x, y), (x, y ^ 1 if border(y, hw[0]) else y), (x ^ 1 if border(x, hw[1]) else x, y)]
        hit = [mine[t] for t in twins if t in mine]
        assert hit, f"reference centre {(x, y)} not found"
        if score and hit[0]:
            assert abs(hit[0][0] - score[0]) <= 1e-5 * abs(score[0]), (x, y, score)


def _second_response_tied(hr, off, centres, embedding, cmp):
    import tensorflow as tf

    from logocap import adaptation as A

    f32 = lambda a: tf.constant(np.asarray(a, np.float32))[None]  # noqa: E731
    init = A.initial_poses(f32(off), f32(centres[:, 0]), f32(centres[:, 1]))
    kam = tf.clip_by_value(A.keypoint_attention(cmp, f32(embedding), A.local_kem(init)), 0.0, 1.0)
    adapted = A.adapt_windows(A.global_kem(hr, init), kam).numpy()[0]          # (N, S, S, K)
    top = -np.sort(-adapted.reshape(len(adapted), -1, 17), axis=1)[:, :3]    # (N, 3, K)
    return np.abs(top[:, 1] - top[:, 2]) <= 1e-6 * np.abs(top[:, 1]).max()


@pytest.mark.parametrize("level", ["none", "partial", "full"])
def test_decoding_and_adaptation_equal_the_released_model(head, level):
    """The eval forward of the released ``Model`` (flip test, centre NMS, initial poses, local
    KEM -> CMP -> KAM, global KEM adaptation) on seeded features and weights."""
    from logocap.adaptation import top_centers, upsample
    from logocap.decode import decode_from_centres, flip_average

    g, net, cmp = head
    feats = np.transpose(g.arrays["eval_features"], (0, 2, 3, 1))
    out = net(feats, training=False)
    g.compare("heatmaps", np.transpose(out["heatmaps"].numpy(), (0, 3, 1, 2)))
    hm, off = flip_average(out["heatmaps"].numpy(), out["offsets"].numpy())
    hw = tuple(g.meta["input_hw"])
    hr = upsample(hm[None], hw)
    ref_c = g.out("centers")
    # Centres: equal, except where the upsampling's two border rows (or columns) hold the
    # same value in exact arithmetic (both clamp to the last input row): PyTorch's rounding
    # makes one of them the peak, ours may pick the other. Elsewhere the same pixel and score.
    cx, cy, cs = (t.numpy()[0] for t in top_centers(hr[..., 17]))
    _same_centres(np.c_[cx, cy, cs], ref_c, hw)
    # from the reference's centres on: poses and scores equal
    poses, kscore, scores = decode_from_centres(hr[0].numpy(), off, ref_c[:, 0], ref_c[:, 1], ref_c[:, 2],
                                                level, out["embedding"].numpy()[0], cmp)
    ref = g.out(f"{level}_poses")
    assert poses.shape == ref[..., :2].shape
    off_by = np.abs(poses - ref[..., :2]).max(-1)                     # input pixels
    if level == "full":
        # Where the 2nd and 3rd responses tie (a window off the image: clamped border values
        # times the symmetric Gaussian), which one is "second" is the sort's choice: the
        # blended position may move by 0.25 px. Everywhere else the same to 2e-3 px.
        tied = _second_response_tied(hr, off, ref_c, out["embedding"].numpy()[0], cmp)
        assert (off_by[tied] <= 0.25 + 2e-3).all() and tied.mean() < 0.1
        off_by = off_by[~tied]
    assert off_by.max() <= 2e-3
    g.compare(f"{level}_scores", scores)
    np.testing.assert_allclose(kscore, ref[..., 2], atol=1e-4 * np.abs(ref[..., 2]).max())


def test_pose_nms_equals_the_released_inference_shell():
    from logocap.decode import pose_nms
    from tests.golden import Golden

    g = Golden("logocap_head")
    keep = pose_nms(g.out("nms_poses"), g.out("nms_scores"))
    assert keep.tolist() == g.out("nms_keep").tolist()


def test_training_losses_equal_the_released_model(head):
    """One training forward of the released ``Model`` (BN on batch statistics): the heatmap,
    offset, KAM (OKS) and adapted-heatmap losses, the OKS targets and the KAMs of the kept
    centres, with people in augmented (scaled, shifted, one flipped) images."""
    import tensorflow as tf

    from logocap.adaptation_train import adaptation_losses
    from logocap.losses import HeatmapLoss, OffsetLoss

    g, net, cmp = head
    a = g.arrays
    t = lambda x: np.transpose(x, (0, 2, 3, 1))  # noqa: E731
    out = net(t(a["train_features"]), training=True)
    heat = HeatmapLoss()(np.concatenate([t(a["heat_t"]), t(a["heat_w"])], -1), out["heatmaps"])
    # our offsets point the other way (load_reference_heads negates the head): so do the targets
    off = OffsetLoss()(np.concatenate([-t(a["off_t"]), t(a["off_w"])], -1), out["offsets"])
    # the people in the augmented image (the reference maps them with its affine and flip)
    gt = a["train_gt_orig"].astype(np.float64)
    aff = a["train_affine"].astype(np.float64)
    kp = np.einsum("bij,bpkj->bpki", aff[:, :2, :2], gt[..., :2]) + aff[:, None, None, :2, 2]
    w = g.meta["input_hw"][1]
    kp[..., 0] = np.where(a["train_flip"][:, None, None] > 0, w - 1 - kp[..., 0], kp[..., 0])
    people = {"keypoints": tf.constant(kp, tf.float32), "flags": tf.constant(gt[..., 2], tf.float32),
              "areas": tf.constant(a["train_orig_areas"] * aff[:, 0, 0, None] * aff[:, 1, 1, None], tf.float32),
              "valid": tf.constant(a["train_valid"])}
    ref_c = g.out("train_centers")
    res = adaptation_losses(out, people, cmp, training=True, details=True)
    cx, cy = (c.numpy() for c in res["centres"])
    for b in range(2):
        _same_centres(np.c_[cx[b], cy[b]], ref_c[b], g.meta["input_hw"])
    # from the reference's centres on (border ties, see above): everything equal
    res = adaptation_losses(out, people, cmp, training=True, details=True,
                            centres=(ref_c[..., 0], ref_c[..., 1]))
    keep = res["keep"].numpy()
    assert int(keep.sum()) == len(g.out("train_kam")) == int(res["kept"])
    g.compare("train_oks_joints", np.transpose(res["oks_joints"].numpy()[keep], (0, 3, 1, 2)))
    g.compare("train_oks_person", res["oks_person"].numpy()[keep])
    g.compare("train_kam", np.transpose(res["kam"].numpy()[keep], (0, 3, 1, 2)))
    g.compare("train_out_hm", np.transpose(res["adapted_windows"].numpy()[keep], (0, 3, 1, 2)))
    g.compare("train_gt_hm", np.transpose(res["target_windows"].numpy()[keep], (0, 3, 1, 2)))
    for name, got in (("loss.heatmaps", heat), ("loss.offsets", 0.01 * off),
                      ("loss.oks", 0.01 * res["oks"]), ("loss.hm", res["adapted"])):
        g.compare(name, float(got), tol=1e-4)
    # a buffer of 24 instances holds the 19 kept ones: the same losses
    small = adaptation_losses(out, people, cmp, training=True, max_instances=24,
                              centres=(ref_c[..., 0], ref_c[..., 1]))
    g.compare("loss.oks", 0.01 * float(small["oks"]))
    g.compare("loss.hm", float(small["adapted"]))
