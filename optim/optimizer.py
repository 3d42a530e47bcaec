"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, ``step``
and ``state_dict``, as in ``torch.optim.Optimizer``.

A subclass declares its defaults and implements only ``_update(param, grad, state, group)``: one
update formula, applied in place to ``param`` (the parameter's numpy array) from ``grad`` (the
numpy array of its gradient, already negated for ``maximize`` and with L2 ``weight_decay`` added
when the optimizer couples it to the gradient). ``grad`` may be the parameter's own ``.grad``
array: ``_update`` must never write into it.

For pictures of the step (``viz.draw_update``), a subclass also declares its rule as text
(``update_rule``) and the quantities of that rule (``TERMS``: :class:`UpdateTerm`, each read
from the state the real ``_update`` left); :meth:`Optimizer.record_step` runs ``_update`` on
copies of the parameters and state, so a picture shows exactly what ``step()`` would do.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.interrupts import deferred_interrupts

__all__ = ["Optimizer", "StepRecord", "UpdateTerm", "check_hyperparameter", "from_state",
           "mentions"]


def check_hyperparameter(optimizer: str, name: str, value: float, *, low: float = 0.0,
                         high: float | None = None, high_open: bool = False) -> None:
    """Raise ``ValueError`` naming the optimizer and the hyperparameter when ``value`` is outside
    ``[low, high]`` (``[low, high)`` with ``high_open``)."""
    bad = value < low or (high is not None and (value >= high if high_open else value > high))
    if bad:
        interval = f">= {low}" if high is None else f"[{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{optimizer}: invalid {name} = {value!r}; expected {interval}")


@dataclass
class StepRecord:
    """One parameter's step, before and after: what ``record_step`` returns.

    ``w`` is wₜ, ``grad`` ∂J/∂w (a copy of ``.grad``), ``g`` the gradient array ``_update``
    received (−∂J/∂w when maximizing, plus λ·wₜ with coupled weight decay), ``state_before`` and
    ``state`` copies of the parameter's optimizer state before and after the step, ``w_next``
    wₜ₊₁; ``values`` holds what a step computes but keeps in no state (Newton's Δ).
    """

    param: Tensor
    group: dict[str, Any]
    w: np.ndarray
    grad: np.ndarray
    g: np.ndarray
    state_before: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    w_next: np.ndarray | None = None
    values: dict[str, Any] = field(default_factory=dict)


def _always(group: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class UpdateTerm:
    """One quantity of an update rule, as a picture of the step shows it.

    ``symbol`` (m, v̂, t, …), ``formula`` (how the step computes it, in the class docstring's
    notation), ``word`` (a key of ``autograd_core.vocabulary``: its name in English and
    Spanish), ``read`` (its value from a :class:`StepRecord` after the step: a state buffer, or
    a quantity the step derives from the state, such as Adam's m̂ = m/(1 − β₁ᵗ)), ``uses`` (the
    symbols it is computed from, drawn as arrows: "g" the gradient the update uses, "∂J/∂w" the
    ``.grad``, "wₜ" the parameter) and ``when`` (the param groups it exists for).
    """

    symbol: str
    formula: str
    word: str
    read: Callable[[StepRecord], Any]
    uses: tuple[str, ...] = ("g",)
    when: Callable[[dict[str, Any]], bool] = _always


def from_state(key: str) -> Callable[[StepRecord], Any]:
    """A term's reader: the buffer ``key`` of the state after the step."""
    def read(record: StepRecord) -> Any:
        return record.state[key]
    read.__qualname__ = f"from_state({key!r})"
    return read


#: what may continue a symbol: combining marks (m̂) and subscripts (ηₜ, λ₁, vₘₐₓ, wₜ₊₁)
_SYMBOL_TAIL = "\u0300-\u036f\u2080-\u209c"


def mentions(text: str, symbol: str) -> bool:
    """Does ``text`` use ``symbol`` itself (m, not m̂ or max; η, not ηₜ; λ, not λ₁)?"""
    pattern = f"(?<![A-Za-z]){re.escape(symbol)}(?![{_SYMBOL_TAIL}])"
    return re.search(pattern, text) is not None


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

    # --- the step as a picture shows it -----------------------------------------------------
    #: group option → its symbol in the formulas; a picture lists an option when its symbol
    #: appears in the rule or in a term (:meth:`shown_options`)
    option_symbols: dict[str, str | tuple[str, ...]] = {"lr": "η", "weight_decay": "λ",
                                                        "eps": "ε"}
    #: the quantities of the update rule (subclasses declare theirs next to ``_update``)
    TERMS: tuple[UpdateTerm, ...] = ()
    #: whether ``step`` needs a closure because it computes the gradients itself (Newton)
    needs_closure = False

    def update_rule(self, group: dict[str, Any]) -> str:
        """wₜ₊₁ as the step computes it, in the terms' symbols (e.g. "wₜ₊₁ = wₜ − η·g"); a
        subclass that declares none is written as what it is, its ``_update`` of wₜ and g."""
        return f"wₜ₊₁ = {self._name}._update(wₜ, g)"

    def update_terms(self, group: dict[str, Any]) -> list[UpdateTerm]:
        """The terms of ``group``'s update: the gradient used (when it is not ∂J/∂w itself), then
        the declared ``TERMS`` that exist for the group's options."""
        terms = [term for term in self.TERMS if term.when(group)]
        maximize = bool(group.get("maximize", False))
        decay = bool(group.get("weight_decay", 0.0)) and self._coupled_weight_decay
        if maximize or decay:
            formula = "g = " + ("−∂J/∂w" if maximize else "∂J/∂w") + (" + λ·wₜ" if decay else "")
            uses = ("∂J/∂w", "wₜ") if decay else ("∂J/∂w",)
            terms.insert(0, UpdateTerm("g", formula, "update.term.gradient",
                                       lambda record: record.g, uses))
        return terms

    def shown_options(self, group: dict[str, Any]) -> list[tuple[str, str, float]]:
        """(option, symbol, value) for each option whose symbol the group's formulas use; an
        option of several symbols (``betas``) gives one entry each, named "betas.0", …"""
        text = " ".join([self.update_rule(group)] + [t.formula for t in self.update_terms(group)])
        shown = []
        for option, symbols in self.option_symbols.items():
            if option not in group:
                continue
            many = isinstance(symbols, tuple)
            for k, symbol in enumerate(symbols if many else (symbols,)):
                if mentions(text, symbol):
                    value = group[option][k] if many else group[option]
                    shown.append((f"{option}.{k}" if many else option, symbol, float(value)))
        return shown

    def rule_uses(self, group: dict[str, Any]) -> list[str]:
        """What wₜ₊₁'s formula is computed from: "wₜ", "g" and the symbols of the group's terms
        that the right-hand side of ``update_rule`` mentions."""
        rhs = self.update_rule(group).split("=", 1)[1]
        names = ["wₜ", "g"] + [term.symbol for term in self.update_terms(group)]
        return [name for name in dict.fromkeys(names) if mentions(rhs, name)]

    def record_step(self, *, apply: bool = False, closure: Callable | None = None
                    ) -> list[StepRecord]:
        """What one ``step()`` does to each parameter with a ``.grad``, as :class:`StepRecord` s.

        ``apply=False`` (a preview): ``_update`` runs as in ``step()`` but on copies of the
        parameter arrays and of their state, so nothing changes — parameters, ``.grad``,
        ``state``, step counts — and a Ctrl-C during it leaves nothing half done.
        ``apply=True`` runs ``step()`` itself and records what it did. (``closure`` is for
        optimizers whose step needs one, such as Newton.)

        >>> import autograd_core as ag, optim
        >>> w = ag.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
        >>> (w * w).sum().backward()
        >>> [r.w_next.tolist() for r in optim.SGD([w], lr=0.1).record_step()], w.tolist()
        ([[0.8, -1.6]], [1.0, -2.0])
        """
        if closure is not None:
            raise ValueError(f"{self._name}.record_step: closure is only for optimizers whose "
                             "step computes its own gradients (Newton); set .grad by backward()")
        with ag.no_grad():
            records = [StepRecord(p, group, p.data.copy(), p.grad.data.copy(),
                                  np.array(self._prepare_grad(p, group), copy=True),
                                  copy.deepcopy(self.state.get(p, {})))
                       for group in self.param_groups for p in group["params"]
                       if p.grad is not None]
            if apply:
                self.step()
            for r in records:
                if apply:
                    r.state, r.w_next = copy.deepcopy(self.state[r.param]), r.param.data.copy()
                else:
                    r.state, r.w_next = copy.deepcopy(r.state_before), r.w.copy()
                    self._update(r.w_next, r.g, r.state, r.group)
        return records

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
