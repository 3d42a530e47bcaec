"""Activation functions as modules, for ``nn.Sequential`` (the functions are in nn.functional).

Each module calls one autograd_core op; its derivative ψ′ is that op's backward rule.
"""
from __future__ import annotations

from autograd_core import Tensor

from . import functional as F
from .module import Module


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^{−x});  σ′ = σ(1 − σ). Output layer for two classes."""

    #: after a Linear in a Sequential, the two run as one fused node (``Linear.fused_forward``)
    fused_activation = "sigmoid"

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x) = (1 − e^{−2x}) / (1 + e^{−2x}) = 2σ(2x) − 1;  tanh′ = 1 − tanh²."""

    #: after a Linear in a Sequential, the two run as one fused node (``Linear.fused_forward``)
    fused_activation = "tanh"

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(0, x);  derivative 1 for x > 0 and 0 for x ≤ 0 (the course's left derivative at 0).

    >>> import autograd_core as ag
    >>> ReLU()(ag.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """

    #: after a Linear in a Sequential, the two run as one fused node (``Linear.fused_forward``)
    fused_activation = "relu"

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x for x ≥ 0, negative_slope·x for x < 0 (the course's α)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, α(e^x − 1) for x ≤ 0."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """s·x for x > 0, s·α(e^x − 1) for x ≤ 0, with α ≈ 1.6733 and s ≈ 1.0507 (self-normalising)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)


class Softplus(Module):
    """(1/β)·log(1 + e^{βx}), a smooth ReLU; its derivative is σ(βx)."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class SiLU(Module):
    """x·σ(x) (also called Swish)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


Swish = SiLU


class GELU(Module):
    """x·Φ(x) = ½x(1 + erf(x/√2)), exact by default as PyTorch's ``nn.GELU()``;
    ``approximate="tanh"`` gives ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class Softmax(Module):
    """softmax(x)_j = e^{x_j} / Σ_l e^{x_l} along ``dim``: positive outputs summing to 1.

    For training, prefer logits with ``nn.CrossEntropyLoss`` (fused and stable).
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax along ``dim``, computed stably as x_j − logΣ_l e^{x_l}."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
