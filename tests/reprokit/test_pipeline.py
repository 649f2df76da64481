import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from reprokit.codecs import GaussianHeatmapCodec
from reprokit.data import AffineCrop, ChannelScale, Compose, ImageRecordReader, build_dataset
from reprokit.data.meta import flip_pairs_to_index
from reprokit.synthetic import HUMAN16, write_figures


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return write_figures(HUMAN16, str(tmp_path_factory.mktemp("figs")), 12, (96, 128), seed=3)


def _pipeline(records, seed, batch_size=4):
    aug = Compose([AffineCrop((64, 64), scale_range=(0.75, 1.25), rotation_range=(-30, 30),
                              flip_prob=0.5, flip_index=flip_pairs_to_index(HUMAN16.flip_pairs, 16)),
                   ChannelScale()])
    codec = GaussianHeatmapCodec((64, 64), (16, 16), 1.0)
    return build_dataset(ImageRecordReader(records), aug, codec, batch_size, training=True, seed=seed)


def _batches(ds, n=None):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in (ds.take(n) if n else ds)]


def test_same_seed_gives_identical_batches_and_new_epochs_differ(records):
    a, b = _batches(_pipeline(records, 5)), _batches(_pipeline(records, 5))
    assert len(a) == 3  # 12 examples, batch 4, drop_remainder in training
    for x, y in zip(a, b):
        tf.nest.map_structure(np.testing.assert_array_equal, x, y)
    c = _batches(_pipeline(records, 6))
    assert not np.array_equal(a[0]["image"], c[0]["image"])
    ds = _pipeline(records, 5)
    first, second = _batches(ds), _batches(ds)  # two passes: reshuffled and re-augmented
    assert not np.array_equal(first[0]["image"], second[0]["image"])


def test_element_spec_is_the_documented_canonical_example(records):
    spec = _pipeline(records, 0).element_spec
    assert spec["image"] == tf.TensorSpec((4, 64, 64, 3), tf.uint8)
    assert spec["keypoints"] == tf.TensorSpec((4, 16, 2), tf.float32)
    assert spec["visible"] == tf.TensorSpec((4, 16), tf.float32)
    assert spec["labels"] == tf.TensorSpec((4, 64, 64), tf.uint8)
    assert spec["heatmaps"] == tf.TensorSpec((4, 16, 16, 16), tf.float32)
    assert spec["target_weight"] == tf.TensorSpec((4, 16), tf.float32)
    assert spec["meta"]["transform"] == tf.TensorSpec((4, 3, 3), tf.float32)
    assert spec["meta"]["path"].dtype == tf.string and spec["meta"]["index"].dtype == tf.int64


def test_evaluation_pipeline_keeps_order_and_last_partial_batch(records):
    ds = build_dataset(ImageRecordReader(records), AffineCrop((64, 64)), None, 5, training=False)
    idx = np.concatenate([b["meta"]["index"].numpy() for b in ds])
    np.testing.assert_array_equal(idx, np.arange(12))


def test_format_fn_produces_model_inputs(records):
    ds = build_dataset(ImageRecordReader(records), AffineCrop((64, 64)), GaussianHeatmapCodec((64, 64), (16, 16)),
                       2, format_fn=lambda ex: (tf.cast(ex["image"], tf.float32) / 255.0, ex["heatmaps"]))
    x, y = next(iter(ds))
    assert x.shape == (2, 64, 64, 3) and y.shape == (2, 16, 16, 16)


def _copy_records(records, tmp_path):
    recs = {k: v.copy() for k, v in records.items()}
    recs["image_path"] = recs["image_path"].astype(object)
    return recs


def test_missing_file_raises_naming_it(records, tmp_path):
    recs = _copy_records(records, tmp_path)
    recs["image_path"][4] = str(tmp_path / "nowhere" / "gone.jpg")
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        build_dataset(ImageRecordReader(recs))


def _truncated_copy(src, dst):
    data = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(data[: len(data) // 2])


def test_corrupt_image_raises_while_decoding_with_its_path(records, tmp_path):
    recs = _copy_records(records, tmp_path)
    bad = str(tmp_path / "broken.jpg")
    _truncated_copy(recs["image_path"][2], bad)
    recs["image_path"][2] = bad
    ds = build_dataset(ImageRecordReader(recs), AffineCrop((64, 64)), None, 4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Corrupt or truncated image file.*broken.jpg"):
        list(ds)


def test_skip_option_drops_bad_files_and_logs_the_count(records, tmp_path, caplog):
    recs = _copy_records(records, tmp_path)
    bad = str(tmp_path / "broken.jpg")
    _truncated_copy(recs["image_path"][2], bad)
    recs["image_path"][2] = bad
    recs["image_path"][7] = str(tmp_path / "gone.jpg")
    with caplog.at_level(logging.WARNING, logger="reprokit.data"):
        ds = build_dataset(ImageRecordReader(recs), AffineCrop((64, 64)), None, 4, on_bad_file="skip")
    assert "skipped 2 of 12" in caplog.text and "broken.jpg" in caplog.text and "gone.jpg" in caplog.text
    idx = np.concatenate([b["meta"]["index"].numpy() for b in ds])
    assert sorted(idx.tolist()) == [i for i in range(12) if i not in (2, 7)]


def test_bad_arguments_are_rejected(records):
    with pytest.raises(ValueError, match="on_bad_file"):
        build_dataset(ImageRecordReader(records), on_bad_file="ignore")
    with pytest.raises(ValueError, match="image_path"):
        ImageRecordReader({"keypoints": np.zeros((2, 16, 2))})


def test_autotune_is_off_on_a_cpu_only_machine_and_can_be_forced(records, monkeypatch):
    """tf.data's autotuning thread kept the end of training runs waiting 30-40 s on CPU
    (``reprokit.data.pipeline.default_autotune``): off by default without a GPU, on with one,
    and the batches are the same either way."""
    from reprokit.data import pipeline

    def build(**kw):
        return build_dataset(ImageRecordReader(records), None, None, 4, training=True, seed=1, **kw)

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    off = build()
    assert off.options().autotune.enabled is False and pipeline.default_autotune() is False
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    assert build().options().autotune.enabled is not False          # TF's default: on
    assert build(autotune=False).options().autotune.enabled is False
    for x, y in zip(_batches(off), _batches(build(autotune=True))):
        tf.nest.map_structure(np.testing.assert_array_equal, x, y)
