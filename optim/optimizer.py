"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, ``step``
and ``state_dict``, as in ``torch.optim.Optimizer``.

A subclass declares its defaults and implements only ``_update(param, grad, state, group)``: one
update formula, applied in place to ``param`` (the parameter's numpy array) from ``grad`` (the
numpy array of its gradient, already negated for ``maximize`` and with L2 ``weight_decay`` added
when the optimizer couples it to the gradient). ``grad`` may be the parameter's own ``.grad``
array: ``_update`` must never write into it.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.interrupts import deferred_interrupts

__all__ = ["Optimizer", "check_hyperparameter"]


def check_hyperparameter(optimizer: str, name: str, value: float, *, low: float = 0.0,
                         high: float | None = None, high_open: bool = False) -> None:
    """Raise ``ValueError`` naming the optimizer and the hyperparameter when ``value`` is outside
    ``[low, high]`` (``[low, high)`` with ``high_open``)."""
    bad = value < low or (high is not None and (value >= high if high_open else value > high))
    if bad:
        upper = "" if high is None else f", {high}{')' if high_open else ']'}"
        interval = f"[{low}{upper}" if high is not None else f">= {low}"
        raise ValueError(f"{optimizer}: invalid {name} = {value!r}; expected {interval}")


class Optimizer:
    """Base class of every optimizer.

    ``params`` is an iterable of Tensors that require grad, or of dicts ``{"params": [...],
    "lr": ..., ...}`` giving per-group options (missing options take the optimizer's defaults).
    ``param_groups`` is the list of those dicts; ``state[p]`` the dict of buffers of parameter p.

    Usage, as in PyTorch::

        opt.zero_grad(); loss = loss_fn(model(x), t); loss.backward(); opt.step()
    """

    #: add ``weight_decay·p`` to the gradient before ``_update`` (False: the subclass decays)
    _coupled_weight_decay = True

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got a single Tensor of shape {params.shape}; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, "
                            f"got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError(f"{self._name}: a param group needs a 'params' entry")
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameter {i} of group {len(self.param_groups)} "
                                f"is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad:
                raise ValueError(f"{self._name}: parameter {i} (shape {p.shape}) does not require "
                                 "grad, so it can never be updated; set requires_grad=True")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: parameter {i} (shape {p.shape}) is not a leaf "
                                 f"(made by {p.grad_fn.name()}); optimize leaves only")
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {i} (shape {p.shape}) appears in more "
                                 "than one place; each parameter may belong to one group once")
            seen.add(id(p))
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{self._name}: unknown option(s) {sorted(unknown)} in a param group; "
                            f"expected some of {sorted(self.defaults)}")
        group = {**self.defaults, **param_group, "params": params}
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses extend this)."""
        for name in ("lr", "eps", "weight_decay"):
            if name in group:
                check_hyperparameter(self._name, name, group[name])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or zero them in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    grad = p.grad
                    if grad.grad_fn is not None or grad.requires_grad:
                        grad = grad.detach()
                        p.grad = grad
                    grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter whose ``.grad`` is set; returns ``closure()`` if given
        (the closure re-evaluates the model and returns the loss; it runs with grad enabled).

        All-or-nothing: a bad gradient raises before any parameter changes, and a Ctrl-C that
        arrives during the updates is raised once all of them are done (main thread; see
        ``autograd_core.interrupts``), so parameters and optimizer state always agree."""
        loss = None
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        with ag.no_grad():
            # NOTE: all-or-nothing: every gradient is checked and prepared first (a bad one
            # raises before any parameter moves), then the updates run with Ctrl-C held back
            # until the last one is done. Only an error inside ``_update`` itself (a bug, out of
            # memory) can still stop a step halfway; the exception then says so.
            work = [(p, self._prepare_grad(p, group), group) for group in self.param_groups
                    for p in group["params"] if p.grad is not None]
            with deferred_interrupts():
                for p, grad, group in work:
                    self._update(p.data, grad, self.state.setdefault(p, {}), group)
                    _mark_modified(p)
        return loss

    def _prepare_grad(self, p: Tensor, group: dict[str, Any]) -> np.ndarray:
        """The gradient array the update sees: −g when maximizing, plus λ·p for L2 decay."""
        grad = p.grad.data
        if grad.shape != p.shape:
            raise ValueError(f"{self._name}: gradient of shape {grad.shape} for a parameter of "
                             f"shape {p.shape}")
        if group.get("maximize", False):
            grad = -grad
        decay = group.get("weight_decay", 0.0)
        if decay and self._coupled_weight_decay:
            grad = grad + decay * p.data
        return grad

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Update ``param`` in place from ``grad``, keeping buffers in ``state``."""
        raise NotImplementedError(f"{self._name} must implement _update")

    # --- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: value}}, "param_groups": [{options, "params": [index]}]}``
        with parameters numbered across groups in order (as PyTorch). Arrays are copies; the
        result holds only dicts, lists, tuples, numbers and numpy arrays, so ``nn.save`` takes
        it."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**copy.deepcopy({k: v for k, v in group.items() if k != "params"}),
                           "params": ids})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()
                                           if not k.startswith("_")}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (from this optimizer or one built the same way)."""
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or "state" not in state_dict:
            raise ValueError(f"{self._name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups'")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state has {len(groups)} param "
                             f"groups, the optimizer {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{self._name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the state, "
                                 f"{len(group['params'])} in the optimizer")
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"{self._name}.load_state_dict: state for parameter {key}, "
                                 "which no group lists")
            new_state[p] = {name: _cast_like(self._name, name, v, p)
                            for name, v in values.items()}
        options = [copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
                   for saved in groups]
        with deferred_interrupts():                      # the groups and the state, or nothing
            for group, values in zip(self.param_groups, options):
                group.update(values)
            self.state = new_state


def _mark_modified(p: Tensor) -> None:
    """Record that ``p`` changed in place, so that a graph recorded before the step refuses to
    run backward through the old values (as PyTorch does) instead of using the new ones."""
    ag.increment_version(p)


def _copy_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    return copy.deepcopy(value)


def _cast_like(optimizer: str, name: str, value: Any, p: Tensor) -> Any:
    """A copy of a saved state value; arrays shaped like the parameter take its dtype."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.shape != p.shape:
            raise ValueError(f"{optimizer}.load_state_dict: state {name!r} has shape "
                             f"{value.shape}, but its parameter has shape {p.shape}")
        return np.array(value, dtype=p.dtype, copy=True)
    if isinstance(value, np.ndarray):
        return value.item()
    return copy.deepcopy(value)
