"""Training and evaluating the center-offset baseline on COCO keypoints (the experiment spine).

The schedule of the supplement (docs/reference/logocap_metrics_ecosystem.md §1.3): Adam lr
1e-3 (PyTorch's ``Adam``: eps 1e-8, no weight decay), x0.1 at epochs 90 and 120, 140 epochs, 12
images per GPU, input 512 (W32) / 640 (W48); augmentation in :mod:`logocap.pipeline`; loss
factors heatmap 1.0, offsets 0.01. :class:`LogocapConfig` is the run spec that ``train``,
``evaluate``, the tables and ``config.json`` share (:class:`reprokit.spec.RunSpec`).
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from logocap.data import read_coco_keypoints
from logocap.decode import predict_image
from logocap.evaluate import coco_eval, format_table, results_list
from logocap.losses import LOSS_WEIGHTS, HeatmapLoss, OffsetLoss
from logocap.model import BACKBONES, build_center_offset
from logocap.pipeline import MAX_PEOPLE, prepare_records, train_dataset
from logocap.synthetic import coco_paths
from reprokit.data import load_rgb
from reprokit.errors import ConfigError
from reprokit.files import write_json_atomic
from reprokit.schedules import StepDecayByEpoch
from reprokit.spec import RunSpec, field
from reprokit.training import create_run_dir, fit, make_optimizer, set_seed

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
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.input_size is not None and self.input_size % 64:
            raise ConfigError(f"LogocapConfig.input_size must be a multiple of 64, got {self.input_size}")

    def _resolve(self) -> dict:
        size = self.input_size or INPUT_SIZE[self.backbone]
        return {"input_size": size, "test_size": self.test_size or size,
                "data_dir": os.path.abspath(self.data_dir) if self.data_dir else ""}


def build_model(spec: LogocapConfig, input_shape=None):
    s = spec.input_size
    return build_center_offset(spec.backbone, input_shape or (s, s, 3),
                               hourglass_kwargs=dict(spec.model) or None)


def load_split(spec: LogocapConfig, split: str, limit: int | None = None) -> tuple[str, dict]:
    """``(annotation path, dataset)`` of a split, the first ``limit`` images."""
    path, image_dir = coco_paths(spec.data_dir, split)
    data = read_coco_keypoints(path, image_dir)
    if limit:
        data = {**data, "images": data["images"][:limit]}
    return path, data


def detect(model, dataset: dict, size: int, flip: bool = True) -> dict:
    """``{image_id: (poses, scores)}`` of the model on every image (original pixels)."""
    out = {}
    for rec in dataset["images"]:
        poses, _, scores = predict_image(model, load_rgb(rec["image_path"]), size, flip)
        out[rec["image_id"]] = (poses, scores)
    return out


def evaluate_detections(gt_path: str, detections: dict) -> dict:
    res = []
    for image_id, (poses, scores) in detections.items():
        res += results_list([image_id] * len(poses), poses, scores)
    return coco_eval(gt_path, res, list(detections))


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
    data = train_dataset(records, spec.input_size, spec.batch_size, spec.seed)

    def compile_fn(model):
        lr = StepDecayByEpoch(spec.learning_rate, steps, tuple(spec.decay_epochs), 0.1)
        model.compile(optimizer=make_optimizer("adam", lr),
                      loss={"heatmaps": HeatmapLoss(), "offsets": OffsetLoss()},
                      loss_weights={"heatmaps": LOSS_WEIGHTS["heatmaps"],
                                    "offsets": spec.offset_loss_weight}, jit_compile=False)

    model, _ = fit(lambda: build_model(spec), compile_fn, data, run, epochs=spec.epochs,
                   steps_per_epoch=steps, verbose=verbose, tensorboard=False)
    test_model = build_model(spec, (None, None, 3))
    test_model.set_weights(model.get_weights())
    detections = detect(test_model, val_data, spec.test_size, spec.flip_test)
    stats = evaluate_detections(val_path, detections)
    results = {**stats, "train_seconds": run.train_seconds,
               "steps": int(model.optimizer.iterations.numpy()),
               "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
               "val_images": len(val_data["images"])}
    write_json_atomic(run.file("results.json"), results)
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        f.write(f"# center-offset {spec.backbone}\n\n" + format_table({"ours": stats}))
    return run, test_model, results


__all__ = ["INPUT_SIZE", "LogocapConfig", "build_model", "detect", "evaluate_detections",
           "load_split", "train"]
