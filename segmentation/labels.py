"""SURREAL label tables: the 24 SMPL parts, mirroring, and the thesis' groupings.

Label ``i`` (1..24) is the SMPL part whose root joint is joint ``i - 1`` (gulvarol/surreal
``datageneration/main_part1.py`` ``sorted_parts`` / ``part_match``); 0 is background. Tables
are length-25 arrays indexed by label (docs/reference/segmentation.md §3.2 and spec §C).

SMPL left/right are the subject's anatomical sides, so a horizontal mirror must swap them
(:func:`mirror`); none of the reference readers does (ICNet flips image and label only).
"""
from __future__ import annotations

import numpy as np

from reprokit.codecs.labels import LabelCodec
from reprokit.data.meta import DatasetMeta

PART_NAMES = ("background", "hips", "leftUpLeg", "rightUpLeg", "spine", "leftLeg", "rightLeg",
              "spine1", "leftFoot", "rightFoot", "spine2", "leftToeBase", "rightToeBase", "neck",
              "leftShoulder", "rightShoulder", "head", "leftArm", "rightArm", "leftForeArm",
              "rightForeArm", "leftHand", "rightHand", "leftHandIndex1", "rightHandIndex1")
#: SMPL joints (``joints2D`` / ``joints3D`` columns); part ``i`` is rooted at joint ``i - 1``.
JOINT_NAMES = ("Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle",
               "R_Ankle", "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head",
               "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand",
               "R_Hand")
JOINT_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
NUM_CLASSES = 25
HEAD = 16
#: Left/right label pairs (docs/reference/segmentation.md §3.2).
MIRROR_PAIRS = ((2, 3), (5, 6), (8, 9), (11, 12), (14, 15), (17, 18), (19, 20), (21, 22), (23, 24))


def _swap_table(pairs, n):
    table = np.arange(n)
    for a, b in pairs:
        table[a], table[b] = b, a
    return table


MIRROR_SWAP = _swap_table(MIRROR_PAIRS, NUM_CLASSES)
#: The same pairs as 0-based joint indices (label - 1).
JOINT_MIRROR_SWAP = _swap_table([(a - 1, b - 1) for a, b in MIRROR_PAIRS], 24)

#: SURREAL as data for the shared input layer: ``hflip`` / ``AffineCrop`` take its
#: ``label_swap`` (the part pairs above) and ``flip_index`` (the same pairs as joints).
SURREAL = DatasetMeta("surreal", keypoint_names=JOINT_NAMES,
                      flip_pairs=tuple((a - 1, b - 1) for a, b in MIRROR_PAIRS),
                      class_names=PART_NAMES, class_swap_pairs=MIRROR_PAIRS, ignore_label=255)

#: Varol's 15 classes (``changeSegmIx`` in training/loader_SURREAL.lua, 0-based).
TO_VAROL15 = np.array([0, 2, 12, 9, 2, 13, 10, 2, 14, 11, 2, 14, 11, 2, 2, 2, 1, 6, 3, 7, 4, 8, 5,
                       8, 5])
VAROL15_NAMES = ("background", "head", "torso", "rUpArm", "rForeArm", "rHand", "lUpArm",
                 "lForeArm", "lHand", "rUpLeg", "rLowLeg", "rFoot", "lUpLeg", "lLowLeg", "lFoot")
#: The thesis' 13 reporting groups (Tables 2 and 5), left and right merged.
THESIS13_NAMES = ("Background", "Head", "Torso", "U.Legs", "L.Legs", "Neck", "Shoulder", "U.Arms",
                  "L.Arms", "Feet", "Hands", "Fingers", "Toes")
TO_THESIS13 = np.array([0, 2, 3, 3, 2, 4, 4, 2, 9, 9, 2, 12, 12, 5, 6, 6, 1, 7, 7, 8, 8, 10, 10,
                        11, 11])
TO_BODY2 = np.array([0] + [1] * 24)
#: bg, head, torso (hips, spines, neck, collars as Varol does), arms (17-24), legs. The
#: neck/collar placement is an assumption (docs/reference/segmentation.md §C).
TO_COARSE5 = np.array([0, 2, 4, 4, 2, 4, 4, 2, 4, 4, 2, 4, 4, 2, 2, 2, 1, 3, 3, 3, 3, 3, 3, 3, 3])
COARSE5_NAMES = ("background", "head", "torso", "arms", "legs")
#: Progressive ground truth of the thesis hourglass (Sec. 4.1): one table per stack of a
#: 4-stack model, coarse to fine.
PROGRESSIVE = (TO_BODY2, TO_COARSE5, TO_THESIS13, np.arange(NUM_CLASSES))
TABLES = {"mirror": MIRROR_SWAP, "varol15": TO_VAROL15, "thesis13": TO_THESIS13,
          "body2": TO_BODY2, "coarse5": TO_COARSE5}


def remap(labels, table, ignore_label: int = 255):
    """Map label ids through ``table``; ``ignore_label`` pixels stay as they are."""
    labels = np.asarray(labels)
    table = np.asarray(table)
    codec = LabelCodec(int(table.max()) + 1, table, ignore_label)   # reprokit.codecs.labels
    return codec.remap(labels).astype(labels.dtype)


def mirror(image, labels, joints2d=None, width: int | None = None):
    """Horizontal mirror that keeps anatomy right: flip image and labels, swap left/right
    labels through :data:`MIRROR_SWAP`; joints ``(24, 2)`` (x, y) get ``x -> W - 1 - x`` and
    their left/right indices swapped.

    Returns:
        ``(image, labels)`` or ``(image, labels, joints2d)``.
    """
    image = np.asarray(image)[:, ::-1].copy()
    labels = SURREAL.label_swap[np.asarray(labels)[:, ::-1]]
    if joints2d is None:
        return image, labels
    w = image.shape[1] if width is None else width
    j = np.asarray(joints2d, np.float64).copy()
    j[:, 0] = w - 1 - j[:, 0]
    return image, labels, j[list(SURREAL.flip_index)]


__all__ = ["COARSE5_NAMES", "HEAD", "JOINT_MIRROR_SWAP", "JOINT_NAMES", "JOINT_PARENTS",
           "MIRROR_PAIRS", "MIRROR_SWAP", "SURREAL", "NUM_CLASSES", "PART_NAMES", "PROGRESSIVE", "TABLES",
           "THESIS13_NAMES", "TO_BODY2", "TO_COARSE5", "TO_THESIS13", "TO_VAROL15",
           "VAROL15_NAMES", "mirror", "remap"]
