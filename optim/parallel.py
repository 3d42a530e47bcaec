"""Running the trials of a hyperparameter search: serially, in parallel processes, or on a Dask
cluster, with the same results.

Each trial gets its own seed, drawn in the calling process before anything runs
(``numpy.random.SeedSequence(seed).spawn``). Before ``build_and_train(**params)`` is called, the
global generators a training run may draw from (autograd_core's ``manual_seed`` generator used by
the initializers, numpy's legacy ``np.random`` and Python's ``random``) are seeded with it, and
afterwards restored, so a trial's result depends on its parameters and seed only: whether it ran
first or last, in this process or in a worker, makes no difference.

Parallel runs go through ``joblib.Parallel`` (processes by default, its "loky" backend), so any
joblib backend works, Dask's included::

    from dask.distributed import Client
    import joblib
    client = Client()                        # a local cluster on a laptop; Client("tcp://host:8786")
    with joblib.parallel_config(backend="dask"):
        trials = optim.random_search(build_and_train, space, n_trials=64, seed=0, n_jobs=-1)

Threads: every trial runs with its BLAS/OpenMP pools (``threadpoolctl``) and Numba limited to
``threads_per_trial`` threads, 1 by default, so n_jobs workers never oversubscribe the cores. The
default also makes a trial's arithmetic the same wherever it runs: a multithreaded BLAS splits
its sums differently with 1 or 2 threads, and the validation loss of the same trial then differs
in its last float32 bit. ``threads_per_trial=None`` gives each trial max(1, cores // workers)
threads instead (faster for large matrices, equal only up to that rounding).
"""
from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

import autograd_core as ag


@dataclass(frozen=True)
class Failure:
    """A trial whose ``build_and_train`` raised: the exception as text."""

    error: str


def require_pandas(what: str):
    """The pandas module, or an ImportError saying it is optional."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{what} needs pandas, an optional package neurona does not install: "
                          "pip install pandas") from None
    return pandas


def trial_seeds(seed: int | None, n_trials: int) -> list[int]:
    """One independent 32-bit seed per trial from ``seed`` (fresh entropy when None).

    >>> trial_seeds(0, 3) == trial_seeds(0, 3), len(set(trial_seeds(0, 100)))
    (True, 100)
    """
    children = np.random.SeedSequence(seed).spawn(n_trials)
    return [int(child.generate_state(1)[0]) for child in children]


def check_n_jobs(n_jobs) -> None:
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int)
                               or n_jobs == 0):
        raise ValueError(f"search: n_jobs must be a non-zero integer (-1: all cores) or None "
                         f"(joblib's parallel_config decides), got {n_jobs!r}")


@contextlib.contextmanager
def _seeded(seed: int):
    """Seed the global generators for one trial; put the previous ones back afterwards."""
    generator = ag.random.default_generator
    saved = (generator.numpy, generator.initial_seed, np.random.get_state(), random.getstate())
    ag.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        generator.numpy, generator.initial_seed = saved[0], saved[1]
        np.random.set_state(saved[2])
        random.setstate(saved[3])


@contextlib.contextmanager
def _thread_limits(threads: int):
    """At most ``threads`` BLAS/OpenMP and Numba threads inside."""
    import numba
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_limits

    # NOTE: the import above loads SciPy's OpenBLAS, which Numba's np.dot calls; threadpoolctl
    # limits only libraries already loaded, and this one would otherwise load mid-trial
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        numba.set_num_threads(before)


def _portable(result):
    """What crosses back to the calling process: a History's metrics (not its model) or the
    returned value."""
    history = getattr(result, "history", None)
    if isinstance(history, Mapping):
        return SimpleNamespace(history={key: list(values) for key, values in history.items()})
    return result


def call_trial(build_and_train: Callable, params: dict, seed: int, threads: int):
    """Run one trial seeded with ``seed`` on ``threads`` threads: its portable result, or a
    ``Failure``."""
    with _thread_limits(threads), _seeded(seed):
        try:
            return _portable(build_and_train(**params))
        except Exception as error:          # NOTE: a failed trial is a row of the table
            return Failure(f"{type(error).__name__}: {error}")


def check_threads(threads_per_trial) -> None:
    if threads_per_trial is not None and (isinstance(threads_per_trial, bool) or not isinstance(
            threads_per_trial, int) or threads_per_trial < 1):
        raise ValueError(f"search: threads_per_trial must be a positive integer or None, got "
                         f"{threads_per_trial!r}")


def run_trials(build_and_train: Callable, settings: Sequence[dict], seeds: Sequence[int],
               n_jobs: int | None, threads_per_trial: int | None = 1) -> list:
    """``call_trial`` for every setting, in order: in this process when joblib would use one
    worker, otherwise through ``joblib.Parallel`` (the active backend: processes, Dask, …).

    ``threads_per_trial=None`` gives each trial its share of the cores, max(1, cores // workers)."""
    import joblib

    workers = joblib.effective_n_jobs(n_jobs)
    threads = threads_per_trial or max(1, (os.cpu_count() or 1) // max(workers, 1))
    if workers == 1:
        return [call_trial(build_and_train, p, s, threads) for p, s in zip(settings, seeds)]
    tasks = (joblib.delayed(call_trial)(build_and_train, p, s, threads)
             for p, s in zip(settings, seeds))
    return list(joblib.Parallel(n_jobs=n_jobs)(tasks))
