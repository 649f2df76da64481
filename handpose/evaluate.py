"""The two evaluation protocols of hand3d: PoseNet on ground-truth crops, and the full pipeline.

``eval2d_gt_cropped.py``: crop by ground truth (no noise), decode the last score map with the
:class:`handpose.codec.ScoreMapCodec` (legacy bilinear upsampling to the crop, argmax, back to
the image) and report hand3d ``EvalUtil`` mean / median EPE and AUC over 0-30 px
(:func:`reprokit.metrics.epe_auc`). ``eval2d.py``: HandSegNet -> crop -> PoseNet on RHD images
(:class:`handpose.pipeline.HandPosePipeline`). docs/reference/handpose.md §5, §12.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from handpose.codec import ScoreMapCodec
from handpose.data import gt_crop_params, rhd_hands
from handpose.model import preprocess
from handpose.pipeline import crop_image_from_xy
from handpose.spec import PoseNetConfig
from reprokit.data import load_rgb
from reprokit.errors import ConfigError, DataFormatError
from reprokit.metrics.keypoints import epe_auc


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
    codec = ScoreMapCodec(size)
    preds = []
    n = len(records["image_path"])

    @tf.function(reduce_retracing=True)
    def run(x):
        out = model(x, training=False)
        return codec.upsample(out[-1])

    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        crops, centers, scales = [], [], []
        for i in idx:
            image = load_rgb(records["image_path"][i])
            if corruption is not None:
                image = corruption(image, records["uv"][i], records["visible"][i], seed + i)
            c, s = gt_crop_params(records["uv"][i], records["visible"][i], image.shape[:2],
                                  crop_size=size)
            crops.append(crop_image_from_xy(preprocess(image)[None], c[None], s[None], size)[0])
            centers.append(c.numpy())
            scales.append(float(s))
        uv, _ = codec.decode(run(tf.stack(crops)), np.array(centers), np.array(scales),
                             upsampled=True)
        preds.append(uv)
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
    if keypoint0 not in KEYPOINT0:
        raise ConfigError(f"keypoint0 must be one of {KEYPOINT0}, got {keypoint0!r}")
    if frame not in ("inference", "original"):
        raise ConfigError(f"frame must be 'inference' or 'original', got {frame!r}")
    hands = rhd_hands(records, use_wrist_coord=keypoint0 == "wrist")
    preds, gts = [], []
    n = len(records["image_path"])
    for start in range(0, n, batch_size):
        images = []
        for i in range(start, min(n, start + batch_size)):
            image = load_rgb(records["image_path"][i])
            if images and image.shape != images[0].shape:
                raise DataFormatError(records["image_path"][i], "image size differs from the batch's",
                                      expected=images[0].shape[:2], received=image.shape[:2])
            images.append(image)
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


__all__ = ["KEYPOINT0", "evaluate_full_pipeline", "evaluate_gt_cropped"]
