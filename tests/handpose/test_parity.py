"""Golden parity: HandSegNet, PoseNet, every pipeline step and the CPM initialisation against
lmb-freiburg/hand3d's own code, executed (tests/data/parity/hand3d_*.npz).

hand3d's TF1 graph ran on weights and inputs drawn from each golden file's recipe; here the same
weights are regenerated, written as hand3d pickles (protocol 2) or a TF1 checkpoint, loaded with
the project's loaders, and every model output, mask, centre, scale, crop and keypoint is compared:
models within 1e-4 of the output scale, pipeline pieces within 1e-4 * max(1, scale).
Each step is fed hand3d's own input of that step, so a failure names the step that differs.
The separable ("mixed") PoseNet has no executable original (hand3d has none); it is not here.
"""
import pickle

import numpy as np
import pytest

from handpose import pipeline as P
from handpose.model import build_handsegnet, build_posenet
from handpose.weights import load_cpm_checkpoint, load_hand3d_pickle
from tests.golden import Golden, write_v1_checkpoint


def _glue(g, name, got):
    """Pipeline pieces: 1e-4 * max(1, scale) absolute."""
    ref = g.out(name) if f"out/{name}" in g.data else g.data[f"sub/{name}/val"]
    return g.compare(name, got, absolute=1e-4 * max(1.0, float(np.abs(ref).max())))


def _pickle(arrays, path):
    with open(path, "wb") as f:
        pickle.dump(arrays, f, protocol=2)
    return str(path)


@pytest.fixture(scope="module")
def golden():
    return Golden("hand3d_pipeline")


@pytest.fixture(scope="module")
def models(golden, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hand3d")
    hs, pn = build_handsegnet("hand3d"), build_posenet("hand3d", refinement="conv")
    w = golden.arrays
    rh = load_hand3d_pickle(hs, _pickle({k: v for k, v in w.items() if k.startswith("HandSegNet/")},
                                        tmp / "handsegnet.pickle"))
    rp = load_hand3d_pickle(pn, _pickle({k: v for k, v in w.items() if k.startswith("PoseNet2D/")},
                                        tmp / "posenet.pickle"))
    assert (len(rh.loaded), len(rp.loaded)) == (32, 62)
    return hs, pn


def _image(golden, key):
    return golden.arrays[key].astype(np.float32) / 255.0 - 0.5


def test_handsegnet_and_the_eval2d_input(golden, models):
    hs, _ = models
    x = P.bilinear_resize(P.preprocess(golden.arrays["img320"]), (240, 320), "legacy").numpy()
    _glue(golden, "a_image", x)
    logits, up = hs(x, training=False)
    golden.compare("a_hand_logits", logits)
    golden.compare("a_hand_scoremap", up)


def test_posenet_score_maps(golden, models):
    _, pn = models
    maps = pn(golden.arrays["crops"], training=False)
    for i, m in enumerate(maps):
        golden.compare(f"b_pose_map{i}", m)
    golden.compare("b_keypoints_scoremap", P.bilinear_resize(maps[-1], [256, 256], "legacy"))


def test_mask_centre_scale_and_crop_on_synthetic_logits(golden):
    """Blobs 10 px apart are joined, 11 px apart are not, a border blob clips the scale at 5,
    an empty mask falls back to centre (160, 160) and size 100."""
    logits = np.stack([_blob_logits(c) for c in golden.meta["blobs"]])
    mask = P.single_obj_scoremap(logits).numpy()
    np.testing.assert_array_equal(mask, golden.bits("c_mask"))
    center, size = P.calc_center_bb(golden.bits("c_mask"))
    _glue(golden, "c_center", center)
    _glue(golden, "c_crop_size_raw", size[:, None])
    scale = P.crop_scale(size)
    _glue(golden, "c_scale_crop", scale[:, None])
    crop = P.crop_image_from_xy(_image(golden, "c_image"), golden.out("c_center"),
                                golden.out("c_scale_crop")[:, 0])
    _glue(golden, "c_image_crop", crop)


def test_crops_at_fractional_centres_and_scales(golden):
    image = _image(golden, "d_image")
    crops = [P.crop_image_from_xy(image, np.array(c, np.float32), np.array(s, np.float32)[:, 0])
             for c, s in zip(golden.meta["d_centers"], golden.meta["d_scales"])]
    _glue(golden, "d_crops", np.stack(crops))


def test_end_to_end_pipeline_as_eval2d(golden, models):
    hs, pn = models
    o = P.HandPosePipeline(hs, pn)(golden.arrays["img320"])
    np.testing.assert_array_equal(o["mask"], golden.bits("a_mask"))
    _glue(golden, "a_center", o["center"])
    _glue(golden, "a_scale_crop", o["crop_scale"][:, None])
    _glue(golden, "a_image_crop", o["crop"])
    golden.compare("a_scores", o["scores"])
    _glue(golden, "a_kp_uv", o["keypoints"])
    maps = pn(o["crop"], training=False)
    for i, m in enumerate(maps):
        golden.compare(f"a_pose_map{i}", m)


def _blob_logits(rects, h=240, w=320):
    fg = np.full((h, w), -4.0, np.float32)
    for (r0, c0, r1, c1, v) in rects:
        fg[r0:r1 + 1, c0:c1 + 1] = v
    return np.stack([np.zeros_like(fg), fg], -1)


def test_cpm_initialisation_equals_hand3d_load_weights_from_snapshot(tmp_path):
    """A TF1 checkpoint with CPM names (plus variables hand3d discards) over a PoseNet whose
    other weights are set first: hand3d's loader with training_posenet.py's discard and rename
    lists and ``load_cpm_checkpoint`` must give the same score maps."""
    g = Golden("hand3d_cpm_posenet")
    size = g.meta["size"]
    pn = build_posenet("hand3d", refinement="conv", input_shape=(size, size, 3))
    base = {k[len("base/"):]: v for k, v in g.arrays.items() if k.startswith("base/")}
    load_hand3d_pickle(pn, _pickle(base, tmp_path / "base.pickle"))
    ckpt = {k[len("ckpt/"):]: v for k, v in g.arrays.items() if k.startswith("ckpt/")}
    path = str(tmp_path / "cpm-model-mpii")
    write_v1_checkpoint(path, ckpt)
    report = load_cpm_checkpoint(pn, path)
    assert len(report.loaded) == len(g.meta["changed"]) == 32
    for i, m in enumerate(pn(g.arrays["x"], training=False)):
        g.compare(f"map{i}", m)
