"""``build_dataset``: list -> shuffle -> decode -> augment -> encode -> batch -> prefetch.

A *reader* (one per on-disk format, in the sibling packages) has two methods:

``index() -> dict[str, np.ndarray]``
    One row per example, plain arrays (paths, annotations). Columns whose name ends in
    ``_path`` are image files: they are checked before the dataset is built.
``decode(record) -> dict``
    TF ops turning one row into the canonical example (see :mod:`reprokit.data`). Readers never
    augment.

The split follows tensorflow/models ``official/vision`` (decoder vs parser). Everything after
``index()`` runs inside ``tf.data`` with ``num_parallel_calls=AUTOTUNE``.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Mapping

import cv2
import numpy as np
import tensorflow as tf

from reprokit.errors import DataFormatError

logger = logging.getLogger("reprokit.data")

_JPEG_SOI = b"\xff\xd8\xff"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_TAIL = 64  # bytes of the file end searched for the JPEG EOI / PNG IEND marker


def _image_ok_numpy(path: str) -> str | None:
    """Cheap integrity check of an image file; returns the problem or ``None`` if it looks fine."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, size - _TAIL))
            tail = f.read()
    except OSError as err:
        return f"cannot read ({err.strerror})"
    if size == 0:
        return "empty file"
    if head.startswith(_JPEG_SOI):
        return None if b"\xff\xd9" in tail else "truncated JPEG (no end-of-image marker)"
    if head.startswith(_PNG_SIG):
        return None if b"IEND" in tail else "truncated PNG (no IEND chunk)"
    return None  # other formats are left to the decoder


def _image_ok_tf(contents: tf.Tensor) -> tf.Tensor:
    """Graph version of :func:`_image_ok_numpy` (JPEG EOI / PNG IEND present, file not empty)."""
    n = tf.strings.length(contents)
    head = tf.strings.substr(contents, 0, tf.minimum(n, 8))
    tail = tf.io.decode_raw(tf.strings.substr(contents, tf.maximum(n - _TAIL, 0), _TAIL), tf.uint8)
    tail = tf.concat([tf.zeros([4], tf.uint8), tail], axis=0)  # zero padding matches no marker
    pairs_eoi = tf.logical_and(tf.equal(tail[:-1], 0xFF), tf.equal(tail[1:], 0xD9))
    has_eoi = tf.reduce_any(pairs_eoi)
    iend = tf.constant([ord(c) for c in "IEND"], tf.uint8)
    windows = tf.stack([tail[i:tf.shape(tail)[0] - 3 + i] for i in range(4)], axis=1)
    has_iend = tf.reduce_any(tf.reduce_all(tf.equal(windows, iend), axis=1))
    is_jpeg = tf.equal(tf.strings.substr(head, 0, 3), _JPEG_SOI)
    is_png = tf.equal(head, _PNG_SIG)
    ok = tf.where(is_jpeg, has_eoi, tf.where(is_png, has_iend, True))
    return tf.logical_and(n > 0, ok)


def read_image(path: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Read and decode an image file in graph mode; a bad file raises an error naming it.

    Args:
        path: scalar string tensor.
        channels: 3 for RGB images, 1 for label maps (returned as ``(H, W, 1)``).

    Returns:
        uint8 ``(H, W, channels)``.

    Raises:
        tf.errors.NotFoundError: the file is missing (TensorFlow's message names the path).
        tf.errors.InvalidArgumentError: the file is empty or truncated; the message contains
            ``"Corrupt or truncated image file"`` and the path.
    """
    contents = tf.io.read_file(path)
    check = tf.debugging.Assert(_image_ok_tf(contents),
                                ["Corrupt or truncated image file:", path], summarize=1)
    with tf.control_dependencies([check]):
        image = tf.io.decode_image(contents, channels=channels, expand_animations=False)
    return image


def load_rgb(path) -> np.ndarray:
    """Read an image file as uint8 RGB ``(H, W, 3)`` in numpy (OpenCV decoding).

    Raises:
        FileNotFoundError: the file does not exist.
        reprokit.errors.DataFormatError: the file is empty, truncated (a JPEG without its
            end-of-image marker, a PNG without IEND: OpenCV would decode the part it has and
            fill the rest with grey) or not an image; the message names the file.
    """
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image {path!r} not found")
    problem = _image_ok_numpy(path)
    if problem:
        raise DataFormatError(path, problem)
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataFormatError(path, "cannot be decoded as an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageRecordReader:
    """A reader over an in-memory table of records with image (and label-map) files.

    Useful on its own for simple formats (a list of images with keypoints) and as the base the
    format readers of the sibling packages build their tables for.

    Args:
        records: column name -> array with one row per example. Required:
            ``image_path`` (str). Optional: ``keypoints`` (N, K, 2) float, ``visible`` (N, K),
            ``center`` (N, 2), ``scale`` (N,), ``label_path`` (str, single-channel PNG).
    """

    def __init__(self, records: Mapping[str, np.ndarray]):
        if "image_path" not in records:
            raise ValueError(f"records need an 'image_path' column, got {sorted(records)}")
        n = len(records["image_path"])
        for key, value in records.items():
            if len(value) != n:
                raise ValueError(f"column {key!r} has {len(value)} rows, 'image_path' has {n}")
        self.records = {k: np.asarray(v) for k, v in records.items()}

    def index(self) -> dict[str, np.ndarray]:
        return dict(self.records)

    def decode(self, record: dict) -> dict:
        example = {"image": read_image(record["image_path"])}
        example["image"].set_shape([None, None, 3])
        if "keypoints" in record:
            example["keypoints"] = tf.cast(record["keypoints"], tf.float32)
            example["visible"] = tf.cast(record["visible"], tf.float32)
        if "label_path" in record:
            labels = read_image(record["label_path"], channels=1)[..., 0]
            labels.set_shape([None, None])
            example["labels"] = labels
        meta = {"transform": tf.eye(3), "index": record["index"], "path": record["image_path"]}
        if "center" in record:
            meta["center"] = tf.cast(record["center"], tf.float32)
            meta["scale"] = tf.cast(record["scale"], tf.float32)
        example["meta"] = meta
        return example


def _check_files(index: dict[str, np.ndarray], on_bad_file: str) -> dict[str, np.ndarray]:
    path_keys = [k for k in index if k.endswith("_path")]
    n = len(next(iter(index.values())))
    bad: list[tuple[str, str]] = []
    keep = np.ones(n, bool)
    for key in path_keys:
        for i, p in enumerate(index[key]):
            p = p.decode() if isinstance(p, bytes) else str(p)
            if not os.path.exists(p):
                problem = "missing"
            elif on_bad_file == "skip":
                problem = _image_ok_numpy(p)
            else:
                problem = None  # strict mode: corrupt files are caught while decoding
            if problem:
                bad.append((p, problem))
                keep[i] = False
    if not bad:
        return index
    listing = "; ".join(f"{p} ({why})" for p, why in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    if on_bad_file == "raise":
        raise FileNotFoundError(f"{len(bad)} dataset file(s) cannot be used: {listing}{more}. "
                                "Pass on_bad_file='skip' to drop them (they are counted in the log).")
    logger.warning("skipped %d of %d examples with unusable files: %s%s",
                   int((~keep).sum()), n, listing, more)
    return {k: v[keep] for k, v in index.items()}


def build_dataset(reader, transforms: Callable | None = None, codec: Callable | None = None,
                  batch_size: int = 1, training: bool = False, seed: int | None = None, *,
                  format_fn: Callable | None = None, on_bad_file: str = "raise",
                  repeat: bool = False, drop_remainder: bool | None = None,
                  shuffle_buffer: int | None = None, autotune: bool | None = None) -> tf.data.Dataset:
    """Build the input pipeline in the order list -> shuffle -> decode -> augment -> encode -> batch.

    Args:
        reader: object with ``index()`` and ``decode(record)`` (module docstring).
        transforms: ``f(example, seed) -> example`` (e.g. :class:`~reprokit.data.Compose`),
            applied in training and evaluation (pass a deterministic crop for evaluation).
        codec: ``f(example) -> example`` adding targets (e.g. ``GaussianHeatmapCodec``).
        batch_size: examples per batch.
        training: shuffle (reshuffled every epoch) and, by default, drop the last partial batch.
        seed: makes shuffling and augmentation deterministic (same seed -> identical batches,
            different but reproducible augmentation on every pass); ``None`` = nondeterministic
            (faster). Evaluation pipelines (``training=False``) always keep the record order.
        format_fn: ``f(example) -> model inputs`` applied last, e.g. ``(x, y, sample_weight)``;
            defaults to the example dict itself.
        on_bad_file: ``"raise"`` (default): a missing file raises ``FileNotFoundError`` naming it
            before anything runs, a corrupt one raises while decoding with its path in the
            message. ``"skip"``: such examples are dropped up front and their number and names
            are logged on the ``reprokit.data`` logger (a run's ``run.log``).
        repeat: repeat forever (for step-based training).
        drop_remainder: defaults to ``training``.
        shuffle_buffer: defaults to the whole dataset.
        autotune: tf.data's autotuning (``tf.data.Options().autotune.enabled``). ``None``
            (default): on when TensorFlow sees a GPU, off on a CPU-only machine, see
            :func:`default_autotune`.

    Returns:
        A ``tf.data.Dataset``. Its ``element_spec`` is the canonical example with a leading
        batch axis (plus the codec's keys), or whatever ``format_fn`` returns.
    """
    if on_bad_file not in ("raise", "skip"):
        raise ValueError(f"on_bad_file must be 'raise' or 'skip', got {on_bad_file!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    index = dict(reader.index())
    n = len(next(iter(index.values())))
    index["index"] = np.arange(n, dtype=np.int64)
    index = _check_files(index, on_bad_file)
    n = len(index["index"])
    if n == 0:
        raise ValueError("the reader returned no usable examples")

    # Evaluation always keeps the record order; training is reproducible when seeded.
    deterministic = seed is not None or not training
    ds = tf.data.Dataset.from_tensor_slices(index)
    if training:
        ds = ds.shuffle(shuffle_buffer or n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(reader.decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if transforms is not None:
        # One int64 per element from a seeded stream that differs on every pass over the data.
        rng = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        base = 0 if seed is None else seed
        ds = tf.data.Dataset.zip(ds, rng).map(
            lambda ex, r: transforms(ex, tf.stack([tf.constant(base, tf.int64), r])),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if codec is not None:
        ds = ds.map(codec, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if format_fn is not None:
        ds = ds.map(format_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=training if drop_remainder is None else drop_remainder,
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if autotune is None:
        autotune = default_autotune()
    if not autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        ds = ds.with_options(options)
    return ds


def default_autotune() -> bool:
    """Whether :func:`build_dataset` autotunes by default: only when TensorFlow sees a GPU.

    On a CPU-only machine tf.data's autotuning buys nothing here (the pipeline delivers 68x what
    the hourglass consumes on 2 cores, docs/performance.md) and costs time at the end of every
    training run: destroying the iterator waited 30-40 s for the autotuning thread (TF 2.21;
    the main thread in ``RootDataset::Iterator::~Iterator``), in 6 of 8 demo training rows on
    2026-12-02 and in none with autotuning off. Without autotuning, ``AUTOTUNE`` parallelism and
    prefetch take TensorFlow's fixed defaults: ``python -m reprokit.bench pipeline`` gave 181-224
    samples/s against 219-245 with autotuning (alternating runs, docs/performance.md). On a GPU
    the pipeline may be the bottleneck, so autotuning stays on there.
    """
    return bool(tf.config.list_physical_devices("GPU"))
