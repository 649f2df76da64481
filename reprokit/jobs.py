"""Run independent jobs in parallel processes (the table rows of :mod:`reprokit.experiment`).

No TensorFlow at import: ``repro list`` imports the experiment spine. Each spawned worker
imports TensorFlow itself to split the cores between the workers.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from typing import Callable, Sequence

from reprokit.execution import Execution


def _run_job(args):
    fn, job, threads = args
    if threads:
        import tensorflow as tf        # lazy: only the spawned worker needs it
        # Split the cores between the workers (tracing is single-threaded, so two jobs at a
        # time keep both cores of a small machine busy where one alone uses about 1.4).
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return fn(job)


def map_jobs(fn: Callable, jobs: Sequence, workers: int = 1) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` spawned processes when ``workers > 1``.

    Each worker gets ``cpu_count // workers`` TensorFlow threads; ``fn`` must be a module-level
    function and the jobs picklable. Under a ``--strategy`` other than ``default`` the jobs
    run one at a time (each uses every device). Processes are spawned, not forked (TensorFlow may already
    be initialised in this one). Results come back in the order of ``jobs``.
    """
    jobs = list(jobs)
    workers = max(1, min(int(workers), len(jobs) or 1))
    if Execution.current().strategy != "default":
        workers = 1     # a distributed run already uses every device: one row at a time
    if workers == 1:
        return [fn(job) for job in jobs]
    threads = max(1, (os.cpu_count() or 2) // workers)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(_run_job, [(fn, job, threads) for job in jobs]))


__all__ = ["map_jobs"]
