"""Loading pickled data files without running code from them.

Weight and annotation files are data: hand3d's weight pickles (``{name: ndarray}``, Python 2
protocol-2 or Python 3), RHD's ``anno_*.pickle`` (``{index: {key: ndarray}}``) and
caffe-tensorflow ``.npy`` dicts (an object array holding ``{layer: {param: ndarray}}``, e.g.
hellochick's ICNet weights). A plain ``pickle.load`` or ``np.load(..., allow_pickle=True)`` on
such a file runs whatever callable the file names (``__reduce__``), so a crafted file executes
code on load. :class:`RestrictedUnpickler` resolves only the globals these files need to
rebuild numpy arrays and dtypes (:data:`ALLOWED`) and refuses every other one with
:class:`UnsafeFileError`, naming the file and the refused global, before anything is called.
Containers (dict, list, tuple), strings, numbers and booleans need no global at all.
"""
from __future__ import annotations

import io
import pickle

import numpy as np

from reprokit.errors import DataFormatError, ReprokitError

#: The only globals a data pickle may name: numpy array / scalar / dtype reconstruction (the
#: ``numpy.core`` spelling NumPy < 2 wrote and ``numpy._core`` of NumPy 2) and
#: ``_codecs.encode``, which protocol-2 pickles written by Python 3 use for ``bytes``.
ALLOWED = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"), ("collections", "OrderedDict"),
})


class UnsafeFileError(ReprokitError, pickle.UnpicklingError):
    """A data file asked for a global outside :data:`ALLOWED` (it would run code on load)."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED` globals.

    Args:
        file: binary file object.
        source: the file name, for messages.
        encoding: ``"ASCII"`` (Python 3 pickles) or ``"latin1"`` (Python 2 pickles of numpy
            arrays: their byte strings decode 1:1).
    """

    def __init__(self, file, source: str = "", encoding: str = "ASCII"):
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise UnsafeFileError(
                f"{self.source}: refusing to load the global {module}.{name}: a weight or "
                "annotation file holds arrays and containers only, and this one asks for a "
                "callable that would run on load (reprokit.safeload)")
        if module.startswith("numpy.core") and hasattr(np, "_core"):     # NumPy 2 moved it
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def loads(data: bytes, source: str = "<bytes>"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`, Python 3 first, then Python 2's
    latin-1 strings (what hand3d's and RHD's files need)."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnicodeDecodeError:
        return RestrictedUnpickler(io.BytesIO(data), source, encoding="latin1").load()


def load_pickle(path: str):
    """Read a pickled data file (dicts, lists, numpy arrays) without running code from it.

    Raises:
        UnsafeFileError: the file names a global outside :data:`ALLOWED`; the message names
            the file and the global. Nothing from the file has been called.
        DataFormatError: the file is not a pickle or is truncated (the message names the
            file; a ``ValueError``).
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return loads(data, path)
    except UnsafeFileError:
        raise
    except Exception as err:     # a damaged pickle raises any of a dozen types
        raise DataFormatError(path, f"not a readable pickle ({type(err).__name__}: {err}); "
                              "truncated or a different format?") from err


def load_npy(path: str):
    """``np.load`` for one ``.npy`` file, object arrays included, without running code.

    Plain arrays go through ``np.load(allow_pickle=False)``. An object array (a
    caffe-tensorflow weight dict is a 0-d object array) is a pickle after the ``.npy`` header;
    it is read with :class:`RestrictedUnpickler`. A 0-d object array is returned as its item.
    """
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(f)
        except Exception as err:
            raise DataFormatError(path, f"not a .npy file ({type(err).__name__}: {err})") from err
        if not dtype.hasobject:
            try:
                return np.load(path, allow_pickle=False)
            except Exception as err:
                raise DataFormatError(path, f"damaged .npy array ({type(err).__name__}: {err}); "
                                      "truncated?") from err
        payload = f.read()
    try:
        array = loads(payload, path)
    except UnsafeFileError:
        raise
    except Exception as err:
        raise DataFormatError(path, "the pickled content of this .npy cannot be read "
                              f"({type(err).__name__}: {err}); truncated?") from err
    if isinstance(array, np.ndarray) and array.dtype == object and array.shape == ():
        return array.item()
    return array


__all__ = ["ALLOWED", "RestrictedUnpickler", "UnsafeFileError", "load_npy", "load_pickle", "loads"]
