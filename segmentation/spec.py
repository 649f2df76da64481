"""What a segmentation run is: the three networks as data, and the frozen run spec.

Each network of the thesis is one :class:`Network` record (schedule, input normalisation,
builder, what each output predicts, loss weights, callbacks, how evaluation upsamples), so
the training and evaluation code never switches on the network's name.
:class:`SegTrainConfig` is the run spec (:class:`reprokit.spec.RunSpec`) that ``train``,
``evaluate``, the tables and ``config.json`` all read.

Input normalisation per network (docs/reference/segmentation.md spec §B): ICNet takes BGR minus
hellochick's ``IMG_MEAN``; SegNet takes raw 0-255 RGB (its first layer is the LRN); the
hourglass takes ``/255`` then mean/std whitening (Varol's ``meanstd``; we use the ImageNet RGB
statistics when the training set's are not given).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from reprokit.callbacks import BatchNormPhase
from reprokit.errors import ConfigError
from reprokit.schedules import PolynomialDecay
from reprokit.spec import RunSpec, field
from reprokit.training import make_optimizer as training_optimizer
from segmentation.labels import NUM_CLASSES, PROGRESSIVE
from segmentation.losses import ICNET_LAMBDAS, WEIGHTING_MODES, WEIGHTINGS, SegmentationCE
from segmentation.model import ICNET_MEAN_BGR, HourglassSegmenter, ICNet, SegNetBasic

#: Hourglass whitening default (ImageNet RGB mean/std); Varol's ``meanRgb.t7`` is computed on
#: SURREAL and not published as numbers.
HOURGLASS_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
IGNORE_LABEL = 255
#: Network input side: the thesis' crops (Sec. 2 and 4.1: 320 x 320).
INPUT_SIZE = 320
TARGETS = ("labels", "joints")
JOINT_SOURCES = ("surreal", "centroids")

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


def stack_tables(num_stacks: int):
    """Per-stack remap tables of the progressive ground truth: the first stack body /
    background, the last all 25 classes, the levels of :data:`segmentation.labels.PROGRESSIVE`
    spread evenly in between (4 stacks: 2 / 5 / 13 / 25 classes, the thesis' Fig. 14)."""
    if num_stacks < 1:
        raise ValueError(f"num_stacks must be >= 1, got {num_stacks}")
    if num_stacks == 1:
        return [PROGRESSIVE[-1]]
    last = len(PROGRESSIVE) - 1
    return [PROGRESSIVE[round(i * last / (num_stacks - 1))] for i in range(num_stacks)]


# ----------------------------------------------------------------------------- networks
def _icnet_input(x):
    return x[..., ::-1] - tf.constant(ICNET_MEAN_BGR, tf.float32)


def _hourglass_input(x, mean_std=HOURGLASS_MEAN_STD):
    mean, std = (tf.constant(v, tf.float32) for v in mean_std)
    return (x / 255.0 - mean) / std


def _shape(spec):
    return (spec.input_size, spec.input_size, 3)


def _build_hourglass(spec):
    kw = dict(spec.model)
    n = int(kw.pop("num_stacks", 2))
    classes = [int(t.max()) + 1 for t in stack_tables(n)] if spec.progressive else None
    return HourglassSegmenter(NUM_CLASSES, n, stack_classes=classes,
                              joints_head=24 if spec.joints else None, input_shape=_shape(spec), **kw)


def _hourglass_outputs(spec):
    n = int(spec.model.get("num_stacks", 2))
    return (["labels", "joints"] if spec.joints else ["labels"]) * n


@dataclasses.dataclass(frozen=True)
class Network:
    """One network of the thesis as data.

    Attributes:
        name: ``"icnet"``, ``"segnet"`` or ``"hourglass"``.
        normalize: float RGB 0-255 ``(..., 3)`` -> the network's input (TF op).
        build: ``build(spec) -> keras.Model`` at ``spec.input_size``, 25 classes.
        outputs: ``outputs(spec) -> ["labels" | "joints", ...]``, one per model output.
        loss_weights: ``loss_weights(spec) -> [float, ...]`` (ICNet's lambdas; 1 elsewhere).
        callbacks: ``callbacks(spec) -> [keras.callbacks.Callback]`` (ICNet's BN release).
        align_corners: evaluation upsamples the logits with ``align_corners`` (hellochick's
            ICNet inference) or without.
        experiments: the hourglass-only options this network accepts (thesis Sec. 4.1).
    """

    name: str
    normalize: Callable
    build: Callable
    outputs: Callable
    loss_weights: Callable = lambda spec: [1.0]
    callbacks: Callable = lambda spec: []
    align_corners: bool = False
    experiments: tuple = ()


NETWORKS = {
    "icnet": Network("icnet", _icnet_input,
                     lambda spec: ICNet(NUM_CLASSES, input_shape=_shape(spec), **spec.model),
                     lambda spec: ["labels"] * 3, lambda spec: list(spec.lambdas),
                     lambda spec: [BatchNormPhase(spec.release_step)], align_corners=True),
    "segnet": Network("segnet", lambda x: x,
                      lambda spec: SegNetBasic(NUM_CLASSES, input_shape=_shape(spec), **spec.model),
                      lambda spec: ["labels"]),
    "hourglass": Network("hourglass", _hourglass_input, _build_hourglass, _hourglass_outputs,
                         lambda spec: [1.0] * len(_hourglass_outputs(spec)),
                         experiments=("progressive", "joints")),
}


def get_network(name: str) -> Network:
    if name not in NETWORKS:
        raise ConfigError(f"network must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name]


# ----------------------------------------------------------------------------- run spec
@dataclasses.dataclass(frozen=True)
class SegTrainConfig(RunSpec):
    """One segmentation training run; ``None`` fields take the network's :data:`SCHEDULES`
    in :meth:`resolve` (unknown keys and out-of-range numbers are errors).

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
            counts); ``weighting_mode``: ``"outer"`` or ``"direct"`` (how the weights enter
            the loss, :class:`segmentation.losses.SegmentationCE`).
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
        optimizer, momentum, poly_power: the schedule's (filled by :meth:`resolve`).
    """

    network: str = field("icnet", choices=tuple(SCHEDULES))
    data_dir: str = ""
    model: dict = field(default_factory=dict)
    input_size: int = field(INPUT_SIZE, minimum=8)
    steps: int | None = field(None, minimum=1)
    steps_per_epoch: int = field(200, minimum=1)
    batch_size: int | None = field(None, minimum=1)
    learning_rate: float | None = field(None, minimum=0, exclusive=True)
    augment: bool = False
    weighting: str | None = field(None, choices=WEIGHTINGS)
    weighting_mode: str = field("outer", choices=WEIGHTING_MODES)
    lambdas: tuple | None = None
    weight_decay: float | None = field(None, minimum=0)
    bn_release: float | None = field(None, minimum=0, maximum=1)
    restart_poly: bool | None = None
    ema: bool = False
    progressive: bool = False
    joints: str | None = field(None, choices=JOINT_SOURCES)
    joints_sigma: float | None = field(None, minimum=0, exclusive=True)
    bn_momentum: float | None = field(None, minimum=0, maximum=1)
    eval_split: str = field("val", choices=("val", "test"))
    validate: bool = False
    seed: int = 0
    optimizer: str | None = None
    momentum: float | None = None
    poly_power: float | None = None

    def __post_init__(self):
        super().__post_init__()
        net = get_network(self.network)
        for option in ("progressive", "joints"):
            if getattr(self, option) and option not in net.experiments:
                raise ConfigError(f"{option} is an experiment of the hourglass (thesis Sec. 4.1), "
                                  f"not of {self.network}")

    def _resolve(self) -> dict:
        out = {k: v for k, v in SCHEDULES[self.network].items() if getattr(self, k) is None}
        out["data_dir"] = os.path.abspath(self.data_dir) if self.data_dir else ""
        if self.network == "icnet" and self.lambdas is None:
            out["lambdas"] = tuple(ICNET_LAMBDAS)
        if self.joints and self.joints_sigma is None:
            out["joints_sigma"] = self.input_size / 64.0
        return out

    def resolved(self) -> dict:
        """``resolve().to_dict()``: what ``config.json`` records."""
        return self.resolve().to_dict()

    @property
    def net(self) -> Network:
        return NETWORKS[self.network]

    @property
    def release_step(self) -> int:
        """ICNet: the step from which BN statistics update (``bn_release * steps``)."""
        return int(round((self.bn_release or 0) * self.steps))

    @property
    def output_kinds(self) -> list[str]:
        return self.net.outputs(self)


def build_model(spec: SegTrainConfig):
    """The configured network (resolved spec) at ``spec.input_size``, 25 classes."""
    return spec.net.build(spec)


def make_optimizer(spec: SegTrainConfig):
    """SGD + poly (ICNet), Adam (SegNet) or RMSprop (hourglass) as :data:`SCHEDULES` says."""
    ema = 0.9999 if spec.ema else None                        # tkuanlun MOVING_AVERAGE_DECAY
    if spec.optimizer == "sgd":
        release = spec.release_step
        restart = release if (spec.restart_poly and 0 < release < spec.steps) else None
        schedule = PolynomialDecay(spec.learning_rate, restart or spec.steps, 0.0,
                                   spec.poly_power, restart_every=restart)
        return training_optimizer("sgd", schedule, momentum=spec.momentum, ema_momentum=ema)
    # tf.train.AdamOptimizer (tkuanlun), Torch7 rmsprop (Varol): reprokit.training.OPTIMIZERS
    return training_optimizer(spec.optimizer, spec.learning_rate, ema_momentum=ema)


def make_losses(spec: SegTrainConfig, weights=None):
    """One loss per output and the Keras ``loss_weights`` (the network's)."""
    kinds = spec.output_kinds
    tables = iter(stack_tables(int(spec.model.get("num_stacks", 2)))) if spec.progressive else None
    losses = []
    for kind in kinds:
        if kind == "joints":
            losses.append(keras.losses.MeanSquaredError(name="joints_mse"))
            continue
        table = next(tables) if tables is not None else None
        n = NUM_CLASSES if table is None else int(table.max()) + 1
        w = weights if n == NUM_CLASSES else _merged_weights(weights, table, n)
        losses.append(SegmentationCE(n, IGNORE_LABEL, w, spec.weighting_mode, remap=table))
    return losses, spec.net.loss_weights(spec)


def _merged_weights(weights, table, n):
    """Class weights of a coarser stack: the mean weight of each group's member classes."""
    if weights is None:
        return None
    w = np.asarray(weights, np.float64)
    return [float(w[np.asarray(table) == g].mean()) for g in range(n)]


__all__ = ["HOURGLASS_MEAN_STD", "IGNORE_LABEL", "INPUT_SIZE", "JOINT_SOURCES", "NETWORKS",
           "Network", "SCHEDULES", "SegTrainConfig", "TARGETS", "build_model", "get_network",
           "make_losses", "make_optimizer", "stack_tables"]
