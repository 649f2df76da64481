"""Target codecs: one object encodes targets in the pipeline (TF) and decodes predictions (numpy).

Sharing the object between training and evaluation means targets and decoding cannot drift
(mmpose's codec habit; docs/design.md).
"""
from reprokit.codecs.heatmap import GaussianHeatmapCodec
from reprokit.codecs.labels import LabelCodec

__all__ = ["GaussianHeatmapCodec", "LabelCodec"]
