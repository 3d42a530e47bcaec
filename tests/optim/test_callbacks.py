"""Callbacks: EarlyStopping on scripted sequences (Keras semantics) and through fit, checkpoints,
schedules, NaN termination and the CSV log."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import autograd_core as ag
import nn
from optim.callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                             ModelCheckpoint, TerminateOnNaN)
from optim.training import fit

from ._helpers import GroupsOnly, make_sgd


class ScriptedModel:
    """A 'model' whose only weight records the epoch it was saved at."""

    def __init__(self) -> None:
        self.w = np.zeros(1)

    def state_dict(self) -> dict:
        return {"w": self.w.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.w = state["w"].copy()


def drive(callback: Callback, values, monitor: str = "val_loss"):
    """A fit-less loop: epoch e has weight e and logs {monitor: values[e]}; returns the epochs
    that ran and the model."""
    model = ScriptedModel()
    callback.set_context(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        model.w[:] = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        ran.append(epoch)
        if callback.stop_training:
            break
    callback.on_train_end()
    return ran, model


LOSSES = [1.0, 0.8, 0.7, 0.75, 0.71, 0.72, 0.69, 0.9, 0.95, 0.99, 1.0, 1.1]


@pytest.mark.parametrize("patience, stop_epoch", [(0, 3), (1, 3), (2, 4), (3, 5), (4, 10),
                                                 (5, 11), (6, None)])
def test_early_stopping_stops_after_patience_bad_epochs(patience, stop_epoch):
    """Keras counts the current epoch: patience p stops at the p-th epoch in a row without
    improvement (p = 0 and p = 1 both stop at the first)."""
    callback = EarlyStopping(patience=patience)
    ran, _ = drive(callback, LOSSES)
    assert ran[-1] == (len(LOSSES) - 1 if stop_epoch is None else stop_epoch)
    assert callback.stopped_epoch == (stop_epoch or 0)
    assert callback.stop_training == (stop_epoch is not None)


def test_early_stopping_restores_best_epoch_weights():
    callback = EarlyStopping(patience=4, restore_best_weights=True)
    ran, model = drive(callback, LOSSES)
    assert ran[-1] == 10 and callback.best_epoch == 6 and callback.best == 0.69
    assert model.w[0] == 6                           # weights of the best epoch, not the last


def test_early_stopping_restores_at_train_end_without_stop():
    """Keras ≥ 2.11: the best weights come back even when every epoch ran."""
    callback = EarlyStopping(patience=100, restore_best_weights=True)
    ran, model = drive(callback, LOSSES)
    assert ran[-1] == len(LOSSES) - 1 and callback.stopped_epoch == 0
    assert model.w[0] == 6


def test_early_stopping_min_delta_mode_and_baseline():
    # improvements smaller than min_delta do not count: 0.8 → 0.7 (0.1) counts, 0.69 does not
    callback = EarlyStopping(patience=2, min_delta=0.05)
    ran, _ = drive(callback, LOSSES)
    assert callback.best == 0.7 and ran[-1] == 4
    # "auto" maximises accuracy-like names
    callback = EarlyStopping(monitor="val_accuracy", patience=1)
    assert callback.mode == "max"
    ran, _ = drive(callback, [0.5, 0.6, 0.6, 0.55, 0.9], monitor="val_accuracy")
    assert ran[-1] == 2
    # below a baseline, improvements do not reset the count (Keras: an improving epoch never
    # stops, but it still counts as waiting)
    values = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93]
    ran, _ = drive(EarlyStopping(patience=3, baseline=0.5), values)
    assert ran[-1] == 2
    ran, _ = drive(EarlyStopping(patience=3), values)
    assert ran[-1] == 4
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="best")


def test_early_stopping_warns_on_missing_monitor():
    callback = EarlyStopping(monitor="val_loss")
    callback.set_context(ScriptedModel())
    with pytest.warns(UserWarning, match="'val_loss' is not in the logs"):
        callback.on_epoch_end(0, {"loss": 1.0})


def _blobs(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-2, 1, (n // 2, 2)), rng.normal(2, 1, (n // 2, 2))])
    y = np.repeat([0, 1], n // 2)
    return x.astype(np.float32), y.astype(np.int64)


def test_early_stopping_through_fit_restores_best_weights():
    """Validation loss scripted through a metric-free trick: the validation set is the
    training set with flipped labels, so val_loss rises as the model learns."""
    x, y = _blobs()
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.state_dict())

    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    history = fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters(), lr=0.5), (x, y),
                  epochs=50, validation_data=(x, 1 - y), callbacks=[Snapshot(), stopper],
                  verbose=False)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(history.epoch) == best + 3 == stopper.stopped_epoch + 1     # 2 bad epochs
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[best][name])


def test_model_checkpoint_saves_best_only(tmp_path):
    callback = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.npz",
                               save_best_only=True)
    model = nn.Linear(2, 1)
    callback.set_context(model)
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.4]):
        callback.on_epoch_end(epoch, {"val_loss": value})
    assert [p.rsplit("/", 1)[1] for p in callback.saved] == [
        "ckpt-01-1.00.npz", "ckpt-02-0.50.npz", "ckpt-04-0.40.npz"]
    restored = nn.Linear(2, 1)
    restored.load_state_dict(nn.load(callback.saved[-1]))
    np.testing.assert_array_equal(restored.weight.data, model.weight.data)


def test_learning_rate_scheduler_sets_every_group():
    opt = GroupsOnly(1.0, 1.0)
    callback = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    callback.set_context(None, opt)
    seen = []
    for epoch in range(3):
        callback.on_epoch_begin(epoch)
        seen.append([g["lr"] for g in opt.param_groups])
    assert seen == [[1.0, 1.0], [0.5, 0.5], [0.25, 0.25]]


def test_learning_rate_scheduler_in_fit_is_logged():
    x, y = _blobs(16)
    model = nn.Linear(2, 2)
    history = fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters(), lr=0.1), (x, y),
                  epochs=4, verbose=False,
                  callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (1 + epoch))])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3, 0.025])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_stops_within_the_epoch(capsys):
    x, y = _blobs(16)
    model = nn.Linear(2, 2)
    calls = []

    def exploding_loss(output, target):
        calls.append(1)
        return nn.CrossEntropyLoss()(output, target) * (math.inf if len(calls) == 3 else 1.0)

    history = fit(model, exploding_loss, make_sgd(model.parameters()), (x, y), epochs=5,
                  batch_size=4, callbacks=[TerminateOnNaN()], verbose=False, metrics=())
    assert len(calls) == 3 and len(history.epoch) == 1
    assert "invalid loss" in capsys.readouterr().out


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    x, y = _blobs(16)
    model = nn.Linear(2, 2)
    fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters()), (x, y), epochs=3,
        validation_data=(x, y), callbacks=[CSVLogger(path)], verbose=False)
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}


def test_early_stopping_through_fit_on_a_scripted_val_loss():
    """A callback listed first overwrites val_loss with a script; EarlyStopping reads it."""
    script = [1.0, 0.8, 0.6, 0.65, 0.7, 0.75, 0.5]
    x, y = _blobs(16)
    model = nn.Linear(2, 2)
    snapshots = []

    class Script(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = script[epoch]
            snapshots.append(self.model.state_dict())

    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    history = fit(model, nn.CrossEntropyLoss(), make_sgd(model.parameters(), lr=0.5), (x, y),
                  epochs=len(script), validation_data=(x, y), callbacks=[Script(), stopper],
                  verbose=False)
    assert history.epoch == [0, 1, 2, 3, 4, 5] and stopper.stopped_epoch == 5
    assert history.history["val_loss"] == script[:6]
    assert stopper.best_epoch == 2
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[2][name])
        assert not np.array_equal(value, snapshots[5][name])
