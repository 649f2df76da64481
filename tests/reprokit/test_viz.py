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
