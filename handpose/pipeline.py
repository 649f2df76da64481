"""The two-stage pipeline: HandSegNet mask -> one hand -> crop -> PoseNet -> keypoints.

Each step follows hand3d's ``utils/general.py`` and ``ColorHandPose3DNetwork.inference2d``
(docs/reference/handpose.md §2); all are TF ops over a batch, coordinates are ``(row, col)`` inside
as in hand3d, and :class:`HandPosePipeline` returns ``(u, v) = (col, row)`` keypoints in the
pixels of the image it was given.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from handpose.codec import ScoreMapCodec
from handpose.model import bilinear_resize, preprocess

#: hand3d's default inference size (run.py, eval2d.py: RHD 320x320 is resized to 240x320).
INFERENCE_SIZE = (240, 320)
CROP_SIZE = 256
#: ``calc_center_bb`` fallbacks for an empty mask (hand3d ``utils/general.py``).
EMPTY_CENTER, EMPTY_SIZE = (160.0, 160.0), 100.0
#: A keypoint whose score-map maximum is below this is reported as low confidence. hand3d has
#: no threshold (it always returns 21 points); 0.3 is mmpose's default keypoint threshold for
#: drawing (``--kpt-thr`` of its demos), also on heatmap maxima of peak-1 Gaussian targets.
KEYPOINT_MIN_SCORE = 0.3


def single_obj_scoremap(logits, kernel: int = 21):
    """Binary mask of the single foreground object containing the strongest pixel.

    Softmax over channels, foreground score = max over channels >= 1, ``detmap = round(fg)``;
    starting from the global argmax (first in row-major order), the object map is dilated by a
    flat ``kernel x kernel`` window and masked by ``detmap``, ``max(H, W) // (kernel // 2)``
    times: the result is the foreground region reachable from the seed in steps of
    ``kernel // 2`` = 10 px, i.e. foreground pixels at most 10 px apart are joined (hand3d
    ``single_obj_scoremap``; its ``dilation2d`` with a 1/441 kernel value followed by
    ``round`` is exactly this binary dilation).

    Args:
        logits: ``(N, H, W, C)`` segmentation logits (channel 0 = background).

    Returns:
        float32 ``(N, H, W)`` in {0, 1}.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    prob = tf.nn.softmax(logits, axis=-1)
    fg = tf.reduce_max(prob[..., 1:], axis=-1)
    detmap = tf.round(fg)
    shape = tf.shape(fg)
    n, h, w = shape[0], shape[1], shape[2]
    seed = tf.argmax(tf.reshape(fg, [n, -1]), axis=-1, output_type=tf.int32)
    objmap = tf.reshape(tf.one_hot(seed, h * w, dtype=tf.float32), [n, h, w, 1])
    passes = tf.maximum(h, w) // (kernel // 2)

    def body(i, m):
        grown = tf.nn.max_pool2d(m, kernel, 1, "SAME")
        return i + 1, grown * detmap[..., None]

    _, objmap = tf.while_loop(lambda i, m: i < passes, body, [tf.constant(0), objmap])
    return objmap[..., 0]


def calc_center_bb(mask):
    """Centre ``(row, col)`` and size of the mask's bounding box, per sample (numpy).

    ``center = ((rmin + rmax) / 2, (cmin + cmax) / 2)``, ``size = max(rmax - rmin, cmax - cmin)``;
    an empty mask gives the fallbacks ``(160, 160)`` and 100 (hand3d ``calc_center_bb``).
    """
    mask = np.asarray(mask) > 0.5
    centers, sizes = [], []
    for m in mask.reshape((-1,) + mask.shape[-2:]):
        rows, cols = np.nonzero(m)
        if rows.size == 0:
            centers.append(EMPTY_CENTER)
            sizes.append(EMPTY_SIZE)
            continue
        centers.append(((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2))
        sizes.append(float(max(rows.max() - rows.min(), cols.max() - cols.min())))
    return np.asarray(centers, np.float32), np.asarray(sizes, np.float32)


def crop_scale(size, margin: float = 1.25, low: float = 0.25, high: float = 5.0,
               crop_size: int = CROP_SIZE):
    """``clip(crop_size / (margin * size), low, high)`` (hand3d ``inference2d``); a one-pixel
    mask (size 0) gives ``high``, as TF's division by zero does in hand3d."""
    with np.errstate(divide="ignore"):
        return np.clip(crop_size / (margin * np.asarray(size, np.float32)), low, high).astype(np.float32)


def crop_boxes(center, scale, image_shape, crop_size: int = CROP_SIZE):
    """``crop_and_resize`` boxes of hand3d's ``crop_image_from_xy`` (TF ops; numpy works too).

    Everything stays float, as in hand3d (``utils/general.py``): the window side is
    ``crop_size / scale`` (not rounded), ``y1 = row - floor(side / 2)`` with the centre's
    fractional part kept, ``y2 = y1 + side`` (same for x); the box is normalised by the image
    height and width (not ``H - 1``/``W - 1``). Because ``crop_and_resize`` maps a normalised
    ``y`` to ``y * (H - 1)``, the sampled window is the nominal one shrunk by ``(H - 1) / H``;
    released weights saw exactly this (docs/reference/handpose.md §2.5). Checked against hand3d's
    own graph at fractional centres and scales (``tests/handpose/test_parity.py``).

    Returns:
        float32 ``(N, 4)`` as ``(y1, x1, y2, x2)`` normalised.
    """
    center = tf.reshape(tf.cast(center, tf.float32), [-1, 2])
    side = float(crop_size) / tf.reshape(tf.cast(scale, tf.float32), [-1])
    half = tf.math.floordiv(side, 2.0)
    h, w = tf.cast(image_shape[0], tf.float32), tf.cast(image_shape[1], tf.float32)
    y1, x1 = center[:, 0] - half, center[:, 1] - half
    return tf.stack([y1 / h, x1 / w, (y1 + side) / h, (x1 + side) / w], -1)


def crop_image_from_xy(image, center, scale, crop_size: int = CROP_SIZE):
    """Bilinear crops ``(N, crop_size, crop_size, C)``, zero outside the image."""
    image = tf.convert_to_tensor(image, tf.float32)
    boxes = crop_boxes(center, scale, tf.shape(image)[1:3], crop_size)
    return tf.image.crop_and_resize(image, boxes, tf.range(tf.shape(image)[0]),
                                    [crop_size, crop_size], method="bilinear", extrapolation_value=0)


class HandPosePipeline:
    """HandSegNet -> single hand -> crop -> PoseNet -> 21 keypoints in image pixels.

    Args:
        handsegnet: a model from :func:`handpose.model.build_handsegnet` (weights loaded).
        posenet: a model from :func:`handpose.model.build_posenet`.
        input_size: ``(H, W)`` the image is resized to first (hand3d: 240 x 320); ``None``
            keeps the image size (must be divisible by 8).
        resize: ``"legacy"`` (default, hand3d) or ``"half_pixel"`` for upsampling score maps.

    Calling it on uint8 RGB ``(H, W, 3)`` or ``(N, H, W, 3)`` returns a dict with
    ``keypoints`` ``(N, 21, 2)`` as ``(u, v)`` in the given image's pixels, ``scores``,
    ``mask`` (at ``input_size``), ``center`` (row, col), ``crop_scale``, ``crop`` and
    ``crop_box`` ``(N, 4)`` as ``(u1, v1, u2, v2)`` in the given image's pixels, plus
    ``hand_found`` ``(N,)`` (the single-object mask is not empty; when it is, hand3d crops a
    fixed fallback window and its keypoints mean nothing) and ``confident`` ``(N, 21)``
    (score >= :data:`KEYPOINT_MIN_SCORE`).
    """

    def __init__(self, handsegnet, posenet, input_size=INFERENCE_SIZE, resize: str = "legacy"):
        self.handsegnet, self.posenet = handsegnet, posenet
        self.input_size, self.resize = input_size, resize

    def __call__(self, images) -> dict:
        images = np.asarray(images)
        single = images.ndim == 3
        if single:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected RGB images (H, W, 3) or (N, H, W, 3), got {images.shape}")
        orig_hw = np.array(images.shape[1:3], np.float32)
        x = preprocess(images)
        size = tuple(self.input_size) if self.input_size else tuple(images.shape[1:3])
        if size != tuple(images.shape[1:3]):
            x = bilinear_resize(x, size, self.resize)
        factor = orig_hw / np.array(size, np.float32)            # (row, col) back to the input
        logits = self.handsegnet(x, training=False)
        up = logits[1] if isinstance(logits, (list, tuple)) else logits
        mask = single_obj_scoremap(up).numpy()
        center, bb = calc_center_bb(mask)
        scale = crop_scale(bb)
        crop = crop_image_from_xy(x, center, scale)
        maps = self.posenet(crop, training=False)
        last = maps[-1] if isinstance(maps, (list, tuple)) else maps
        uv, scores = ScoreMapCodec(CROP_SIZE, resize=self.resize).decode(last, center, scale)
        uv = uv * factor[::-1]
        # the same window crop_image_from_xy used, (y1, x1, y2, x2) normalised -> (u1, v1, u2, v2)
        box = crop_boxes(center, scale, size).numpy()[:, [1, 0, 3, 2]]
        box = box * np.array([orig_hw[1], orig_hw[0], orig_hw[1], orig_hw[0]], np.float32)
        out = {"keypoints": uv, "scores": scores, "mask": mask,
               "center": center, "crop_scale": scale, "crop": crop.numpy(), "crop_box": box,
               "hand_found": mask.reshape(len(mask), -1).max(1) > 0.5,
               "confident": scores >= KEYPOINT_MIN_SCORE}
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out


__all__ = ["CROP_SIZE", "HandPosePipeline", "INFERENCE_SIZE", "KEYPOINT_MIN_SCORE", "calc_center_bb", "crop_boxes",
           "crop_image_from_xy", "crop_scale", "single_obj_scoremap"]
