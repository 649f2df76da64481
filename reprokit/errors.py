"""The project's error types: every user-facing failure names what was wrong and where.

:class:`ReprokitError` is the base the CLIs turn into one line (``reprokit.cli.run_main``).
:class:`DataFormatError` is what every reader raises for a file that is not in its format:
the file, the entry (index or name), the key, what was expected and what was found.
"""
from __future__ import annotations


class ReprokitError(Exception):
    """A user error (bad file, bad argument, bad run directory) with a complete message."""


class ConfigError(ReprokitError, ValueError):
    """A run specification or command-line value that cannot be used (names the key)."""


class DataFormatError(ReprokitError, ValueError):
    """A data, annotation or image file that is not in the format its reader expects.

    Args:
        path: the file (or, with ``problem`` omitted, a complete message that names it).
        problem: what is wrong, in words.
        entry: the record (index or name) inside the file, if any.
        key: the field, if any.
        expected, received: what the format says and what the file holds (omitted if ``None``).
    """

    def __init__(self, path, problem: str | None = None, *, entry=None, key=None, expected=None,
                 received=None):
        self.entry, self.key, self.expected, self.received = entry, key, expected, received
        if problem is None:
            self.path = None
            super().__init__(str(path))
            return
        self.path = str(path)
        where = [str(path)]
        if entry is not None:
            where.append(f"entry {entry}")
        if key is not None:
            where.append(f"key {key!r}")
        msg = f"{', '.join(where)}: {problem}"
        if expected is not None:
            msg += f" (expected {expected}"
            msg += f", got {received})" if received is not None else ")"
        elif received is not None:
            msg += f" (got {received})"
        super().__init__(msg)


__all__ = ["ConfigError", "DataFormatError", "ReprokitError"]
