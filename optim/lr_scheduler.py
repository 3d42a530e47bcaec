"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` (names, arguments and values).

A scheduler rewrites ``group["lr"]`` of every param group of an optimizer each time ``step()``
is called, usually once per epoch (course 002, "decaimiento de la tasa de aprendizaje")::

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        train_one_epoch(...)
        sched.step()

As in PyTorch, building a scheduler performs a first ``step()`` (``last_epoch`` goes from −1 to 0
and every group gets its initial rate ``α₀``, saved as ``group["initial_lr"]``). Every schedule
below is computed in closed form from ``α₀`` and the epoch count ``e = last_epoch``; PyTorch's
chained (recursive) forms give the same values up to rounding. The only thing a scheduler needs
from the optimizer is ``param_groups``: a list of dicts holding ``"lr"``.

>>> import autograd_core as ag, optim
>>> opt = optim.SGD([ag.zeros(1, requires_grad=True)], lr=0.2)
>>> sched = InverseTimeLR(opt, gamma=1.0)          # α = α₀ / (1 + γ·epoch)
>>> for _ in range(3):
...     sched.step()
>>> round(opt.param_groups[0]["lr"], 4)
0.05
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "InverseTimeLR",
           "CosineAnnealingLR", "ReduceLROnPlateau", "LambdaLR"]


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into the groups.

    Subclasses implement ``get_lr()``: the rate of each group at epoch ``self.last_epoch`` from
    ``self.base_lrs`` (the ``α₀`` of each group).
    """

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise TypeError(f"{type(self).__name__}: expected an optimizer with param_groups (a "
                            f"list of dicts), got {type(optimizer).__name__}")
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, g in enumerate(groups) if "initial_lr" not in g]
            if missing:
                raise KeyError(f"{type(self).__name__}: param 'initial_lr' is not specified in "
                               f"param_groups[{missing[0]}] when resuming (last_epoch="
                               f"{last_epoch}); build the scheduler with last_epoch=-1 first")
        self.optimizer = optimizer
        self.base_lrs = [float(g["initial_lr"]) for g in groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = [float(g["lr"]) for g in groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The rate of each group at epoch ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def step(self) -> None:
        """Advance one epoch: ``last_epoch += 1`` and set every group's ``lr``."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _set_lrs(self, lrs: Sequence[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = float(lr)
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` set, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (and callables, which cannot be saved)."""
        return {key: value for key, value in self.__dict__.items()
                if key != "optimizer" and not callable(value)
                and not (isinstance(value, list) and value and callable(value[0]))}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned (the optimizer's rates are not touched)."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class StepLR(LRScheduler):
    """Step decay: α = α₀ · γ^⌊e / step_size⌋ (divide by 1/γ every ``step_size`` epochs)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** (self.last_epoch // self.step_size)
        return [base * factor for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay at given epochs: α = α₀ · γ^(number of milestones ≤ e)."""

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Exponential decay: α = α₀ · γ^e (course 002: α = 0.95^epoch · α₀)."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class InverseTimeLR(LRScheduler):
    """The course's decay (002): α = α₀ / (1 + γ · e), with γ the "decay rate".

    Keras calls it ``InverseTimeDecay`` (with decay_steps = 1); PyTorch has no class for it
    (``LambdaLR(opt, lambda e: 1 / (1 + γ e))`` gives the same values).
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        if gamma < 0:
            raise ValueError(f"InverseTimeLR: gamma (decay rate) must be ≥ 0, got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base / (1.0 + self.gamma * self.last_epoch) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (SGDR without restarts), PyTorch's closed form:

        α = η_min + (α₀ − η_min) · (1 + cos(π · e / T_max)) / 2

    It reaches η_min at e = T_max and, past it, climbs back along the same cosine (as PyTorch).
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """α = α₀ · λ(e), with one function λ for all groups or a list with one per group."""

    def __init__(self, optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable],
                 last_epoch: int = -1) -> None:
        count = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * count
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != count:
                raise ValueError(f"LambdaLR: expected {count} lr_lambdas (one per param group), "
                                 f"got {len(self.lr_lambdas)}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas)]


class ReduceLROnPlateau(LRScheduler):
    """Divide the rate when a monitored metric stops improving (PyTorch's rules):

    improvement    mode "min": m < best·(1 − threshold) ("rel") or m < best − threshold ("abs");
                   mode "max": m > best·(1 + threshold) ("rel") or m > best + threshold ("abs")
    bad epochs     counted since the last improvement; when they exceed ``patience``,
                   α ← max(α · factor, min_lr), then ``cooldown`` epochs pass without counting.

    Call ``step(metric)`` once per epoch with the metric (e.g. the validation loss).
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor!r}")
        count = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != count:
                raise ValueError(f"ReduceLROnPlateau: expected {count} min_lrs, got "
                                 f"{len(min_lr)}")
            self.min_lrs = [float(m) for m in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * count
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = int(cooldown), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.optimizer = optimizer
        self.last_epoch = 0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    def step(self, metric: float) -> None:  # type: ignore[override]
        """Record one epoch's ``metric`` and reduce the rates after a plateau."""
        current = float(metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def _reduce(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            # NOTE: changes smaller than eps are skipped, as PyTorch does
            if old - new > self.eps:
                group["lr"] = new

    def get_lr(self) -> list[float]:
        return list(self._last_lr)
