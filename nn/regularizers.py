"""Weight penalties added to the cost (course 000 §6), attachable to layers as in Keras.

    L1(λ):       λ Σ|w|          gradient λ·sgn(w)   (constant decay)
    L2(λ):       λ Σ w²          gradient 2λw        (weight decay: w ← w(1 − 2ηλ) − η∇J)
    L1L2(λ₁, λ₂): λ₁ Σ|w| + λ₂ Σ w²

A regularizer is a callable returning a scalar Tensor, built from autograd_core ops, so its
gradient comes from the engine:

>>> import autograd_core as ag
>>> w = ag.tensor([1.0, -2.0], requires_grad=True)
>>> L2(0.1)(w).backward()
>>> w.grad
tensor([ 0.2, -0.4])
"""
from __future__ import annotations

from collections.abc import Callable

from autograd_core import Tensor


class Regularizer:
    """Base class: ``penalty = regularizer(weight)``, a scalar Tensor."""

    def __call__(self, w: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """λ Σ|w| (gradient λ·sgn(w), taking sgn(0) = 0)."""

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = float(l1)

    def __call__(self, w: Tensor) -> Tensor:
        return self.l1 * w.abs().sum()


class L2(Regularizer):
    """λ Σ w² = λ‖w‖² (gradient 2λw; note: not ½λ‖w‖², as Keras and the course)."""

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = float(l2)

    def __call__(self, w: Tensor) -> Tensor:
        return self.l2 * (w * w).sum()


class L1L2(Regularizer):
    """λ₁ Σ|w| + λ₂ Σ w²."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: Tensor) -> Tensor:
        return self.l1 * w.abs().sum() + self.l2 * (w * w).sum()


# Keras's lower-case spellings: keras.regularizers.l2(0.01)
l1 = L1
l2 = L2
l1_l2 = L1L2

_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(value, what: str = "regularizer") -> Callable[[Tensor], Tensor] | None:
    """None, a callable, or a name ("l1", "l2", "l1_l2": default strengths) → a regularizer."""
    if value is None or callable(value):
        return value
    if isinstance(value, str) and value.lower() in _BY_NAME:
        return _BY_NAME[value.lower()]()
    raise ValueError(f"{what}: expected None, a callable or one of {sorted(_BY_NAME)}, got "
                     f"{value!r}")
