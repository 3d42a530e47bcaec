"""The training loop: ``fit`` (Keras's ``model.fit``) and ``evaluate`` for ``nn`` modules.

One epoch is one pass over the training set; each batch is one update (course 000, section 3):

    batch_size=None   batch (full-batch) gradient descent: 1 update per epoch
    batch_size=1      online (stochastic) gradient descent: n updates per epoch
    batch_size=m      mini-batch gradient descent: ⌈n / m⌉ updates per epoch

For each batch: ``J = loss_fn(model(x), y) + model.regularization_loss()``, then
``optimizer.zero_grad(); J.backward(); optimizer.step()``. The epoch's ``loss`` and training
metrics are the means over the epoch's batches (weighted by batch size) of the values computed
*before* each update, as Keras reports them; ``val_*`` values are computed after the epoch
with ``model.eval()`` and ``no_grad``.

This is the only module of ``optim`` that imports ``nn`` (STYLE.md §5).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

import nn
from autograd_core import Tensor, no_grad
from nn.data import DataLoader, TensorDataset

from .callbacks import Callback, CallbackList
from .lr_scheduler import ReduceLROnPlateau
from .parallel import require_pandas

__all__ = ["History", "fit", "evaluate"]

save_state = nn.save        # used by callbacks.ModelCheckpoint (only this module may import nn)


class History(Callback):
    """What ``fit`` returns: ``history[name]`` is the list of per-epoch values (Keras's
    ``History``), ``epoch`` the list of epoch indices (from 0) that ran."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def to_pandas(self):
        """The per-epoch values as a ``pandas.DataFrame``, one row per epoch (index ``epoch``).
        Needs pandas, which neurona does not depend on."""
        pandas = require_pandas("History.to_pandas")
        return pandas.DataFrame(self.history, index=pandas.Index(self.epoch, name="epoch"))

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History(epochs={len(self.epoch)}, {last})"


# --- metrics --------------------------------------------------------------------------------------
def _matched(target: np.ndarray, output: np.ndarray) -> np.ndarray:
    return target.reshape(output.shape) if target.size == output.size else target


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of correct predictions.

    several outputs (N, C), C > 1    prediction = argmax over C (logits or probabilities); the
                                     target is a class index, or one-hot/probabilities (argmax)
    one output (N,) or (N, 1)        targets in {−1, +1} (any negative target in the batch):
                                     prediction = sign(out) with sign(0) = +1 (course's tanh
                                     units); otherwise targets in {0, 1}: prediction =
                                     [out ≥ 0.5] (a sigmoid output; for logits pass a callable)
    """
    output, target = np.asarray(output), np.asarray(target)
    if output.ndim >= 2 and output.shape[-1] > 1:
        predicted = output.argmax(axis=-1)
        if target.shape == output.shape:
            target = target.argmax(axis=-1)
        return float(np.mean(predicted == target.reshape(predicted.shape)))
    output, target = output.reshape(-1), target.reshape(-1)
    if (target < 0).any():
        predicted = np.where(output >= 0, 1, -1)
    else:
        predicted = (output >= 0.5).astype(target.dtype)
    return float(np.mean(predicted == target))


def mse(output: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error, mean over every element: mean((out − y)²)."""
    output = np.asarray(output, dtype=np.float64)
    return float(np.mean((output - _matched(np.asarray(target), output)) ** 2))


def mae(output: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error: mean(|out − y|)."""
    output = np.asarray(output, dtype=np.float64)
    return float(np.mean(np.abs(output - _matched(np.asarray(target), output))))


_METRICS: dict[str, Callable] = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "mae": mae}


def _resolve_metrics(metrics: Iterable) -> dict[str, Callable]:
    """Names → functions; callables take (output, target) as numpy arrays, return a float."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    resolved: dict[str, Callable] = {}
    for metric in metrics or ():
        if callable(metric):
            resolved[getattr(metric, "__name__", type(metric).__name__)] = metric
        elif metric in _METRICS:
            resolved[metric] = _METRICS[metric]
        else:
            raise ValueError(f"fit: unknown metric {metric!r}; use one of "
                             f"{', '.join(_METRICS)} or a callable (output, target) -> float")
    return resolved


# --- data -----------------------------------------------------------------------------------------
def _as_loader(data, batch_size: int | None, shuffle: bool, seed: int | None,
               who: str) -> DataLoader:
    """A DataLoader as given, or one built over (X, y) tensors/arrays."""
    if isinstance(data, DataLoader):
        if batch_size is not None:
            raise ValueError(f"{who}: batch_size={batch_size} cannot be combined with a "
                             f"DataLoader (it has its own batch_size={data.batch_size})")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        arrays = [d.data if isinstance(d, Tensor) else d for d in data]
        dataset = TensorDataset(*arrays)
        shuffle = shuffle and batch_size is not None    # one full batch: order is irrelevant
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise TypeError(f"{who}: data must be an (X, y) pair of tensors/arrays or an "
                    f"nn.data.DataLoader, got {type(data).__name__}")


class _Totals:
    """Batch-size-weighted sums of the loss and metrics over an epoch."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, size: int, values: dict[str, float]) -> None:
        self.count += size
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * size

    def means(self, prefix: str = "") -> dict[str, float]:
        return {prefix + name: total / max(self.count, 1) for name, total in self.sums.items()}


def _batch_values(loss: Tensor, output: Tensor, target: Tensor,
                  metrics: dict[str, Callable]) -> dict[str, float]:
    values = {"loss": float(loss.item())}
    for name, fn in metrics.items():
        values[name] = float(fn(output.data, target.data))
    return values


def evaluate(model, data, loss_fn: Callable, metrics: Sequence = ("accuracy",),
             batch_size: int | None = None) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data`` ((X, y) or a DataLoader), in eval mode and
    without building a graph. The loss is ``loss_fn(model(x), y) + model.regularization_loss()``
    (as in training and in Keras), averaged over batches weighted by their size.

    Returns ``{"loss": ..., <metric>: ...}``. The model's train/eval mode is restored after.
    """
    loader = _as_loader(data, batch_size, False, None, "evaluate")
    return _evaluate(model, loader, loss_fn, _resolve_metrics(metrics))


def _evaluate(model, loader: DataLoader, loss_fn: Callable,
              metrics: dict[str, Callable]) -> dict[str, float]:
    was_training = getattr(model, "training", True)
    model.eval()
    totals = _Totals()
    try:
        with no_grad():
            for x, y in loader:
                output = model(x)
                loss = loss_fn(output, y) + model.regularization_loss()
                totals.add(x.shape[0], _batch_values(loss, output, y, metrics))
    finally:
        model.train(was_training)
    return totals.means()


def _monitor_value(logs: dict) -> float:
    return logs["val_loss"] if "val_loss" in logs else logs["loss"]


def _progress(epochs: int, verbose: bool):
    import warnings
    with warnings.catch_warnings():     # tqdm.auto warns in Jupyter when ipywidgets is missing
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm      # notebook widget in Jupyter, text bar elsewhere
    return tqdm(total=epochs, unit="epoch", disable=not verbose, dynamic_ncols=True)


def _run_epoch(model, loss_fn, optimizer, loader, metrics, callbacks, bar,
               compiled=None) -> dict[str, float]:
    model.train()
    totals = _Totals()
    for batch, (x, y) in enumerate(loader):
        callbacks.on_batch_begin(batch, {"size": x.shape[0]})
        if compiled is not None:
            loss = Tensor(np.asarray(compiled(x, y), dtype=compiled.last_output.dtype))
            output = Tensor(compiled.last_output)
        else:
            optimizer.zero_grad()
            output = model(x)
            loss = loss_fn(output, y) + model.regularization_loss()
            loss.backward()
            optimizer.step()
        with no_grad():
            values = _batch_values(loss, output, y, metrics)
        totals.add(x.shape[0], values)
        if not bar.disable:
            bar.set_postfix(loss=f"{totals.sums['loss'] / totals.count:.4g}", refresh=False)
        callbacks.on_batch_end(batch, {"size": x.shape[0], **values})
        if callbacks.stop_training:
            break
    return totals.means()


def fit(model, loss_fn: Callable, optimizer, train_data, *, epochs: int,
        batch_size: int | None = None, validation_data=None, metrics: Sequence = ("accuracy",),
        callbacks: Sequence[Callback] = (), shuffle: bool = True, seed: int | None = None,
        verbose: bool = True, scheduler=None, compile: bool = False) -> History:
    """Train ``model`` for ``epochs`` epochs and return its ``History`` (Keras's ``fit``).

    train_data        (X, y) tensors/arrays, or an ``nn.data.DataLoader`` (then ``batch_size``,
                      ``shuffle`` and ``seed`` belong to the loader and must not be given here)
    batch_size        None: full batch (1 update/epoch); 1: online (n); m: mini-batch (⌈n/m⌉)
    validation_data   (X, y) or a DataLoader, evaluated after each epoch → ``val_*`` logs
    metrics           names ("accuracy", "mse", "mae") or callables (output, target) → float,
                      on numpy arrays; see ``accuracy`` for how predictions are read
    callbacks         ``optim.callbacks`` instances (EarlyStopping, ModelCheckpoint, ...)
    shuffle, seed     a new order every epoch; ``seed`` makes the orders reproducible
    scheduler         an ``optim.lr_scheduler`` scheduler stepped after every epoch
                      (``ReduceLROnPlateau`` gets ``val_loss``, or ``loss`` without validation)
    verbose           a tqdm progress bar over epochs with the running loss; False: silent
    compile           run each batch as one compiled call (``optim.compile_step``; the first
                      batch of each shape is an eager step that is traced); a model with
                      kernel/bias regularizers or anything else the compiler refuses raises
                      ``optim.CompileError``

    Logs per epoch: ``loss``, the metrics, ``val_loss`` and ``val_<metric>`` with validation
    data, and ``lr`` (group 0's rate during the epoch).

    >>> import optim
    >>> X, y = nn.datasets.gaussians(100, seed=0)
    >>> model = nn.Sequential(nn.Linear(2, 2))
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5),
    ...               (X, y), epochs=10, batch_size=10, verbose=False)
    >>> sorted(history.history), len(history.epoch)
    (['accuracy', 'loss', 'lr'], 10)
    >>> history.history["accuracy"][-1] > 0.9
    True
    """
    if int(epochs) < 0:
        raise ValueError(f"fit: epochs must be ≥ 0, got {epochs!r}")
    loader = _as_loader(train_data, batch_size, shuffle, seed, "fit")
    resolved = _resolve_metrics(metrics)
    val_loader = (None if validation_data is None
                  else _as_loader(validation_data, None, False, None, "fit (validation_data)"))
    compiled = _compiled_step(model, loss_fn, optimizer) if compile else None
    history = History()
    callback_list = CallbackList([*callbacks, history])
    params = {"epochs": int(epochs), "steps": len(loader), "verbose": verbose}
    callback_list.set_context(model, optimizer, params)
    callback_list.on_train_begin()
    with _progress(int(epochs), verbose) as bar:
        for epoch in range(int(epochs)):
            callback_list.on_epoch_begin(epoch)
            lr = float(optimizer.param_groups[0]["lr"])
            logs = _run_epoch(model, loss_fn, optimizer, loader, resolved, callback_list, bar,
                              compiled)
            if val_loader is not None:
                val_logs = _evaluate(model, val_loader, loss_fn, resolved)
                logs.update({f"val_{name}": value for name, value in val_logs.items()})
            logs["lr"] = lr
            callback_list.on_epoch_end(epoch, logs)
            if scheduler is not None:
                _step_scheduler(scheduler, logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "lr"}, refresh=False)
            bar.update(1)
            if callback_list.stop_training:
                break
    model.train()
    callback_list.on_train_end()
    return history


def _compiled_step(model, loss_fn, optimizer):
    """``compile_step`` for ``fit``: the compiled step has no regularization term, so a model
    with regularizers is refused (their penalty is part of fit's loss)."""
    from .compile import CompileError, compile_step
    for name, module in model.named_modules():
        if module.regularization_terms():
            raise CompileError(f"fit(compile=True): module {name or type(module).__name__} "
                               "has a regularizer, whose penalty the compiled step does not add; "
                               "train it with compile=False")
    return compile_step(model, loss_fn, optimizer)


def _step_scheduler(scheduler, logs: dict) -> None:
    if isinstance(scheduler, ReduceLROnPlateau):
        value = _monitor_value(logs)
        if math.isfinite(value):
            scheduler.step(value)
    else:
        scheduler.step()
