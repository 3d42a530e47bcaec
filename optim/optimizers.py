"""First-order optimizers: PyTorch's update rules and defaults (and FTRL as Keras defines it).

Each class implements only ``_update(param, grad, state, group)`` (see ``optim.optimizer``):
``param`` and ``grad`` are numpy arrays, ``grad`` already holds −g when ``maximize`` and
``g + λ·p`` when ``weight_decay = λ`` (except AdamW's decoupled decay). Notation: g the gradient
∇J, η the learning rate ``lr``, t the step count, ⊙ elementwise products, √· elementwise roots.
Buffers are updated in place with numpy ``out=`` arguments; keys of ``state`` starting with ``_``
are scratch arrays, not saved by ``state_dict``.

Beside each ``_update``, ``update_rule`` and ``TERMS`` say how the step reads in a picture
(``viz.draw_update``): each term is read from the state the real ``_update`` left (see
``optim.optimizer.UpdateTerm``), so nothing of the rule is computed twice.

SGD, Adam, AdamW, RMSprop and Adagrad run their update as one fused in-place kernel of
``autograd_core.kernels`` (a Numba loop beside a numpy reference that computes the same float
operations in the same order; see ``autograd_core/kernels/optim.py``), so a step allocates
nothing; the others use numpy ``out=`` arguments.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd_core import kernels

from .optimizer import Optimizer, StepRecord, UpdateTerm, check_hyperparameter, from_state

__all__ = ["SGD", "SGDMomentum", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax",
           "NAdam", "FTRL"]


def _buffer(state: dict[str, Any], name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``state[name]``, created as an array like ``like`` filled with ``fill`` on first use."""
    if name not in state:
        state[name] = np.full_like(like, fill)
    return state[name]


def _scratch(state: dict[str, Any], like: np.ndarray) -> np.ndarray:
    """A work array kept between steps (not part of ``state_dict``)."""
    work = state.get("_work")
    if work is None or work.shape != like.shape or work.dtype != like.dtype:
        work = state["_work"] = np.empty_like(like)
    return work


def _check_betas(name: str, betas: tuple[float, float]) -> None:
    for i, beta in enumerate(betas):
        check_hyperparameter(name, f"betas[{i}]", beta, high=1.0, high_open=True)


# --- readers of the terms pictures show (see UpdateTerm) ----------------------------------------
def _bias_corrected(key: str, beta: int) -> Callable[[StepRecord], Any]:
    """``state[key]/(1 − βᵗ)`` with β = ``betas[beta]`` and t the step count after the step."""
    def read(record: StepRecord) -> Any:
        return record.state[key] / (1.0 - record.group["betas"][beta] ** record.state["step"])
    return read


_STEP = UpdateTerm("t", "t ← t + 1", "update.term.step", from_state("step"), uses=())
_FIRST_MOMENT = UpdateTerm("m", "m ← β₁·m + (1 − β₁)·g", "update.term.first_moment",
                           from_state("exp_avg"))
_SECOND_MOMENT = UpdateTerm("v", "v ← β₂·v + (1 − β₂)·g²", "update.term.second_moment",
                            from_state("exp_avg_sq"))
_M_HAT = UpdateTerm("m̂", "m̂ = m/(1 − β₁ᵗ)", "update.term.first_moment_hat",
                    _bias_corrected("exp_avg", 0), uses=("m", "t"))
_BETAS = {"betas": ("β₁", "β₂")}


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    without momentum   p ← p − η·g
    with momentum μ    v ← g at the first step, then v ← μ·v + (1 − dampening)·g
                       p ← p − η·v              (nesterov: p ← p − η·(g + μ·v))

    This is the course's classic momentum v′ ← μ·v′ − η·g, p ← p + v′ written with v′ = −η·v:
    both give the same trajectory while η is constant (they differ only when η changes, since
    PyTorch's buffer does not carry η). For the course's moving-average form use SGDMomentum.

    >>> import autograd_core as ag
    >>> w = ag.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w.numpy().round(4).tolist()
    [0.8, -1.6]
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("SGD", "momentum", group["momentum"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    option_symbols = {**Optimizer.option_symbols, "momentum": "μ", "dampening": "τ"}
    TERMS = (
        UpdateTerm("v", "v ← μ·v + g  (v = g at t = 1)", "update.term.momentum_buffer",
                   from_state("momentum_buffer"),
                   when=lambda group: group["momentum"] > 0 and group["dampening"] == 0),
        UpdateTerm("v", "v ← μ·v + (1 − τ)·g  (v = g at t = 1)", "update.term.momentum_buffer",
                   from_state("momentum_buffer"),
                   when=lambda group: group["momentum"] > 0 and group["dampening"] != 0),
    )

    def update_rule(self, group):
        if group["momentum"] == 0:
            return "wₜ₊₁ = wₜ − η·g"
        return "wₜ₊₁ = wₜ − η·(g + μ·v)" if group["nesterov"] else "wₜ₊₁ = wₜ − η·v"

    def _update(self, param, grad, state, group):
        """p ← p − η·v,  v ← μ·v + (1 − dampening)·g  (v = g at the first step)."""
        lr, momentum = float(group["lr"]), float(group["momentum"])
        if momentum == 0:
            kernels.sgd(param, grad, lr)
            return
        buf = state.get("momentum_buffer")
        first_step = buf is None
        if first_step:
            buf = state["momentum_buffer"] = np.empty_like(param)
        kernels.sgd_momentum(param, grad, buf, lr, momentum, float(group["dampening"]),
                             bool(group["nesterov"]), first_step)


class SGDMomentum(Optimizer):
    """Gradient descent with momentum as the course writes it (001, 002): the step follows the
    exponential moving average of the gradient.

    m ← β·m + (1 − β)·g      (m = 0 before the first step; no bias correction)
    p ← p − η·m

    ``SGD(lr=η, momentum=β, dampening=β)`` runs the same recursion, except that PyTorch's buffer
    starts at g instead of (1 − β)·g, so the two differ from the first step on.

    >>> import autograd_core as ag
    >>> w = ag.tensor([1.0], dtype="float64", requires_grad=True)
    >>> opt = SGDMomentum([w], lr=1.0, beta=0.9)
    >>> (w * w).sum().backward(); opt.step(); w.numpy().round(4).tolist()   # m = 0.1·2
    [0.8]
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, beta: float = 0.9) -> None:
        super().__init__(params, dict(lr=lr, beta=beta))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("SGDMomentum", "beta", group["beta"], high=1.0, high_open=True)

    option_symbols = {**Optimizer.option_symbols, "beta": "β"}
    TERMS = (UpdateTerm("m", "m ← β·m + (1 − β)·g", "update.term.moving_average",
                        from_state("exp_avg")),)

    def update_rule(self, group):
        return "wₜ₊₁ = wₜ − η·m"

    def _update(self, param, grad, state, group):
        """m ← β·m + (1 − β)·g;  p ← p − η·m."""
        beta = group["beta"]
        m = _buffer(state, "exp_avg", param)
        work = _scratch(state, param)
        np.multiply(m, beta, out=m)
        m += np.multiply(grad, 1.0 - beta, out=work)
        param -= np.multiply(m, group["lr"], out=work)


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    s ← s + g²   (s starts at initial_accumulator_value)
    p ← p − η_t · g / (√s + ε),   η_t = η / (1 + (t − 1)·lr_decay)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("Adagrad", "lr_decay", group["lr_decay"])
        check_hyperparameter("Adagrad", "initial_accumulator_value",
                             group["initial_accumulator_value"])

    option_symbols = {**Optimizer.option_symbols, "lr_decay": "κ",
                      "initial_accumulator_value": "s₀"}
    TERMS = (
        UpdateTerm("s", "s ← s + g²  (s = s₀ at t = 0)", "update.term.sum_of_squares",
                   from_state("sum")),
        _STEP,
        UpdateTerm("ηₜ", "ηₜ = η/(1 + (t − 1)·κ)", "update.term.decayed_lr",
                   lambda r: r.group["lr"] / (1.0 + (r.state["step"] - 1) * r.group["lr_decay"]),
                   uses=("t",), when=lambda group: group["lr_decay"] != 0),
    )

    def update_rule(self, group):
        return f"wₜ₊₁ = wₜ − {'ηₜ' if group['lr_decay'] else 'η'}·g/(√s + ε)"

    def _update(self, param, grad, state, group):
        """s ← s + g²;  p ← p − η/(1 + (t−1)·lr_decay) · g/(√s + ε)."""
        total = _buffer(state, "sum", param, group["initial_accumulator_value"])
        state["step"] = step = state.get("step", 0) + 1
        kernels.adagrad(param, grad, total, float(group["lr"]), float(group["lr_decay"]),
                        float(group["eps"]), int(step))


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    v ← α·v + (1 − α)·g²
    centered: ḡ ← α·ḡ + (1 − α)·g and the denominator is √(v − ḡ²) + ε, else √v + ε
    without momentum   p ← p − η·g/(√v + ε)
    with momentum μ    b ← μ·b + g/(√v + ε),  p ← p − η·b
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("RMSprop", "alpha", group["alpha"])
        check_hyperparameter("RMSprop", "momentum", group["momentum"])

    option_symbols = {**Optimizer.option_symbols, "alpha": "α", "momentum": "μ"}
    TERMS = (
        UpdateTerm("v", "v ← α·v + (1 − α)·g²", "update.term.square_average",
                   from_state("square_avg")),
        UpdateTerm("ḡ", "ḡ ← α·ḡ + (1 − α)·g", "update.term.moving_average",
                   from_state("grad_avg"), when=lambda group: group["centered"]),
        UpdateTerm("b", "b ← μ·b + g/(√v + ε)", "update.term.momentum_buffer",
                   from_state("momentum_buffer"), uses=("g", "v"),
                   when=lambda group: group["momentum"] > 0 and not group["centered"]),
        UpdateTerm("b", "b ← μ·b + g/(√(v − ḡ²) + ε)", "update.term.momentum_buffer",
                   from_state("momentum_buffer"), uses=("g", "v", "ḡ"),
                   when=lambda group: group["momentum"] > 0 and group["centered"]),
    )

    def update_rule(self, group):
        if group["momentum"] > 0:
            return "wₜ₊₁ = wₜ − η·b"
        return f"wₜ₊₁ = wₜ − η·g/({'√(v − ḡ²)' if group['centered'] else '√v'} + ε)"

    def _update(self, param, grad, state, group):
        """v ← α·v + (1−α)·g²;  p ← p − η·g/(√v + ε) (with momentum/centering as above)."""
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        square_avg = _buffer(state, "square_avg", param)
        state["step"] = state.get("step", 0) + 1
        if group["centered"]:
            grad_avg = _buffer(state, "grad_avg", param)
            if momentum > 0:
                kernels.rmsprop_centered_momentum(
                    param, grad, square_avg, grad_avg, _buffer(state, "momentum_buffer", param),
                    lr, alpha, eps, momentum)
            else:
                kernels.rmsprop_centered(param, grad, square_avg, grad_avg, lr, alpha, eps)
        elif momentum > 0:
            kernels.rmsprop_momentum(param, grad, square_avg,
                                     _buffer(state, "momentum_buffer", param), lr, alpha, eps,
                                     momentum)
        else:
            kernels.rmsprop(param, grad, square_avg, lr, alpha, eps)


class _WithBetas(Optimizer):
    """Optimizers with moving-average coefficients ``betas`` (each checked to lie in [0, 1))."""

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        _check_betas(self._name, group["betas"])


class Adam(_WithBetas):
    """Adam, as ``torch.optim.Adam`` and course 002 (with its bias correction).

    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²      (m = v = 0 at the start)
    m̂ = m/(1 − β₁ᵗ),   v̂ = v/(1 − β₂ᵗ)
    p ← p − η·m̂/(√v̂ + ε)
    amsgrad: v̂ uses v_max ← max(v_max, v) instead of v.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    option_symbols = {**Optimizer.option_symbols, **_BETAS}
    TERMS = (
        _FIRST_MOMENT, _SECOND_MOMENT,
        UpdateTerm("vₘₐₓ", "vₘₐₓ ← max(vₘₐₓ, v)", "update.term.max_second_moment",
                   from_state("max_exp_avg_sq"), uses=("v",),
                   when=lambda group: group["amsgrad"]),
        _STEP, _M_HAT,
        UpdateTerm("v̂", "v̂ = v/(1 − β₂ᵗ)", "update.term.second_moment_hat",
                   _bias_corrected("exp_avg_sq", 1), uses=("v", "t"),
                   when=lambda group: not group["amsgrad"]),
        UpdateTerm("v̂", "v̂ = vₘₐₓ/(1 − β₂ᵗ)", "update.term.second_moment_hat",
                   _bias_corrected("max_exp_avg_sq", 1), uses=("vₘₐₓ", "t"),
                   when=lambda group: group["amsgrad"]),
    )

    def update_rule(self, group):
        return "wₜ₊₁ = wₜ − η·m̂/(√v̂ + ε)"

    def _update(self, param, grad, state, group):
        """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − η·(m/(1−β₁ᵗ))/(√(v/(1−β₂ᵗ)) + ε)."""
        self._adam_update(param, grad, state, group, decoupled_decay=0.0)

    def _adam_update(self, param, grad, state, group, decoupled_decay: float) -> None:
        """Adam's step with p ← (1 − η·λ)·p first, λ = ``decoupled_decay`` (0: none)."""
        beta1, beta2 = (float(beta) for beta in group["betas"])
        exp_avg = _buffer(state, "exp_avg", param)
        exp_avg_sq = _buffer(state, "exp_avg_sq", param)
        state["step"] = step = state.get("step", 0) + 1
        scalars = (float(group["lr"]), beta1, beta2, float(group["eps"]), decoupled_decay,
                   int(step))
        if group["amsgrad"]:
            kernels.adam_amsgrad(param, grad, exp_avg, exp_avg_sq,
                                 _buffer(state, "max_exp_avg_sq", param), *scalars)
        else:
            kernels.adam(param, grad, exp_avg, exp_avg_sq, *scalars)


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    p ← p − η·λ·p   (λ = weight_decay, applied to the parameter, not added to g)
    then Adam's step with the plain gradient g.
    """

    _coupled_weight_decay = False

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def update_rule(self, group):
        return "wₜ₊₁ = (1 − η·λ)·wₜ − η·m̂/(√v̂ + ε)"

    def _update(self, param, grad, state, group):
        """p ← (1 − η·λ)·p, then Adam's update (one fused kernel)."""
        self._adam_update(param, grad, state, group, float(group["weight_decay"]))


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    v ← ρ·v + (1 − ρ)·g²
    Δ = √(u + ε)/√(v + ε) · g
    u ← ρ·u + (1 − ρ)·Δ²
    p ← p − η·Δ
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("Adadelta", "rho", group["rho"], high=1.0)

    option_symbols = {**Optimizer.option_symbols, "rho": "ρ"}
    TERMS = (
        UpdateTerm("v", "v ← ρ·v + (1 − ρ)·g²", "update.term.square_average",
                   from_state("square_avg")),
        UpdateTerm("Δ", "Δ = √(u + ε)/√(v + ε)·g  (u of step t − 1)", "update.term.direction",
                   lambda r: np.sqrt((r.state_before.get("acc_delta", 0.0) + r.group["eps"])
                                     / (r.state["square_avg"] + r.group["eps"])) * r.g,
                   uses=("g", "v")),
        UpdateTerm("u", "u ← ρ·u + (1 − ρ)·Δ²", "update.term.delta_average",
                   from_state("acc_delta"), uses=("Δ",)),
    )

    def update_rule(self, group):
        return "wₜ₊₁ = wₜ − η·Δ"

    def _update(self, param, grad, state, group):
        """v ← ρv + (1−ρ)g²;  Δ = √(u+ε)/√(v+ε)·g;  u ← ρu + (1−ρ)Δ²;  p ← p − η·Δ."""
        rho, eps = group["rho"], group["eps"]
        square_avg = _buffer(state, "square_avg", param)
        acc_delta = _buffer(state, "acc_delta", param)
        state["step"] = state.get("step", 0) + 1
        work = _scratch(state, param)
        np.multiply(square_avg, rho, out=square_avg)
        square_avg += (1.0 - rho) * np.multiply(grad, grad, out=work)
        np.add(acc_delta, eps, out=work)
        work /= square_avg + eps
        np.sqrt(work, out=work)
        work *= grad
        np.multiply(acc_delta, rho, out=acc_delta)
        acc_delta += (1.0 - rho) * work * work
        param -= group["lr"] * work


class Adamax(_WithBetas):
    """Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.

    m ← β₁·m + (1 − β₁)·g,   u ← max(β₂·u, |g| + ε)
    p ← p − η/(1 − β₁ᵗ) · m/u
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize))

    option_symbols = {**Optimizer.option_symbols, **_BETAS}
    TERMS = (_FIRST_MOMENT,
             UpdateTerm("u", "u ← max(β₂·u, |g| + ε)", "update.term.infinity_norm",
                        from_state("exp_inf")),
             _STEP, _M_HAT)

    def update_rule(self, group):
        return "wₜ₊₁ = wₜ − η·m̂/u"

    def _update(self, param, grad, state, group):
        """m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  p ← p − η/(1−β₁ᵗ)·m/u."""
        beta1, beta2 = group["betas"]
        exp_avg = _buffer(state, "exp_avg", param)
        exp_inf = _buffer(state, "exp_inf", param)
        state["step"] = step = state.get("step", 0) + 1
        work = _scratch(state, param)
        np.multiply(exp_avg, beta1, out=exp_avg)
        exp_avg += (1.0 - beta1) * grad
        np.abs(grad, out=work)
        work += group["eps"]
        np.multiply(exp_inf, beta2, out=exp_inf)
        np.maximum(exp_inf, work, out=exp_inf)
        np.divide(exp_avg, exp_inf, out=work)
        param -= (group["lr"] / (1.0 - beta1 ** step)) * work


class NAdam(_WithBetas):
    """NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam``.

    μ_t = β₁·(1 − ½·0.96^(t·ψ)),  ψ = momentum_decay;   Π_t = μ₁·…·μ_t
    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²,   d = √(v/(1 − β₂ᵗ)) + ε
    p ← p − η·(1 − μ_t)/(1 − Π_t) · g/d − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_hyperparameter("NAdam", "momentum_decay", group["momentum_decay"])

    option_symbols = {**Optimizer.option_symbols, **_BETAS, "momentum_decay": "φ"}
    TERMS = (
        _FIRST_MOMENT, _SECOND_MOMENT, _STEP,
        UpdateTerm("μₜ", "μₜ = β₁·(1 − ½·0.96^(t·φ))", "update.term.momentum_coefficient",
                   lambda r: _nadam_mu(r.group, r.state["step"]), uses=("t",)),
        UpdateTerm("μₜ₊₁", "μₜ₊₁ = β₁·(1 − ½·0.96^((t + 1)·φ))",
                   "update.term.momentum_coefficient",
                   lambda r: _nadam_mu(r.group, r.state["step"] + 1), uses=("t",)),
        UpdateTerm("Πₜ", "Πₜ = μ₁·μ₂·…·μₜ", "update.term.momentum_product",
                   from_state("mu_product"), uses=("μₜ",)),
        UpdateTerm("v̂", "v̂ = v/(1 − β₂ᵗ)", "update.term.second_moment_hat",
                   _bias_corrected("exp_avg_sq", 1), uses=("v", "t")),
    )

    def update_rule(self, group):
        return ("wₜ₊₁ = wₜ − η·(1 − μₜ)/(1 − Πₜ)·g/(√v̂ + ε) "
                "− η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/(√v̂ + ε)")

    def _update(self, param, grad, state, group):
        """The NAdam step above (Dozat 2016, PyTorch's momentum schedule)."""
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        exp_avg = _buffer(state, "exp_avg", param)
        exp_avg_sq = _buffer(state, "exp_avg_sq", param)
        state["step"] = step = state.get("step", 0) + 1
        mu, mu_next = _nadam_mu(group, step), _nadam_mu(group, step + 1)
        state["mu_product"] = mu_product = state.get("mu_product", 1.0) * mu
        work = _scratch(state, param)
        np.multiply(exp_avg, beta1, out=exp_avg)
        exp_avg += (1.0 - beta1) * grad
        np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        exp_avg_sq += (1.0 - beta2) * np.multiply(grad, grad, out=work)
        np.divide(exp_avg_sq, 1.0 - beta2 ** step, out=work)
        np.sqrt(work, out=work)
        work += group["eps"]
        param -= (lr * (1.0 - mu) / (1.0 - mu_product)) * (grad / work)
        param -= (lr * mu_next / (1.0 - mu_product * mu_next)) * (exp_avg / work)


def _nadam_mu(group: dict[str, Any], step: int) -> float:
    """NAdam's momentum coefficient μ_t = β₁·(1 − ½·0.96^(t·ψ)), ψ = momentum_decay."""
    return group["betas"][0] * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))


class FTRL(Optimizer):
    """Follow-the-regularized-leader, as Keras's ``keras.optimizers.Ftrl`` defines it.

    With n the accumulator (starts at initial_accumulator_value), z the linear term (starts at
    0), c = −learning_rate_power, λ₁, λ₂ the l1/l2 strengths, λ₂ₛ the l2 shrinkage::

        g̃ = g + 2·λ₂ₛ·p
        n′ = n + g²
        z ← z + g̃ − (n′ᶜ − nᶜ)/η · p
        q = n′ᶜ/η + 2·(λ₂ + β/(2η))
        p ← (clip(z, −λ₁, λ₁) − z) / q
        n ← n′

    The learning rate is stored as the group's ``lr`` (so schedules work); ``learning_rate=``
    is accepted as Keras's name for it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0, *,
                 learning_rate: float | None = None) -> None:
        if learning_rate is not None:
            lr = learning_rate
        super().__init__(params, dict(
            lr=lr, learning_rate_power=learning_rate_power,
            initial_accumulator_value=initial_accumulator_value,
            l1_regularization_strength=l1_regularization_strength,
            l2_regularization_strength=l2_regularization_strength,
            l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength,
            beta=beta))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["lr"] <= 0:
            raise ValueError(f"FTRL: invalid lr = {group['lr']!r}; expected > 0")
        check_hyperparameter("FTRL", "learning_rate_power", group["learning_rate_power"],
                             low=-math.inf, high=0.0)
        for name in ("initial_accumulator_value", "l1_regularization_strength",
                     "l2_regularization_strength", "l2_shrinkage_regularization_strength",
                     "beta"):
            check_hyperparameter("FTRL", name, group[name])

    option_symbols = {"lr": "η", "learning_rate_power": "p", "initial_accumulator_value": "n₀",
                      "l1_regularization_strength": "λ₁", "l2_regularization_strength": "λ₂",
                      "l2_shrinkage_regularization_strength": "λ₂ₛ", "beta": "β"}
    TERMS = (
        UpdateTerm("nₜ₊₁", "nₜ₊₁ = nₜ + g²  (n₀ at t = 0)", "update.term.sum_of_squares",
                   from_state("accumulator")),
        UpdateTerm("zₜ₊₁", "zₜ₊₁ = zₜ + g + 2·λ₂ₛ·wₜ − (nₜ₊₁^(−p) − nₜ^(−p))/η·wₜ",
                   "update.term.linear", from_state("linear"), uses=("g", "nₜ₊₁", "wₜ")),
        UpdateTerm("q", "q = nₜ₊₁^(−p)/η + 2·(λ₂ + β/(2η))", "update.term.denominator",
                   lambda r: (r.state["accumulator"] ** -r.group["learning_rate_power"]
                              / r.group["lr"] + 2.0 * (r.group["l2_regularization_strength"]
                                                       + r.group["beta"] / (2.0 * r.group["lr"]))),
                   uses=("nₜ₊₁",)),
    )

    def update_rule(self, group):
        return "wₜ₊₁ = (clip(zₜ₊₁, −λ₁, λ₁) − zₜ₊₁)/q"

    def _update(self, param, grad, state, group):
        """Keras's FTRL step (see the class docstring)."""
        lr, power = group["lr"], -group["learning_rate_power"]
        l1 = group["l1_regularization_strength"]
        l2 = group["l2_regularization_strength"] + group["beta"] / (2.0 * lr)
        accum = _buffer(state, "accumulator", param, group["initial_accumulator_value"])
        linear = _buffer(state, "linear", param)
        work = _scratch(state, param)
        linear += grad + 2.0 * group["l2_shrinkage_regularization_strength"] * param
        np.power(accum, power, out=work)                           # nᶜ
        accum += grad * grad                                       # n′
        new_power = np.power(accum, power)                         # n′ᶜ
        work -= new_power
        work *= param
        work /= lr
        linear += work                                             # − (n′ᶜ − nᶜ)/η · p
        new_power /= lr
        new_power += 2.0 * l2                                      # q
        np.clip(linear, -l1, l1, out=work)
        work -= linear
        np.divide(work, new_power, out=param)
