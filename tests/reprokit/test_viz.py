"""Every plotting function renders a non-blank PNG of a sensible size."""
import numpy as np
import pytest

from reprokit.viz import colorize_labels, label_palette, plot_confusion, plot_segmentation


def _png_ok(path, min_side=200):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[0] >= min_side and img.shape[1] >= min_side
    assert img[..., :3].std() > 0.05, "the figure is blank"


def test_palette_is_fixed_and_distinct():
    pal = label_palette(25)
    assert pal.shape == (256, 3) and tuple(pal[0]) == (0, 0, 0) and tuple(pal[255]) == (255, 255, 255)
    assert len({tuple(c) for c in pal[:25]}) == 25
    np.testing.assert_array_equal(pal, label_palette(25))
    rgb = colorize_labels(np.array([[0, 3], [255, 24]]), 25)
    assert rgb.shape == (2, 2, 3) and tuple(rgb[1, 0]) == (255, 255, 255)


def test_plot_confusion_with_groups(tmp_path):
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 50, (6, 6)) + np.diag([500] * 6)
    names = [f"c{i}" for i in range(6)]
    path = plot_confusion(cm, names, str(tmp_path / "cm.png"),
                          groups=(np.array([[900, 40], [30, 700]]), ["a", "b"]))
    _png_ok(path)
    with pytest.raises(ValueError, match="square"):
        plot_confusion(cm[:5], names)


def test_plot_segmentation(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(2)]
    gt = [np.zeros((32, 32), int) for _ in range(2)]
    gt[0][8:20, 8:20] = 3
    pred = [g.copy() for g in gt]
    pred[1][0:4, 0:4] = 7
    path = plot_segmentation(images, gt, pred, [f"part{i}" for i in range(25)], str(tmp_path / "o.png"),
                             title="two frames")
    _png_ok(path)
    with pytest.raises(ValueError, match="same non-zero number"):
        plot_segmentation(images, gt[:1], pred, ["x"] * 25)


def test_plot_skeleton_from_dataset_meta_and_synthetic_skeleton(tmp_path):
    from reprokit.synthetic import HUMAN16, render_figure
    from reprokit.viz import plot_skeleton, skeleton_edges

    fig = render_figure(HUMAN16, (96, 96), seed=3)
    assert len(skeleton_edges(HUMAN16)) == len(HUMAN16.joint_names) - 1      # a tree
    path = plot_skeleton(fig["image"], fig["keypoints"], HUMAN16, str(tmp_path / "s.png"),
                         prediction=fig["keypoints"] + 3, label_joints=True, title="gt vs pred")
    _png_ok(path)
    with pytest.raises(ValueError, match="keypoints"):
        plot_skeleton(fig["image"], fig["keypoints"][:3], HUMAN16)


def test_plot_heatmaps_and_pck_curves(tmp_path):
    from reprokit.viz import plot_heatmaps, plot_pck_curves

    ys, xs = np.mgrid[0:32, 0:32]
    hm = np.stack([np.exp(-((xs - 4 * k) ** 2 + (ys - 16) ** 2) / 8.0) for k in range(1, 8)], -1)
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    _png_ok(plot_heatmaps(hm, [f"j{k}" for k in range(7)], str(tmp_path / "h.png"), image=img),
            min_side=150)
    t = np.linspace(0, 0.5, 11)
    _png_ok(plot_pck_curves({"a": (t, 100 * t * 2), "b": (t, 100 * t)}, str(tmp_path / "p.png"),
                            xlim=(0, 0.5)))
    fig = plot_pck_curves({"a": (t, 100 * t * 2)}, chance=(t, 50 * t), chance_label="mean pose")
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["a", "mean pose"] and lines[1].get_linestyle() == "--"
    with pytest.raises(ValueError, match="H, W, K"):
        plot_heatmaps(hm[..., 0])


def test_plot_training_curves_from_a_run(tmp_path):
    import json

    from reprokit.viz import plot_training_curves

    with open(tmp_path / "metrics.jsonl", "w") as f:
        for step in range(1, 41):
            f.write(json.dumps({"kind": "train", "step": step, "epoch": 0, "time": 0.0,
                                "loss": 2.0 / step, "pck": step / 40}) + "\n")
        f.write(json.dumps({"kind": "val", "step": 40, "PCKh": 0.5}) + "\n")
    _png_ok(plot_training_curves(str(tmp_path), str(tmp_path / "t.png")))
    with pytest.raises(FileNotFoundError, match="run directory"):
        plot_training_curves(str(tmp_path / "nope"))


def test_plot_params_time_accuracy(tmp_path):
    from reprokit.viz import plot_params_time_accuracy

    rows = [{"name": "baseline", "params": 6.7e6, "time": 1.0, "accuracy": 85.0},
            {"name": "depthwise", "params": 2.1e6, "time": 0.8, "accuracy": 80.0},
            {"name": "no time", "params": 4e6, "time": None, "accuracy": None}]
    _png_ok(plot_params_time_accuracy(rows, str(tmp_path / "s.png")))
