"""PoseNet and HandSegNet training (hand3d's recipes) on the experiment spine.

Recipe (hand3d ``training_posenet.py``; docs/reference/handpose.md §3, §12): Adam, batch 8, 30k
iterations, lr 1e-4 / 1e-5 / 1e-6 with boundaries 10k and 20k, GT crop (§3.1) with crop-centre
noise (truncated normal, sigma 20 px) and keypoint noise (truncated normal, sigma 2.5 px),
Gaussian score maps ``exp(-d^2 / 25^2)`` at the 256 crop, visibility-weighted RMS loss summed
over the three stages. hand3d's scripts never advance ``global_step``, so their schedule stays
at 1e-4; ours steps as the paper intends (documented deviation from the released scripts).

The run specs are in :mod:`handpose.spec`, the score-map targets in :mod:`handpose.codec`, the
evaluation protocols in :mod:`handpose.evaluate`.
"""
from __future__ import annotations

import logging
import os

import tensorflow as tf

from handpose.codec import ScoreMapCodec
from handpose.data import RHDReader, crop_keypoints, gt_crop_params, hand_reader
from handpose.losses import HandSegLoss, PoseNetLoss
from handpose.model import preprocess
from handpose.pipeline import crop_image_from_xy
from handpose.spec import HandSegConfig, PoseNetConfig
from reprokit.data import build_dataset
from reprokit.schedules import PiecewiseConstantByIteration
from reprokit.training import create_run_dir, find_run, fit, make_optimizer, set_seed

logger = logging.getLogger("reprokit.handpose")


def _truncated(seed, shape, std):
    return tf.random.stateless_truncated_normal(shape, seed, stddev=std)


def train_dataset(records: dict, cfg: PoseNetConfig, seed: int = 0):
    """Repeating ``(crop, (targets,) * 3)`` batches; targets = maps + visibility channels
    (:class:`handpose.codec.ScoreMapCodec`). RHD records (42 keypoints, hand chosen from the
    mask) are read by :class:`handpose.data.RHDReader`, STB by ``HandImageReader``."""
    reader = hand_reader(records, cfg.use_wrist_coord)
    size = cfg.crop_size
    codec = ScoreMapCodec(size)

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
        target = codec.encode(uv, ex["visible"])
        if cfg.scoremap_dropout < 1.0:  # hand3d: whole target maps zeroed, weights unchanged
            k = target.shape[-1] // 2
            keep = tf.random.stateless_uniform([k], s[4]) < cfg.scoremap_dropout
            target = tf.concat([target[..., :k] * tf.cast(keep, tf.float32)[None, None],
                                target[..., k:]], -1)
        return {"image": crop, "target": target}

    return build_dataset(reader, augment, None, cfg.batch_size, training=True, seed=seed,
                         format_fn=lambda ex: (ex["image"], (ex["target"],) * 3), repeat=True)


def _run_config(cfg, records: dict) -> dict:
    return cfg.to_dict() | {"num_records": len(records["uv"])}


def _train(cfg, data, loss, records: dict, run_name: str, runs_root: str, verbose):
    """Shared loop: run dir, seed, Adam with the piecewise schedule, ``reprokit.training.fit``."""
    run = create_run_dir(run_name, _run_config(cfg, records), runs_root)
    run.record_data(str(records["image_path"][0]))
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
    phase1 = cfg.replace(steps=r_steps or cfg.steps)
    name1 = run_name + "-R-train"
    done = find_run(name1, _run_config(phase1, r_train), runs_root)
    if done is None:
        _, done = train_posenet(phase1, r_train, name1, runs_root, verbose)
    else:
        logger.info("R-train phase already finished in %s", done.path)
    phase2 = cfg.replace(init=os.path.join(done.checkpoints, "final.weights.h5"))
    return train_posenet(phase2, s_train, run_name + "-S-train", runs_root, verbose)


# ------------------------------------------------------------------------------ HandSegNet
def handseg_dataset(records: dict, cfg: HandSegConfig, seed: int = 0):
    """Repeating ``(crop, hand mask)`` batches from RHD records."""
    reader = RHDReader(records)
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
    return _train(cfg, handseg_dataset(records, cfg, cfg.seed), HandSegLoss(), records, run_name,
                  runs_root, verbose)


__all__ = ["handseg_dataset", "train_dataset", "train_handsegnet", "train_posenet",
           "train_posenet_two_phase"]
