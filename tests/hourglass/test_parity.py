"""Golden parity: converted PyTorch checkpoints against the ORIGINAL models, executed.

bearpaw/pytorch-pose's ``hg`` (= anibali's, what CV701 ran) and princeton-vl's ``PoseNet``
(their own ``hourglass.py`` / ``posenet.py``, eval mode) ran on random weights drawn from each
golden file's recipe (``tests/data/parity/README.md``). Here the same state_dict is regenerated
as a ``.npz`` (no torch needed), converted with the project's converter and run; the heatmaps
of both stacks must be within 1e-4 of the reference's output scale.
"""
import numpy as np
import pytest

from hourglass import build_stacked_hourglass
from hourglass.convert import load_checkpoint
from tests.golden import Golden


@pytest.mark.parametrize("fmt,stem", [("bearpaw", "bearpaw"), ("princeton", "newell")])
def test_converted_checkpoint_equals_the_pytorch_original(fmt, stem, tmp_path):
    g = Golden(f"hourglass_{fmt}")
    x = g.arrays.pop("x")
    path = str(tmp_path / "ckpt.npz")
    np.savez(path, **g.arrays)
    size = g.meta["size"]
    model = build_stacked_hourglass(num_stacks=g.meta["num_stacks"], num_keypoints=16, stem=stem,
                                    input_shape=(size, size, 3))
    report = load_checkpoint(model, path, fmt)
    assert report.ok and len(report.loaded) == len(model.weights)
    if fmt == "bearpaw":          # torch's parameters() excludes BN running statistics
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == g.meta["params"]
    ys = np.stack([np.asarray(y) for y in model(x, training=False)])
    g.compare("heatmaps", ys)
