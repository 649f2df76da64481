"""reprokit: the shared layer of the reproductions (data, codecs, metrics, training, weights).

Sub-modules are imported explicitly (``from reprokit import metrics``); importing ``reprokit``
itself does not import TensorFlow, so ``repro list`` and the numpy metrics start fast.
"""

import importlib

__version__ = "0.1.0"


def lazy_exports(exports: dict):
    """``(__getattr__, __dir__)`` for a package whose attributes live in sub-modules.

    ``exports`` maps attribute name -> module path; the module is imported on first access
    (PEP 562), so importing the package itself stays free of TensorFlow.
    """
    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"no attribute {name!r} (lazy exports: {sorted(exports)})")

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__
