"""fit and evaluate: updates per epoch (course 000 §3), history keys, learning, regularization,
validation mode, silence."""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.data import DataLoader, TensorDataset
from optim.training import History, accuracy, evaluate, fit

from ._helpers import make_sgd

N = 10


def _data(n: int = N, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


class CountingOptimizer:
    """Wraps an optimizer and counts ``step()`` calls."""

    def __init__(self, inner) -> None:
        self.inner, self.steps = inner, 0
        self.param_groups = inner.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad()

    def step(self) -> None:
        self.steps += 1
        self.inner.step()


@pytest.mark.parametrize("batch_size, updates", [(None, 1), (1, N), (3, math.ceil(N / 3)),
                                                 (5, 2), (N, 1), (64, 1)])
def test_updates_per_epoch(batch_size, updates):
    """Batch: 1 update per epoch; online: n; mini-batch of m: ⌈n/m⌉."""
    model = nn.Linear(2, 2)
    opt = CountingOptimizer(make_sgd(model.parameters(), lr=0.01))
    fit(model, nn.CrossEntropyLoss(), opt, _data(), epochs=3, batch_size=batch_size,
        verbose=False)
    assert opt.steps == 3 * updates


def test_dataloader_input_and_its_batch_size():
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=1)
    model = nn.Linear(2, 2)
    opt = CountingOptimizer(make_sgd(model.parameters()))
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=2, verbose=False)
    assert opt.steps == 2 * 3
    with pytest.raises(ValueError, match="cannot be combined with a DataLoader"):
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, batch_size=2, verbose=False)
    with pytest.raises(TypeError, match=r"\(X, y\) pair"):
        fit(model, nn.CrossEntropyLoss(), opt, x, epochs=1, verbose=False)


def test_history_keys_and_learning_on_xor():
    x, y = nn.datasets.xor(200, seed=0)
    x_val, y_val = nn.datasets.xor(100, seed=1)
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    history = fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters(), lr=0.1), (x, y),
                  epochs=40, batch_size=16, validation_data=(x_val, y_val), seed=0,
                  verbose=False)
    assert isinstance(history, History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history.epoch == list(range(40))
    assert all(len(values) == 40 for values in history.history.values())
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["val_accuracy"][-1] >= 0.95
    final = evaluate(model, (x_val, y_val), nn.CrossEntropyLoss())
    assert final == pytest.approx({"loss": history.history["val_loss"][-1],
                                   "accuracy": history.history["val_accuracy"][-1]})


def test_seed_makes_runs_reproducible():
    def run():
        ag.manual_seed(3)
        model = nn.Linear(2, 2)
        return fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters()), _data(),
                   epochs=3, batch_size=3, seed=7, verbose=False).history["loss"]
    assert run() == run()


def test_regularization_loss_is_added():
    x, y = _data()
    model = nn.Linear(2, 2, kernel_regularizer=nn.regularizers.L2(0.5))
    with ag.no_grad():
        data_loss = nn.CrossEntropyLoss()(model(ag.tensor(x)), ag.tensor(y)).item()
        penalty = model.regularization_loss().item()
    assert penalty > 0
    opt = make_sgd(model.parameters(), lr=0.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=1, verbose=False,
                  metrics=())
    assert history.history["loss"][0] == pytest.approx(data_loss + penalty, rel=1e-5)
    # and its gradient reaches the weights: with lr > 0 the penalty shrinks
    opt.param_groups[0]["lr"] = 0.1
    fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=20, verbose=False, metrics=())
    with ag.no_grad():
        assert model.regularization_loss().item() < penalty


def test_train_mode_during_updates_eval_mode_for_validation():
    modes = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

        def forward(self, x):
            modes.append((self.training, ag.is_grad_enabled()))
            return self.linear(x)

    model = Probe()
    fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters()), _data(), epochs=1,
        validation_data=_data(6, seed=1), verbose=False)
    assert modes == [(True, True), (False, False)]
    assert model.training


def test_metrics_mse_mae_and_callables():
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(-1, 1)
    t = 2 * x
    model = nn.Linear(1, 1)

    def worst(output, target):
        return float(np.max(np.abs(output - target)))

    history = fit(model, nn.MSELoss(), make_sgd(model.parameters(), lr=0.0), (x, t), epochs=1,
                  metrics=("mse", "mae", worst), verbose=False)
    with ag.no_grad():
        out = model(ag.tensor(x)).numpy()
    assert history.history["mse"][0] == pytest.approx(np.mean((out - t) ** 2), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(history.history["mse"][0], rel=1e-5)
    assert history.history["mae"][0] == pytest.approx(np.mean(np.abs(out - t)), rel=1e-5)
    assert history.history["worst"][0] == pytest.approx(np.max(np.abs(out - t)), rel=1e-5)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(model, nn.MSELoss(), make_sgd(model.parameters()), (x, t), epochs=1, metrics=("f1",),
            verbose=False)


def test_accuracy_conventions():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(logits, np.eye(2)[[0, 1, 1]]) == pytest.approx(2 / 3)            # one-hot
    assert accuracy(np.array([[0.7], [0.2], [0.5]]), np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(np.array([0.3, -0.2, 0.0]), np.array([1, -1, -1])) == pytest.approx(2 / 3)


def test_verbose_false_prints_nothing(capsys):
    model = nn.Linear(2, 2)
    fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters()), _data(), epochs=2,
        validation_data=_data(), verbose=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_shows_a_progress_bar_with_the_loss(capsys):
    model = nn.Linear(2, 2)
    fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters()), _data(), epochs=2,
        verbose=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err


def test_scheduler_is_stepped_each_epoch():
    from optim.lr_scheduler import ExponentialLR, ReduceLROnPlateau
    model = nn.Linear(2, 2)
    opt = make_sgd(model.parameters(), lr=1.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, _data(), epochs=3, verbose=False,
                  scheduler=ExponentialLR(opt, gamma=0.5))
    assert history.history["lr"] == [1.0, 0.5, 0.25]
    opt = make_sgd(model.parameters(), lr=0.0)          # lr 0: the loss never improves
    plateau = ReduceLROnPlateau(opt, patience=0)
    fit(model, nn.CrossEntropyLoss(), opt, _data(), epochs=3, verbose=False, scheduler=plateau)
    assert plateau.num_bad_epochs == 0 and plateau.best < math.inf

