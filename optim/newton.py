"""Newton's method for small models: the full Hessian from the engine's double backward."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.interrupts import deferred_interrupts

from .optimizer import Optimizer, StepRecord, UpdateTerm, check_hyperparameter

__all__ = ["Newton"]

#: above this many parameters the n×n Hessian (and n backward sweeps) is refused
MAX_PARAMETERS = 5000


class Newton(Optimizer):
    """Newton's method with optional damping (Levenberg–Marquardt style).

    H = ∇²J(p)  (all parameters flattened into one vector of n entries)
    (H + damping·I)·Δ = ∇J,    p ← p − η·Δ

    ``step(closure)`` needs a closure that recomputes and returns the loss; it must not call
    ``backward`` itself (Newton differentiates the loss twice: one ``ag.grad`` with
    ``create_graph=True``, then one backward sweep per gradient entry, n in all). On a quadratic
    with η = 1 one step lands on the minimum. Models above 5,000 parameters are refused.

    >>> import autograd_core as ag
    >>> w = ag.tensor([3.0, -1.0], dtype="float64", requires_grad=True)
    >>> opt = Newton([w])
    >>> _ = opt.step(lambda: ((w - 1.0) ** 2).sum() + (w[0] * w[1]))
    >>> w.numpy().round(6).tolist()           # the minimum of this quadratic
    [0.666667, 0.666667]
    """

    #: ``step`` and ``record_step`` take the closure (they compute ∇J themselves)
    needs_closure = True
    option_symbols = {"lr": "η", "damping": "λ"}
    TERMS = (UpdateTerm("Δ", "(H + λ·I)·Δ = ∂J/∂w,  H = ∇²J", "update.term.newton_direction",
                        lambda record: record.values["delta"], uses=("∂J/∂w",)),)

    def update_rule(self, group):
        return "wₜ₊₁ = wₜ − η·Δ"

    def __init__(self, params: Iterable, lr: float = 1.0, damping: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, damping=damping))
        self._check_size()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        if len(self.param_groups) > 1:
            self._check_size()

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("Newton", "damping", group["damping"])

    def _params(self) -> list[tuple[Tensor, dict[str, Any]]]:
        return [(p, g) for g in self.param_groups for p in g["params"]]

    def _check_size(self) -> None:
        count = sum(p.size for p, _ in self._params())
        if count > MAX_PARAMETERS:
            raise ValueError(f"Newton: {count:,} parameters would need a {count:,}×{count:,} "
                             f"Hessian; it is limited to {MAX_PARAMETERS:,} parameters "
                             "(use a first-order optimizer)")

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor:
        """Solve (H + damping·I)·Δ = ∇J and set p ← p − lr·Δ; returns the loss before the step.
        Also leaves ∇J in each parameter's ``.grad``."""
        loss, gradient, delta = self._solve(closure, "step")
        self._apply(gradient, delta)
        return loss.detach()

    def _apply(self, gradient: list[np.ndarray], delta: list[np.ndarray]) -> None:
        """p ← p − η·Δ and p.grad = ∇J for every parameter: all of them, or none."""
        with ag.no_grad(), deferred_interrupts():
            for (p, group), grad, part in zip(self._params(), gradient, delta):
                p.grad = Tensor(grad.astype(p.dtype))
                p.sub_(_move(group, part, p.dtype))

    def record_step(self, *, apply: bool = False, closure: Callable | None = None
                    ) -> list[StepRecord]:
        """Newton's step per parameter (see ``Optimizer.record_step``): ∂J/∂w and Δ from
        ``closure``, as ``step`` computes them. ``apply=False`` moves copies of the parameters
        only (``.grad`` is not set either); ``apply=True`` is ``step(closure)``."""
        records = [StepRecord(p, group, p.data.copy(), np.empty(0), np.empty(0), {})
                   for p, group in self._params()]
        _, gradient, delta = self._solve(closure, "record_step")
        if apply:
            self._apply(gradient, delta)
        for r, grad, part in zip(records, gradient, delta):
            r.grad = r.g = grad.astype(r.w.dtype)
            r.values["delta"] = part
            if apply:
                r.w_next = r.param.data.copy()
            else:
                r.w_next = r.w.copy()
                np.subtract(r.w_next, _move(r.group, part, r.w.dtype), out=r.w_next,
                            casting="same_kind")
        return records

    def _solve(self, closure, caller: str) -> tuple[Tensor, list[np.ndarray], list[np.ndarray]]:
        """The loss, ∇J and Δ = (H + damping·I)⁻¹∇J, split per parameter and shaped like it."""
        if closure is None:
            raise ValueError(f"Newton.{caller} needs a closure that recomputes and returns the "
                             "loss")
        self._check_size()
        pairs = self._params()
        params = [p for p, _ in pairs]
        with ag.enable_grad():
            loss = closure()
            if not isinstance(loss, Tensor) or loss.size != 1 or not loss.requires_grad:
                raise ValueError(f"Newton.{caller}: the closure must return a one-element loss "
                                 "tensor computed from the parameters (got "
                                 f"{getattr(loss, 'shape', type(loss).__name__)})")
            gradient, hessian = _gradient_and_hessian(loss, params)
        damping = np.concatenate([np.full(p.size, g["damping"]) for p, g in pairs])
        try:
            delta = np.linalg.solve(hessian + np.diag(damping), gradient)
        except np.linalg.LinAlgError as error:
            n = gradient.size
            raise ValueError(f"Newton.{caller}: the {n}×{n} Hessian (+ damping) is singular "
                             f"({error}); use damping > 0") from None
        ends = np.cumsum([0] + [p.size for p in params])
        spans = list(zip(ends, ends[1:], params))
        return (loss, [gradient[a:b].reshape(p.shape) for a, b, p in spans],
                [delta[a:b].reshape(p.shape) for a, b, p in spans])


def _move(group: dict[str, Any], part: np.ndarray, dtype) -> np.ndarray:
    """What the step subtracts from a parameter: η·Δ in the parameter's dtype."""
    return (group["lr"] * part).astype(dtype)


def _gradient_and_hessian(loss: Tensor, params: list[Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """∇J and ∇²J over all parameters flattened (float64): one ``ag.grad`` with
    ``create_graph=True``, then one backward sweep per gradient entry (row i of H = ∇(∂J/∂pᵢ))."""
    grads = ag.grad(loss, params, create_graph=True, allow_unused=True)
    grads = [g if g is not None else ag.zeros(p.shape, dtype=p.dtype)
             for g, p in zip(grads, params)]
    flat = ag.cat([g.reshape(-1) for g in grads])
    hessian = np.zeros((flat.size, flat.size), dtype=np.float64)
    if flat.requires_grad:                       # else J is linear in the parameters: H = 0
        for i in range(flat.size):
            row = ag.grad(flat[i], params, retain_graph=True, allow_unused=True)
            hessian[i] = np.concatenate([np.zeros(p.size) if r is None else r.data.ravel()
                                         for r, p in zip(row, params)])
    return flat.data.astype(np.float64), hessian
