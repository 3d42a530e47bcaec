"""Hyperparameter search: grid search, random search and a staged "zoom" (course 004).

You write ``build_and_train(**params)``: it builds a model with those hyperparameters, trains it
(usually with ``optim.fit``) and returns the ``History`` or a dict of final metrics. The search
calls it once per trial and returns a ``Trials`` table sorted by the monitored metric::

    def build_and_train(lr, beta, hidden):
        model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        opt = optim.SGDMomentum(model.parameters(), lr=lr, beta=beta)
        return optim.fit(model, loss_fn, opt, train, validation_data=val, epochs=20,
                         verbose=False)

    space = {"lr": log_uniform(-4, 0),                     # α = 10^(−4U)
             "beta": one_minus_log_uniform(3, min_exp=1),  # β ∈ [0.9, 0.999]
             "hidden": choice([4, 8, 16])}
    trials = random_search(build_and_train, space, n_trials=20, seed=0)
    print(trials)                                          # best first
    space = zoom(space, trials, top_k=3)                   # second, narrower stage

Why random rather than grid (course 004): with a budget of n trials a grid tries only n^(1/d)
values of each hyperparameter, random search n distinct values of every one, and the important
ones get explored. Why on a log scale: the sensitivity of α or of 1 − β is about the same over
each decade, so sampling the exponent uniformly spends the same number of trials per decade.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .parallel import (Failure, check_n_jobs, check_threads, require_pandas, run_trials,
                       trial_seeds)

__all__ = ["Distribution", "uniform", "log_uniform", "one_minus_log_uniform", "choice",
           "randint", "Trials", "grid_search", "random_search", "zoom"]


# --- distributions --------------------------------------------------------------------------------
class Distribution:
    """A sampling rule. Continuous ones are uniform in a *coordinate* c(x) on [low, high]
    (x itself, log₁₀ x, −log₁₀(1 − x)), which is what ``zoom`` narrows."""

    continuous = True

    def __init__(self, low: float, high: float) -> None:
        if not low <= high:
            raise ValueError(f"{type(self).__name__}: low must be ≤ high, got {low} > {high}")
        self.low, self.high = float(low), float(high)

    def sample(self, rng: np.random.Generator):
        """One value, drawn with ``rng``."""
        return self.value(rng.uniform(self.low, self.high))

    def coordinate(self, value) -> float:
        """c(x): the scale on which samples are uniform."""
        return float(value)

    def value(self, coordinate: float):
        """x from c(x)."""
        return float(coordinate)

    def narrowed(self, low: float, high: float) -> Distribution:
        """The same rule on the coordinate range [low, high]."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__, low=float(low), high=float(high))
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low:.4g}, {self.high:.4g})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__


class Uniform(Distribution):
    """x ~ U(a, b)."""


class LogUniform(Distribution):
    """x = 10^E with E ~ U(low_exp, high_exp): log-uniform between 10^low_exp and 10^high_exp.

    The course's learning rate α ∈ [10⁻⁴, 1], α = 10^(−4U) with U ~ U(0, 1), is
    ``log_uniform(-4, 0)`` (E = −4U is uniform on [−4, 0])."""

    def coordinate(self, value) -> float:
        return math.log10(value)

    def value(self, coordinate: float) -> float:
        return float(10.0 ** coordinate)


class OneMinusLogUniform(Distribution):
    """x = 1 − 10^(−E) with E ~ U(min_exp, k): 1 − x is log-uniform (course 004, for a
    moving-average rate β). With min_exp = 0 this is β = 1 − 10^(−U·k), U ~ U(0, 1), so
    β ∈ [0, 1 − 10^(−k)]; β ∈ [0.9, 0.999] is ``one_minus_log_uniform(3, min_exp=1)``
    (E = 1 + 2U). Sampling E uniformly spends as many trials on [0.9, 0.99] as on
    [0.99, 0.999], where the average's window 1/(1 − β) changes just as much."""

    def coordinate(self, value) -> float:
        return -math.log10(1.0 - value)

    def value(self, coordinate: float) -> float:
        return float(1.0 - 10.0 ** (-coordinate))


class RandInt(Distribution):
    """An integer uniform on {a, a+1, …, b} (both ends included, as Python's
    ``random.randint``)."""

    def __init__(self, low: int, high: int) -> None:
        if int(low) != low or int(high) != high:
            raise ValueError(f"randint: bounds must be integers, got {low!r}, {high!r}")
        super().__init__(int(low), int(high))

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(int(self.low), int(self.high), endpoint=True))

    def value(self, coordinate: float) -> int:
        return int(round(coordinate))

    def narrowed(self, low: float, high: float) -> Distribution:
        low, high = math.floor(low), math.ceil(high)
        return RandInt(low, max(low, high))

    def __repr__(self) -> str:
        return f"RandInt({int(self.low)}, {int(self.high)})"


class Choice(Distribution):
    """One of ``options``, each with the same probability."""

    continuous = False

    def __init__(self, options: Sequence) -> None:
        self.options = list(options)
        if not self.options:
            raise ValueError("choice: needs at least one option")

    def sample(self, rng: np.random.Generator):
        return self.options[int(rng.integers(len(self.options)))]

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def uniform(a: float, b: float) -> Uniform:
    """x ~ U(a, b)."""
    return Uniform(a, b)


def log_uniform(low_exp: float = -4.0, high_exp: float = 0.0) -> LogUniform:
    """x = 10^E, E ~ U(low_exp, high_exp); the default is the course's α = 10^(−4U) ∈ [10⁻⁴, 1].

    The arguments are exponents (powers of ten), not the bounds themselves."""
    return LogUniform(low_exp, high_exp)


def one_minus_log_uniform(k: float = 3.0, min_exp: float = 0.0) -> OneMinusLogUniform:
    """x = 1 − 10^(−E), E ~ U(min_exp, k); with min_exp = 0: β = 1 − 10^(−U·k)."""
    return OneMinusLogUniform(min_exp, k)


def choice(options: Sequence) -> Choice:
    """One of ``options`` with equal probability."""
    return Choice(options)


def randint(a: int, b: int) -> RandInt:
    """An integer in {a, …, b}, both included."""
    return RandInt(a, b)


# --- trials ---------------------------------------------------------------------------------------
def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


class Trials(list):
    """The trials of a search, best first: each a dict with ``trial`` (the order it ran in),
    the hyperparameters, then the metrics. ``print(trials)`` shows an aligned table."""

    def __init__(self, rows=(), monitor: str = "val_loss", mode: str = "min",
                 params: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.monitor, self.mode, self.params = monitor, mode, list(params)

    def sort_by_monitor(self) -> Trials:
        """Sort in place, best first; missing or NaN values go last."""
        sign = 1.0 if self.mode == "min" else -1.0

        def key(row):
            value = row.get(self.monitor)
            bad = value is None or not math.isfinite(float(value))
            return (bad, 0.0 if bad else sign * float(value), row["trial"])

        self.sort(key=key)
        return self

    @property
    def best(self) -> dict:
        """The best trial (the first row)."""
        if not self:
            raise ValueError("Trials: no trials ran")
        if "error" in self[0]:
            raise ValueError(f"Trials: every trial failed; trial {self[0]['trial']}: "
                             f"{self[0]['error']}")
        return self[0]

    @property
    def failed(self) -> list[dict]:
        """The rows of trials whose ``build_and_train`` raised (each has an ``error``)."""
        return [row for row in self if "error" in row]

    def columns(self) -> list[str]:
        """trial, the hyperparameters, the metrics in the order met, then ``error``."""
        columns: list[str] = ["trial", *self.params]
        for row in self:
            columns += [key for key in row if key not in columns and key != "error"]
        return columns + (["error"] if self.failed else [])

    def to_text(self) -> str:
        """An aligned text table: trial, hyperparameters, then metrics."""
        columns = self.columns()
        cells = [[_format(row.get(column, "")) for column in columns] for row in self]
        widths = [max([len(column)] + [len(line[i]) for line in cells])
                  for i, column in enumerate(columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells]
        return "\n".join(lines)

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (best first; missing values are NaN). Needs
        pandas, which neurona does not depend on."""
        pandas = require_pandas("Trials.to_pandas")
        return pandas.DataFrame([dict(row) for row in self], columns=self.columns())

    def __str__(self) -> str:
        return f"{len(self)} trials sorted by {self.monitor} ({self.mode})\n{self.to_text()}"


def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"search: mode must be 'min' or 'max', got {mode!r}")


def _metrics(result, monitor: str, mode: str) -> dict:
    """A History → the metrics of its best epoch for ``monitor`` (plus ``epoch``); a dict → its
    values as floats."""
    history = getattr(result, "history", None)
    if isinstance(history, Mapping):
        if monitor not in history or not history[monitor]:
            raise KeyError(f"search: monitor {monitor!r} is not in the History (has: "
                           f"{', '.join(history)})")
        values = np.asarray(history[monitor], dtype=float)
        values = np.where(np.isnan(values), np.inf if mode == "min" else -np.inf, values)
        best = int(np.argmin(values) if mode == "min" else np.argmax(values))
        row = {key: float(series[best]) for key, series in history.items()
               if len(series) > best}
        row["epoch"] = best
        return row
    if isinstance(result, Mapping):
        if monitor not in result:
            raise KeyError(f"search: monitor {monitor!r} is not in the returned metrics (has: "
                           f"{', '.join(map(str, result))})")
        return {key: (float(v) if isinstance(v, (int, float, np.number)) else v)
                for key, v in result.items()}
    raise TypeError(f"search: build_and_train must return a History or a dict of metrics, got "
                    f"{type(result).__name__}")


def _row(index: int, params: dict, outcome, monitor: str, mode: str) -> dict:
    if isinstance(outcome, Failure):
        return {"trial": index, **params, "error": outcome.error}
    metrics = _metrics(outcome, monitor, mode)
    return {"trial": index, **params, **{k: v for k, v in metrics.items() if k not in params}}


def _run(build_and_train: Callable, settings, monitor: str, mode: str, names: Sequence[str],
         seed: int | None, n_jobs: int | None, threads_per_trial: int | None) -> Trials:
    _check_mode(mode)
    check_n_jobs(n_jobs)
    check_threads(threads_per_trial)
    settings = list(settings)
    outcomes = run_trials(build_and_train, settings, trial_seeds(seed, len(settings)), n_jobs,
                          threads_per_trial)
    trials = Trials(monitor=monitor, mode=mode, params=names)
    trials.extend(_row(i, params, outcome, monitor, mode)
                  for i, (params, outcome) in enumerate(zip(settings, outcomes)))
    return trials.sort_by_monitor()


def grid_search(build_and_train: Callable, grid: Mapping[str, Sequence], *,
                monitor: str = "val_loss", mode: str = "min", seed: int | None = 0,
                n_jobs: int | None = 1, threads_per_trial: int | None = 1) -> Trials:
    """Try every combination of ``grid``'s values (a name → list of values; a single value is
    a list of one) exactly once: ∏ len(values) trials.

    Trial i runs with the global generators seeded from ``seed`` and i, and with
    ``threads_per_trial`` BLAS/Numba threads (``optim.parallel``), so ``n_jobs`` parallel
    processes (-1: all cores; or a Dask cluster through ``joblib.parallel_config``) give the same
    table as the serial run. A trial that raises is a row with its ``error`` and no metrics
    (sorted last); the search goes on.

    >>> def build_and_train(a, b):
    ...     return {"val_loss": (a - 1) ** 2 + b}
    >>> trials = grid_search(build_and_train, {"a": [0, 1, 2], "b": [0, 1]})
    >>> len(trials), trials.best
    (6, {'trial': 2, 'a': 1, 'b': 0, 'val_loss': 0.0})
    """
    names = list(grid)
    values = [list(v) if isinstance(v, (list, tuple, range, np.ndarray)) else [v]
              for v in grid.values()]
    settings = (dict(zip(names, combination)) for combination in itertools.product(*values))
    return _run(build_and_train, settings, monitor, mode, names, seed, n_jobs, threads_per_trial)


def _as_distribution(spec):
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, (list, tuple, range)):
        return Choice(spec)
    return None                                                  # a constant


def _sample(space: Mapping, rng: np.random.Generator) -> dict:
    params = {}
    for name, spec in space.items():
        distribution = _as_distribution(spec)
        params[name] = spec if distribution is None else distribution.sample(rng)
    return params


def random_search(build_and_train: Callable, space: Mapping, n_trials: int,
                  seed: int | None = None, *, monitor: str = "val_loss",
                  mode: str = "min", n_jobs: int | None = 1,
                  threads_per_trial: int | None = 1) -> Trials:
    """``n_trials`` trials with hyperparameters drawn independently from ``space`` (a name →
    distribution; a list means ``choice(list)``; anything else is passed as a constant).
    The same ``seed`` draws the same trials and seeds each trial's run the same way, so the
    table is the same with any ``n_jobs`` (see ``grid_search``; failed trials likewise)."""
    if int(n_trials) < 1:
        raise ValueError(f"random_search: n_trials must be ≥ 1, got {n_trials!r}")
    rng = np.random.default_rng(seed)
    settings = [_sample(space, rng) for _ in range(int(n_trials))]
    # NOTE: the trial seeds are SeedSequence children of `seed`, a stream apart from `rng`'s, so
    # a given seed samples the same hyperparameters as before trials were seeded
    return _run(build_and_train, settings, monitor, mode, list(space), seed, n_jobs,
                threads_per_trial)


def zoom(space: Mapping, trials: Sequence[dict], top_k: int = 3, shrink: float = 0.5) -> dict:
    """A narrower space around the ``top_k`` best trials, for the next stage of a search.

    For each continuous distribution, on its coordinate c (x, log₁₀ x, −log₁₀(1 − x)):
    the new range is the hull [min c, max c] of the top trials, widened symmetrically to at
    least ``shrink`` × the old width, and kept inside the old range. A ``choice`` keeps the
    options the top trials used; constants stay. ``trials`` should be sorted best first (as
    the searches return them; a ``Trials`` table is re-sorted to be sure). It runs no trials
    itself: the next stage's ``random_search`` takes ``n_jobs``.
    """
    if not 0.0 < shrink <= 1.0:
        raise ValueError(f"zoom: shrink must be in (0, 1], got {shrink!r}")
    if isinstance(trials, Trials):
        trials = Trials(trials, trials.monitor, trials.mode, trials.params).sort_by_monitor()
    top = list(trials)[:max(int(top_k), 1)]
    if not top:
        raise ValueError("zoom: no trials to zoom around")
    narrowed = {}
    for name, spec in space.items():
        distribution = _as_distribution(spec)
        used = [row[name] for row in top if name in row]
        if distribution is None or not used:
            narrowed[name] = spec
        elif not distribution.continuous:
            narrowed[name] = Choice([o for o in distribution.options if o in used])
        else:
            narrowed[name] = _narrow(distribution, used, shrink)
    return narrowed


def _narrow(distribution: Distribution, used: Sequence, shrink: float) -> Distribution:
    coordinates = [distribution.coordinate(value) for value in used]
    low, high = min(coordinates), max(coordinates)
    width = max(high - low, shrink * (distribution.high - distribution.low))
    center = (low + high) / 2.0
    low = min(max(center - width / 2.0, distribution.low), distribution.high - width)
    low = max(low, distribution.low)
    high = min(low + width, distribution.high)
    return distribution.narrowed(low, high)
