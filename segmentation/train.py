"""Input pipeline and evaluation for the segmentation networks (thesis Sec. 3-4).

Input normalisation per network (docs/reference/segmentation.md spec §B): ICNet takes BGR minus
hellochick's ``IMG_MEAN``; SegNet takes raw 0-255 RGB (its first layer is the LRN); the
hourglass takes ``/255`` then mean/std whitening (Varol's ``meanstd``; we use the ImageNet RGB
statistics when the training set's are not given).

Augmentation (the thesis' "data augmentation" ablation, spec §B): horizontal mirroring that
swaps left/right labels through :data:`segmentation.labels.MIRROR_SWAP` (none of the reference
readers swaps), and ICNet-style random scale U(0.5, 2.0) (bilinear image, nearest label) then a
random crop / pad back to the input size, padding labels with ``ignore_label`` (never 0).

Evaluation accumulates one confusion matrix over the split (:mod:`reprokit.metrics.segmentation`)
from the last output, bilinearly upsampled to the label size (align_corners for ICNet as
hellochick's inference) and argmaxed.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from reprokit.data import ImageRecordReader, build_dataset
from segmentation.labels import JOINT_MIRROR_SWAP, MIRROR_SWAP, NUM_CLASSES
from segmentation.model import ICNET_MEAN_BGR

NETWORKS = ("icnet", "segnet", "hourglass")
#: Hourglass whitening default (ImageNet RGB mean/std); Varol's ``meanRgb.t7`` is computed on
#: SURREAL and not published as numbers.
HOURGLASS_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
IGNORE_LABEL = 255


def normalize(image, network: str, mean_std=HOURGLASS_MEAN_STD):
    """uint8/float RGB ``(..., 3)`` -> the network's input (TF op)."""
    x = tf.cast(image, tf.float32)
    if network == "icnet":
        return x[..., ::-1] - tf.constant(ICNET_MEAN_BGR, tf.float32)
    if network == "segnet":
        return x
    if network == "hourglass":
        mean, std = (tf.constant(v, tf.float32) for v in mean_std)
        return (x / 255.0 - mean) / std
    raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")


def mirror_tf(image, labels, ignore_label: int = IGNORE_LABEL, joints=None):
    """Flip image and labels left-right and swap left/right label ids (TF op).

    With ``joints`` ``(24, 2)`` (pixel centres at integers) also returns them mirrored
    (``x -> W - 1 - x``) with the left/right joints swapped (:data:`JOINT_MIRROR_SWAP`).
    """
    width = tf.cast(tf.shape(image)[1], tf.float32)
    image = tf.reverse(image, [1])
    labels = tf.reverse(tf.cast(labels, tf.int32), [1])
    table = tf.constant(MIRROR_SWAP, tf.int32)
    swapped = tf.gather(table, tf.clip_by_value(labels, 0, len(MIRROR_SWAP) - 1))
    labels = tf.where((labels >= len(MIRROR_SWAP)) | (labels == ignore_label), labels, swapped)
    if joints is None:
        return image, labels
    joints = tf.gather(tf.cast(joints, tf.float32), tf.constant(JOINT_MIRROR_SWAP, tf.int32))
    return image, labels, tf.stack([width - 1.0 - joints[:, 0], joints[:, 1]], -1)


def random_scale_crop(image, labels, seed, size, scale_range=(0.5, 2.0),
                      ignore_label: int = IGNORE_LABEL, joints=None):
    """Scale by U(lo, hi) (bilinear image, nearest label), then random crop / pad to ``size``;
    padded labels are ``ignore_label``, padded image pixels 0 (hellochick's reader). With
    ``joints`` ``(K, 2)`` they follow the same scale and crop and are returned third."""
    s = tf.random.stateless_uniform([], seed, *scale_range)
    in_hw = tf.shape(image)[:2]
    hw = tf.cast(tf.cast(in_hw, tf.float32) * s, tf.int32)
    image = tf.image.resize(tf.cast(image, tf.float32), hw, "bilinear")
    labels = tf.image.resize(tf.cast(labels, tf.int32)[..., None], hw, "nearest")[..., 0]
    h, w = size
    pad_h, pad_w = tf.maximum(h - hw[0], 0), tf.maximum(w - hw[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    labels = tf.pad(labels + 1, [[0, pad_h], [0, pad_w]]) - 1          # pad -> -1 for now
    labels = tf.where(labels < 0, ignore_label, labels)
    crop_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    oy = tf.random.stateless_uniform([], crop_seed, 0, hw[0] + pad_h - h + 1, tf.int32)
    ox = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(crop_seed, 1),
                                     0, hw[1] + pad_w - w + 1, tf.int32)
    image = image[oy:oy + h, ox:ox + w]
    labels = labels[oy:oy + h, ox:ox + w]
    if isinstance(h, int) and isinstance(w, int):
        image.set_shape([h, w, 3])
        labels.set_shape([h, w])
    if joints is None:
        return image, labels
    ratio = (tf.cast(tf.stack([hw[1], hw[0]]), tf.float32)
             / tf.cast(tf.stack([in_hw[1], in_hw[0]]), tf.float32))      # (sx, sy)
    # tf.image.resize maps pixel centres (x + 0.5) * ratio - 0.5
    joints = (tf.cast(joints, tf.float32) + 0.5) * ratio - 0.5 - tf.cast(tf.stack([ox, oy]), tf.float32)
    return image, labels, joints


def part_centroids(labels, num_parts: int = 24):
    """``(num_parts, 2)`` centroids (x, y) of the parts 1..num_parts and a ``(num_parts,)``
    visibility (part present) from one ``(H, W)`` label map: the thesis' alternative target for
    the joint branch (Sec. 4.1, Fig. 16 right)."""
    lab = tf.cast(labels, tf.int32)
    onehot = tf.cast(tf.equal(lab[..., None], tf.range(1, num_parts + 1)), tf.float32)
    count = tf.reduce_sum(onehot, [0, 1])
    ys = tf.range(tf.shape(lab)[0], dtype=tf.float32)[:, None, None]
    xs = tf.range(tf.shape(lab)[1], dtype=tf.float32)[None, :, None]
    safe = tf.maximum(count, 1.0)
    cx = tf.reduce_sum(onehot * xs, [0, 1]) / safe
    cy = tf.reduce_sum(onehot * ys, [0, 1]) / safe
    return tf.stack([cx, cy], -1), tf.cast(count > 0, tf.float32)


TARGETS = ("labels", "joints")
JOINT_SOURCES = ("surreal", "centroids")


def segmentation_dataset(records: dict, network: str, batch_size: int, training: bool = False,
                         seed: int | None = 0, mirror: bool = False, scale: bool = False,
                         size=None, repeat: bool | None = None, targets=("labels",),
                         joints: str = "surreal", joints_sigma: float = 1.0):
    """``(x, y)`` batches from image / label-PNG records (:func:`segmentation.data.read_extracted`).

    Args:
        network: ``"icnet"`` | ``"segnet"`` | ``"hourglass"`` (input normalisation).
        mirror: random horizontal mirror with the left/right label swap (p = 0.5).
        scale: random scale U(0.5, 2) + crop/pad to ``size`` (default: the image size).
        targets: one entry per model output, ``"labels"`` (the label map) or ``"joints"``
            (Gaussian heatmaps at the image resolution, peak 1); ``y`` is that tuple, or the
            bare label map for ``("labels",)``.
        joints: where joint targets come from: ``"surreal"`` (the records' ``joints2d``,
            moved with every augmentation) or ``"centroids"`` (part centroids of the label
            map after augmentation).
        joints_sigma: Gaussian standard deviation in pixels.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    targets = tuple(targets)
    if not targets or set(targets) - set(TARGETS):
        raise ValueError(f"targets must be a non-empty sequence of {TARGETS}, got {targets!r}")
    if joints not in JOINT_SOURCES:
        raise ValueError(f"joints must be one of {JOINT_SOURCES}, got {joints!r}")
    want_joints = "joints" in targets
    use_records = want_joints and joints == "surreal"
    cols = {k: records[k] for k in ("image_path", "label_path")}
    if use_records:
        if "joints2d" not in records:
            raise ValueError("joint targets from 'surreal' need a 'joints2d' column in the records")
        cols["keypoints"] = np.asarray(records["joints2d"], np.float32)
        cols["visible"] = np.ones(cols["keypoints"].shape[:2], np.float32)
    reader = ImageRecordReader(cols)
    codec = None
    if want_joints:
        from reprokit.codecs import GaussianHeatmapCodec

        hw = tuple(size) if size else _image_size(records["label_path"][0])
        codec = GaussianHeatmapCodec(hw, hw, joints_sigma)

    def augment(ex, seed):
        image, labels = ex["image"], tf.cast(ex["labels"], tf.int32)
        kp = ex["keypoints"] if use_records else None
        if training and mirror:
            flip = tf.random.stateless_uniform([], seed) < 0.5
            flipped = mirror_tf(image, labels, joints=kp)
            image = tf.where(flip, flipped[0], image)
            labels = tf.where(flip, flipped[1], labels)
            if kp is not None:
                kp = tf.where(flip, flipped[2], kp)
        if training and scale:
            out = size or (tf.shape(image)[0], tf.shape(image)[1])
            res = random_scale_crop(image, labels, tf.random.experimental.stateless_fold_in(seed, 2),
                                    out, joints=kp)
            image, labels = res[0], res[1]
            kp = res[2] if kp is not None else None
        if size is not None:              # static shapes (ICNet's pyramid pooling needs them)
            image = tf.ensure_shape(image, [size[0], size[1], 3])
            labels = tf.ensure_shape(labels, [size[0], size[1]])
        ex_out = {"image": normalize(image, network), "labels": labels}
        if want_joints:
            if kp is None:
                kp, vis = part_centroids(labels)
            else:
                vis = ex["visible"]
            ex_out["heatmaps"], _ = codec.encode_keypoints(kp, vis)
        return ex_out

    def fmt(ex):
        ys = tuple(ex["labels"] if t == "labels" else ex["heatmaps"] for t in targets)
        return ex["image"], (ys[0] if targets == ("labels",) else ys)

    return build_dataset(reader, augment, None, batch_size, training=training, seed=seed,
                         format_fn=fmt, repeat=training if repeat is None else repeat)


def _image_size(path: str):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"cannot read {path}")
    return img.shape[:2]


def predict_labels(model, x, network: str, size, output: int = -1):
    """Argmax labels ``(N, H, W)`` of the model's segmentation output (``output``: its index
    among the model's outputs; the last one by default) upsampled to ``size``."""
    out = model(x, training=False)
    logits = out[output] if isinstance(out, (list, tuple)) else out
    if tuple(logits.shape[1:3]) != tuple(size):
        logits = tf.raw_ops.ResizeBilinear(images=logits, size=size,
                                           align_corners=network == "icnet",
                                           half_pixel_centers=False)
    return tf.argmax(logits, -1, output_type=tf.int32).numpy()


def evaluate_segmentation(model, records: dict, network: str, num_classes: int = NUM_CLASSES,
                          batch_size: int = 4, group_table=None, output: int = -1,
                          keep: int = 0) -> dict:
    """Confusion matrix over ``records`` and every metric of the thesis.

    Args:
        output: index of the segmentation output (see :func:`predict_labels`).
        keep: also return the first ``keep`` ground-truth / predicted label maps
            (``"samples"``: a list of ``(gt, pred)``) for qualitative figures.

    Returns:
        ``reprokit.metrics.segmentation.segmentation_report`` of the matrix plus ``"confusion"``
        and, with ``group_table`` (e.g. ``labels.TO_THESIS13``), ``"groups"``: the report of the
        merged matrix.
    """
    from reprokit.metrics.segmentation import (confusion_matrix, merge_confusion,
                                               segmentation_report)

    cm = np.zeros((num_classes, num_classes), np.int64)
    samples = []
    for x, y in segmentation_dataset(records, network, batch_size, training=False, seed=None):
        pred = predict_labels(model, x, network, tuple(y.shape[1:3]), output)
        cm += confusion_matrix(y.numpy(), pred, num_classes, IGNORE_LABEL)
        for g, p in zip(y.numpy(), pred):
            if len(samples) < keep:
                samples.append((g, p))
    report = segmentation_report(cm)
    report["confusion"] = cm
    if group_table is not None:
        report["groups"] = segmentation_report(merge_confusion(cm, group_table))
    if keep:
        report["samples"] = samples
    return report


# --------------------------------------------------------------------------- training
#: The thesis' schedules (docs/reference/segmentation.md §G and Addendum; thesis Sec. 3.2.3, 3.3.3,
#: 4.1). ``steps`` 40k is the ablation length of Secs. 3.2.3 / 3.3.3 (the final models: 90k).
SCHEDULES = {
    # Sec. 3.2.3: batch 64, lr 0.01 poly power 0.9, momentum 0.9, wd 1e-4, 40k steps, BN
    # parameters updated only in the last 20k (hellochick train.py flags; poly restarts).
    "icnet": {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "poly_power": 0.9,
              "weight_decay": 1e-4, "batch_size": 64, "steps": 40_000, "bn_release": 0.5,
              "restart_poly": True},
    # Sec. 3.3.3: batch 32, Adam lr 0.01 (constant, as tkuanlun's), 40k steps.
    "segnet": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "steps": 40_000},
    # Sec. 4.1 names RMSprop through its base code; lr 1e-3, rho 0.99, eps 1e-8 and batch 6 are
    # Varol's opts.lua (reference §3.3); the thesis gives no step count: 40k as the others.
    "hourglass": {"optimizer": "rmsprop", "learning_rate": 1e-3, "batch_size": 6, "steps": 40_000},
}
#: Network input side: the thesis' crops (Sec. 2 and 4.1: 320 x 320).
INPUT_SIZE = 320


@dataclasses.dataclass
class SegTrainConfig:
    """One segmentation training run; ``None`` fields take the network's :data:`SCHEDULES`.

    Attributes:
        network: ``"icnet"``, ``"segnet"`` or ``"hourglass"``.
        data_dir: extracted frames with ``train/``, ``val/``, ``test/`` sub-folders
            (:func:`segmentation.data.extract_frames`).
        model: builder arguments (``filter_scale`` for ICNet; ``filters``, ``unpool``,
            ``decoder_bias`` for SegNet; ``num_stacks``, ``num_features``, ``depth`` for the
            hourglass).
        input_size: square input side (the extracted frame size).
        steps, steps_per_epoch: optimizer steps and the epoch length (checkpoint, log and
            validation period; the thesis validated every 200 steps).
        augment: mirroring with the label swap and scaling U(0.5, 2) (the "Data Aug." rows).
        weighting: ``None``, ``"w1"``, ``"w2"`` or ``"median_freq"`` (from training pixel
            counts); ``strategy``: ``"outer"`` or ``"direct"``.
        lambdas: ICNet branch weights (default :data:`segmentation.losses.ICNET_LAMBDAS`).
        weight_decay: ``tf.nn.l2_loss`` decay on every conv kernel (ICNet 1e-4).
        bn_release: ICNet: fraction of ``steps`` after which BN moving statistics update and
            gamma/beta train (0.5 = the last 20k of 40k); ``restart_poly``: restart the poly
            decay there (two runs of hellochick's ``train.py``) or decay once over ``steps``.
        ema: evaluate an exponential moving average (0.9999) of the weights (tkuanlun's SegNet
            test; off: the thesis does not mention it).
        progressive: hourglass: per-stack ground truth from body/background to all 25 classes.
        joints: hourglass: a parallel joint-heatmap branch with targets from ``"surreal"``
            joints or part ``"centroids"``; ``joints_sigma`` in pixels (default
            ``input_size / 64``, Newell's sigma 1 at 64 x 64).
        bn_momentum: override every BatchNorm's moving-average momentum (``None``: the
            network's own: ICNet 0.95, SegNet 0.999, hourglass 0.99). Short smoke runs use 0.9,
            otherwise the moving statistics evaluated at the end are still mostly their
            initial values (0.999 ** 120 = 0.89).
        eval_split: ``"val"`` (ablations) or ``"test"`` (Tables 3 and 6).
        validate: mIoU on ``eval_split`` at every epoch end (``val_mIoU``, best checkpoint).
    """

    network: str = "icnet"
    data_dir: str = ""
    model: dict = dataclasses.field(default_factory=dict)
    input_size: int = INPUT_SIZE
    steps: int | None = None
    steps_per_epoch: int = 200
    batch_size: int | None = None
    learning_rate: float | None = None
    augment: bool = False
    weighting: str | None = None
    strategy: str = "outer"
    lambdas: tuple | None = None
    weight_decay: float | None = None
    bn_release: float | None = None
    restart_poly: bool | None = None
    ema: bool = False
    progressive: bool = False
    joints: str | None = None
    joints_sigma: float | None = None
    bn_momentum: float | None = None
    eval_split: str = "val"
    validate: bool = False
    seed: int = 0

    def resolved(self) -> dict:
        """The config with the schedule filled in (what ``config.json`` records)."""
        from segmentation.losses import ICNET_LAMBDAS, STRATEGIES, WEIGHTINGS

        if self.network not in SCHEDULES:
            raise ValueError(f"network must be one of {sorted(SCHEDULES)}, got {self.network!r}")
        if self.weighting is not None and self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be None or one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.joints is not None and self.joints not in JOINT_SOURCES:
            raise ValueError(f"joints must be None or one of {JOINT_SOURCES}, got {self.joints!r}")
        if (self.progressive or self.joints) and self.network != "hourglass":
            raise ValueError("progressive and joints are hourglass experiments (thesis Sec. 4.1)")
        out = {**SCHEDULES[self.network], **{k: v for k, v in dataclasses.asdict(self).items()
                                             if v is not None}}
        out["data_dir"] = os.path.abspath(self.data_dir)
        if self.network == "icnet":
            out["lambdas"] = list(self.lambdas or ICNET_LAMBDAS)
        if self.joints:
            out["joints_sigma"] = self.joints_sigma or self.input_size / 64.0
        return out


def stack_tables(num_stacks: int):
    """Per-stack remap tables of the progressive ground truth: the first stack body /
    background, the last all 25 classes, the levels of :data:`segmentation.labels.PROGRESSIVE`
    spread evenly in between (4 stacks: 2 / 5 / 13 / 25 classes, the thesis' Fig. 14)."""
    from segmentation.labels import PROGRESSIVE

    if num_stacks < 1:
        raise ValueError(f"num_stacks must be >= 1, got {num_stacks}")
    if num_stacks == 1:
        return [PROGRESSIVE[-1]]
    last = len(PROGRESSIVE) - 1
    return [PROGRESSIVE[round(i * last / (num_stacks - 1))] for i in range(num_stacks)]


def output_kinds(conf: dict) -> list[str]:
    """What each output of the configured model predicts: ``"labels"`` or ``"joints"``."""
    if conf["network"] == "icnet":
        return ["labels"] * 3
    if conf["network"] == "segnet":
        return ["labels"]
    n = int(conf["model"].get("num_stacks", 2))
    return (["labels", "joints"] if conf.get("joints") else ["labels"]) * n


def build_model(conf: dict):
    """The configured network at ``conf["input_size"]`` (25 classes)."""
    from segmentation.model import ICNet, HourglassSegmenter, SegNetBasic

    shape = (conf["input_size"], conf["input_size"], 3)
    kw = dict(conf["model"])
    if conf["network"] == "icnet":
        return ICNet(NUM_CLASSES, input_shape=shape, **kw)
    if conf["network"] == "segnet":
        return SegNetBasic(NUM_CLASSES, input_shape=shape, **kw)
    n = int(kw.pop("num_stacks", 2))
    classes = ([int(t.max()) + 1 for t in stack_tables(n)] if conf.get("progressive") else None)
    return HourglassSegmenter(NUM_CLASSES, n, stack_classes=classes,
                              joints_head=24 if conf.get("joints") else None, input_shape=shape, **kw)


def make_optimizer(conf: dict):
    """SGD + poly (ICNet), Adam (SegNet) or RMSprop (hourglass) as :data:`SCHEDULES` says."""
    from reprokit.callbacks import PolynomialDecay
    from reprokit.training import make_optimizer as training_optimizer

    lr, steps = conf["learning_rate"], conf["steps"]
    ema = 0.9999 if conf.get("ema") else None                        # tkuanlun MOVING_AVERAGE_DECAY
    if conf["optimizer"] == "sgd":
        release = _release_step(conf)
        restart = release if (conf.get("restart_poly") and 0 < release < steps) else None
        schedule = PolynomialDecay(lr, restart or steps, 0.0, conf["poly_power"], restart_every=restart)
        return training_optimizer("sgd", schedule, momentum=conf["momentum"], ema_momentum=ema)
    # tf.train.AdamOptimizer (tkuanlun), Torch7 rmsprop (Varol): reprokit.training.OPTIMIZERS
    return training_optimizer(conf["optimizer"], lr, ema_momentum=ema)


def _release_step(conf: dict) -> int:
    return int(round(conf.get("bn_release", 0) * conf["steps"]))


def make_losses(conf: dict, weights=None):
    """One loss per output with Keras ``loss_weights`` (ICNet lambdas; 1 elsewhere)."""
    import keras

    from segmentation.losses import SegmentationCE

    kinds = output_kinds(conf)
    if conf["network"] == "hourglass" and conf.get("progressive"):
        tables = iter(stack_tables(int(conf["model"].get("num_stacks", 2))))
    else:
        tables = None
    losses = []
    for kind in kinds:
        if kind == "joints":
            losses.append(keras.losses.MeanSquaredError(name="joints_mse"))
            continue
        table = next(tables) if tables is not None else None
        n = NUM_CLASSES if table is None else int(table.max()) + 1
        w = weights if n == NUM_CLASSES else _merged_weights(weights, table, n)
        losses.append(SegmentationCE(n, IGNORE_LABEL, w, conf["strategy"], remap=table))
    loss_weights = list(conf["lambdas"]) if conf["network"] == "icnet" else [1.0] * len(kinds)
    return losses, loss_weights


def _merged_weights(weights, table, n):
    """Class weights of a coarser stack: the mean weight of each group's member classes."""
    if weights is None:
        return None
    w = np.asarray(weights, np.float64)
    return [float(w[np.asarray(table) == g].mean()) for g in range(n)]


def compute_class_weights(train_dir: str, method: str) -> np.ndarray:
    """Weights from the training labels' pixel counts, cached in ``class_counts.json``."""
    import json

    import cv2

    from segmentation.data import read_extracted
    from segmentation.losses import class_pixel_counts, class_weights

    path = os.path.join(train_dir, "class_counts.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            cached = json.load(f)
        counts, present = np.array(cached["counts"]), np.array(cached["present_pixels"])
    else:
        rec = read_extracted(train_dir)
        counts, present = class_pixel_counts(
            (cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in rec["label_path"]), NUM_CLASSES,
            IGNORE_LABEL)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"counts": counts.tolist(), "present_pixels": present.tolist()}, f)
    return class_weights(counts, method, present)


def train_segmentation(cfg: SegTrainConfig, runs_root: str = "runs", name: str | None = None,
                       verbose="auto", overlays: int = 4):
    """Train (or resume, or reuse) one run and evaluate it on ``cfg.eval_split``.

    A finished run with the same name and config under ``runs_root`` is reused: its
    ``results.json`` is returned without training (several thesis tables share rows). An
    unfinished one resumes from its last epoch backup.

    Writes ``results.json`` / ``results.md``, ``confusion.png`` (25 classes beside the 13
    groups) and ``overlays.png`` (the first ``overlays`` evaluation frames).

    Returns:
        ``(run, results)``.
    """
    import json

    import keras

    from reprokit.callbacks import BatchNormPhase, PeriodicValidation
    from reprokit.training import add_weight_decay, create_run_dir, find_run, fit, set_seed
    from segmentation.data import read_extracted
    from segmentation.labels import TO_THESIS13

    conf = cfg.resolved()
    name = name or f"segmentation-{cfg.network}"
    done = find_run(name, conf, runs_root)
    if done is not None and os.path.exists(done.file("results.json")):
        with open(done.file("results.json"), encoding="utf-8") as f:
            return done, json.load(f)
    train_rec = read_extracted(os.path.join(cfg.data_dir, "train"))
    eval_rec = read_extracted(os.path.join(cfg.data_dir, cfg.eval_split))
    weights = (compute_class_weights(os.path.join(cfg.data_dir, "train"), cfg.weighting)
               if cfg.weighting else None)
    run = create_run_dir(name, conf, runs_root)
    set_seed(cfg.seed, deterministic_ops=False)
    kinds = output_kinds(conf)
    seg_output = max(i for i, k in enumerate(kinds) if k == "labels")
    data = segmentation_dataset(train_rec, cfg.network, conf["batch_size"], training=True,
                                seed=cfg.seed, mirror=cfg.augment, scale=cfg.augment,
                                size=(cfg.input_size, cfg.input_size), targets=kinds, joints=cfg.joints or "surreal",
                                joints_sigma=conf.get("joints_sigma", 1.0))

    def build():
        model = build_model(conf)
        if conf.get("bn_momentum") is not None:
            for layer in model._flatten_layers(include_self=False):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = float(conf["bn_momentum"])
        if conf.get("weight_decay"):
            add_weight_decay(model, conf["weight_decay"])
        return model

    def compile_(model):
        losses, loss_weights = make_losses(conf, weights)
        model.compile(optimizer=make_optimizer(conf), loss=losses if len(losses) > 1 else losses[0],
                      loss_weights=loss_weights if len(losses) > 1 else None, jit_compile=False)

    extra = []
    if cfg.network == "icnet":
        extra.append(BatchNormPhase(_release_step(conf)))
    validation = PeriodicValidation(lambda m: {"mIoU": evaluate_segmentation(
        m, eval_rec, cfg.network, output=seg_output)["mIoU"]}) if cfg.validate else None
    epochs = max(1, -(-conf["steps"] // cfg.steps_per_epoch))
    model, _ = fit(build, compile_, data, run, epochs=epochs,
                   steps_per_epoch=min(cfg.steps_per_epoch, conf["steps"]), validation=validation,
                   monitor="val_mIoU" if cfg.validate else None, extra_callbacks=extra,
                   verbose=verbose)
    seconds = run.train_seconds         # summed over resumes (reprokit.training.fit)
    report = evaluate_segmentation(model, eval_rec, cfg.network, group_table=TO_THESIS13,
                                   output=seg_output, keep=overlays)
    results = report_to_json(report)
    results.update({"train_seconds": seconds, "steps": int(model.optimizer.iterations.numpy()),
                    "params": int(model.count_params()), "eval_split": cfg.eval_split,
                    "eval_frames": len(eval_rec["image_path"]),
                    "class_weights": None if weights is None else [float(w) for w in weights]})
    write_run_figures(run, report, eval_rec, title=name)
    with open(run.file("results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        f.write(results_markdown(results, name))
    return run, results


def report_to_json(report: dict) -> dict:
    """The JSON-able part of :func:`evaluate_segmentation`'s report (percent where the thesis
    prints percent): ``mIoU``, ``accuracy``, ``F1`` (macro), ``F1_weighted`` (by class pixel
    counts), ``mean_class_accuracy``, per-class and
    per-group lists, and the confusion matrices."""
    from reprokit.metrics.segmentation import merge_confusion
    from segmentation.labels import TO_THESIS13

    def pct(v):
        return None if v is None or np.isnan(v) else round(float(v) * 100, 4)

    out = {"mIoU": pct(report["mIoU"]), "accuracy": pct(report["pixel_accuracy"]),
           "F1": pct(report["mean_f1"]), "F1_weighted": pct(report["weighted_f1"]),
           "mean_class_accuracy": pct(report["mean_recall"]),
           "iou": [pct(v) for v in report["iou"]],
           "class_accuracy": [pct(v) for v in report["per_class_accuracy"]],
           "confusion": np.asarray(report["confusion"]).tolist()}
    if "groups" in report:
        out["group_accuracy"] = [pct(v) for v in report["groups"]["per_class_accuracy"]]
        out["group_confusion"] = merge_confusion(report["confusion"], TO_THESIS13).tolist()
    return out


def results_markdown(results: dict, title: str) -> str:
    from segmentation.labels import PART_NAMES, THESIS13_NAMES

    lines = [f"# {title}", "",
             f"{results['eval_split']} split, {results['eval_frames']} frames; "
             f"{results['steps']} steps in {results['train_seconds']:.0f} s; "
             f"{results['params']:,} parameters.", "",
             "| mIoU | accuracy | F1 macro | F1 weighted | mean class accuracy |",
             "|---:|---:|---:|---:|---:|",
             f"| {results['mIoU']:.2f} | {results['accuracy']:.2f} | {results['F1']:.2f} | "
             f"{results['F1_weighted']:.2f} | {results['mean_class_accuracy']:.2f} |", "",
             "| class | IoU | accuracy |", "|---|---:|---:|"]
    for name, i, a in zip(PART_NAMES, results["iou"], results["class_accuracy"]):
        lines.append(f"| {name} | {_fmt(i)} | {_fmt(a)} |")
    if "group_accuracy" in results:
        lines += ["", "| group | accuracy |", "|---|---:|"]
        lines += [f"| {g} | {_fmt(a)} |" for g, a in zip(THESIS13_NAMES, results["group_accuracy"])]
    return "\n".join(lines) + "\n"


def _fmt(v):
    return "-" if v is None else f"{v:.1f}"


def write_run_figures(run, report: dict, records: dict, title: str = ""):
    """``confusion.png`` and ``overlays.png`` of one evaluation into the run directory."""
    import cv2

    from reprokit.metrics.segmentation import merge_confusion
    from reprokit.viz import plot_confusion, plot_segmentation
    from segmentation.labels import PART_NAMES, THESIS13_NAMES, TO_THESIS13

    plot_confusion(report["confusion"], PART_NAMES, run.file("confusion.png"),
                   groups=(merge_confusion(report["confusion"], TO_THESIS13), THESIS13_NAMES),
                   title=f"{title}: confusion (rows sum to 1)")
    samples = report.get("samples") or []
    if samples:
        images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                  for p in records["image_path"][:len(samples)]]
        plot_segmentation(images, [g for g, _ in samples], [p for _, p in samples], PART_NAMES,
                          run.file("overlays.png"), title=title)


__all__ = ["HOURGLASS_MEAN_STD", "IGNORE_LABEL", "INPUT_SIZE", "JOINT_SOURCES", "NETWORKS",
           "SCHEDULES", "SegTrainConfig", "TARGETS", "build_model", "compute_class_weights",
           "evaluate_segmentation", "make_losses", "make_optimizer", "mirror_tf", "normalize",
           "output_kinds", "part_centroids", "predict_labels", "random_scale_crop",
           "report_to_json", "results_markdown", "segmentation_dataset", "stack_tables",
           "train_segmentation", "write_run_figures"]
