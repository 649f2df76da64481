"""Run specifications: one frozen, resolved record of every knob of a run.

Each package defines its run spec as a frozen dataclass deriving from :class:`RunSpec`. The
same object is what ``train`` runs, what ``config.json`` holds (``to_dict``), what ``evaluate``
and ``predict`` read back (``load``) and what a table row is keyed by:

- defaults are applied once, in :meth:`RunSpec.resolve` (a subclass fills its ``None`` fields
  from the paper schedule in ``_resolve``); resolving a resolved spec changes nothing, so a
  spec read from ``config.json`` is the spec that ran;
- unknown keys are an error (:class:`reprokit.errors.ConfigError` naming the key, the valid
  keys and the file), never silently dropped;
- numeric fields declare their range with :func:`field` (``minimum``, ``exclusive``) and are
  checked when the spec is built, so a bad ``--batch-size 0`` fails before a run directory
  exists.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, TypeVar

from reprokit.errors import ConfigError

S = TypeVar("S", bound="RunSpec")


def field(default=dataclasses.MISSING, *, minimum=None, exclusive: bool = False,
          maximum=None, choices=None, default_factory=dataclasses.MISSING, doc: str = ""):
    """A spec field with its valid range: ``minimum`` (``exclusive``: strictly greater),
    ``maximum`` or ``choices``. ``None`` always passes (it means "the schedule's value")."""
    meta = {"minimum": minimum, "exclusive": exclusive, "maximum": maximum,
            "choices": None if choices is None else tuple(choices), "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _tupled(value):
    """JSON lists back to tuples (frozen specs hold hashable values), dicts kept."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Base of every package's run spec (see the module docstring)."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):                  # from JSON or a caller: freeze it
                object.__setattr__(self, f.name, _tupled(value))
            self._check(f, getattr(self, f.name))

    def _check(self, f, value):
        meta = f.metadata
        if value is None or not meta:
            return
        name = f"{type(self).__name__}.{f.name}"
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(f"{name} must be one of {list(meta['choices'])}, got {value!r}")
        lo, hi = meta.get("minimum"), meta.get("maximum")
        if lo is None and hi is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}")
        if lo is not None and (value <= lo if meta.get("exclusive") else value < lo):
            raise ConfigError(f"{name} must be {'>' if meta.get('exclusive') else '>='} {lo}, "
                              f"got {value!r}")
        if hi is not None and value > hi:
            raise ConfigError(f"{name} must be <= {hi}, got {value!r}")

    # ------------------------------------------------------------------ resolution
    def _resolve(self) -> dict:
        """Subclass hook: ``{field: value}`` replacing the ``None`` defaults (idempotent)."""
        return {}

    def resolve(self: S) -> S:
        """This spec with every default applied (what runs and what ``config.json`` holds)."""
        changes = self._resolve()
        return dataclasses.replace(self, **changes) if changes else self

    def replace(self: S, **changes) -> S:
        """A copy with ``changes`` (unknown names raise :class:`ConfigError`)."""
        self._known(changes, "replace()")
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def _known(cls, data: dict, source: str):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown {cls.__name__} key(s) {unknown}; "
                              f"valid keys: {sorted(names)}")

    @classmethod
    def from_dict(cls: type[S], data: dict, source: str = "spec") -> S:
        """Build from a mapping; unknown keys raise :class:`ConfigError` naming ``source``."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a {cls.__name__} is a JSON object, got "
                              f"{type(data).__name__}")
        cls._known(data, source)
        try:
            return cls(**data)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None

    @classmethod
    def load(cls: type[S], path: str) -> S:
        """Read a run's ``config.json`` (or a run directory holding one)."""
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such run configuration (is it a run directory "
                              "written by train?)") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from None
        return cls.from_dict(data, path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists), the inverse of :meth:`from_dict`."""
        def plain(v):
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


__all__ = ["RunSpec", "field"]
