"""SURREAL reader, extraction and preprocessing on files written in the published format."""
import json
import os

import cv2
import numpy as np
import pytest

from segmentation.data import (SurrealError, body_crop, extract_frames, find_clips, fix_head,
                               kmeans_select, read_frames, read_info, read_segm)
from segmentation.synthetic import write_synthetic_surreal


@pytest.fixture(scope="module")
def surreal(tmp_path_factory):
    return write_synthetic_surreal(str(tmp_path_factory.mktemp("surreal")), "train", clips=2,
                                   frames=5, image_size=(120, 160), seed=3)


def test_reader_reads_the_published_layout(surreal):
    from scipy.io import loadmat

    clips = find_clips(surreal, "train")
    assert len(clips) == 2 and clips[0].endswith("03_01/03_01_c0001")
    info = read_info(clips[0])
    assert info["T"] == 5 and info["joints2D"].shape == (5, 24, 2)
    raw = loadmat(clips[0] + "_segm.mat")
    assert "segm_1" in raw and "segm_5" in raw and "segm_0" not in raw     # 1-based keys
    segm = read_segm(clips[0], [0, 4])
    np.testing.assert_array_equal(segm[0], raw["segm_1"])
    assert segm[0].dtype == np.uint8 and segm[0].max() <= 24 and segm[0].max() > 0
    frames = read_frames(clips[0], [0, 4], expected=5)
    assert frames[4].shape == (120, 160, 3)
    # the video holds the rendered frames (lossy codec: compare on average)
    from reprokit.synthetic import SMPL29, render_figure

    truth = render_figure(SMPL29, (120, 160), 3 * 1_000_003 + 4, figure_height=(0.6, 0.9),
                          rotation=(-15, 15))
    np.testing.assert_array_equal(truth["labels"], segm[4])
    assert np.abs(frames[4].astype(float) - truth["image"]).mean() < 12
    # joints2D are the pixel joints of the labelled body: the pelvis sits on a body pixel
    x, y = np.round(info["joints2D"][0, 0]).astype(int)
    assert segm[0][y, x] > 0


def test_short_or_corrupt_video_is_reported_with_the_clip(surreal, tmp_path):
    import shutil

    clip = find_clips(surreal, "train")[0]
    bad = str(tmp_path / "cmu" / "train" / "run0" / "xx" / "xx_c0001")
    os.makedirs(os.path.dirname(bad))
    for ext in ("_info.mat", "_segm.mat"):
        shutil.copy(clip + ext, bad + ext)
    cap = cv2.VideoCapture(clip + ".mp4")
    writer = cv2.VideoWriter(bad + ".mp4", cv2.VideoWriter_fourcc(*"mp4v"), 30, (160, 120))
    for _ in range(3):                                   # 3 of the 5 frames _info.mat declares
        writer.write(cap.read()[1])
    writer.release()
    with pytest.raises(SurrealError, match=r"xx_c0001.*3 readable frames.*T = 5"):
        read_frames(bad, [0], expected=5)
    with open(bad + ".mp4", "wb") as f:
        f.write(b"not a video")
    with pytest.raises(SurrealError, match="xx_c0001"):
        read_frames(bad, [0], expected=5)
    with pytest.raises(SurrealError, match="xx_c0001"):
        extract_frames(str(tmp_path), str(tmp_path / "out"), progress=False)


def test_head_fix_keeps_the_largest_component_and_refills_the_rest():
    segm = np.zeros((10, 10), np.uint8)
    segm[0:4, 0:4] = 16                  # the head
    segm[6:9, 6:9] = 13                  # neck region...
    segm[7, 7] = 16                      # ...with a stray head pixel inside it
    segm[0, 9] = 16                      # and a stray one on the background
    out = fix_head(segm)
    assert (out == 16).sum() == 16 and out[7, 7] == 13 and out[0, 9] == 0


def test_body_crop_is_square_and_moves_joints_with_the_image():
    image = np.zeros((60, 80, 3), np.uint8)
    segm = np.zeros((60, 80), np.uint8)
    segm[10:50, 30:50] = 4               # 40 high, 20 wide
    image[segm > 0] = 200
    joints = np.array([[40.0, 30.0], [30.0, 10.0]])
    img, lab, j = body_crop(image, segm, joints, size=(64, 64), margin=0.25)
    # side = 40 * 1.25 = 50 -> scale 64/50; the body's 40 rows become 51.2 px, centred
    rows = np.nonzero(lab.any(1))[0]
    assert abs((rows[-1] - rows[0] + 1) - 51.2) <= 1.5 and abs(rows.mean() - 31.5) <= 1
    np.testing.assert_allclose(j[0], [32 + (40 - 40) * 1.28, 32 + (30 - 30) * 1.28])
    np.testing.assert_allclose(j[1], [32 - 10 * 1.28, 32 - 20 * 1.28])
    inner = cv2.erode((lab > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert set(np.unique(lab)) == {0, 4} and img[inner].min() == 200 and img[lab == 0].max() < 200
    assert body_crop(image, np.zeros_like(segm)) is None


def test_kmeans_selection_is_seeded_and_spreads_over_clusters():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.1, (20, 3)) for c in (0, 5, 10)])
    sel = kmeans_select(x, 3, seed=1)
    assert sorted(set(i // 20 for i in sel)) == [0, 1, 2]
    np.testing.assert_array_equal(sel, kmeans_select(x, 3, seed=1))


def test_extraction_writes_pairs_that_round_trip_and_resumes(surreal, tmp_path):
    out = str(tmp_path / "frames")
    rec = extract_frames(surreal, out, "train", num_frames=6, size=(64, 64), progress=False)
    assert 1 <= len(rec["image_path"]) <= 6 and rec["joints2d"].shape[1:] == (24, 2)
    lab = cv2.imread(rec["label_path"][0], cv2.IMREAD_UNCHANGED)
    assert lab.shape == (64, 64) and lab.dtype == np.uint8 and 0 < lab.max() <= 24
    assert cv2.imread(rec["image_path"][0]).shape == (64, 64, 3)
    stamp = os.path.getmtime(rec["label_path"][0])
    again = extract_frames(surreal, out, "train", num_frames=6, size=(64, 64), progress=False)
    assert os.path.getmtime(rec["label_path"][0]) == stamp            # kept, not rewritten
    np.testing.assert_allclose(again["joints2d"], rec["joints2d"])
    assert json.load(open(os.path.join(out, "index.json")))["frame"] == list(rec["frame"])
