"""The experiment spine every reproduction runs on: scales, the row runner and its cache, the
full-size parameter column, data selection, results writing and ``repro`` registration.

A paper table is a list of rows; a row is one training-and-evaluation job
(:class:`RowJob`): a row id, a JSON-able ``config`` that determines its result, and a
module-level function ``fn(row, config) -> result``. :func:`run_rows` runs the rows that are not
cached yet, longest first, in ``workers`` processes (:func:`reprokit.jobs.map_jobs`), and
each finished row writes ``<cache>/<row>.json`` (``{"config", "result"}``) at once, so an
interrupted table keeps its finished rows and a rerun (of this table, or of another table that
shares the row) reuses every row whose config is unchanged. A row interrupted mid-training
resumes from its own run's backups (:func:`reprokit.training.fit`).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable, Mapping, Sequence

from reprokit.cli import Reproduction
from reprokit.files import write_json_atomic
from reprokit.metrics.chance import chance_section
from reprokit.jobs import map_jobs

SCALE_NAMES = ("demo", "smoke", "paper")


@dataclasses.dataclass(frozen=True)
class Scale:
    """One scale of a reproduction.

    Attributes:
        name: ``"demo"`` (one small row: what ``repro demo`` runs), ``"smoke"`` (the whole table
            at toy size, minutes on a CPU) or ``"paper"`` (the paper's schedule; a GPU and the
            real data).
        settings: the package's run settings at this scale (overrides of its run spec).
        rows: the rows run at this scale (``None``: every row of the table).
        workers: rows trained at the same time, each process with its share of the CPU threads.
        note: what differs from the paper at this scale (printed with the table).
    """

    name: str
    settings: Mapping = dataclasses.field(default_factory=dict)
    rows: tuple | None = None
    workers: int = 1
    note: str = ""

    def __post_init__(self):
        if self.name not in SCALE_NAMES:
            raise ValueError(f"scale name must be one of {SCALE_NAMES}, got {self.name!r}")
        if int(self.workers) < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers!r}")


def get_scale(scales: Mapping[str, Scale], name: str) -> Scale:
    """``scales[name]``, or a ``ValueError`` listing the valid names."""
    if name not in scales:
        raise ValueError(f"scale must be one of {sorted(scales)}, got {name!r}")
    return scales[name]


@dataclasses.dataclass(frozen=True)
class RowJob:
    """One row: ``fn(row, config)`` returns its JSON-able result.

    Attributes:
        row: the row id (the cache file name).
        config: JSON-able; everything the result depends on (the cache key).
        fn: a module-level function (it may run in a spawned worker process).
        cost: relative run time, for scheduling only (longest first).
    """

    row: str
    config: dict
    fn: Callable[[str, dict], dict]
    cost: float = 1.0


def _config_text(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


class RowCache:
    """``<directory>/<row>.json`` = ``{"config": ..., "result": ...}``; a row is reused only
    when its stored config equals the requested one."""

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, row: str) -> str:
        if not row or os.sep in row:
            raise ValueError(f"row id must be a file name, got {row!r}")
        return os.path.join(self.directory, f"{row}.json")

    def get(self, row: str, config: dict) -> dict | None:
        path = self.path(row)
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                stored = json.load(f)
        except (OSError, json.JSONDecodeError):
            return None                    # a damaged cache entry is recomputed
        if _config_text(stored.get("config", {})) != _config_text(config):
            return None
        return stored.get("result")

    def put(self, row: str, config: dict, result: dict):
        os.makedirs(self.directory, exist_ok=True)
        write_json_atomic(self.path(row), {"config": json.loads(_config_text(config)),
                                           "result": result})


def _run_job(args):
    job, cache_dir = args
    result = job.fn(job.row, job.config)
    RowCache(cache_dir).put(job.row, job.config, result)
    return job.row, result


def run_rows(jobs: Sequence[RowJob], cache_dir: str, workers: int = 1) -> dict:
    """Results of every row, in the order of ``jobs``: cached ones reused, the others run
    (longest first, ``workers`` at a time); each finished row is cached immediately."""
    cache = RowCache(cache_dir)
    results, todo = {}, []
    for job in jobs:
        hit = cache.get(job.row, job.config)
        if hit is not None:
            results[job.row] = hit
            print(f"{job.row}: done earlier", flush=True)
        elif job.row not in {j.row for j in todo}:
            todo.append(job)
    todo.sort(key=lambda j: j.cost, reverse=True)
    for row, result in map_jobs(_run_job, [(j, cache_dir) for j in todo],
                                max(1, min(int(workers), len(todo) or 1))):
        results[row] = result
    return {j.row: results[j.row] for j in jobs}


def full_size_params(build_fn: Callable) -> dict:
    """``{"trainable": n, "total": m}`` of the model ``build_fn()`` builds (then freed): the
    params column of every table (``trainable`` = PyTorch ``parameters()`` of a port; ``total``
    adds BatchNorm moving statistics, Keras ``count_params()``)."""
    import keras                # lazy: `repro list` imports this module, TensorFlow stays out
    import numpy as np

    model = build_fn()
    out = {"trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
           "total": int(model.count_params())}
    del model
    keras.backend.clear_session()
    return out


def select_data(data_dir: str | None, write_synthetic: Callable[[], str], synthetic_label: str,
                real_label: str) -> tuple[str, str]:
    """``(folder, label)``: the real dataset at ``data_dir``, or the synthetic one that
    ``write_synthetic()`` writes (in the real on-disk format) and returns the folder of."""
    if data_dir is None:
        return write_synthetic(), synthetic_label
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data directory {data_dir!r} does not exist")
    return data_dir, f"{real_label} at {data_dir}"


def write_results(run, summary: dict, markdown: str, figures: Mapping[str, Callable] = (),
                  echo: bool = False) -> str:
    """``results.json`` (atomically), ``results.md`` and each figure ``fn(path)`` into the run
    directory; marks the run finished and returns its path.

    A ``summary["chance_check"]`` list (one :mod:`reprokit.metrics.chance` verdict per row) is
    appended to the markdown as the "Against chance" section, in one place for every
    reproduction; ``echo`` also prints the markdown."""
    markdown = markdown.rstrip("\n") + "\n" + chance_section(summary.get("chance_check", []))
    write_json_atomic(run.file("results.json"), summary)
    with open(run.file("results.md"), "w", encoding="utf-8") as f:
        f.write(markdown)
    for name, fn in dict(figures).items():
        fn(run.file(name))
    run.mark_finished()
    if echo:
        print(markdown)
    return run.path


def reproduction(name: str, title: str, paper: str, fn: Callable[[str, str | None, str], str],
                 demo: bool = True):
    """The ``repro`` registration (:class:`reprokit.cli.Reproduction`); ``fn(scale, data_dir,
    out_root)`` is the same function the package's ``python -m <package> reproduce`` calls."""
    return Reproduction(name, title, paper, fn, demo)


__all__ = ["RowCache", "RowJob", "SCALE_NAMES", "Scale", "full_size_params", "get_scale",
           "reproduction", "run_rows", "select_data", "write_results"]
