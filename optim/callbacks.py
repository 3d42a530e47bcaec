"""Callbacks for ``optim.fit``, with Keras's names, arguments and semantics.

``fit`` calls, in this order::

    on_train_begin(logs)
    for each epoch:   on_epoch_begin(epoch, logs)
                      for each batch: on_batch_begin(batch, logs), on_batch_end(batch, logs)
                      on_epoch_end(epoch, logs)        # logs: loss, metrics, val_*, lr
    on_train_end(logs)

Epochs are counted from 0, as in Keras. Before training, ``fit`` gives every callback
``self.model``, ``self.optimizer`` and ``self.params`` (epochs, steps per epoch, verbose).
A callback asks the loop to stop by setting ``self.stop_training = True`` (Keras sets
``model.stop_training``; here the flag lives on the callback so the model is not touched):
``fit`` checks it after each batch and each epoch.

Callbacks also work without ``fit``: set ``cb.model`` (anything with ``state_dict()`` and
``load_state_dict()``) and call the hooks yourself.
"""
from __future__ import annotations

import csv
import math
import os
import re
import string
import warnings
from collections.abc import Callable

import numpy as np

from autograd_core.interrupts import deferred_interrupts

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "TerminateOnNaN", "CSVLogger"]


class Callback:
    """Base class: every hook does nothing. Override the ones you need."""

    model = None
    optimizer = None
    stop_training = False

    def __init__(self) -> None:
        self.params: dict = {}

    def set_context(self, model, optimizer=None, params: dict | None = None) -> None:
        """Called by ``fit`` before training."""
        self.model, self.optimizer = model, optimizer
        self.params = dict(params or {})
        self.stop_training = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """After the last epoch (also when a callback stopped training)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """At the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """At the end of an epoch; ``logs`` holds that epoch's loss, metrics and val_* values."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Before batch ``batch`` of the current epoch."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After a batch's update; ``logs["loss"]`` is that batch's loss."""


class CallbackList(Callback):
    """Several callbacks called in order, as one (what ``fit`` uses internally)."""

    def __init__(self, callbacks=()) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"fit: callbacks must be optim.callbacks.Callback instances, got "
                                f"{type(callback).__name__}")

    @property
    def stop_training(self) -> bool:  # type: ignore[override]
        return any(callback.stop_training for callback in self.callbacks)

    def set_context(self, model, optimizer=None, params: dict | None = None) -> None:
        for callback in self.callbacks:
            callback.set_context(model, optimizer, params)

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        """Every callback's ``on_train_end``, even when one raises (the first error is raised
        after the others ran): cleanup of one must not be skipped because another failed."""
        first_error = None
        for callback in self.callbacks:
            try:
                callback.on_train_end(logs)
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)


def _resolve_mode(owner: str, mode: str, monitor: str) -> str:
    """Keras's "auto": maximise accuracy-like metrics (name contains "acc" or "auc"), else
    minimise."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.lower()
        return "max" if ("acc" in name or "auc" in name) else "min"
    return mode


def _copy_state(state: dict) -> dict:
    return {key: np.array(value, copy=True) for key, value in state.items()}


class EarlyStopping(Callback):
    """Stop when the monitored quantity stops improving (Keras 3 / tf.keras ≥ 2.11 semantics).

    improvement   mode "min": current < best − min_delta;  mode "max": current > best + min_delta
                  (``min_delta`` is taken as |min_delta|; "auto" is "max" for accuracy-like names)
    patience      ``wait`` counts the epochs since the last improvement, the current one
                  included; training stops at the end of the first epoch > 0 with
                  ``wait ≥ patience``: after ``patience`` epochs in a row without improvement
                  (patience 0 and 1 both stop at the first such epoch, as in Keras)
    baseline      when given, ``wait`` resets only for epochs that also beat the baseline, so
                  epochs that improve but stay short of it keep counting (an improving epoch
                  itself never stops training)
    restore_best_weights
                  keep a copy of ``model.state_dict()`` from the best epoch (the first epoch's
                  weights if none improved) and load it in ``on_train_end``: after a stop *and*
                  when all epochs ran, as Keras does since 2.11 (earlier versions restored only
                  on a stop)

    After training, ``stopped_epoch`` (0 if never stopped), ``best``, ``best_epoch`` and
    ``wait`` describe what happened.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.mode = _resolve_mode("EarlyStopping", mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.on_train_begin()

    def _is_improvement(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: dict | None = None
        self.best_epoch = 0
        self.stop_training = False

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: monitor {self.monitor!r} is not in the logs (available:"
                          f" {', '.join(sorted(logs or {}))}); nothing is checked", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_state(self.model.state_dict())   # the first epoch's
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model.state_dict())
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save ``model.state_dict()`` with ``nn.save`` at the end of each epoch.

    ``path`` may hold Keras-style fields filled from the epoch (1-based, as Keras names files)
    and the logs: ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``. With ``save_best_only`` a file is
    written only when the monitored value improves on the best so far (mode as in
    EarlyStopping); reload with ``model.load_state_dict(nn.load(path))``.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto") -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.mode = _resolve_mode("ModelCheckpoint", mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_train_begin(self, logs=None):
        """Check the path's fields against the logs ``fit`` will produce (its
        ``params["metrics"]``), so a typo fails before the first epoch rather than after it."""
        names = self.params.get("metrics")
        if names is not None:
            self._format(0, {name: 0.0 for name in names})

    def _format(self, epoch: int, logs: dict) -> str:
        """The path for ``epoch`` (0-based) with the logs' values filled in."""
        fields = {name for _, name, _, _ in string.Formatter().parse(self.path) if name is not None}
        available = ["epoch", *sorted(logs)]
        for name in fields:
            key = re.split(r"[.\[]", name, maxsplit=1)[0]
            if key == "" or key.isdigit():
                raise ValueError(f"ModelCheckpoint: the path {self.path!r} has a positional "
                                 f"field {{{name}}}; name a log instead: {', '.join(available)}")
            if key not in available:
                raise ValueError(f"ModelCheckpoint: the path {self.path!r} uses the field "
                                 f"{{{key}}}, which is not in the logs; available fields: "
                                 f"{', '.join(available)}")
        try:
            return self.path.format(epoch=epoch + 1, **logs)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
            raise ValueError(f"ModelCheckpoint: cannot fill the path {self.path!r} with "
                             f"epoch={epoch + 1} and the logs: {error}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._format(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: monitor {self.monitor!r} is not in the logs; "
                              "skipping", stacklevel=2)
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                return
            self.best = float(current)
        # NOTE: only optim.training may import nn (tests/test_architecture.py): nn.save is
        # reached through it, imported here so the two modules do not import each other at load
        from .training import save_state
        save_state(self.model.state_dict(), path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")


class LearningRateScheduler(Callback):
    """Keras's per-epoch schedule: at the start of each epoch, lr ← schedule(epoch, lr) for
    every param group (``lr`` is group 0's current rate; epochs count from 0)."""

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        if self.optimizer is None:
            raise RuntimeError("LearningRateScheduler: no optimizer (use it through optim.fit or "
                               "call set_context(model, optimizer))")
        lr = float(self.optimizer.param_groups[0]["lr"])
        new_lr = self.schedule(epoch, lr)
        if not isinstance(new_lr, (float, int, np.floating, np.integer)):
            raise ValueError(f"LearningRateScheduler: schedule must return a number, got "
                             f"{type(new_lr).__name__}")
        for group in self.optimizer.param_groups:
            group["lr"] = float(new_lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.")


class TerminateOnNaN(Callback):
    """Stop as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.stop_training = True


class CSVLogger(Callback):
    """Write one row per epoch (``epoch`` then the logs' keys, sorted) to a CSV file."""

    def __init__(self, path: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.separator = separator
        self.append = append
        self._file = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if self.append else "w", newline="")
        self._keys = None
        self._has_header = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.separator)
            if not self._has_header:
                self._writer.writeheader()
        row = {"epoch": epoch, **{key: logs.get(key, "NA") for key in self._keys}}
        with deferred_interrupts():             # a row is written whole, or not at all
            self._writer.writerow(row)
            self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
