"""Files written so that a kill never leaves half of one: temporary file, fsync, rename.

No TensorFlow here: the row cache of ``repro`` (:mod:`reprokit.experiment`) writes through it.
"""
from __future__ import annotations

import json
import os
import tempfile


def write_json_atomic(path: str, data):
    """Write JSON to a temporary file beside ``path``, flush it to disk, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


__all__ = ["write_json_atomic"]
