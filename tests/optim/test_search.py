"""Hyperparameter search: distributions (KS checks), grid coverage, sorting, the table, zoom."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import nn
from optim import search
from optim.search import (Trials, choice, grid_search, log_uniform, one_minus_log_uniform,
                          randint, random_search, uniform, zoom)
from optim.training import History, fit

from ._helpers import make_sgd

stats = pytest.importorskip("scipy.stats")

N_TRIALS = 2000


def _recorder():
    seen = []

    def build_and_train(**params):
        seen.append(params)
        return {"val_loss": float(len(seen) % 7), "val_accuracy": 0.5}

    return seen, build_and_train


def test_random_search_samples_follow_their_distributions():
    space = {"lr": log_uniform(-4, 0), "beta": one_minus_log_uniform(3, min_exp=1),
             "b0": one_minus_log_uniform(2), "u": uniform(-1.0, 2.0), "k": randint(1, 4),
             "act": choice(["tanh", "relu"]), "fixed": 7}
    seen, build_and_train = _recorder()
    trials = random_search(build_and_train, space, N_TRIALS, seed=0)
    assert len(trials) == N_TRIALS == len(seen)
    column = {name: np.array([p[name] for p in seen]) for name in space}
    # each continuous value, mapped back to its uniform U, must look U(0, 1)
    transformed = {
        "lr": -np.log10(column["lr"]) / 4,                      # α = 10^(−4U)
        "beta": (-np.log10(1 - column["beta"]) - 1) / 2,        # β = 1 − 10^(−(1 + 2U))
        "b0": -np.log10(1 - column["b0"]) / 2,                  # β = 1 − 10^(−U·k), k = 2
        "u": (column["u"] + 1) / 3,
    }
    for name, values in transformed.items():
        assert stats.kstest(values, "uniform").pvalue > 1e-3, name
    assert column["lr"].min() >= 1e-4 and column["lr"].max() <= 1
    assert 0.9 <= column["beta"].min() and column["beta"].max() <= 0.999
    # discrete ones: every value, about equally often (χ² test)
    for name, options in [("k", [1, 2, 3, 4]), ("act", ["tanh", "relu"])]:
        counts = Counter(column[name].tolist())
        assert sorted(counts) == sorted(options)
        assert stats.chisquare([counts[o] for o in options]).pvalue > 1e-3, name
    assert set(column["fixed"].tolist()) == {7}


def test_random_search_is_reproducible_with_a_seed():
    space = {"lr": log_uniform(), "hidden": [4, 8, 16]}
    first, build_a = _recorder()
    second, build_b = _recorder()
    random_search(build_a, space, 5, seed=3)
    random_search(build_b, space, 5, seed=3)
    assert first == second


def test_grid_search_covers_the_grid_exactly():
    grid = {"lr": [0.1, 0.01, 0.001], "hidden": [4, 8], "act": "tanh"}
    seen, build_and_train = _recorder()
    trials = grid_search(build_and_train, grid)
    combos = [(p["lr"], p["hidden"], p["act"]) for p in seen]
    assert len(combos) == 6 == len(set(combos)) == len(trials)
    assert set(combos) == {(lr, h, "tanh") for lr in grid["lr"] for h in grid["hidden"]}


def test_trials_are_sorted_by_the_monitor_with_nan_last():
    losses = {1: 0.3, 2: math.nan, 3: 0.1, 4: 0.2}

    def build_and_train(x):
        return {"val_loss": losses[x], "val_accuracy": 1 - x / 10}

    trials = grid_search(build_and_train, {"x": [1, 2, 3, 4]})
    assert [row["x"] for row in trials] == [3, 4, 1, 2]
    assert trials.best["x"] == 3 and trials.best["trial"] == 2
    trials = grid_search(build_and_train, {"x": [1, 2, 3, 4]}, monitor="val_accuracy",
                         mode="max")
    assert [row["x"] for row in trials] == [1, 2, 3, 4]
    text = str(trials)
    assert text.splitlines()[0] == "4 trials sorted by val_accuracy (max)"
    assert text.splitlines()[1].split() == ["trial", "x", "val_loss", "val_accuracy"]
    assert len(text.splitlines()) == 2 + 1 + 4


def test_history_results_use_the_best_epoch():
    history = History()
    history.history = {"loss": [1.0, 0.5, 0.4], "val_loss": [0.9, 0.6, 0.7]}
    history.epoch = [0, 1, 2]
    trials = grid_search(lambda lr: history, {"lr": [0.1]})
    assert trials.best == {"trial": 0, "lr": 0.1, "loss": 0.5, "val_loss": 0.6, "epoch": 1}


def test_errors():
    with pytest.raises(KeyError, match="monitor 'val_loss' is not in the returned metrics"):
        grid_search(lambda x: {"loss": 1.0}, {"x": [1]})
    with pytest.raises(TypeError, match="must return a History or a dict"):
        grid_search(lambda x: 1.0, {"x": [1]})
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        grid_search(lambda x: {"val_loss": 1.0}, {"x": [1]}, mode="best")
    with pytest.raises(ValueError, match="low must be ≤ high"):
        uniform(2, 1)


def test_zoom_narrows_around_the_best_trials():
    space = {"lr": log_uniform(-4, 0), "u": uniform(0, 10), "k": randint(1, 10),
             "act": choice(["tanh", "relu", "sigmoid"]), "fixed": 3}

    def build_and_train(lr, u, k, act, fixed):
        # best near lr = 10⁻², u = 8, k = 9 with relu
        score = (math.log10(lr) + 2) ** 2 + (u - 8) ** 2 / 10 + (k - 9) ** 2 / 10
        return {"val_loss": score + (0 if act == "relu" else 100)}

    trials = random_search(build_and_train, space, 60, seed=1)
    narrowed = zoom(space, trials, top_k=3, shrink=0.5)
    top = trials[:3]
    lr_range = narrowed["lr"]
    assert lr_range.high - lr_range.low == pytest.approx(
        max(2.0, max(math.log10(r["lr"]) for r in top) - min(math.log10(r["lr"]) for r in top)))
    assert -4 <= lr_range.low and lr_range.high <= 0
    assert all(lr_range.low <= math.log10(r["lr"]) <= lr_range.high for r in top)
    assert all(narrowed["u"].low <= r["u"] <= narrowed["u"].high for r in top)
    assert narrowed["u"].high - narrowed["u"].low < 10
    assert isinstance(narrowed["k"], search.RandInt) and narrowed["k"].high <= 10
    assert narrowed["act"].options == ["relu"]
    assert narrowed["fixed"] == 3
    # a second stage samples only inside the new ranges
    seen, recorder = _recorder()
    random_search(recorder, narrowed, 50, seed=2)
    assert all(10 ** lr_range.low <= p["lr"] <= 10 ** lr_range.high for p in seen)
    with pytest.raises(ValueError, match="shrink must be in"):
        zoom(space, trials, shrink=0)


def test_zoom_stays_inside_the_old_range_at_an_edge():
    narrowed = zoom({"u": uniform(0, 1)}, [{"u": 0.99}, {"u": 0.98}], top_k=2, shrink=0.5)
    assert (narrowed["u"].low, narrowed["u"].high) == pytest.approx((0.5, 1.0))


def test_random_search_with_fit_end_to_end():
    x, y = nn.datasets.gaussians(60, seed=0)

    def build_and_train(lr, hidden):
        model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        return fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters(), lr=lr), (x, y),
                   epochs=5, validation_data=(x, y), verbose=False)

    trials = random_search(build_and_train, {"lr": log_uniform(-3, 0), "hidden": [2, 4]}, 4,
                           seed=0)
    assert isinstance(trials, Trials) and len(trials) == 4
    losses = [row["val_loss"] for row in trials]
    assert losses == sorted(losses)
    assert {"trial", "lr", "hidden", "loss", "accuracy", "val_loss", "epoch"} <= set(trials[0])
