"""Gradient clipping, in place on ``.grad``, as ``torch.nn.utils.clip_grad_norm_`` and
``clip_grad_value_``."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from autograd_core import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor], name: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = ‖(g₁, …, gₙ)‖_p  (all gradients as one vector; p = ``norm_type``, ``inf`` allowed)
    g ← g · min(1, max_norm/(total + 10⁻⁶))

    Returns the total norm before clipping (a Python float; PyTorch returns a tensor).

    >>> import autograd_core as ag
    >>> w = ag.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
    >>> w.grad = ag.tensor([3.0, 4.0], dtype="float64")
    >>> clip_grad_norm_([w], max_norm=1.0)
    5.0
    >>> w.grad.numpy().round(4).tolist()
    [0.6, 0.8]
    """
    norm_type = float(norm_type)
    if norm_type <= 0 and not math.isinf(norm_type):
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    grads = [p.grad.data for p in _with_grads(parameters, "clip_grad_norm_")]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads)
        total **= 1.0 / norm_type
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}, not finite")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry into [−clip_value, clip_value], in place.

    >>> import autograd_core as ag
    >>> w = ag.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
    >>> w.grad = ag.tensor([3.0, -0.5], dtype="float64")
    >>> clip_grad_value_(w, 1.0); w.grad.numpy().tolist()
    [1.0, -0.5]
    """
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters, "clip_grad_value_"):
        np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
