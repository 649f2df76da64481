"""Training recipes and the training entry point for the stacked hourglass on MPII.

Two recipes (docs/reference/hourglass.md):

``anibali`` (default; what the CV701 numbers come from, §2.2 and §7 "Loss and training")
    crop by centre/scale; scale ``clamp(1 + 0.25 N, 0.75, 1.25)``; rotation
    ``clamp(30 N, -60, 60)`` with p = 0.6; flip p = 0.5 with the MPII flip index; per-channel
    colour ``x U(0.8, 1.2)``; RGB mean ``[0.4404, 0.4440, 0.4327]`` subtracted (std unused);
    sigma-1 Gaussians, 7x7 support, peak on the truncated coordinate; target weight =
    visible x in-bounds; loss ``0.5 mean((pred w - gt w)^2)`` summed over stacks; RMSprop
    lr 1e-3 (rho 0.99, eps 1e-8); batch 24; 20 epochs; lr x0.1 at epochs 15 and 17.
``princeton`` (princeton-vl/pytorch_stacked_hourglass, §1.3-§1.6)
    scale ``U(0.75, 1.25)``; rotation ``U(-30, 30)`` always; flip p = 0.5; colour jitter
    (hue 0.2, saturation 0.5-1.5, brightness 0.3, contrast 0.5-1.5); no mean subtraction;
    9x9 support; occluded joints keep their heatmap; plain MSE averaged over stacks; Adam
    lr 1e-3, x0.2 at iteration 100k; batch 16; epochs of 1000 iterations.

Deviations:
    princeton-vl applies its colour jitter only to the samples it flips (a quirk of
    ``dp.py``); here it is applied with p = 0.5 independently of the flip.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os

import keras
import numpy as np
import tensorflow as tf

from hourglass.data import FLIP_INDEX, NUM_JOINTS, MPIIReader, heatmap_codec, load_mpii
from hourglass.evaluate import evaluate, mean_pose_baseline, write_results
from hourglass.model import MPII_MEAN, normalize_image
from hourglass.presets import GROUPS, build_preset, get_preset
from reprokit.callbacks import PeriodicValidation
from reprokit.data import AffineCrop, ChannelScale, ColorJitter, Compose, RandomApply, build_dataset
from reprokit.errors import ConfigError
from reprokit.losses import HeatmapMSE
from reprokit.metrics.keras_metrics import HeatmapPCK
from reprokit.schedules import PiecewiseConstantByIteration, StepDecayByEpoch
from reprokit.spec import RunSpec, field
from reprokit.training import create_run_dir, fit, set_seed
from reprokit.training import make_optimizer as training_optimizer

logger = logging.getLogger("reprokit.hourglass")

#: Joints of the training-time accuracy: ankles, knees, hips, wrists, elbows (anibali
#: ``datasets/mpii.py`` ``Mpii.ACC_JOINTS``; bearpaw ``example/main.py`` ``idx``, 1-based).
ACC_JOINTS = (0, 1, 2, 3, 4, 5, 10, 11, 14, 15)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything about training that is not the model."""

    name: str
    scale_std: float | None
    scale_range: tuple[float, float]
    rotation_std: float | None
    rotation_range: tuple[float, float]
    rotation_prob: float
    flip_prob: float
    channel_scale: tuple[float, float] | None
    color_jitter: dict | None
    mean: tuple[float, float, float] | None
    weight: str                 # "visible" (mask occluded) or "annotated"
    patch_size: int
    loss_scale: float
    target_weight: bool
    stack_reduction: str        # "sum" or "mean"
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    decay_epochs: tuple[int, ...] = ()
    decay_steps: tuple[int, ...] = ()
    gamma: float = 0.1
    steps_per_epoch: int | None = None   # None = one pass over the training records
    source: str = ""


RECIPES = {
    "anibali": Recipe(
        "anibali", scale_std=0.25, scale_range=(0.75, 1.25), rotation_std=30.0,
        rotation_range=(-60.0, 60.0), rotation_prob=0.6, flip_prob=0.5, channel_scale=(0.8, 1.2),
        color_jitter=None, mean=MPII_MEAN, weight="visible", patch_size=7, loss_scale=0.5,
        target_weight=True, stack_reduction="sum", optimizer="rmsprop", learning_rate=1e-3,
        batch_size=24, epochs=20, decay_epochs=(15, 17), gamma=0.1,
        source="anibali/pytorch-stacked-hourglass scripts/train_mpii.py as run for CV701 "
               "(--arch hg2 --train-batch 24 --lr 1e-3 --schedule 15 17); docs/reference/hourglass.md §2.2"),
    "princeton": Recipe(
        "princeton", scale_std=None, scale_range=(0.75, 1.25), rotation_std=None,
        rotation_range=(-30.0, 30.0), rotation_prob=1.0, flip_prob=0.5, channel_scale=None,
        color_jitter={"hue": 0.2, "saturation": (0.5, 1.5), "brightness": 0.3,
                      "contrast": (0.5, 1.5)},
        mean=None, weight="annotated", patch_size=9, loss_scale=1.0, target_weight=False,
        stack_reduction="mean", optimizer="adam", learning_rate=1e-3, batch_size=16, epochs=250,
        decay_steps=(100_000,), gamma=0.2, steps_per_epoch=1000,
        source="princeton-vl/pytorch_stacked_hourglass task/pose.py, data/MPII/dp.py; "
               "docs/reference/hourglass.md §1.3-§1.6"),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid: {sorted(RECIPES)}")
    return RECIPES[name]


def make_augment(recipe: Recipe, input_size: int):
    steps = [AffineCrop((input_size, input_size), scale_std=recipe.scale_std,
                        scale_range=recipe.scale_range, rotation_std=recipe.rotation_std,
                        rotation_range=recipe.rotation_range, rotation_prob=recipe.rotation_prob,
                        flip_prob=recipe.flip_prob, flip_index=FLIP_INDEX)]
    if recipe.channel_scale:
        steps.append(ChannelScale(*recipe.channel_scale))
    if recipe.color_jitter:
        steps.append(RandomApply(ColorJitter(**recipe.color_jitter), 0.5))
    return Compose(steps)


def train_dataset(records: dict, recipe: Recipe, input_size: int, num_stacks: int,
                  batch_size: int, seed: int | None = 0) -> tf.data.Dataset:
    """Repeating ``(x, (heatmaps,) * num_stacks)`` batches with the recipe's augmentation."""
    codec = heatmap_codec(input_size, recipe.patch_size)

    def fmt(ex):
        x = normalize_image(ex["image"], recipe.mean)
        hm = ex["heatmaps"]
        return x, (hm if num_stacks == 1 else (hm,) * num_stacks)

    return build_dataset(MPIIReader(records, recipe.weight), make_augment(recipe, input_size),
                         codec, batch_size, training=True, seed=seed, format_fn=fmt, repeat=True)


def make_optimizer(recipe: Recipe, steps_per_epoch: int, learning_rate: float | None = None):
    lr = recipe.learning_rate if learning_rate is None else learning_rate
    if recipe.decay_epochs:
        schedule = StepDecayByEpoch(lr, steps_per_epoch, recipe.decay_epochs, recipe.gamma)
    elif recipe.decay_steps:
        values = [lr * recipe.gamma ** i for i in range(len(recipe.decay_steps) + 1)]
        schedule = PiecewiseConstantByIteration(list(recipe.decay_steps), values)
    else:
        schedule = lr
    # PyTorch RMSprop / Adam settings (reprokit.training.OPTIMIZERS, docs/reference/hourglass.md §7)
    return training_optimizer(recipe.optimizer, schedule)


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int,
                  stack_weights=None, learning_rate: float | None = None):
    """Per-stack heatmap losses (summed or averaged), optional stack weights, PCK on the last."""
    n = len(model.outputs)
    if stack_weights is None:
        stack_weights = [1.0 / n if recipe.stack_reduction == "mean" else 1.0] * n
    if len(stack_weights) != n:
        raise ValueError(f"stack_weights {tuple(stack_weights)} does not match {n} stacks")
    loss = HeatmapMSE(recipe.loss_scale, recipe.target_weight)
    k = model.outputs[-1].shape[-1]
    pck = HeatmapPCK(k, joints=ACC_JOINTS if k == NUM_JOINTS else None, name="pck")
    metrics = [[] for _ in range(n - 1)] + [[pck]]
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch, learning_rate),
                  loss=[loss] * n if n > 1 else loss, loss_weights=list(stack_weights) if n > 1 else None,
                  metrics=metrics if n > 1 else metrics[-1], jit_compile=False)


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunSpec):
    """One training run: the frozen spec that ``train``, ``evaluate``, ``predict``, Table 1 and
    ``config.json`` all read (:class:`reprokit.spec.RunSpec`). ``None`` fields take the
    recipe's value in :meth:`resolve`; unknown keys and out-of-range numbers are errors.

    Attributes:
        preset: a :data:`hourglass.presets.PRESETS` name (Table 1 rows are ``cv701_*``).
        data_dir: MPII folder (:mod:`hourglass.data` layout).
        recipe: ``"anibali"`` or ``"princeton"``.
        input_size: square input side (256 in both references); heatmaps are ``input_size/4``.
        model: builder overrides (e.g. ``{"num_features": 16, "depth": 3}`` for smoke runs).
        epochs, steps_per_epoch, batch_size, learning_rate: recipe overrides.
        train_limit, valid_limit: use only the first N people.
        seed: data order, augmentation and initialisation.
        flip_test: flip-test during validation.
        validate: PCKh on the validation split at every epoch end (``val_PCKh`` in the logs,
            ``best.weights.h5``); the final evaluation always runs.
        source: annotation source for :func:`hourglass.data.load_mpii`.
        num_stacks, stack_weights: derived from the preset and ``model`` by :meth:`resolve`.
    """

    preset: str = "cv701_baseline"
    data_dir: str = ""
    recipe: str = field("anibali", choices=("anibali", "princeton"))
    input_size: int = field(256, minimum=4)
    model: dict = field(default_factory=dict)
    epochs: int | None = field(None, minimum=1)
    steps_per_epoch: int | None = field(None, minimum=1)
    batch_size: int | None = field(None, minimum=1)
    learning_rate: float | None = field(None, minimum=0, exclusive=True)
    train_limit: int | None = field(None, minimum=1)
    valid_limit: int | None = field(None, minimum=1)
    seed: int = 0
    flip_test: bool = True
    source: str | None = None
    validate: bool = True
    num_stacks: int | None = field(None, minimum=1)
    stack_weights: tuple | None = None

    def __post_init__(self):
        super().__post_init__()
        get_preset(self.preset)                      # unknown preset: ValueError naming it
        if self.input_size % 4:
            raise ConfigError(f"TrainConfig.input_size must be a multiple of 4 (heatmaps are "
                              f"input/4), got {self.input_size}")

    def _resolve(self) -> dict:
        recipe = get_recipe(self.recipe)
        preset = get_preset(self.preset)
        return {"batch_size": self.batch_size or recipe.batch_size,
                "epochs": self.epochs or recipe.epochs,
                "learning_rate": self.learning_rate or recipe.learning_rate,
                # builder default: 2 stacks
                "num_stacks": int({**preset.kwargs, **self.model}.get("num_stacks", 2)),
                "stack_weights": (tuple(preset.stack_weights) if preset.stack_weights
                                  else None),
                "data_dir": os.path.abspath(self.data_dir) if self.data_dir else ""}

    def resolved(self) -> dict:
        """``resolve().to_dict()``: what ``config.json`` records."""
        return self.resolve().to_dict()


def build_model(cfg: TrainConfig):
    return build_preset(cfg.preset, input_shape=(cfg.input_size, cfg.input_size, 3), **cfg.model)


def train(cfg: TrainConfig, runs_root: str = "runs", name: str | None = None, verbose="auto"):
    """Train (or resume) one run and evaluate it on the validation split.

    Rerunning the same command resumes the newest unfinished run with the same config
    (``reprokit.training.create_run_dir``) from its last epoch backup. The run directory gets
    ``results.json`` / ``results.md`` / ``pckh_curve.png`` from :func:`hourglass.evaluate.evaluate`
    and ``train_seconds`` (wall time of ``fit``, tracing included, summed over the processes
    that resumed the run: :attr:`reprokit.training.RunDir.train_seconds`).

    Returns:
        ``(run, results)``.
    """

    cfg = cfg.resolve()
    recipe = get_recipe(cfg.recipe)
    train_rec = load_mpii(cfg.data_dir, "train", cfg.source, cfg.train_limit)
    valid_rec = load_mpii(cfg.data_dir, "valid", cfg.source, cfg.valid_limit)
    run = create_run_dir(name or f"hourglass-{cfg.preset}", cfg.to_dict(), runs_root)
    run.record_data(cfg.data_dir)
    set_seed(cfg.seed, deterministic_ops=False)
    steps = cfg.steps_per_epoch or recipe.steps_per_epoch or math.ceil(
        len(train_rec["image_path"]) / cfg.batch_size)
    data = train_dataset(train_rec, recipe, cfg.input_size, cfg.num_stacks, cfg.batch_size, cfg.seed)
    validation = PeriodicValidation(
        lambda m: {"PCKh": evaluate(m, valid_rec, cfg.input_size, recipe.mean, cfg.flip_test,
                                    progress=False)["Mean"]}) if cfg.validate else None
    model, history = fit(lambda: build_model(cfg),
                         lambda m: compile_model(m, recipe, steps, cfg.stack_weights,
                                                 cfg.learning_rate),
                         data, run, epochs=cfg.epochs, steps_per_epoch=steps,
                         validation=validation, monitor="val_PCKh" if cfg.validate else None,
                         verbose=verbose)
    chance = mean_pose_baseline(train_rec, valid_rec)
    results = evaluate(model, valid_rec, cfg.input_size, recipe.mean, cfg.flip_test,
                       curve_path=run.file("pckh_curve.png"), chance=chance)
    results["mean_pose"] = {g: chance[g] for g in GROUPS}
    results["train_seconds"] = run.train_seconds
    results["steps"] = int(model.optimizer.iterations.numpy())
    results["params"] = int(model.count_params())
    results["trainable_params"] = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    write_results(run, results, title=f"{cfg.preset} ({cfg.recipe} recipe)")
    return run, results


def load_config(path: str) -> TrainConfig:
    """The resolved spec of a run (its ``config.json``, or the run directory); unknown keys
    raise :class:`reprokit.errors.ConfigError` naming the file."""
    return TrainConfig.load(path)


__all__ = ["MPII_MEAN", "RECIPES", "Recipe", "TrainConfig", "build_model", "compile_model",
           "get_recipe", "load_config", "make_augment", "make_optimizer",
           "normalize_image", "train", "train_dataset"]
