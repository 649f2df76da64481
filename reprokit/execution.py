"""How a run executes, not what it computes: strategy, precision, XLA, steps per execution.

No TensorFlow at import (the CLIs validate these options before loading it). Every train command
and ``repro run`` take ``--strategy``, ``--precision``, ``--jit`` and ``--steps-per-execution``
(:func:`reprokit.cli.execution_args`); the choice travels to :func:`reprokit.training.fit` in
the ``REPROKIT_EXECUTION`` environment variable, so the spawned workers of a table
(:mod:`reprokit.jobs`) run with it too.
"""
from __future__ import annotations

import dataclasses
import json
import os

STRATEGIES = ("default", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
ENV = "REPROKIT_EXECUTION"


@dataclasses.dataclass(frozen=True)
class Execution:
    """Execution settings of a training run.

    Recorded per process in the run's ``execution.json``, not in ``config.json``: a run resumed
    with other execution settings continues the same run.

    Attributes:
        strategy: ``default`` (one device), ``mirrored`` (the local GPUs) or ``multi_worker``
            (``MultiWorkerMirroredStrategy`` over the machines of ``TF_CONFIG``); see
            :func:`reprokit.training.get_strategy`.
        precision: Keras dtype policy while the model is built and trained; variables stay
            float32 and the losses are computed in float32. ``mixed_bfloat16`` is 2.3x slower
            on CPUs without bf16 units (docs/reference/feasibility.md §3): a GPU setting.
        jit: compile the train step with XLA; off by default (on the 2-core CPU it made the
            center-offset smoke step 1.7x slower, docs/performance.md).
        steps_per_execution: train steps per call into the compiled function (fewer Python
            round trips on accelerators); batch callbacks then see every N-th step.
    """

    strategy: str = "default"
    precision: str = "float32"
    jit: bool = False
    steps_per_execution: int = 1

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; valid: {list(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {list(PRECISIONS)}")
        if isinstance(self.steps_per_execution, bool) or int(self.steps_per_execution) < 1:
            raise ValueError(f"steps per execution must be an integer >= 1, got "
                             f"{self.steps_per_execution!r}")

    @classmethod
    def from_args(cls, args) -> "Execution":
        """From options parsed by :func:`reprokit.cli.execution_args` (absent ones: defaults)."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: getattr(args, n) for n in names if getattr(args, n, None) is not None})

    @classmethod
    def current(cls) -> "Execution":
        """The settings of this process: ``REPROKIT_EXECUTION`` (JSON), else the defaults."""
        text = os.environ.get(ENV)
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (json.JSONDecodeError, TypeError) as err:
            raise ValueError(f"{ENV} must be a JSON object of {[f.name for f in dataclasses.fields(cls)]}, "
                             f"got {text!r} ({err})") from None

    def activate(self):
        """Make these the settings of this process and of the workers it spawns."""
        os.environ[ENV] = json.dumps(dataclasses.asdict(self))

    def apply(self, model):
        """Set XLA and steps per execution on a compiled Keras model; ``jit`` on a model with a
        layer marked ``xla_compatible = False`` raises ``ValueError`` naming the layer."""
        if self.jit:
            bad = [layer.name for layer in model._flatten_layers()
                   if getattr(layer, "xla_compatible", True) is False]
            if bad:
                raise ValueError(f"--jit: {model.name} has layers without an XLA kernel "
                                 f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); "
                                 "train it without --jit")
        model.jit_compile = bool(self.jit)
        model.steps_per_execution = int(self.steps_per_execution)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def worker_role(env=None) -> tuple[str | None, int]:
    """``(task type, index)`` of this process in ``TF_CONFIG`` (``(None, 0)`` without one)."""
    text = (os.environ if env is None else env).get("TF_CONFIG")
    if not text:
        return None, 0
    try:
        task = json.loads(text).get("task", {})
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {text[:200]!r}") from None
    return task.get("type"), int(task.get("index", 0))


def is_chief(env=None) -> bool:
    """Whether this process writes the run directory: no ``TF_CONFIG``, the ``chief`` task, or
    worker 0 of a cluster without a chief (``MultiWorkerMirroredStrategy``'s convention)."""
    kind, index = worker_role(env)
    if kind is None or kind == "chief":
        return True
    cluster = json.loads((os.environ if env is None else env)["TF_CONFIG"]).get("cluster", {})
    return kind == "worker" and index == 0 and "chief" not in cluster


__all__ = ["ENV", "PRECISIONS", "STRATEGIES", "Execution", "is_chief", "worker_role"]
