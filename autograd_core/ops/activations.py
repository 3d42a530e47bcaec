"""Activation functions ψ: in the inverse network each becomes "multiply by ψ'(z)".

Forwards are written to stay finite for inputs of ±1000 in float32 (no overflow in exp).

NOTE: sigmoid, tanh and relu have their backward rule as an op of its own (``TanhBackward``…),
so that a backward recorded with ``create_graph=True`` is differentiable again. Every activation
also declares ``backward_arrays``, the same rule as one kernel call on the arrays: the engine's
plain backward (nothing recorded) runs it, skipping the nodes and tensors that the Tensor
``backward`` would build (~1 µs a node), and the compiled training step writes it into its code.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..graph.rules import InverseRule
from ._op import Op, Tensor
from .elementwise import exp, where


class Sigmoid(Op):
    """Logistic function.

    forward    out = σ(x) = 1 / (1 + e⁻ˣ)
    backward   grad_x = grad ⊙ out ⊙ (1 − out)        (σ' = σ(1 − σ), course 001)
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION
    saves_inputs = False
    saves_output = True
    formula = "σ({0})"
    derivative = "σ({0})(1 − σ({0}))"

    @staticmethod
    def forward(ctx, x):
        return kernels.sigmoid(x)

    @staticmethod
    def backward(ctx, grad):
        return SigmoidBackward.apply(grad, ctx.output)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.sigmoid_backward(grad, ctx.output.data)


class SigmoidBackward(Op):
    """The sigmoid's backward rule as one node (one array expression instead of three ops).

    forward    out = grad ⊙ y ⊙ (1 − y)            (y = σ(x), the sigmoid's output)
    backward   grad_grad = g ⊙ y ⊙ (1 − y),   grad_y = g ⊙ grad ⊙ (1 − 2y)
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION

    @staticmethod
    def forward(ctx, grad, y):
        return kernels.sigmoid_backward(grad, y)

    @staticmethod
    def backward(ctx, g):
        grad, y = ctx.inputs
        need_grad, need_y = ctx.needs_input_grad
        return (SigmoidBackward.apply(g, y) if need_grad else None,
                g * grad * (1 - 2 * y) if need_y else None)


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ), elementwise; finite for any input.

    >>> import autograd_core as ag
    >>> ag.sigmoid(ag.tensor([0.0, 1000.0, -1000.0]))
    tensor([0.5, 1. , 0. ])
    """
    return Sigmoid.apply(x)


class Tanh(Op):
    """Hyperbolic tangent.

    forward    out = tanh(x)
    backward   grad_x = grad ⊙ (1 − out²)
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION
    saves_inputs = False
    saves_output = True
    formula = "tanh({0})"
    derivative = "1 − tanh²({0})"

    @staticmethod
    def forward(ctx, x):
        return kernels.tanh(x)

    @staticmethod
    def backward(ctx, grad):
        return TanhBackward.apply(grad, ctx.output)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.tanh_backward(grad, ctx.output.data)


class TanhBackward(Op):
    """The tanh's backward rule as one node (one array expression instead of three ops).

    forward    out = grad ⊙ (1 − y²)                (y = tanh(x), the tanh's output)
    backward   grad_grad = g ⊙ (1 − y²),   grad_y = −2 g ⊙ grad ⊙ y
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION

    @staticmethod
    def forward(ctx, grad, y):
        return kernels.tanh_backward(grad, y)

    @staticmethod
    def backward(ctx, g):
        grad, y = ctx.inputs
        need_grad, need_y = ctx.needs_input_grad
        return (TanhBackward.apply(g, y) if need_grad else None,
                -2 * g * grad * y if need_y else None)


def tanh(x: Tensor) -> Tensor:
    """tanh(x), elementwise."""
    return Tanh.apply(x)


class ReLU(Op):
    """Rectified linear unit.

    forward    out = max(x, 0)
    backward   grad_x = grad ⊙ [x > 0]
    inverse neuron: activation ψ → ψ'.   NOTE: ψ'(0) is taken as 0 (as PyTorch).
    """

    inverse_rule = InverseRule.ACTIVATION
    saves_inputs = False
    saves_output = True
    formula = "ReLU({0})"
    derivative = "[{0} > 0]"

    @staticmethod
    def forward(ctx, x):
        return kernels.relu(x)

    @staticmethod
    def backward(ctx, grad):
        return ReLUBackward.apply(grad, ctx.output)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.relu_backward(grad, ctx.output.data)


class ReLUBackward(Op):
    """The ReLU's backward rule as one node: pass grad where the unit was active.

    forward    out = grad ⊙ [y > 0]                 (y = relu(x), the ReLU's output)
    backward   grad_grad = g ⊙ [y > 0],   grad_y = 0   (the mask is piecewise constant)
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION

    @staticmethod
    def forward(ctx, grad, y):
        return kernels.relu_backward(grad, y)

    @staticmethod
    def backward(ctx, g):
        y = ctx.inputs[1]
        return ReLUBackward.apply(g, y), Tensor._from_op(np.zeros(y.shape, y.dtype), False)


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return ReLU.apply(x)


class LeakyReLU(Op):
    """Leaky ReLU with slope α for negative inputs.

    forward    out = x if x > 0 else α·x
    backward   grad_x = grad ⊙ (1 if x > 0 else α)
    inverse neuron: activation ψ → ψ'.   NOTE: ψ'(0) is taken as α (as PyTorch).
    """

    inverse_rule = InverseRule.ACTIVATION
    formula = "LeakyReLU({0})"
    derivative = "[{0} > 0] + α·[{0} ≤ 0]"

    @staticmethod
    def forward(ctx, x, negative_slope):
        return kernels.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, grad):
        slope = ctx.kwargs["negative_slope"]
        positive = ctx.inputs[0].data > 0
        return grad * Tensor._from_op(np.where(positive, 1, slope).astype(grad.dtype), False)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.leaky_relu_backward(grad, ctx.inputs[0].data, ctx.kwargs["negative_slope"])


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


class ELU(Op):
    """Exponential linear unit.

    forward    out = x if x > 0 else α(eˣ − 1)
    backward   grad_x = grad ⊙ (1 if x > 0 else α·eˣ)
    inverse neuron: activation ψ → ψ'
    """

    inverse_rule = InverseRule.ACTIVATION
    formula = "ELU({0})"
    derivative = "[{0} > 0] + (ELU({0}) + α)·[{0} ≤ 0]"

    @staticmethod
    def forward(ctx, x, alpha):
        return kernels.elu(x, alpha)     # NOTE: stable: expm1 of min(x, 0) cannot overflow

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        alpha = ctx.kwargs["alpha"]
        positive = x.data > 0
        negative_part = alpha * exp(where(positive, 0, x))
        return grad * where(positive, 1, negative_part)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.elu_backward(grad, ctx.inputs[0].data, ctx.kwargs["alpha"])


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α(eˣ − 1) otherwise."""
    return ELU.apply(x, alpha=alpha)


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def selu(x: Tensor) -> Tensor:
    """Scaled ELU: λ·elu(x, α) with λ ≈ 1.0507, α ≈ 1.6733 (self-normalizing constants)."""
    return elu(x, SELU_ALPHA) * SELU_SCALE


class Softplus(Op):
    """Smooth ReLU.

    forward    out = (1/β) ln(1 + e^{βx})
    backward   grad_x = grad ⊙ σ(βx)
    inverse neuron: activation ψ → ψ'
    """

    inverse_rule = InverseRule.ACTIVATION
    formula = "softplus({0})"
    derivative = "σ({0})"

    @staticmethod
    def forward(ctx, x, beta):
        # NOTE: ln(1 + eᶻ) = max(z, 0) + ln(1 + e^{−|z|}) stays finite for z = ±1000
        return kernels.softplus(x, beta)

    @staticmethod
    def backward(ctx, grad):
        return grad * sigmoid(ctx.inputs[0] * ctx.kwargs["beta"])

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.softplus_backward(grad, ctx.inputs[0].data, ctx.kwargs["beta"])


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    """(1/β) ln(1 + e^{βx}), elementwise; finite for any input."""
    return Softplus.apply(x, beta=beta)


class SiLU(Op):
    """Sigmoid-weighted linear unit (swish).

    forward    out = x ⊙ σ(x)
    backward   grad_x = grad ⊙ σ(x) ⊙ (1 + x ⊙ (1 − σ(x)))
    inverse neuron: activation ψ → ψ'
    """

    inverse_rule = InverseRule.ACTIVATION
    formula = "{0}·σ({0})"
    derivative = "σ({0})(1 + {0}(1 − σ({0})))"

    @staticmethod
    def forward(ctx, x):
        return kernels.silu(x)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        s = sigmoid(x)
        return grad * s * (1 + x * (1 - s))

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.silu_backward(grad, ctx.inputs[0].data)


def silu(x: Tensor) -> Tensor:
    """x·σ(x) (also called swish)."""
    return SiLU.apply(x)


swish = silu


_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2PI = 0.3989422804014327           # 1/√(2π)


class GELU(Op):
    """Gaussian error linear unit, exact form (PyTorch's default ``approximate='none'``).

    forward    out = x·Φ(x) = ½x(1 + erf(x/√2))
    backward   grad_x = grad ⊙ (Φ(x) + x·φ(x)),  φ(x) = e^(−x²/2)/√(2π)
    inverse neuron: activation ψ → ψ'
    """

    inverse_rule = InverseRule.ACTIVATION
    formula = "GELU({0})"
    derivative = "Φ({0}) + {0}·φ({0})"

    @staticmethod
    def forward(ctx, x):
        return kernels.gelu_erf(x)

    @staticmethod
    def backward(ctx, grad):
        return GELUBackward.apply(grad, ctx.inputs[0])

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.gelu_erf_backward(grad, ctx.inputs[0].data)


class GELUBackward(Op):
    """The exact GELU's backward rule as one node (erf is not an op of its own).

    forward    out = grad ⊙ (Φ(x) + x·φ(x))
    backward   grad_grad = g ⊙ (Φ(x) + x·φ(x)),   grad_x = g ⊙ grad ⊙ φ(x)(2 − x²)
               (d/dx [Φ + xφ] = φ + φ + x·(−xφ), since φ' = −xφ)
    inverse neuron: activation ψ → multiply by ψ'(z)
    """

    inverse_rule = InverseRule.ACTIVATION

    @staticmethod
    def forward(ctx, grad, x):
        return kernels.gelu_erf_backward(grad, x)

    @staticmethod
    def backward(ctx, g):
        grad, x = ctx.inputs
        pdf = exp(-0.5 * x * x) * _INV_SQRT_2PI
        return GELUBackward.apply(g, x), g * grad * pdf * (2 - x * x)


class GELUTanh(Op):
    """Gaussian error linear unit, tanh approximation (PyTorch's ``approximate='tanh'``).

    forward    out = ½x(1 + tanh(u)),  u = √(2/π)(x + 0.044715x³)
    backward   grad_x = grad ⊙ (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
    inverse neuron: activation ψ → ψ'
    """

    inverse_rule = InverseRule.ACTIVATION
    name = "gelu"
    formula = "GELU_tanh({0})"
    derivative = "½(1 + tanh u) + ½{0}(1 − tanh²u)·u′,  u = √(2/π)({0} + 0.044715{0}³)"

    @staticmethod
    def forward(ctx, x):
        return kernels.gelu(x)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        t = ((x + 0.044715 * x ** 3) * _SQRT_2_OVER_PI).tanh()
        du = (1 + 3 * 0.044715 * x * x) * _SQRT_2_OVER_PI
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)

    @staticmethod
    def backward_arrays(ctx, grad):
        return kernels.gelu_backward(grad, ctx.inputs[0].data)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU: exact x·Φ(x) by default; ``approximate="tanh"`` for
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (the names of ``torch.nn.functional.gelu``)."""
    if approximate == "none":
        return GELU.apply(x)
    if approximate == "tanh":
        return GELUTanh.apply(x)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
