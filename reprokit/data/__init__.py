"""The shared input layer: canonical example, dataset metadata, transforms, pipeline.

The canonical example
---------------------
Every reader (one per on-disk format, in the sibling packages) decodes a record into one dict
of tensors, and every transform and codec consumes and produces that same dict:

===============  =====================  ================================================
key              dtype / shape          meaning
===============  =====================  ================================================
``image``        uint8 ``(H, W, 3)``    RGB image
``keypoints``    float32 ``(K, 2)``     (x, y) in pixels of the *current* image; pixel
                                        centres sit on integer coordinates (the
                                        convention of ``cv2.warpAffine`` and of
                                        ``ImageProjectiveTransformV3``)
``visible``      float32 ``(K,)``       1 = annotated and usable, 0 = missing/occluded
``labels``       uint8 ``(H, W)``       class id per pixel (optional; segmentation)
``meta``         dict of tensors        ``transform`` float32 ``(3, 3)``: current-image
                                        pixels from original-image pixels (composed by
                                        every geometric transform, inverted by codecs);
                                        ``center`` float32 ``(2,)`` and ``scale``
                                        float32 ``()`` (MPII convention, box side =
                                        ``scale * 200`` px); ``index`` int64 ``()``;
                                        ``path`` string ``()``
===============  =====================  ================================================

Keys a dataset does not have are simply absent (a hand crop has no ``labels``; SURREAL frames
have both). After batching every tensor gains a leading batch axis.
"""

from reprokit.data.crop import RandomScaleCrop
from reprokit.data.meta import DatasetMeta, flip_pairs_to_index
from reprokit.data.pipeline import ImageRecordReader, build_dataset, load_rgb, read_image
from reprokit.data.transforms import (
    AffineCrop,
    ChannelScale,
    ColorJitter,
    Compose,
    RandomApply,
    affine_matrix,
    apply_affine,
    hflip,
)

__all__ = [
    "AffineCrop",
    "ChannelScale",
    "ColorJitter",
    "Compose",
    "DatasetMeta",
    "ImageRecordReader",
    "RandomScaleCrop",
    "RandomApply",
    "affine_matrix",
    "apply_affine",
    "build_dataset",
    "load_rgb",
    "flip_pairs_to_index",
    "hflip",
    "read_image",
]
