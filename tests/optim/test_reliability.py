"""Issue 13, optim: fit cleans up when interrupted, optimizer steps are all-or-nothing,
ModelCheckpoint checks its path's fields before training, byte-swapped parameters."""
from __future__ import annotations

import _thread
import csv

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from optim.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint


def _data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(seed: int = 0):
    ag.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


class _FailAt(Callback):
    """Raise ``error`` at the end of epoch ``epoch``."""

    def __init__(self, epoch: int, error: BaseException) -> None:
        super().__init__()
        self.epoch, self.error = epoch, error

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise self.error


def _fit_with(callbacks, epochs=6, model=None):
    model = model or _model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    optim.fit(model, nn.CrossEntropyLoss(), opt, _data(), epochs=epochs, batch_size=16,
              validation_data=_data(32, seed=1), callbacks=callbacks, verbose=False)
    return model, opt


# --- 4. fit cleans up ---------------------------------------------------------------------------
@pytest.mark.parametrize("error", [RuntimeError("callback bug"), KeyboardInterrupt()])
def test_an_interrupted_fit_closes_the_log_and_restores_the_best_weights(tmp_path, error):
    logger = CSVLogger(tmp_path / "log.csv")
    stopper = EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    model = _model()
    with pytest.raises(type(error)):
        _fit_with([logger, stopper, _FailAt(3, error)], model=model)
    assert logger._file is None                        # closed
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    for key, value in model.state_dict().items():      # the best epoch's weights are back
        np.testing.assert_array_equal(value, stopper.best_weights[key])
    assert model.training


def test_a_failing_on_train_end_is_noted_on_the_original_error(tmp_path):
    class BrokenEnd(Callback):
        def on_train_end(self, logs=None):
            raise OSError("disk full")

    logger = CSVLogger(tmp_path / "log.csv")
    with pytest.raises(RuntimeError, match="callback bug") as info:
        _fit_with([BrokenEnd(), logger, _FailAt(0, RuntimeError("callback bug"))])
    assert "fit: on_train_end also failed while handling this: OSError: disk full" in \
        info.value.__notes__
    assert logger._file is None                        # the others still ran


def test_on_train_end_gets_the_interrupted_flag():
    seen = []

    class Record(Callback):
        def on_train_end(self, logs=None):
            seen.append(logs)

    with pytest.raises(ValueError):
        _fit_with([Record(), _FailAt(1, ValueError("stop"))])
    _fit_with([Record()], epochs=1)
    assert seen == [{"interrupted": True}, None]


# --- 4. optimizer steps are all-or-nothing ------------------------------------------------------
@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=0.1),
                                  lambda p: optim.SGD(p, lr=0.1, momentum=0.9)])
def test_ctrl_c_inside_a_step_is_delivered_after_every_parameter_is_updated(make, monkeypatch):
    model = _model()
    opt = make(model.parameters())
    before = [p.numpy().copy() for p in model.parameters()]
    x, y = _data(16)
    nn.CrossEntropyLoss()(model(ag.tensor(x)), ag.tensor(y)).backward()
    real_update = type(opt)._update
    calls = []

    def update_then_interrupt(self, *args):
        calls.append(1)
        if len(calls) == 1:
            _thread.interrupt_main()                   # Ctrl-C during the first parameter
        return real_update(self, *args)

    monkeypatch.setattr(type(opt), "_update", update_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        opt.step()
    assert len(calls) == 4
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))
    steps = {state.get("step") for state in opt.state.values()}
    assert len(opt.state) == 4 and len(steps) == 1


def test_a_bad_gradient_stops_the_step_before_any_parameter_moves():
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = ag.Tensor(np.ones(p.shape, np.float32))
    last = list(model.parameters())[-1]
    last._grad = ag.Tensor(np.ones(3, np.float32))     # wrong shape, set behind the setter
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"Adam: gradient of shape \(3,\) for a parameter of "
                                         r"shape \(2,\)"):
        opt.step()
    for b, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p.numpy())
    assert opt.state == {}


def test_optimizers_step_byte_swapped_parameters():
    swapped = np.dtype(np.float32).newbyteorder("S")
    for make in (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p)):
        w = ag.Tensor(np.zeros(5000, np.float32), requires_grad=True)
        w.data = np.zeros(5000, swapped)               # swapped after creation, behind the check
        opt = make([w])
        w.grad = ag.Tensor(np.ones(5000, np.float32))
        opt.step()
        assert np.all(w.numpy() < 0)


# --- 5. ModelCheckpoint's path fields -----------------------------------------------------------
def test_model_checkpoint_names_the_available_fields_before_training(tmp_path):
    epochs_run = []

    class Count(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)

    checkpoint = ModelCheckpoint(str(tmp_path / "ck-{val_acc}.npz"))
    with pytest.raises(ValueError, match=r"ModelCheckpoint: the path .*ck-\{val_acc\}.npz' uses "
                                         r"the field \{val_acc\}, which is not in the logs; "
                                         r"available fields: epoch, accuracy, loss, lr, "
                                         r"val_accuracy, val_loss"):
        _fit_with([checkpoint, Count()])
    assert epochs_run == []


def test_model_checkpoint_rejects_positional_fields_and_bad_formats(tmp_path):
    with pytest.raises(ValueError, match=r"has a positional field \{\}"):
        _fit_with([ModelCheckpoint(str(tmp_path / "ck-{}.npz"))], epochs=1)
    with pytest.raises(ValueError, match=r"cannot fill the path .* with epoch=1 and the logs"):
        _fit_with([ModelCheckpoint(str(tmp_path / "ck-{loss:d}.npz"))], epochs=1)


def test_model_checkpoint_fields_that_exist_still_work(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{val_accuracy:.2f}.npz"))
    _fit_with([checkpoint], epochs=2)
    assert len(checkpoint.saved) == 2 and checkpoint.saved[0].endswith(".npz")
    assert (tmp_path / checkpoint.saved[1]).exists()
