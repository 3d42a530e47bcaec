"""Searches in parallel: seeded trials (serial ≡ joblib processes ≡ a Dask LocalCluster), thread
limits in the workers, failed trials in the table, to_pandas."""
from __future__ import annotations

import os
import random
import sys
import types

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from optim import parallel
from optim.search import Trials, choice, grid_search, log_uniform, random_search

SPACE = {"lr": log_uniform(-2, 0), "hidden": choice([2, 4, 8])}


def train_xor(lr, hidden, fail=False):
    """A small training run whose result depends on the seeded initialization and shuffling."""
    if fail:
        raise ValueError(f"diverged at lr={lr}")
    x, y = nn.datasets.xor(64, seed=0)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
    return optim.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr), (x, y),
                     epochs=3, batch_size=16, validation_data=(x, y), verbose=False)


def draw_from_every_generator(lr, hidden):
    """The first number of each global generator a trial may use."""
    return {"val_loss": float(ag.randn(1).numpy()[0]), "np": float(np.random.random()),
            "py": random.random()}


def threads_seen(lr, hidden):
    """The BLAS and Numba thread counts inside the trial."""
    import numba
    from threadpoolctl import threadpool_info
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {"val_loss": lr, "blas": max(blas) if blas else 0, "numba": numba.get_num_threads()}


def where(lr, hidden):
    """The process the trial ran in."""
    return {"val_loss": lr, "pid": os.getpid()}


def _as_rows(trials):
    return [dict(row) for row in trials]


def test_trials_are_seeded_so_order_and_history_do_not_matter():
    first = random_search(draw_from_every_generator, SPACE, 6, seed=3)
    ag.manual_seed(123)
    np.random.seed(7)
    before = (ag.randn(2).numpy(), np.random.random())
    ag.manual_seed(123)
    np.random.seed(7)
    second = random_search(draw_from_every_generator, SPACE, 6, seed=3)
    after = (ag.randn(2).numpy(), np.random.random())
    assert _as_rows(first) == _as_rows(second)
    np.testing.assert_array_equal(before[0], after[0])   # the caller's generators are restored
    assert before[1] == after[1]
    values = [row["val_loss"] for row in first]
    assert len(set(values)) == 6                          # each trial has its own seed
    seeds = parallel.trial_seeds(3, 6)
    ag.manual_seed(seeds[first[0]["trial"]])
    assert float(ag.randn(1).numpy()[0]) == first[0]["val_loss"]   # trial i ran with seed i


def test_failed_trials_are_rows_with_their_error_and_the_search_goes_on():
    trials = grid_search(train_xor, {"lr": [0.5, 0.1], "hidden": 4, "fail": [False, True]})
    assert len(trials) == 4 and len(trials.failed) == 2
    assert [("error" in row) for row in trials] == [False, False, True, True]    # failures last
    assert trials.failed[0]["error"].startswith("ValueError: diverged at lr=")
    assert "val_loss" not in trials.failed[0] and "val_loss" in trials.best
    header = str(trials).splitlines()[1].split()
    assert header[0] == "trial" and header[-1] == "error"
    assert "ValueError: diverged at lr=0.5" in str(trials)
    everything_fails = grid_search(train_xor, {"lr": [0.1], "hidden": 2, "fail": True})
    with pytest.raises(ValueError, match="every trial failed; trial 0: ValueError: diverged"):
        _ = everything_fails.best


def test_n_jobs_is_checked():
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"n_jobs must be a non-zero integer \(-1: all cores\) "
                                             r"or None"):
            random_search(train_xor, SPACE, 2, seed=0, n_jobs=bad)


@pytest.mark.slow
def test_serial_and_two_processes_give_the_same_table():
    serial = random_search(train_xor, SPACE, 8, seed=0)
    parallel_run = random_search(train_xor, SPACE, 8, seed=0, n_jobs=2)
    assert _as_rows(serial) == _as_rows(parallel_run)
    assert {"lr", "hidden", "loss", "val_loss", "val_accuracy", "epoch"} <= set(serial[0])
    grid = {"lr": [0.3, 0.1], "hidden": [2, 4], "fail": [False, True]}
    assert _as_rows(grid_search(train_xor, grid)) == _as_rows(grid_search(train_xor, grid,
                                                                          n_jobs=2))


def test_each_trial_runs_on_threads_per_trial_threads_and_the_caller_keeps_its_own():
    from threadpoolctl import threadpool_info
    before = sorted((p["filepath"], p["num_threads"]) for p in threadpool_info())
    trials = random_search(threads_seen, SPACE, 2, seed=0)            # default: 1 thread
    assert [(row["blas"], row["numba"]) for row in trials] == [(1, 1), (1, 1)]
    after = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    assert all(after[path] == n for path, n in before)
    with pytest.raises(ValueError, match="threads_per_trial must be a positive integer or None"):
        random_search(threads_seen, SPACE, 2, seed=0, threads_per_trial=0)


@pytest.mark.slow
def test_workers_share_the_cores_when_asked():
    trials = random_search(threads_seen, SPACE, 2, seed=0, n_jobs=2, threads_per_trial=None)
    limit = max(1, (os.cpu_count() or 1) // 2)
    assert all(row["blas"] == limit and 1 <= row["numba"] <= limit for row in trials)


def test_to_pandas_without_pandas_says_it_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)           # import pandas → ImportError
    trials = grid_search(lambda x: {"val_loss": x}, {"x": [2, 1]})
    with pytest.raises(ImportError, match="Trials.to_pandas needs pandas, an optional package"):
        trials.to_pandas()
    with pytest.raises(ImportError, match="History.to_pandas needs pandas"):
        optim.History().to_pandas()


def test_to_pandas_passes_rows_and_columns(monkeypatch):
    class DataFrame:
        def __init__(self, data, columns=None, index=None):
            self.data, self.columns, self.index = data, columns, index

    fake = types.SimpleNamespace(DataFrame=DataFrame, Index=lambda values, name: (name, values))
    monkeypatch.setitem(sys.modules, "pandas", fake)
    trials = grid_search(lambda x: {"val_loss": x, "acc": -x}, {"x": [2, 1]})
    frame = trials.to_pandas()
    assert frame.columns == ["trial", "x", "val_loss", "acc"]
    assert [row["x"] for row in frame.data] == [1, 2]
    history = optim.History()
    history.history, history.epoch = {"loss": [0.5, 0.25]}, [0, 1]
    frame = history.to_pandas()
    assert frame.data == {"loss": [0.5, 0.25]} and frame.index == ("epoch", [0, 1])


def test_to_pandas_with_pandas():
    pandas = pytest.importorskip("pandas", reason="pandas is optional")
    trials = grid_search(lambda x: {"val_loss": x}, {"x": [2, 1]})
    frame = trials.to_pandas()
    assert list(frame.columns) == ["trial", "x", "val_loss"] and frame["x"].tolist() == [1, 2]
    assert isinstance(frame, pandas.DataFrame)


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_table():
    distributed = pytest.importorskip("dask.distributed",
                                      reason="dask[distributed] is in the 'dask' extra")
    import joblib
    serial = random_search(train_xor, SPACE, 8, seed=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        on_cluster = random_search(train_xor, SPACE, 8, seed=0, n_jobs=-1)
        pids = {row["pid"] for row in random_search(where, SPACE, 8, seed=0, n_jobs=-1)}
        workers = client.run(os.getpid)
    assert len(workers) == 2 and pids <= set(workers.values()) and os.getpid() not in pids
    assert isinstance(on_cluster, Trials) and _as_rows(on_cluster) == _as_rows(serial)
