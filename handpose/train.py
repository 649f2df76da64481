"""PoseNet training on ground-truth hand crops, and the GT-crop evaluation protocol.

Recipe (hand3d ``training_posenet.py``; docs/reference/handpose.md §3, §12): Adam, batch 8, 30k
iterations, lr 1e-4 / 1e-5 / 1e-6 with boundaries 10k and 20k, GT crop (§3.1) with crop-centre
noise (truncated normal, sigma 20 px) and keypoint noise (truncated normal, sigma 2.5 px),
Gaussian score maps ``exp(-d^2 / 25^2)`` at the 256 crop, visibility-weighted RMS loss summed
over the three stages. hand3d's scripts never advance ``global_step``, so their schedule stays
at 1e-4; ours steps as the paper intends (documented deviation from the released scripts).

Evaluation (``eval2d_gt_cropped.py``): crop by ground truth (no noise), upsample the last score
map to the crop (legacy bilinear), argmax, map back to the image, and report hand3d
``EvalUtil`` mean / median EPE and AUC over 0-30 px (:func:`reprokit.metrics.epe_auc`).
"""
from __future__ import annotations

import dataclasses
import logging
import os

import cv2
import keras
import numpy as np
import tensorflow as tf

from handpose.data import SIGMA, crop_keypoints, gaussian_maps, gt_crop_params
from handpose.losses import PoseNetLoss
from handpose.model import bilinear_resize, build_posenet, preprocess
from handpose.pipeline import crop_image_from_xy, detect_keypoints, trafo_coords
from reprokit.callbacks import PiecewiseConstantByIteration
from reprokit.data import ImageRecordReader, build_dataset, read_image
from reprokit.metrics.keypoints import epe_auc
from reprokit.training import create_run_dir, fit, make_optimizer, set_seed

logger = logging.getLogger("reprokit.handpose")


@dataclasses.dataclass
class PoseNetConfig:
    """One PoseNet training run (defaults: hand3d ``training_posenet.py``).

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

    variant: str = "paper"
    refinement: str = "conv"
    kernel_size: int = 7
    width: float = 1.0
    crop_size: int = 256
    steps: int = 30_000
    batch_size: int = 8
    boundaries: tuple = (10_000, 20_000)
    values: tuple = (1e-4, 1e-5, 1e-6)
    center_noise: float = 20.0
    uv_noise: float = 2.5
    crop_scale_noise: bool = False
    crop_offset_noise: float = 0.0
    scoremap_dropout: float = 1.0
    use_wrist_coord: bool = False
    init: str | None = None
    steps_per_epoch: int = 1000
    seed: int = 0

    def build(self):
        model = build_posenet(self.variant, self.refinement, self.kernel_size,
                              input_shape=(self.crop_size, self.crop_size, 3), width=self.width)
        if self.init:
            report = initialize(model, self.init)
            logger.info("initialised %s from %s: %s", model.name, self.init, report)
        return model


def initialize(model, path: str):
    """Load ``path`` into ``model``: hand3d pickle, CPM TF checkpoint or Keras ``.weights.h5``.

    Returns the :class:`reprokit.weights.LoadReport` (``None`` for a Keras weights file, which
    Keras loads strictly by itself).
    """
    from handpose.weights import load_cpm_checkpoint, load_hand3d_pickle

    if path.endswith(".weights.h5"):
        model.load_weights(path)
        return None
    if path.endswith((".pickle", ".pkl")):
        return load_hand3d_pickle(model, path)
    if os.path.exists(path) or os.path.exists(path + ".index"):
        return load_cpm_checkpoint(model, path)
    raise FileNotFoundError(f"initial weights {path!r} not found (a hand3d .pickle, the CPM "
                            "checkpoint cpm-model-mpii or a .weights.h5; see weights/README.md)")


def _truncated(seed, shape, std):
    return tf.random.stateless_truncated_normal(shape, seed, stddev=std)


def train_dataset(records: dict, cfg: PoseNetConfig, seed: int = 0):
    """Repeating ``(crop, (targets,) * 3)`` batches; targets = maps + visibility channels."""
    rhd = "mask_path" in records          # RHD (42 keypoints, hand chosen from the mask) or STB
    keys = ("image_path", "uv", "visible") + (("mask_path",) if rhd else ())
    reader = ImageRecordReader({k: records[k] for k in keys})
    size = cfg.crop_size
    sigma = SIGMA * size / 256.0

    def decode(record):
        if rhd:
            from handpose.data import decode_rhd

            return decode_rhd(record, cfg.use_wrist_coord)
        image = read_image(record["image_path"])   # names a corrupt file in its error
        image.set_shape([None, None, 3])
        return {"image": image, "keypoints": tf.cast(record["uv"], tf.float32),
                "visible": tf.cast(record["visible"], tf.float32), "meta": {"index": record["index"]}}

    reader.decode = decode

    def augment(ex, seed):
        s = tf.random.experimental.stateless_split(seed, 5)
        noise = _truncated(s[0], [2], cfg.center_noise) if cfg.center_noise else None
        hw = tf.shape(ex["image"])[:2]
        center, scale = gt_crop_params(ex["keypoints"], ex["visible"], (hw[0], hw[1]), noise, size)
        if cfg.crop_scale_noise:       # hand3d: scale *= U[1, 1.2]
            scale = scale * tf.random.stateless_uniform([], s[2], 1.0, 1.2)
        if cfg.crop_offset_noise:      # hand3d: centre shift after sizing (px at the 256 crop)
            center = center + _truncated(s[3], [2], cfg.crop_offset_noise * size / 256.0)
        x = preprocess(ex["image"])[None]
        crop = crop_image_from_xy(x, center[None], scale[None], size)[0]
        uv = crop_keypoints(ex["keypoints"], center, scale, size)
        if cfg.uv_noise:
            uv = uv + _truncated(s[1], tf.shape(uv), cfg.uv_noise)
        maps = gaussian_maps(uv, ex["visible"], (size, size), sigma)
        vis = tf.ones([size, size, 1]) * tf.cast(tf.reduce_max(maps, [0, 1]) > 0, tf.float32)[None, None]
        if cfg.scoremap_dropout < 1.0:  # hand3d: whole target maps zeroed, weights unchanged
            keep = tf.random.stateless_uniform([maps.shape[-1]], s[4]) < cfg.scoremap_dropout
            maps = maps * tf.cast(keep, tf.float32)[None, None]
        target = tf.concat([maps, vis], -1)
        return {"image": crop, "target": target}

    return build_dataset(reader, augment, None, cfg.batch_size, training=True, seed=seed,
                         format_fn=lambda ex: (ex["image"], (ex["target"],) * 3), repeat=True)


def _run_config(cfg, records: dict) -> dict:
    return dataclasses.asdict(cfg) | {"num_records": len(records["uv"])}


def _train(cfg, data, loss, records: dict, run_name: str, runs_root: str, verbose):
    """Shared loop: run dir, seed, Adam with the piecewise schedule, ``reprokit.training.fit``."""
    run = create_run_dir(run_name, _run_config(cfg, records), runs_root)
    set_seed(cfg.seed, deterministic_ops=False)
    steps_per_epoch = min(cfg.steps_per_epoch, cfg.steps)

    def compile_fn(model):
        lr = PiecewiseConstantByIteration(list(cfg.boundaries), list(cfg.values))
        # tf.train.AdamOptimizer's epsilon 1e-8 (hand3d), not Keras' 1e-7
        model.compile(optimizer=make_optimizer("adam", lr), loss=loss)

    model, _ = fit(cfg.build, compile_fn, data, run, epochs=max(1, cfg.steps // steps_per_epoch),
                   steps_per_epoch=steps_per_epoch, verbose=verbose, tensorboard=False)
    return model, run


def train_posenet(cfg: PoseNetConfig, records: dict, run_name: str,
                  runs_root: str = "runs", verbose=0):
    """Train (or resume) one PoseNet; returns ``(model, run)``."""
    return _train(cfg, train_dataset(records, cfg, cfg.seed),
                  [PoseNetLoss(cfg.crop_size) for _ in range(3)], records, run_name, runs_root,
                  verbose)


def train_posenet_two_phase(cfg: PoseNetConfig, r_train: dict, s_train: dict, run_name: str,
                            runs_root: str = "runs", r_steps: int | None = None, verbose=0):
    """The paper's PoseNet schedule: R-train (RHD) first, then S-train (STB) from its weights.

    Phase 1 trains ``cfg`` (``cfg.init``, e.g. the CPM checkpoint, initialises it) on the RHD
    records for ``r_steps`` (default ``cfg.steps``) iterations; phase 2 restarts the schedule
    on the STB records from phase 1's ``final.weights.h5`` (hand3d runs ``training_posenet.py``
    once per dataset). A finished phase 1 with the same configuration is reused, so rerunning
    an interrupted job continues where it stopped.

    Returns:
        ``(model, run)`` of phase 2; phase 1's run is ``run_name + "-R-train"``.
    """
    from reprokit.training import find_run

    phase1 = dataclasses.replace(cfg, steps=r_steps or cfg.steps)
    name1 = run_name + "-R-train"
    done = find_run(name1, _run_config(phase1, r_train), runs_root)
    if done is None:
        _, done = train_posenet(phase1, r_train, name1, runs_root, verbose)
    else:
        logger.info("R-train phase already finished in %s", done.path)
    phase2 = dataclasses.replace(cfg, init=os.path.join(done.checkpoints, "final.weights.h5"))
    return train_posenet(phase2, s_train, run_name + "-S-train", runs_root, verbose)


def evaluate_gt_cropped(model, records: dict, cfg: PoseNetConfig, corruption=None,
                        batch_size: int = 16, seed: int = 0) -> dict:
    """hand3d ``eval2d_gt_cropped``: EPE/AUC in image pixels, optionally on corrupted images.

    Args:
        corruption: ``f(image uint8, keypoints (21, 2), visible, seed) -> image`` applied to
            each image before cropping (see :func:`handpose.corruptions.corruption_sets`).

    Returns:
        :func:`reprokit.metrics.epe_auc` result (hand3d semantics) plus ``"mmpose"`` (the same
        predictions in mmpose semantics) and the predictions.
    """
    size = cfg.crop_size
    preds = []
    n = len(records["image_path"])

    @tf.function(reduce_retracing=True)
    def run(x):
        out = model(x, training=False)
        return bilinear_resize(out[-1], [size, size], "legacy")

    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        crops, centers, scales = [], [], []
        for i in idx:
            bgr = cv2.imread(str(records["image_path"][i]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise FileNotFoundError(f"cannot read image {records['image_path'][i]!r}")
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if corruption is not None:
                image = corruption(image, records["uv"][i], records["visible"][i], seed + i)
            c, s = gt_crop_params(records["uv"][i], records["visible"][i], image.shape[:2],
                                  crop_size=size)
            crops.append(crop_image_from_xy(preprocess(image)[None], c[None], s[None], size)[0])
            centers.append(c.numpy())
            scales.append(float(s))
        maps = run(tf.stack(crops)).numpy()
        rc = detect_keypoints(maps)
        rc_img = trafo_coords(rc, np.array(centers), np.array(scales), size)
        preds.append(rc_img[..., ::-1])
    pred = np.concatenate(preds)
    result = epe_auc(pred, records["uv"], records["visible"], "hand3d")
    result["mmpose"] = {k: v for k, v in epe_auc(pred, records["uv"], records["visible"],
                                                   "mmpose").items() if k in ("mean", "median", "auc")}
    result["predictions"] = pred
    return result


#: hand3d eval2d.py protocols for the full pipeline (docs/reference/handpose.md §5): ground-truth
#: keypoint 0 = wrist is the paper setting (GT wrist vs the predicted palm, a known bug of the
#: released script); "palm" is the corrected one.
KEYPOINT0 = ("wrist", "palm")


def evaluate_full_pipeline(pipeline, records: dict, keypoint0: str = "wrist",
                           frame: str = "inference", batch_size: int = 8) -> dict:
    """hand3d ``eval2d.py``: HandSegNet -> crop -> PoseNet on RHD images, EPE/AUC.

    Args:
        pipeline: a :class:`handpose.pipeline.HandPosePipeline` (hand3d: 240 x 320 input).
        records: RHD records from :func:`handpose.data.read_rhd_annotations`.
        keypoint0: ``"wrist"`` (paper / released-script setting) or ``"palm"`` (corrected).
        frame: ``"inference"`` reports errors in the pipeline's input frame (hand3d: RHD's
            320 x 320 squashed to 240 x 320, ``v * 0.75``), ``"original"`` in image pixels.

    Returns:
        :func:`reprokit.metrics.epe_auc` (hand3d semantics), ``"mmpose"`` and ``predictions``
        (``(N, 21, 2)`` in the chosen frame).
    """
    from handpose.data import rhd_hands

    if keypoint0 not in KEYPOINT0:
        raise ValueError(f"keypoint0 must be one of {KEYPOINT0}, got {keypoint0!r}")
    if frame not in ("inference", "original"):
        raise ValueError(f"frame must be 'inference' or 'original', got {frame!r}")
    hands = rhd_hands(records, use_wrist_coord=keypoint0 == "wrist")
    preds, gts = [], []
    n = len(records["image_path"])
    for start in range(0, n, batch_size):
        images = []
        for i in range(start, min(n, start + batch_size)):
            image = cv2.imread(str(records["image_path"][i]), cv2.IMREAD_COLOR)
            if image is None:
                raise FileNotFoundError(f"cannot read image {records['image_path'][i]!r}")
            if images and image.shape != images[0].shape:
                raise ValueError(f"{records['image_path'][i]}: size {image.shape[:2]} differs "
                                 f"from the batch's {images[0].shape[:2]}")
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        hw = np.array(images[0].shape[:2], np.float32)
        factor = np.ones(2, np.float32)
        if frame == "inference" and pipeline.input_size:
            factor = np.array(pipeline.input_size, np.float32)[::-1] / hw[::-1]     # (u, v)
        preds.append(pipeline(np.stack(images))["keypoints"] * factor)
        gts.append(hands["uv"][start:start + len(images)] * factor)
    pred, gt, visible = np.concatenate(preds), np.concatenate(gts), hands["visible"]
    result = epe_auc(pred, gt, visible, "hand3d")
    result["mmpose"] = {k: v for k, v in epe_auc(pred, gt, visible, "mmpose").items()
                        if k in ("mean", "median", "auc")}
    result["predictions"] = pred
    return result


__all__ = ["KEYPOINT0", "PoseNetConfig", "evaluate_full_pipeline", "evaluate_gt_cropped", "initialize", "train_dataset", "train_posenet",
           "train_posenet_two_phase"]


# ------------------------------------------------------------------------------ HandSegNet
@dataclasses.dataclass
class HandSegConfig:
    """One HandSegNet training run (defaults: hand3d ``training_handsegnet.py``, §3).

    40k iterations, batch 8, Adam 1e-5 / 1e-6 / 1e-7 at 20k / 30k, random ``crop_size`` crops
    of image and mask, hue augmentation ``random_hue(0.1)``. hand3d applies the hue shift to
    the mean-subtracted image (a quirk; ``hue_on_normalized=True`` keeps it, ``False`` applies
    it to the [0, 1] image).
    """

    variant: str = "hand3d"
    crop_size: int = 256
    steps: int = 40_000
    batch_size: int = 8
    boundaries: tuple = (20_000, 30_000)
    values: tuple = (1e-5, 1e-6, 1e-7)
    hue: float = 0.1
    hue_on_normalized: bool = True
    init: str | None = None
    steps_per_epoch: int = 1000
    seed: int = 0

    def build(self):
        """HandSegNet restricted to its upsampled logits (the output the loss sees); the layers
        and their names are those of :func:`handpose.model.build_handsegnet`. ``init`` (hand3d
        pickle, CPM checkpoint: PersonNet conv1_1 ... conv5_2, or ``.weights.h5``) is loaded
        into the full network first."""
        from handpose.model import build_handsegnet

        full = build_handsegnet(self.variant, (self.crop_size, self.crop_size, 3))
        if self.init:
            report = initialize(full, self.init)
            logger.info("initialised %s from %s: %s", full.name, self.init, report)
        return keras.Model(full.input, full.outputs[1], name=full.name)


def handseg_dataset(records: dict, cfg: HandSegConfig, seed: int = 0):
    """Repeating ``(crop, hand mask)`` batches from RHD records."""
    from handpose.data import decode_rhd

    reader = ImageRecordReader({k: records[k] for k in ("image_path", "mask_path", "uv", "visible")})
    reader.decode = decode_rhd
    size = cfg.crop_size

    def augment(ex, seed):
        s = tf.random.experimental.stateless_split(seed, 2)
        stacked = tf.concat([tf.cast(ex["image"], tf.float32), ex["hand_mask"][..., None]], -1)
        crop = tf.image.stateless_random_crop(stacked, [size, size, 4], s[0])
        image, mask = crop[..., :3], crop[..., 3]
        if cfg.hue_on_normalized:
            x = image / 255.0 - 0.5
            if cfg.hue:
                x = tf.image.stateless_random_hue(x, cfg.hue, s[1])
        else:
            x = image / 255.0
            if cfg.hue:
                x = tf.image.stateless_random_hue(x, cfg.hue, s[1])
            x = x - 0.5
        return {"image": x, "mask": mask}

    return build_dataset(reader, augment, None, cfg.batch_size, training=True, seed=seed,
                         format_fn=lambda ex: (ex["image"], ex["mask"]), repeat=True)


def train_handsegnet(cfg: HandSegConfig, records: dict, run_name: str, runs_root: str = "runs",
                     verbose=0):
    """Train (or resume) HandSegNet with the pixel cross-entropy on the upsampled logits.

    Returns the training model (input -> upsampled logits; hand3d layer names, so its weights
    load into :func:`handpose.model.build_handsegnet` by name) and the run directory.
    """
    from handpose.losses import HandSegLoss

    return _train(cfg, handseg_dataset(records, cfg, cfg.seed), HandSegLoss(), records, run_name,
                  runs_root, verbose)


__all__ += ["HandSegConfig", "handseg_dataset", "train_handsegnet"]
