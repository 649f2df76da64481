"""reprokit: the shared layer of the reproductions (data, codecs, metrics, training, weights).

Sub-modules are imported explicitly (``from reprokit import metrics``); importing ``reprokit``
itself does not import TensorFlow, so ``repro list`` and the numpy metrics start fast.
"""

__version__ = "0.1.0"
