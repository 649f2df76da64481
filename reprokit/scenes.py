"""Multi-person synthetic scenes: several figures on one background, occluding each other.

Built on :mod:`reprokit.synthetic` (the same skeletons, poses and painting). Each person gets
its own pose, size (small people included), rotation and place; people are painted back to
front, so later ones occlude earlier ones, and a keypoint is *visible* when the pixel under it
belongs to one of its own bones of its own person, *occluded* when it is inside the frame but
covered, *outside* otherwise (COCO's v = 2 / 1 / 0). :data:`COCO17` is a figure in COCO's
17-keypoint order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
"""
from __future__ import annotations

import cv2
import numpy as np

from reprokit.synthetic import Skeleton, _background, sample_pose


def _coco17() -> Skeleton:
    # COCO order (docs/reference/logocap_metrics_ecosystem.md §1.4). The root is the left hip;
    # the figure faces the camera, so its left side is image right (rest angle 0 = +x).
    names = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
             "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
    parents = (5, 0, 0, 1, 2, 11, 12, 5, 6, 7, 8, -1, 11, 11, 12, 13, 14)
    lengths = (0.5, 0.09, 0.09, 0.1, 0.1, 1.0, 1.0, 0.6, 0.6, 0.55, 0.55, 0.0, 0.45, 0.9, 0.9,
               0.85, 0.85)
    rest = (-118, -60, -120, -10, -170, -95, -85, 80, 100, 85, 95, 0, 180, 92, 88, 90, 90)
    ranges = (8, 5, 5, 5, 5, 5, 5, 60, 60, 50, 50, 0, 3, 25, 25, 25, 25)
    # thick limbs: a COCO person's area (its segmentation) is about a quarter of its height^2
    widths = (0.5, 0.16, 0.16, 0.14, 0.14, 0.36, 0.36, 0.26, 0.26, 0.2, 0.2, 0.0, 0.36, 0.36, 0.36,
              0.28, 0.28)
    part_names = ("background", "torso", "head", "left_upper_arm", "right_upper_arm",
                  "left_forearm", "right_forearm", "left_thigh", "right_thigh", "left_shin",
                  "right_shin")
    part_ids = (2, 2, 2, 2, 2, 1, 1, 3, 4, 5, 6, 1, 1, 7, 8, 9, 10)
    return Skeleton("coco17", names, parents, lengths, rest, ranges, widths, part_ids, part_names,
                    part_swap_pairs=((3, 4), (5, 6), (7, 8), (9, 10)),
                    polygons=(((5, 6, 12, 11), 1),),
                    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
                                (15, 16)))


COCO17 = _coco17()


def render_scene(skeleton: Skeleton, image_size=(256, 256), seed: int = 0, num_people=(1, 4),
                 figure_height=(0.2, 0.7), rotation=(-25.0, 25.0)) -> dict:
    """Render a scene of ``U(num_people)`` people (0 allowed) on one textured background.

    Returns:
        ``image`` uint8 ``(H, W, 3)`` RGB, ``keypoints`` float32 ``(P, K, 2)``, ``flags`` uint8
        ``(P, K)`` (2 visible, 1 occluded inside the frame, 0 outside), ``person_mask`` int16
        ``(H, W)`` (the index of the person painted last at each pixel, -1 background),
        ``areas`` ``(P,)`` (visible pixels per person), ``boxes`` ``(P, 4)`` (x, y, w, h of the
        visible pixels; zeros if none).
    """
    h, w = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(seed)
    image = _background(rng, h, w)
    owner = np.full((h, w), -1, np.int16)
    parts = np.zeros((h, w), np.uint8)
    count = int(rng.integers(num_people[0], num_people[1] + 1))
    poses = []
    for person in range(count):
        pos = sample_pose(skeleton, rng)
        a = np.deg2rad(rng.uniform(*rotation))
        pos = pos @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        extent = max(np.ptp(pos[:, 0]), np.ptp(pos[:, 1]), 1e-6)
        unit = rng.uniform(*figure_height) * min(h, w) / extent
        pos = (pos - (pos.min(0) + pos.max(0)) / 2) * unit
        pos = pos + rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
        colours = cv2.cvtColor(np.stack([rng.uniform(0, 180, len(skeleton.part_names)),
                                         rng.uniform(120, 230, len(skeleton.part_names)),
                                         rng.uniform(110, 230, len(skeleton.part_names))], -1)
                               [None].astype(np.uint8), cv2.COLOR_HSV2RGB)[0]
        layer = np.zeros((h, w), np.uint8)                  # this person's part ids
        for joints, pid in skeleton.polygons:
            cv2.fillPoly(layer, [np.round(pos[list(joints)]).astype(np.int32)], int(pid))
        for j in rng.permutation([j for j in range(skeleton.num_joints) if skeleton.parents[j] >= 0]):
            p = skeleton.parents[j]
            width = max(1, int(round(skeleton.widths[j] * unit)))
            a_pt = tuple(int(v) for v in np.round(pos[p]))
            b_pt = tuple(int(v) for v in np.round(pos[j]))
            cv2.line(layer, a_pt, b_pt, int(skeleton.part_ids[j]), width, cv2.LINE_8)
            cv2.circle(layer, b_pt, width // 2, int(skeleton.part_ids[j]), -1, cv2.LINE_8)
        painted = layer > 0
        image[painted] = colours[layer[painted]]
        owner[painted] = person
        parts[painted] = layer[painted]
        poses.append(pos)
    keypoints = np.asarray(poses, np.float32).reshape(count, skeleton.num_joints, 2)
    flags = np.zeros((count, skeleton.num_joints), np.uint8)
    areas, boxes = np.zeros(count), np.zeros((count, 4))
    for person in range(count):
        for j, (x, y) in enumerate(keypoints[person]):
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= x < w and 0 <= y < h and xi < w and yi < h):
                continue                        # outside the frame (COCO has no negative labels)
            own = owner[yi, xi] == person and parts[yi, xi] in skeleton.bones_of(j)
            flags[person, j] = 2 if own else 1
        ys, xs = np.nonzero(owner == person)
        areas[person] = ys.size
        if ys.size:
            boxes[person] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return {"image": image, "keypoints": keypoints, "flags": flags, "person_mask": owner,
            "areas": areas, "boxes": boxes}


__all__ = ["COCO17", "render_scene"]
