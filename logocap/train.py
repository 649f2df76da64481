"""Training and evaluating the center-offset baseline on COCO keypoints (the experiment spine).

The schedule of the supplement (docs/reference/logocap_metrics_ecosystem.md §1.3): Adam lr
1e-3 (PyTorch's ``Adam``: eps 1e-8, no weight decay), x0.1 at epochs 90 and 120, 140 epochs, 12
images per GPU, input 512 (W32) / 640 (W48); augmentation in :mod:`logocap.pipeline`; loss
factors heatmap 1.0, offsets 0.01. :class:`LogocapConfig` is the run spec that ``train``,
``evaluate``, the tables and ``config.json`` share (:class:`reprokit.spec.RunSpec`).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os

import numpy as np

from logocap.data import read_coco_keypoints
from logocap.decode import predict_image
from logocap.evaluate import coco_eval, format_table, results_list
from logocap.losses import LOSS_WEIGHTS, HeatmapLoss, OffsetLoss
from logocap.adaptation import GLOBAL_SIGMA, GLOBAL_SIZE, LEVELS, LOSS_FACTORS, TARGET_SIGMA
from logocap.model import BACKBONES, build_center_offset, build_logocap
from logocap.pipeline import MAX_PEOPLE, prepare_records, train_dataset
from logocap.synthetic import coco_paths
from reprokit.data import load_rgb
from reprokit.errors import ConfigError
from reprokit.files import write_json_atomic
from reprokit.schedules import StepDecayByEpoch
from reprokit.spec import RunSpec, field
from reprokit.bench import BenchCase
from reprokit.metrics.chance import verdict
from reprokit.training import create_run_dir, fit, make_optimizer, set_seed

_LOG = logging.getLogger("reprokit.logocap")
#: The supplement's input size per backbone (W32 512, W48 640); the hourglass as W32.
INPUT_SIZE = {"w32": 512, "w48": 640, "hourglass": 512, "smoke": 128}


@dataclasses.dataclass(frozen=True)
class LogocapConfig(RunSpec):
    """One training run of the center-offset model; ``None`` fields take the supplement's
    schedule in :meth:`resolve`.

    Attributes:
        backbone: ``"w32"``, ``"w48"``, ``"hourglass"`` or ``"smoke"`` (a narrow HRNet for CPU runs).
        data_dir: a COCO root (``annotations/person_keypoints_<split>2017.json`` and
            ``<split>2017/``).
        train_split, val_split: ``"train"`` / ``"val"``.
        input_size: square training input (512 / 640); ``test_size`` the short side at test.
        epochs, decay_epochs, learning_rate, batch_size, steps_per_epoch: the schedule
            (``steps_per_epoch`` None: one pass over the training images).
        model: hourglass backbone arguments (``num_stacks``, ``num_features``, ``depth``).
        flip_test: the supplement's flip test at evaluation.
        offset_loss_weight: the offsets' loss factor (reference 0.01; the heatmap's is 1).
        train_limit, val_limit: use only the first N images.
        head: ``"center_offset"`` (the baseline) or ``"logocap"`` (embedding + CMP + the
            local-global adaptation, trained with its two extra losses).
        level: the adaptation level at test for ``logocap`` (``none`` / ``partial`` /
            ``full``); the baseline is always ``none``.
        global_size, global_sigma, target_sigma: the global KEM window (97 px), its Gaussian
            prior (16 px) and the adapted-heatmap target's sigma (4 px); None = the reference's.
        oks_loss_weight, adapted_loss_weight: the KAM and adapted-heatmap loss factors
            (reference 0.01 and 1.0).
        max_instances: kept centres per batch through the CMP net (None: all, the reference;
            see :func:`logocap.adaptation_train.adaptation_losses`).
        init_weights: a center-offset run (directory or ``.weights.h5``) whose backbone and
            heads start the training (not the reference, which starts from ImageNet).
    """

    backbone: str = field("w32", choices=BACKBONES)
    data_dir: str = ""
    train_split: str = "train"
    val_split: str = "val"
    input_size: int | None = field(None, minimum=32)
    test_size: int | None = field(None, minimum=32)
    epochs: int = field(140, minimum=1)
    decay_epochs: tuple = (90, 120)
    learning_rate: float = field(1e-3, minimum=0, exclusive=True)
    batch_size: int = field(12, minimum=1)
    steps_per_epoch: int | None = field(None, minimum=1)
    model: dict = field(default_factory=dict)
    flip_test: bool = True
    max_people: int = field(MAX_PEOPLE, minimum=1)
    offset_loss_weight: float = field(LOSS_WEIGHTS["offsets"], minimum=0)
    train_limit: int | None = field(None, minimum=1)
    val_limit: int | None = field(None, minimum=1)
    head: str = field("center_offset", choices=("center_offset", "logocap"))
    level: str = field("full", choices=LEVELS)
    global_size: int | None = field(None, minimum=3)
    global_sigma: float | None = field(None, minimum=0, exclusive=True)
    target_sigma: float | None = field(None, minimum=0, exclusive=True)
    oks_loss_weight: float = field(LOSS_FACTORS["oks"], minimum=0)
    adapted_loss_weight: float = field(LOSS_FACTORS["adapted"], minimum=0)
    max_instances: int | None = field(None, minimum=1)
    init_weights: str = ""
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.input_size is not None and self.input_size % 64:
            raise ConfigError(f"LogocapConfig.input_size must be a multiple of 64, got {self.input_size}")
        if self.global_size is not None and self.global_size % 2 == 0:
            raise ConfigError(f"LogocapConfig.global_size must be odd (a window centred on the "
                              f"keypoint), got {self.global_size}")

    def _resolve(self) -> dict:
        size = self.input_size or INPUT_SIZE[self.backbone]
        return {"input_size": size, "test_size": self.test_size or size,
                "data_dir": os.path.abspath(self.data_dir) if self.data_dir else "",
                "global_size": self.global_size or GLOBAL_SIZE,
                "global_sigma": self.global_sigma or GLOBAL_SIGMA,
                "target_sigma": self.target_sigma or TARGET_SIGMA,
                "init_weights": os.path.abspath(self.init_weights) if self.init_weights else ""}

    @property
    def test_level(self) -> str:
        return self.level if self.head == "logocap" else "none"


def build_model(spec: LogocapConfig, input_shape=None):
    s = spec.input_size
    shape = input_shape or (s, s, 3)
    hourglass = dict(spec.model) or None
    if spec.head == "logocap":
        return build_logocap(spec.backbone, shape, hourglass_kwargs=hourglass,
                             global_size=spec.global_size, global_sigma=spec.global_sigma,
                             target_sigma=spec.target_sigma, max_instances=spec.max_instances,
                             loss_factors={"offsets": spec.offset_loss_weight,
                                           "oks": spec.oks_loss_weight,
                                           "adapted": spec.adapted_loss_weight})
    return build_center_offset(spec.backbone, shape, hourglass_kwargs=hourglass)


def load_center_offset_weights(model, source: str, backbone: str, hourglass_kwargs=None) -> int:
    """Copy a center-offset model's backbone and heads (by layer name) into ``model`` (a
    center-offset or LOGO-CAP model of the same ``backbone``); returns how many layers were
    copied. ``source``: a run directory (its ``checkpoints/final.weights.h5``) or a
    ``.weights.h5`` file."""
    path = os.path.join(source, "checkpoints", "final.weights.h5") if os.path.isdir(source) else source
    if not os.path.isfile(path):
        raise ConfigError(f"init_weights: no weights at {path}")
    net = getattr(model, "net", model)
    donor = build_center_offset(backbone, tuple(net.input.shape[1:]), hourglass_kwargs=hourglass_kwargs)
    donor.load_weights(path)
    copied = 0
    for layer in donor.layers:
        if layer.weights:
            net.get_layer(layer.name).set_weights(layer.get_weights())
            copied += 1
    return copied


def load_split(spec: LogocapConfig, split: str, limit: int | None = None) -> tuple[str, dict]:
    """``(annotation path, dataset)`` of a split, the first ``limit`` images."""
    path, image_dir = coco_paths(spec.data_dir, split)
    data = read_coco_keypoints(path, image_dir)
    if limit:
        data = {**data, "images": data["images"][:limit]}
    return path, data


def detect(model, dataset: dict, size: int, flip: bool = True, level: str = "none",
           timing: dict | None = None) -> dict:
    """``{image_id: (poses, scores)}`` of the model on every image (original pixels) at an
    adaptation ``level`` (``"none"`` for the baseline)."""
    out = {}
    for rec in dataset["images"]:
        poses, _, scores = predict_image(model, load_rgb(rec["image_path"]), size, flip,
                                         level=level, timing=timing)
        out[rec["image_id"]] = (poses, scores)
    return out


def evaluate_detections(gt_path: str, detections: dict) -> dict:
    res = []
    for image_id, (poses, scores) in detections.items():
        res += results_list([image_id] * len(poses), poses, scores)
    return coco_eval(gt_path, res, list(detections))


def ap_margin(gt_path: str, detections: dict, chance: dict, halves: int = 20, seed: int = 0) -> dict:
    """AP of ``detections`` against ``chance`` (both ``{image_id: (poses, scores)}``) on the same
    images, with the margin in standard errors. AP is not a mean over images, so the standard
    error is the delete-half jackknife's: the spread of the paired AP difference over ``halves``
    random halves of the images (for a mean over n images, a random half's estimate varies
    around the full one by the full estimate's standard error)."""
    ids = sorted(detections)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(halves):
        half = set(rng.choice(ids, max(1, len(ids) // 2), replace=False).tolist())
        diffs.append(evaluate_detections(gt_path, {i: detections[i] for i in ids if i in half})["AP"]
                     - evaluate_detections(gt_path, {i: chance[i] for i in ids if i in half})["AP"])
    return verdict(evaluate_detections(gt_path, detections)["AP"],
                   evaluate_detections(gt_path, chance)["AP"], float(np.std(diffs, ddof=1)), True,
                   "AP", len(ids))


def train(cfg: LogocapConfig, runs_root: str = "runs", name: str | None = None, verbose="auto"):
    """Train (or resume) one run, evaluate it with COCOeval; returns ``(run, model, results)``."""
    spec = cfg.resolve()
    _, train_data = load_split(spec, spec.train_split, spec.train_limit)
    val_path, val_data = load_split(spec, spec.val_split, spec.val_limit)
    run = create_run_dir(name or f"logocap-{spec.backbone}", spec.to_dict(), runs_root)
    run.record_data(spec.data_dir)
    set_seed(spec.seed, deterministic_ops=False)
    records = prepare_records(train_data, os.path.join(spec.data_dir, "ignore_masks"), spec.max_people)
    steps = spec.steps_per_epoch or max(1, math.ceil(len(records["image_path"]) / spec.batch_size))
    logocap = spec.head == "logocap"
    data = train_dataset(records, spec.input_size, spec.batch_size, spec.seed, people=logocap)

    def compile_fn(model):
        lr = StepDecayByEpoch(spec.learning_rate, steps, tuple(spec.decay_epochs), 0.1)
        if logocap:                    # the losses live in LogocapModel.train_step
            model.compile(optimizer=make_optimizer("adam", lr), jit_compile=False)
            return
        model.compile(optimizer=make_optimizer("adam", lr),
                      loss={"heatmaps": HeatmapLoss(), "offsets": OffsetLoss()},
                      loss_weights={"heatmaps": LOSS_WEIGHTS["heatmaps"],
                                    "offsets": spec.offset_loss_weight}, jit_compile=False)

    def build_fn():
        model = build_model(spec)
        if spec.init_weights:
            copied = load_center_offset_weights(model, spec.init_weights, spec.backbone,
                                                dict(spec.model) or None)
            _LOG.info("initialised %d layers from %s", copied, spec.init_weights)
        return model

    model, _ = fit(build_fn, compile_fn, data, run, epochs=spec.epochs,
                   steps_per_epoch=steps, verbose=verbose, tensorboard=False)
    test_model = build_model(spec, (None, None, 3))
    test_model.set_weights(model.get_weights())
    detections = detect(test_model, val_data, spec.test_size, spec.flip_test, spec.test_level)
    stats = evaluate_detections(val_path, detections)
    results = {**stats, "train_seconds": run.train_seconds,
               "steps": int(model.optimizer.iterations.numpy()),
               "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
               "val_images": len(val_data["images"])}
    write_json_atomic(run.file("results.json"), results)
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        title = f"LOGO-CAP {spec.backbone} (adaptation {spec.test_level})" if logocap else \
            f"center-offset {spec.backbone}"
        f.write(f"# {title}\n\n" + format_table({"ours": stats}))
    return run, test_model, results


__all__ = ["INPUT_SIZE", "LogocapConfig", "build_model", "detect", "evaluate_detections",
           "load_center_offset_weights", "load_split", "train"]


def _bench_make(batch: int):
    import numpy as np     # lazy: a module-level function only the benchmark calls

    spec = LogocapConfig().resolve()
    model = build_model(spec)
    model.compile(optimizer=make_optimizer("adam", spec.learning_rate),
                  loss={"heatmaps": HeatmapLoss(), "offsets": OffsetLoss()},
                  loss_weights={"heatmaps": LOSS_WEIGHTS["heatmaps"],
                                "offsets": spec.offset_loss_weight})
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, spec.input_size, spec.input_size, 3)).astype("float32")
    y = {k: rng.uniform(0, 1, (batch, *o.shape[1:-1], 2 * o.shape[-1])).astype("float32")
         for k, o in model.output.items()}
    return model, x, y


#: ``python -m reprokit.bench``: the center-offset baseline on HRNet-W32 at 512 x 512
BENCH_CASE = BenchCase(
    "logocap", "center-offset baseline, HRNet-W32, 512 x 512", 12,
    "batch 12, 512 x 512: LogocapConfig defaults (LOGO-CAP experiments/logocap-hrnet-w32-coco.yaml "
    "input 512); training steps timed at batch 2", _bench_make, train_batch=2)
