"""LOGO-CAP training: OKS targets on the local KEMs, the KAM and adapted-heatmap losses, and
:class:`LogocapModel` whose ``train_step`` adds them to the center-offset losses.

The facts (measured by running the released ``Model.forward_training``; golden file
``tests/data/parity/logocap_head.npz``) are in the docstring of :mod:`logocap.adaptation`,
whose test-time pieces (centres, initial poses, KEMs, KAMs, windows) this module reuses.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from logocap.adaptation import (GLOBAL_SIGMA, GLOBAL_SIZE, LOSS_FACTORS, OKS_KEEP, STRIDE,
                                TARGET_SIGMA, adapt_windows, global_kem, initial_poses,
                                keypoint_attention, local_kem, top_centers, upsample,
                                window_offsets)
from logocap.data import NUM_KEYPOINTS, SIGMAS
from logocap.losses import HeatmapLoss, OffsetLoss




def mesh_oks(points, gt, flags, areas, valid):
    """OKS of every mesh point against every person, and each centre's match.

    Args:
        points: ``(B, N, 11, 11, 17, 2)`` local KEMs (input px).
        gt: ``(B, P, 17, 2)`` people in the same pixels; ``flags`` ``(B, P, 17)``; ``areas``
            ``(B, P)`` in input px^2 (the annotation area times the augmentation's scale^2:
            the reference computes the same OKS in the original image); ``valid`` ``(B, P)``.

    Returns:
        ``(oks_joints (B, N, 11, 11, 17), oks_person (B, N, 11, 11), matched gt (B, N, 17, 2))``
        against the matched person.
    """
    var = tf.constant((2.0 * np.asarray(SIGMAS)) ** 2, tf.float32)
    vis = tf.cast(flags > 0, tf.float32)                                            # (B, P, K)
    d2 = tf.reduce_sum(tf.square(points[:, :, :, :, None] - gt[:, None, None, None]), -1)
    vis6 = vis[:, None, None, None]
    denom = tf.maximum(2.0 * var * areas[:, None, None, None, :, None], 1e-6)
    oks = tf.exp(-(d2 * vis6) / denom) * vis6                                      # (B,N,S,S,P,K)
    count = tf.maximum(tf.reduce_sum(vis, -1), 1.0)                                 # (B, P)
    person = tf.reduce_sum(oks, -1) / count[:, None, None, None]                   # (B,N,S,S,P)
    best = tf.reduce_sum(tf.reduce_max(oks, axis=[2, 3]) * vis[:, None], -1) / count[:, None]
    best = tf.where(valid[:, None] > 0, best, -1.0)                                 # (B, N, P)
    match = tf.argmax(best, axis=-1, output_type=tf.int32)
    joints = tf.gather(tf.transpose(oks, [0, 1, 4, 2, 3, 5]), match, batch_dims=2)
    person = tf.gather(tf.transpose(person, [0, 1, 4, 2, 3]), match, batch_dims=2)
    return joints, person, tf.gather(gt, match, batch_dims=1)


def adaptation_losses(outputs, people, cmp, size: int = GLOBAL_SIZE, sigma: float = GLOBAL_SIGMA,
                      target_sigma: float = TARGET_SIGMA, training: bool = True, details: bool = False,
                      centres=None, max_instances: int | None = None):
    """The KAM (``oks``) and adapted-heatmap (``adapted``) losses of one training forward.

    Args:
        outputs: the network's ``heatmaps``, ``offsets``, ``embedding`` (stride 4).
        people: ``keypoints`` ``(B, P, 17, 2)`` input px, ``flags`` ``(B, P, 17)``, ``areas``
            ``(B, P)`` input px^2, ``valid`` ``(B, P)``.
        centres: ``(cx, cy)`` ``(B, 30)`` to use instead of the network's (tests).
        max_instances: how many kept centres of the batch go through the CMP net and the
            adaptation (a fixed buffer: kept ones first, in image order); None = all
            ``B * 30``, which is always the reference. A smaller buffer equals the reference
            whenever the batch keeps at most that many centres (``kept`` in the output says how
            many it kept; extras are left out of both losses).

    Returns:
        ``{"oks": ..., "adapted": ..., "kept": kept centres}`` (and, with ``details``, the
        selected instances' mask, KAMs, OKS targets and adapted / target windows).
    """
    heat = outputs["heatmaps"]
    hw = tf.shape(heat)[1:3] * STRIDE
    hr = upsample(heat, hw)
    cx, cy, _ = top_centers(tf.stop_gradient(hr[..., NUM_KEYPOINTS]))
    if centres is not None:
        cx, cy = (tf.convert_to_tensor(c, tf.float32) for c in centres)
    poses = tf.stop_gradient(initial_poses(tf.stop_gradient(outputs["offsets"]), cx, cy))
    points = local_kem(poses)
    oks_joints, oks_person, gt = mesh_oks(points, people["keypoints"], people["flags"],
                                          people["areas"], people["valid"])
    best_person = tf.reduce_max(oks_person, axis=[2, 3])                           # (B, N)
    positive = best_person >= OKS_KEEP
    first = tf.one_hot(0, tf.shape(positive)[1], on_value=True, off_value=False)[None]
    keep = positive | (~tf.reduce_any(positive, axis=1, keepdims=True) & first)
    r = points.shape[2] // 2
    weight = (tf.reduce_max(oks_joints, axis=[2, 3]) - oks_joints[:, :, r, r]) \
        * tf.cast(positive, tf.float32)[..., None]                                  # (B, N, K)

    # the fixed instance buffer: kept centres first, in (image, centre) order
    n = tf.shape(keep)[1]
    flat_keep = tf.reshape(keep, [-1])
    order = tf.argsort(tf.cast(~flat_keep, tf.int32), stable=True)
    if max_instances is not None:
        order = order[:max_instances]
    batch = order // n

    def pick(t):
        return tf.gather(tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0)), order)[:, None]

    sel = tf.gather(flat_keep, order)[:, None]                                       # (M, 1)
    selw = tf.cast(sel, tf.float32)
    points_s, poses_s, gt_s, oks_s, weight_s = (pick(t) for t in (points, poses, gt, oks_joints, weight))
    kam = keypoint_attention(cmp, outputs["embedding"], points_s, training=training, mask=sel, batch=batch)
    per = tf.reduce_mean(tf.square(kam - oks_s) * weight_s[:, :, None, None], axis=[2, 3, 4])
    positives = tf.reduce_sum(tf.cast(pick(positive), tf.float32) * selw)
    oks_loss = tf.reduce_sum(per * selw) / tf.maximum(positives, 1.0)

    windows = global_kem(hr, poses_s, size, sigma, batch)
    adapted = adapt_windows(windows, kam)
    t = window_offsets(size)
    gx = poses_s[..., 0][:, :, None, None, :] + t[None, None, None, :, None] - gt_s[..., 0][:, :, None, None, :]
    gy = poses_s[..., 1][:, :, None, None, :] + t[None, None, :, None, None] - gt_s[..., 1][:, :, None, None, :]
    target = tf.exp(-(gx ** 2 + gy ** 2) / (2.0 * target_sigma ** 2))
    err = tf.square(adapted - target) * weight_s[:, :, None, None, :]
    values = tf.maximum(tf.reduce_sum(selw), 1.0) * float(NUM_KEYPOINTS * size * size)
    adapted_loss = tf.reduce_sum(err * selw[:, :, None, None, None]) / values
    out = {"oks": oks_loss, "adapted": adapted_loss, "kept": tf.reduce_sum(tf.cast(keep, tf.float32))}
    if details:
        out.update(centres=(cx, cy), keep=sel[:, 0], kam=kam[:, 0], oks_joints=oks_s[:, 0],
                   oks_person=pick(oks_person)[:, 0], adapted_windows=adapted[:, 0],
                   target_windows=target[:, 0])
    return out


@keras.saving.register_keras_serializable(package="logocap")
class LogocapModel(keras.Model):
    """LOGO-CAP: ``net`` (image -> ``heatmaps``, ``offsets``, ``embedding``) and ``cmp``.

    ``call`` returns the network's outputs; :meth:`train_step` adds the adaptation losses
    (module docstring) to the heatmap and offset losses. ``y`` of a training batch is
    ``{"heatmaps", "offsets"}`` (targets with weights, as the baseline) plus ``"people"``.
    """

    def __init__(self, net, cmp, global_size: int = GLOBAL_SIZE, global_sigma: float = GLOBAL_SIGMA,
                 target_sigma: float = TARGET_SIGMA, loss_factors: dict | None = None,
                 max_instances: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_instances = None if max_instances is None else int(max_instances)
        self.net, self.cmp = net, cmp
        self.global_size, self.global_sigma = int(global_size), float(global_sigma)
        self.target_sigma = float(target_sigma)
        self.loss_factors = {**LOSS_FACTORS, **(loss_factors or {})}
        if self.global_size % 2 == 0:
            raise ValueError(f"global_size must be odd (a window centred on the keypoint), got {global_size}")
        self._trackers = {k: keras.metrics.Mean(name=k) for k in
                          ("loss", "heatmaps_loss", "offsets_loss", "oks_loss", "adapted_loss", "kept")}
        self.built = True              # net and cmp arrive built

    def call(self, x, training=False):
        return self.net(x, training=training)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compute_losses(self, x, y, training=True):
        out = self.net(x, training=training)
        losses = {"heatmaps": HeatmapLoss()(y["heatmaps"], out["heatmaps"]),
                  "offsets": OffsetLoss()(y["offsets"], out["offsets"])}
        losses.update(adaptation_losses(out, y["people"], self.cmp, self.global_size,
                                        self.global_sigma, self.target_sigma, training,
                                        max_instances=self.max_instances))
        total = sum(self.loss_factors[k] * losses[k] for k in LOSS_FACTORS)
        if self.losses:
            total = total + tf.add_n(self.losses)
        losses["loss"] = total
        return losses

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, y, training=True)
        variables = self.trainable_variables
        grads = tape.gradient(losses["loss"], variables)
        self.optimizer.apply(grads, variables)
        for k, tracker in self._trackers.items():
            tracker.update_state(losses[k.replace("_loss", "")] if k not in ("loss", "kept") else losses[k])
        return {k: t.result() for k, t in self._trackers.items()}

    def get_config(self):
        return {"name": self.name, "global_size": self.global_size, "global_sigma": self.global_sigma,
                "target_sigma": self.target_sigma, "loss_factors": self.loss_factors,
                "max_instances": self.max_instances}


__all__ = ["LogocapModel", "adaptation_losses", "mesh_oks"]
