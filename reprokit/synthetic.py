"""Synthetic articulated figures: image, keypoints, visibility and part labels from one geometry.

Each package writes small datasets in its real on-disk format from these renders (MPII h5 +
JPEGs, RHD pickles + PNG masks, SURREAL mp4 + mat), so the default path of every reproduction
exercises the real readers offline. The renderer is numpy + OpenCV; a seed fixes everything.

A :class:`Skeleton` is a joint tree. Each non-root joint ``j`` is the end of the bone from
``parents[j]`` to ``j``, drawn as a thick segment of width ``widths[j]`` painted with label
``part_ids[j]``; ``polygons`` fill extra regions (torso, palm). A pose perturbs every bone's
direction by up to ``angle_ranges[j]`` degrees, and children inherit the parent's perturbation
(so a bent elbow carries the forearm along). Bones are painted in a random depth order, so
limbs occlude each other; a joint is *visible* when it lies inside the frame and the painted
label at its pixel belongs to one of its own bones.
"""
from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np
from tqdm import tqdm

#: Marker file every synthetic writer puts at its dataset root: predictions from weights
#: trained below such a root carry a "trained on synthetic data only" warning.
MARKER = "SYNTHETIC"


def mark_synthetic(root: str) -> str:
    """Write the :data:`MARKER` file into ``root`` (created if needed); returns ``root``."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, MARKER), "w", encoding="utf-8") as f:
        f.write("Synthetic data written by reprokit (figures rendered from random poses in the "
                "real on-disk format); not a real dataset.\n")
    return root


def is_synthetic(path: str, levels: int = 6) -> bool:
    """Whether ``path`` (a file or folder) lies inside a dataset written by a synthetic writer
    (a :data:`MARKER` file in it or one of its ``levels`` parents)."""
    folder = os.path.abspath(str(path))
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    for _ in range(levels + 1):
        if os.path.exists(os.path.join(folder, MARKER)):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return False

#: Colour of the optional joint markers (pure magenta; no palette or background colour is near).
MARKER_COLOR = (255, 0, 255)


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A joint tree with rest pose, limb widths and part ids (lengths in body units).

    Attributes:
        name: skeleton name.
        joint_names: ``K`` names.
        parents: parent index per joint, ``-1`` for the single root.
        lengths: bone length from the parent (root: 0).
        rest_angles: absolute bone direction at rest, degrees (0 = +x, 90 = down the image).
        angle_ranges: +- degrees of random deviation per bone (inherited by the children).
        widths: bone thickness.
        part_ids: label painted for the bone ending at each joint (root: its polygon's id).
        part_names: name per label id (index 0 = background).
        part_swap_pairs: left/right label pairs (for flips).
        polygons: ``(joint indices, part id)`` regions filled before the bones.
        flip_pairs: left/right keypoint pairs.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    lengths: tuple[float, ...]
    rest_angles: tuple[float, ...]
    angle_ranges: tuple[float, ...]
    widths: tuple[float, ...]
    part_ids: tuple[int, ...]
    part_names: tuple[str, ...]
    part_swap_pairs: tuple[tuple[int, int], ...] = ()
    polygons: tuple[tuple[tuple[int, ...], int], ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        k = len(self.joint_names)
        for field in ("parents", "lengths", "rest_angles", "angle_ranges", "widths", "part_ids"):
            if len(getattr(self, field)) != k:
                raise ValueError(f"{self.name}: {field} has {len(getattr(self, field))} entries, "
                                 f"expected {k} (one per joint)")
        roots = [j for j, p in enumerate(self.parents) if p < 0]
        if len(roots) != 1:
            raise ValueError(f"{self.name}: need exactly one root (parent -1), got {roots}")
        for j in range(k):
            seen, node = set(), j
            while self.parents[node] >= 0:
                if node in seen or not 0 <= self.parents[node] < k:
                    raise ValueError(f"{self.name}: parents {self.parents} do not form a tree "
                                     f"(at joint {node})")
                seen.add(node)
                node = self.parents[node]
        if max(self.part_ids) >= len(self.part_names):
            raise ValueError(f"{self.name}: part id {max(self.part_ids)} has no name")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def bones_of(self, joint: int) -> set[int]:
        """Part ids touching a joint: its own bone, its children's bones, polygons through it."""
        ids = {self.part_ids[joint]} if self.parents[joint] >= 0 else set()
        ids |= {self.part_ids[c] for c, p in enumerate(self.parents) if p == joint}
        ids |= {pid for joints, pid in self.polygons if joint in joints}
        return ids


def _human16() -> Skeleton:
    # Joint order of MPII (princeton-vl data/MPII/ref.py). Proportions are rough human ratios
    # (torso = 1): they only need to look like a person at 64x64 heatmap resolution.
    names = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
             "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
             "l_elbow", "l_wrist")
    parents = (1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14)
    lengths = (0.85, 0.9, 0.25, 0.25, 0.9, 0.85, 0.0, 1.0, 0.22, 0.45, 0.55, 0.6, 0.4, 0.4, 0.6, 0.55)
    rest = (90, 90, 180, 0, 90, 90, 0, -90, -90, -90, 100, 110, 180, 0, 70, 80)
    ranges = (30, 35, 5, 5, 35, 30, 0, 12, 15, 15, 60, 60, 8, 8, 60, 60)
    widths = (0.16, 0.22, 0.2, 0.2, 0.22, 0.16, 0.0, 0.3, 0.14, 0.34, 0.11, 0.14, 0.16, 0.16, 0.14, 0.11)
    part_names = ("background", "torso", "r_lower_leg", "r_upper_leg", "r_hip", "l_hip",
                  "l_upper_leg", "l_lower_leg", "neck", "head", "r_forearm", "r_upper_arm",
                  "r_shoulder", "l_shoulder", "l_upper_arm", "l_forearm")
    part_ids = (2, 3, 4, 5, 6, 7, 1, 1, 8, 9, 10, 11, 12, 13, 14, 15)
    return Skeleton("human16", names, parents, lengths, rest, ranges, widths, part_ids, part_names,
                    part_swap_pairs=((2, 7), (3, 6), (4, 5), (10, 15), (11, 14), (12, 13)),
                    polygons=(((2, 3, 13, 12), 1),),
                    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)))


def _hand21() -> Skeleton:
    # RHD keypoint order (docs/reference/handpose.md §4.1): 0 wrist, then per finger tip..MCP for
    # thumb, index, middle, ring, little.
    names = ["wrist"]
    parents, lengths, rest, ranges, widths, part_ids = [-1], [0.0], [0.0], [0.0], [0.0], [6]
    fingers = (("thumb", -145, 0.55, (0.4, 0.33, 0.3)), ("index", -105, 1.0, (0.45, 0.28, 0.22)),
               ("middle", -90, 1.0, (0.5, 0.3, 0.24)), ("ring", -76, 0.95, (0.45, 0.28, 0.22)),
               ("little", -62, 0.9, (0.36, 0.22, 0.2)))
    for f, (finger, angle, palm, phal) in enumerate(fingers):
        base = len(names)
        names += [f"{finger}_tip", f"{finger}_dip", f"{finger}_pip", f"{finger}_mcp"]
        # stored tip..mcp; parents point toward the wrist
        parents += [base + 1, base + 2, base + 3, 0]
        lengths += [phal[2], phal[1], phal[0], palm]
        rest += [angle, angle, angle, angle]
        ranges += [15, 15, 20, 6]
        widths += [0.14, 0.15, 0.16, 0.17]
        part_ids += [f + 1] * 4
    part_names = ("background", "thumb", "index", "middle", "ring", "little", "palm")
    return Skeleton("hand21", tuple(names), tuple(parents), tuple(lengths), tuple(rest),
                    tuple(ranges), tuple(widths), tuple(part_ids), part_names,
                    polygons=(((0, 4, 8, 12, 16, 20), 6),))


def _smpl29() -> Skeleton:
    # The 24 SMPL joints in their order (gulvarol/surreal part_match; docs/reference/segmentation.md
    # §3.2) plus 5 end points (toe tips, head top, finger tips) so the leaf parts have bones.
    # The bone ending at joint j is painted with SURREAL label parents[j] + 1, i.e. the part
    # rooted at the parent joint; the figure faces the camera, so its left is image right.
    names = ("Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle",
             "R_Ankle", "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head",
             "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand",
             "R_Hand", "L_ToeTip", "R_ToeTip", "HeadTop", "L_FingerTip", "R_FingerTip")
    parents = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
               10, 11, 15, 22, 23)
    lengths = (0, .22, .22, .25, .9, .9, .25, .85, .85, .25, .16, .16, .22, .2, .2, .12, .18, .18,
               .55, .55, .5, .5, .12, .12, .1, .1, .38, .1, .1)
    rest = (0, 0, 180, -90, 90, 90, -90, 90, 90, -90, 70, 110, -90, -25, -155, -90, 10, 170, 80,
            100, 85, 95, 85, 95, 20, 160, -90, 85, 95)
    ranges = (0, 3, 3, 6, 25, 25, 6, 25, 25, 6, 15, 15, 8, 5, 5, 10, 8, 8, 60, 60, 50, 50, 20, 20,
              10, 10, 10, 20, 20)
    widths = (0, .22, .22, .42, .22, .22, .44, .17, .17, .46, .13, .13, .2, .18, .18, .14, .17,
              .17, .14, .14, .12, .12, .11, .11, .1, .1, .32, .07, .07)
    part_ids = (1,) + tuple(p + 1 for p in parents[1:])
    part_names = ("background", "hips", "leftUpLeg", "rightUpLeg", "spine", "leftLeg", "rightLeg",
                  "spine1", "leftFoot", "rightFoot", "spine2", "leftToeBase", "rightToeBase",
                  "neck", "leftShoulder", "rightShoulder", "head", "leftArm", "rightArm",
                  "leftForeArm", "rightForeArm", "leftHand", "rightHand", "leftHandIndex1",
                  "rightHandIndex1")
    pairs = ((2, 3), (5, 6), (8, 9), (11, 12), (14, 15), (17, 18), (19, 20), (21, 22), (23, 24))
    joint_pairs = tuple((a - 1, b - 1) for a, b in pairs) + ((24, 25), (27, 28))
    return Skeleton("smpl29", names, parents, lengths, rest, ranges, widths, part_ids, part_names,
                    part_swap_pairs=pairs, flip_pairs=joint_pairs)


HUMAN16 = _human16()
HAND21 = _hand21()
#: SURREAL bodies: 24 SMPL joints + 5 end points, painted with the 24 SURREAL part labels.
SMPL29 = _smpl29()


def sample_pose(skeleton: Skeleton, rng: np.random.Generator) -> np.ndarray:
    """Joint positions ``(K, 2)`` in body units, root at the origin."""
    k = skeleton.num_joints
    dev = rng.uniform(-1, 1, k) * np.asarray(skeleton.angle_ranges, np.float64)
    cum = np.zeros(k)
    pos = np.zeros((k, 2))
    # visit joints by depth so every parent is placed before its children
    order = sorted(range(k), key=lambda j: _depth(skeleton.parents, j))
    for j in order:
        p = skeleton.parents[j]
        if p < 0:
            continue
        cum[j] = cum[p] + dev[j]
        a = np.deg2rad(skeleton.rest_angles[j] + cum[j])
        pos[j] = pos[p] + skeleton.lengths[j] * np.array([np.cos(a), np.sin(a)])
    return pos


def _depth(parents, j) -> int:
    d = 0
    while parents[j] >= 0:
        j, d = parents[j], d + 1
    return d


def _background(rng, height, width) -> np.ndarray:
    """Smooth noise plus stripes in muted colours (never near the marker colour)."""
    low = rng.uniform(50, 190, (max(2, height // 24), max(2, width // 24), 3))
    bg = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width]
    theta, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.3)
    stripes = 25 * np.sin(freq * (xx * np.cos(theta) + yy * np.sin(theta)))
    bg = bg + stripes[..., None] + rng.normal(0, 6, (height, width, 3))
    bg[..., 1] = np.maximum(bg[..., 1], 0.6 * bg[..., [0, 2]].max(-1))  # keep magenta away
    return np.clip(bg, 0, 255).astype(np.uint8)


def render_figure(skeleton: Skeleton, image_size=(256, 256), seed: int = 0, *,
                  figure_height=(0.5, 0.85), rotation=(-30.0, 30.0), out_of_frame: float = 0.0,
                  joint_markers: bool = False) -> dict:
    """Render one random figure on a textured background.

    Args:
        skeleton: e.g. :data:`HUMAN16` or :data:`HAND21`.
        image_size: ``(height, width)``.
        seed: fixes pose, placement, colours and background.
        figure_height: range of the figure's extent as a fraction of the image size.
        rotation: range of the global in-plane rotation, degrees.
        out_of_frame: max shift of the figure centre beyond the frame, as a fraction of the
            image size (0 keeps the whole figure inside, approximately).
        joint_markers: draw a 2-px magenta disc on every visible joint (for geometry tests).

    Returns:
        dict with ``image`` uint8 ``(H, W, 3)`` RGB, ``keypoints`` float32 ``(K, 2)`` (x, y),
        ``visible`` float32 ``(K,)``, ``labels`` uint8 ``(H, W)`` part ids, ``center`` float32
        ``(2,)`` and ``scale`` float32 (MPII convention: box side = ``scale * 200`` px,
        ``1.25 x`` the keypoint extent).
    """
    h, w = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(seed)
    pos = sample_pose(skeleton, rng)
    a = np.deg2rad(rng.uniform(*rotation))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pos = pos @ rot.T
    extent = max(np.ptp(pos[:, 0]), np.ptp(pos[:, 1]), 1e-6)
    unit = rng.uniform(*figure_height) * min(h, w) / extent
    pos = (pos - (pos.min(0) + pos.max(0)) / 2) * unit
    shift = rng.uniform(-out_of_frame, out_of_frame, 2) * np.array([w, h])
    pos = pos + np.array([(w - 1) / 2, (h - 1) / 2]) + shift

    image = _background(rng, h, w)
    labels = np.zeros((h, w), np.uint8)
    n_parts = len(skeleton.part_names)
    hues = rng.permutation(np.linspace(0, 150, n_parts, endpoint=False))  # OpenCV hue 0..180
    palette = cv2.cvtColor(np.stack([hues, rng.uniform(120, 230, n_parts),
                                     rng.uniform(110, 230, n_parts)], -1)[None].astype(np.uint8),
                           cv2.COLOR_HSV2RGB)[0]
    palette = [tuple(int(c) for c in col) for col in palette]

    def paint_poly(points, pid):
        pts = np.round(points).astype(np.int32)
        cv2.fillPoly(image, [pts], palette[pid])
        cv2.fillPoly(labels, [pts], int(pid))

    for joints, pid in skeleton.polygons:
        paint_poly(pos[list(joints)], pid)
    bones = [j for j in range(skeleton.num_joints) if skeleton.parents[j] >= 0]
    for j in rng.permutation(bones):
        p, pid = skeleton.parents[j], skeleton.part_ids[j]
        width = max(1, int(round(skeleton.widths[j] * unit)))
        a_pt = tuple(int(v) for v in np.round(pos[p]))
        b_pt = tuple(int(v) for v in np.round(pos[j]))
        for canvas, value in ((image, palette[pid]), (labels, int(pid))):
            cv2.line(canvas, a_pt, b_pt, value, width, cv2.LINE_8)
            cv2.circle(canvas, b_pt, width // 2, value, -1, cv2.LINE_8)
            cv2.circle(canvas, a_pt, width // 2, value, -1, cv2.LINE_8)

    xi, yi = np.round(pos[:, 0]).astype(int), np.round(pos[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    visible = np.zeros(skeleton.num_joints, np.float32)
    for j in np.nonzero(inside)[0]:
        if labels[yi[j], xi[j]] in skeleton.bones_of(j):
            visible[j] = 1.0
    if joint_markers:
        for j in np.nonzero(visible)[0]:
            cv2.circle(image, (int(xi[j]), int(yi[j])), 2, MARKER_COLOR, -1, cv2.LINE_8)
    lo, hi = pos.min(0), pos.max(0)
    return {"image": image, "keypoints": pos.astype(np.float32), "visible": visible,
            "labels": labels, "center": ((lo + hi) / 2).astype(np.float32),
            "scale": np.float32(1.25 * max(hi - lo) / 200.0)}


def write_figures(skeleton: Skeleton, directory: str, count: int, image_size=(256, 256),
                  seed: int = 0, **render_kwargs) -> dict:
    """Render ``count`` figures to ``directory/{i:06d}.jpg`` (+ ``_labels.png``).

    A generic writer for tests and benchmarks; the packages write their real formats.

    Returns:
        Records for :class:`reprokit.data.ImageRecordReader` (``image_path``, ``label_path``,
        ``keypoints``, ``visible``, ``center``, ``scale``).
    """
    os.makedirs(directory, exist_ok=True)
    rows = {k: [] for k in ("image_path", "label_path", "keypoints", "visible", "center", "scale")}
    for i in tqdm(range(count), desc=f"rendering {skeleton.name}", unit="img", disable=count < 200):
        fig = render_figure(skeleton, image_size, seed * 1_000_003 + i, **render_kwargs)
        img_path = os.path.join(directory, f"{i:06d}.jpg")
        lbl_path = os.path.join(directory, f"{i:06d}_labels.png")
        cv2.imwrite(img_path, cv2.cvtColor(fig["image"], cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(lbl_path, fig["labels"])
        rows["image_path"].append(img_path)
        rows["label_path"].append(lbl_path)
        for key in ("keypoints", "visible", "center", "scale"):
            rows[key].append(fig[key])
    return {k: np.asarray(v) for k, v in rows.items()}
