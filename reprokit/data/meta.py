"""Dataset metadata as data: names, flip pairs, skeleton, classes, colours, swap tables.

Readers and transforms take a :class:`DatasetMeta` instead of hard-coding indices, so flip
permutations and label swap tables live in exactly one place per dataset (mmpose's
``dataset_info`` habit, without the string registry).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


def flip_pairs_to_index(pairs: Sequence[tuple[int, int]], size: int) -> tuple[int, ...]:
    """Turn left/right pairs into a permutation: ``index[i]`` is the partner of ``i``.

    Args:
        pairs: ``(left, right)`` index pairs; indices not in any pair map to themselves.
        size: number of keypoints (or classes).

    Returns:
        A tuple of length ``size`` that is its own inverse.

    Raises:
        ValueError: an index is out of range or appears in two pairs.
    """
    index = list(range(size))
    seen: set[int] = set()
    for a, b in pairs:
        for i in (a, b):
            if not 0 <= i < size:
                raise ValueError(f"flip pair {(a, b)} has index {i} outside [0, {size})")
            if i in seen:
                raise ValueError(f"index {i} appears in more than one flip pair: {list(pairs)}")
            seen.add(i)
        index[a], index[b] = b, a
    return tuple(index)


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
    """Static description of a dataset's keypoints and classes.

    Args:
        name: dataset name, e.g. ``"mpii"``.
        keypoint_names: ``K`` names in the dataset's joint order.
        flip_pairs: left/right keypoint pairs swapped by a horizontal flip.
        skeleton: ``(a, b)`` keypoint index pairs drawn as limbs.
        class_names: segmentation class names, index = class id (empty if none).
        class_swap_pairs: left/right class id pairs swapped by a horizontal flip.
        colors: one RGB colour per class (or per keypoint when there are no classes).
        ignore_label: label id that losses and metrics skip; also the fill value of padding.
    """

    name: str
    keypoint_names: tuple[str, ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    class_names: tuple[str, ...] = ()
    class_swap_pairs: tuple[tuple[int, int], ...] = ()
    colors: tuple[tuple[int, int, int], ...] = ()
    ignore_label: int = 255

    def __post_init__(self):
        k = len(self.keypoint_names)
        for a, b in self.skeleton:
            if not (0 <= a < k and 0 <= b < k):
                raise ValueError(f"{self.name}: skeleton edge {(a, b)} outside [0, {k})")
        # Validates the pairs (raises with the bad pair quoted).
        flip_pairs_to_index(self.flip_pairs, k)
        flip_pairs_to_index(self.class_swap_pairs, len(self.class_names))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Keypoint permutation applied after a horizontal flip."""
        return flip_pairs_to_index(self.flip_pairs, self.num_keypoints)

    @property
    def label_swap(self) -> np.ndarray:
        """uint8 table of length 256: ``table[label]`` is the label after a horizontal flip.

        Ids outside the class list (including ``ignore_label``) map to themselves.
        """
        table = np.arange(256, dtype=np.uint8)
        swap = flip_pairs_to_index(self.class_swap_pairs, self.num_classes)
        table[: self.num_classes] = np.asarray(swap, dtype=np.uint8)
        return table
