"""Run specs of the hand pipeline: one frozen record per PoseNet or HandSegNet run.

:class:`PoseNetConfig` and :class:`HandSegConfig` are run specs (:class:`reprokit.spec.RunSpec`): what
``train`` runs, what the run's ``config.json`` holds, and what ``evaluate`` / ``predict`` read
back, so a trained run evaluates without repeating its flags (variant, refinement, width, crop).
Defaults are hand3d's (``training_posenet.py``, ``training_handsegnet.py``;
docs/reference/handpose.md §3, §12).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os

import keras

from handpose.model import build_handsegnet, build_posenet
from handpose.weights import load_cpm_checkpoint, load_hand3d_pickle
from reprokit.errors import ConfigError
from reprokit.spec import RunSpec, field
from reprokit.training import RunDir

logger = logging.getLogger("reprokit.handpose")

VARIANTS = ("paper", "hand3d")
REFINEMENTS = ("conv", "separable")


def _check_schedule(spec):
    """Piecewise schedule: ``len(values) == len(boundaries) + 1``, boundaries increasing."""
    b, v = list(spec.boundaries), list(spec.values)
    if len(v) != len(b) + 1:
        raise ConfigError(f"{type(spec).__name__}: values {v} need one more entry than "
                          f"boundaries {b}")
    if any(x >= y for x, y in zip(b, b[1:])) or any(x <= 0 for x in b):
        raise ConfigError(f"{type(spec).__name__}: boundaries must be positive and increasing, got {b}")
    if any(not x > 0 for x in v):
        raise ConfigError(f"{type(spec).__name__}: learning rates must be > 0, got {v}")


@dataclasses.dataclass(frozen=True)
class _HandRun(RunSpec):
    """What both hand runs share: the piecewise schedule is checked when the spec is built."""

    def __post_init__(self):
        super().__post_init__()
        _check_schedule(self)


@dataclasses.dataclass(frozen=True)
class PoseNetConfig(_HandRun):
    """One PoseNet training run (defaults: hand3d ``training_posenet.py``).

    A :class:`reprokit.spec.RunSpec`: frozen, its ``config.json`` is what ``evaluate`` reads
    back (:meth:`load`), unknown keys and out-of-range numbers are errors.

    Attributes:
        variant, refinement, kernel_size: :func:`handpose.model.build_posenet` arguments.
        width: filter multiplier (1 = the paper's model; smaller for smoke runs).
        crop_size: crop side (256 in hand3d; score maps are ``crop_size / 8``).
        steps, batch_size, boundaries, values: Adam schedule (piecewise by iteration).
        center_noise, uv_noise: truncated-normal std in pixels (hand3d 20 and 2.5).
        crop_scale_noise: multiply the crop scale by U[1, 1.2] (reader option, off in hand3d).
        crop_offset_noise: truncated-normal std (px, at the 256 crop) of a crop-centre shift
            applied after sizing (reader option, hand3d's value 10; off in hand3d's script).
        scoremap_dropout: keep probability of whole target maps (hand3d 0.8 when on; dropped
            maps become zero targets and keep their loss weight; off in hand3d's script).
        use_wrist_coord: RHD records only: keypoint 0 is the wrist instead of the palm.
        init: weights to start from when the run is fresh: a hand3d pickle (``.pickle``),
            hand3d's CPM checkpoint ``cpm-model-mpii`` (only the layers hand3d takes from it:
            conv1_1 ... conv5_1, docs/reference/handpose.md §7), or a Keras ``.weights.h5`` (e.g. the
            R-train phase of :func:`train_posenet_two_phase`).
        steps_per_epoch: checkpoint/resume granularity.
        seed: data order, augmentation and initialisation.
    """

    variant: str = field("paper", choices=VARIANTS)
    refinement: str = field("conv", choices=REFINEMENTS)
    kernel_size: int = field(7, minimum=1)
    width: float = field(1.0, minimum=0, exclusive=True)
    crop_size: int = field(256, minimum=8)
    steps: int = field(30_000, minimum=1)
    batch_size: int = field(8, minimum=1)
    boundaries: tuple = (10_000, 20_000)
    values: tuple = (1e-4, 1e-5, 1e-6)
    center_noise: float = field(20.0, minimum=0)
    uv_noise: float = field(2.5, minimum=0)
    crop_scale_noise: bool = False
    crop_offset_noise: float = field(0.0, minimum=0)
    scoremap_dropout: float = field(1.0, minimum=0, exclusive=True, maximum=1)
    use_wrist_coord: bool = False
    init: str | None = None
    steps_per_epoch: int = field(1000, minimum=1)
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.crop_size % 8:
            raise ConfigError(f"PoseNetConfig.crop_size must be a multiple of 8 (score maps are "
                              f"crop/8), got {self.crop_size}")

    def build(self):
        """The PoseNet of this spec, initialised from ``init`` when set."""
        model = build_posenet(self.variant, self.refinement, self.kernel_size,
                              input_shape=(self.crop_size, self.crop_size, 3), width=self.width)
        if self.init:
            report = initialize(model, self.init)
            logger.info("initialised %s from %s: %s", model.name, self.init, report)
        return model


def initialize(model, path: str):
    """Load ``path`` into ``model``: hand3d pickle, CPM TF checkpoint, Keras ``.weights.h5`` or
    a run directory (its best, else final, checkpoint).

    Returns the :class:`reprokit.weights.LoadReport` (``None`` for a Keras weights file, which
    Keras loads strictly by itself).
    """
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json")):
        path = run_weights(path)
    if path.endswith(".weights.h5"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"weights {path!r} not found")
        model.load_weights(path)
        return None
    if path.endswith((".pickle", ".pkl")):
        return load_hand3d_pickle(model, path)
    if os.path.exists(path) or os.path.exists(path + ".index"):
        return load_cpm_checkpoint(model, path)
    raise FileNotFoundError(f"weights {path!r} not found (a hand3d .pickle, the CPM "
                            "checkpoint cpm-model-mpii, a .weights.h5 or a run directory; see "
                            "weights/README.md)")


def run_weights(run_dir: str) -> str:
    """The best, else the final, checkpoint of a training run directory."""
    return RunDir(run_dir).checkpoint()


def load_run_spec(run_dir: str):
    """The :class:`PoseNetConfig` or :class:`HandSegConfig` of a run directory (by its keys;
    ``num_records``, which the run adds, is not part of the spec)."""
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read the run configuration ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a run configuration is a JSON object")
    data.pop("num_records", None)
    cls = PoseNetConfig if "refinement" in data else HandSegConfig
    return cls.from_dict(data, path)


@dataclasses.dataclass(frozen=True)
class HandSegConfig(_HandRun):
    """One HandSegNet training run (defaults: hand3d ``training_handsegnet.py``, §3).

    40k iterations, batch 8, Adam 1e-5 / 1e-6 / 1e-7 at 20k / 30k, random ``crop_size`` crops
    of image and mask, hue augmentation ``random_hue(0.1)``. hand3d applies the hue shift to
    the mean-subtracted image (a quirk; ``hue_on_normalized=True`` keeps it, ``False`` applies
    it to the [0, 1] image).
    """

    variant: str = field("hand3d", choices=VARIANTS)
    crop_size: int = field(256, minimum=8)
    steps: int = field(40_000, minimum=1)
    batch_size: int = field(8, minimum=1)
    boundaries: tuple = (20_000, 30_000)
    values: tuple = (1e-5, 1e-6, 1e-7)
    hue: float = field(0.1, minimum=0, maximum=0.5)
    hue_on_normalized: bool = True
    init: str | None = None
    steps_per_epoch: int = field(1000, minimum=1)
    seed: int = 0

    def build(self):
        """HandSegNet restricted to its upsampled logits (the output the loss sees); the layers
        and their names are those of :func:`handpose.model.build_handsegnet`. ``init`` (hand3d
        pickle, CPM checkpoint: PersonNet conv1_1 ... conv5_2, or ``.weights.h5``) is loaded
        into the full network first."""
        full = build_handsegnet(self.variant, (self.crop_size, self.crop_size, 3))
        if self.init:
            report = initialize(full, self.init)
            logger.info("initialised %s from %s: %s", full.name, self.init, report)
        return keras.Model(full.input, full.outputs[1], name=full.name)



__all__ = ["HandSegConfig", "PoseNetConfig", "REFINEMENTS", "VARIANTS", "initialize",
           "load_run_spec", "run_weights"]
