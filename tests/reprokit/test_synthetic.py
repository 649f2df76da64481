import numpy as np
import pytest

from reprokit.synthetic import HAND21, HUMAN16, Skeleton, render_figure, sample_pose


@pytest.mark.parametrize("skeleton", [HUMAN16, HAND21], ids=lambda s: s.name)
def test_render_is_deterministic_and_consistent(skeleton):
    a = render_figure(skeleton, (128, 160), seed=11)
    b = render_figure(skeleton, (128, 160), seed=11)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["image"].shape == (128, 160, 3) and a["labels"].shape == (128, 160)
    assert a["keypoints"].shape == (skeleton.num_joints, 2)
    assert set(np.unique(a["labels"])) <= set(range(len(skeleton.part_names)))
    # every visible joint sits on a pixel labelled with one of its own parts
    for j in np.nonzero(a["visible"])[0]:
        x, y = np.round(a["keypoints"][j]).astype(int)
        assert a["labels"][y, x] in skeleton.bones_of(j)
    assert not np.array_equal(a["image"], render_figure(skeleton, (128, 160), seed=12)["image"])


def test_out_of_frame_and_occluded_joints_are_not_visible():
    seen_out, seen_occluded = False, False
    for seed in range(40):
        f = render_figure(HUMAN16, (96, 96), seed, out_of_frame=0.6)
        x, y = np.round(f["keypoints"]).T.astype(int)
        outside = (x < 0) | (x >= 96) | (y < 0) | (y >= 96)
        assert not f["visible"][outside].any()
        seen_out |= outside.any()
        seen_occluded |= bool((~outside & (f["visible"] == 0)).any())
    assert seen_out and seen_occluded


def test_bone_lengths_follow_the_skeleton():
    pos = sample_pose(HUMAN16, np.random.default_rng(0))
    for j, p in enumerate(HUMAN16.parents):
        if p >= 0:
            assert np.linalg.norm(pos[j] - pos[p]) == pytest.approx(HUMAN16.lengths[j])


def test_skeleton_validation():
    with pytest.raises(ValueError, match="one per joint"):
        Skeleton("bad", ("a", "b"), (-1, 0), (0, 1), (0, 0), (0, 0), (0, 1), (0,), ("bg",))
    with pytest.raises(ValueError, match="tree"):
        Skeleton("bad", ("a", "b", "c"), (-1, 2, 1), (0, 1, 1), (0, 0, 0), (0, 0, 0), (0, 1, 1),
                 (0, 0, 0), ("bg",))
