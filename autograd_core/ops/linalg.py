"""Matrix products: ``matmul`` (numpy semantics) and the course's neuron layer ``linear``."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ..graph.rules import InverseRule
from ._op import Op, Tensor
from .activations import ReLU, ReLUBackward, Sigmoid, SigmoidBackward, Tanh, TanhBackward
from .shape import reshape, transpose


def _matmul_error(a: np.ndarray, b: np.ndarray) -> ValueError:
    if a.ndim == 0 or b.ndim == 0:
        return ValueError(f"matmul: both operands need at least one dimension, got shapes "
                          f"{a.shape} and {b.shape}")
    a_dim, b_dim = a.ndim - 1, (b.ndim - 2 if b.ndim > 1 else 0)
    if a.shape[-1] != b.shape[b_dim]:
        return ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                          f"{a.shape[-1]} (dim {a_dim} of a) != {b.shape[b_dim]} "
                          f"(dim {b_dim} of b)")
    return ValueError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} cannot be "
                      "broadcast together")


def _swap_last(t: Tensor) -> Tensor:
    return transpose(t, -1, -2)


class MatMul(Op):
    """Matrix product with numpy's rules: 1-D operands are vectors, N-D ones are stacks of
    matrices whose batch dimensions broadcast.

    forward    out = a @ b
    backward   grad_a = grad @ bᵀ,   grad_b = aᵀ @ grad   (vectors promoted to matrices first;
               the engine sums broadcast batch dimensions back)
    inverse neuron: weighted input w·a → double weighted output
    """

    inverse_rule = InverseRule.WEIGHTED_INPUT
    roles = ("factor", "factor")
    formula = "{0}·{1}"

    @classmethod
    def partner(cls, i, out_index, in_index, shapes):
        """(a @ b)[p, q] = Σᵣ a[p, r]·b[r, q]: ∂/∂a[p, r] = b[r, q] and ∂/∂b[r, q] = a[p, r]
        (vectors and matrices; None for stacks of matrices)."""
        a_nd, b_nd = len(shapes[0]), len(shapes[1])
        if a_nd > 2 or b_nd > 2:
            return None
        p = out_index[:1] if a_nd == 2 else ()                # the row, when a is a matrix
        q = out_index[-1:] if b_nd == 2 else ()               # the column, when b is a matrix
        r = in_index[-1:] if i == 0 else in_index[:1]         # the contracted index
        return (1, r + q) if i == 0 else (0, p + r)

    @staticmethod
    def forward(ctx, a, b):
        try:
            return np.matmul(a, b)
        except ValueError:
            raise _matmul_error(a, b) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        # NOTE: promote vectors to matrices (a: row, b: column) so one rule covers every case
        a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = reshape(g, g.shape[:-1] + (1,) + g.shape[-1:]) if b.ndim > 1 else \
                reshape(g, (1,) + g.shape)
        if b.ndim == 1:
            g = reshape(g, g.shape + (1,))
        grad_a = grad_b = None
        if need_a:
            grad_a = g @ _swap_last(b2)
            if a.ndim == 1:
                grad_a = reshape(grad_a, grad_a.shape[:-2] + grad_a.shape[-1:])
        if need_b:
            grad_b = _swap_last(a2) @ g
            if b.ndim == 1:
                grad_b = reshape(grad_b, grad_b.shape[:-1])
        return grad_a, grad_b


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` (1-D, 2-D and batched N-D with broadcasting, as numpy).

    >>> import autograd_core as ag
    >>> (ag.ones(2, 3) @ ag.ones(3)).shape
    (2,)
    """
    return MatMul.apply(a, b)


def _check_linear(x: np.ndarray, w: np.ndarray, b, op_name: str) -> None:
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{op_name}: input of shape {x.shape} does not fit a weight of shape "
                         f"{w.shape}: expected input (..., in_features) and weight "
                         "(out_features, in_features) with the same in_features")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{op_name}: bias of shape {b.shape} does not match weight of shape "
                         f"{w.shape}: expected ({w.shape[0]},)")


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a matrix (rows, in_features): leading axes flattened, a vector as one row."""
    # NOTE: not reshape(-1, n): numpy cannot infer -1 when the array is empty; math.prod of the
    # shape's ints costs ~0.1 µs where np.prod costs ~5
    if x.ndim == 2:
        return x
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def _layer_forward(ctx, x, w, b, activation: int) -> np.ndarray:
    _check_linear(x, w, b, ctx.op.name)
    out = kernels.linear_forward(_rows(x), w, b, activation)
    return out.reshape(x.shape[:-1] + (w.shape[0],))


def _layer_backward_arrays(ctx, grad: np.ndarray, activation: int):
    """The three gradients of ψ(x·Wᵀ + b) on arrays (ψ = identity for ``activation`` 0): one
    compiled call fusing ψ', the two matrix products and Σ_batch δ."""
    x, w = ctx.inputs[:2]
    needs = ctx.needs_input_grad
    has_bias = len(ctx.inputs) == 3
    x_rows = _rows(x.data)
    y = ctx.output.data.reshape(x_rows.shape[0], w.shape[0]) if activation else None
    grad_x, grad_w, grad_b = kernels.linear_backward(
        grad.reshape(x_rows.shape[0], w.shape[0]), x_rows, w.data, y, activation,
        needs[0], needs[1], has_bias and needs[2])
    if grad_x is not None:
        grad_x = grad_x.reshape(x.shape)
    return (grad_x, grad_w, grad_b) if has_bias else (grad_x, grad_w)


def _layer_backward(ctx, grad, activation: int):
    """The three gradients of ψ(x·Wᵀ + b) written with tensor ops, so that they are
    differentiable themselves (``create_graph=True``); the same formulas as
    ``_layer_backward_arrays``."""
    x, w = ctx.inputs[:2]
    needs = ctx.needs_input_grad
    has_bias = len(ctx.inputs) == 3
    if activation:
        # δ = grad ⊙ ψ'(z), from the output a = ψ(z), by the activation's own backward op
        grad = _ACTIVATION_BACKWARD[activation].apply(grad, ctx.output)
    grad_x = grad @ w if needs[0] else None
    grad_w = None
    if needs[1]:
        rows = math.prod(x.shape[:-1])
        grad_w = transpose(reshape(grad, (rows, grad.shape[-1]))) @ reshape(x, (rows, x.shape[-1]))
    if not has_bias:
        return grad_x, grad_w
    return grad_x, grad_w, (grad if needs[2] else None)      # the engine sums it over the batch


class Linear(Op):
    """Affine layer on a batch: out = x·Wᵀ + b   (x: (..., in), W: (out, in), b: (out,)).

    This is the course's neuron without its activation, z = W a + b, as one node.
    backward   grad_x = grad · W          double weighted output → towards the activations
               grad_W = gradᵀ · x         double weighted output → ∂J/∂w = δ aᵀ
               grad_b = Σ_batch grad      constant output → ∂J/∂b = δ
    inverse neuron: weighted input w·a (+ constant input b)
    Forward and array-level backward are one compiled call each (``kernels.linalg``).
    """

    inverse_rule = InverseRule.WEIGHTED_INPUT
    roles = ("activation", "weight", "bias")
    formula = "{0}·{1}ᵀ + {2}"

    @classmethod
    def partner(cls, i, out_index, in_index, shapes):
        """z[…, k] = Σⱼ W[k, j]·x[…, j] + b[k]: ∂z[…, k]/∂x[…, j] = W[k, j] and
        ∂z[…, k]/∂W[k, j] = x[…, j]; the bias's derivative is 1, no input's element."""
        if i == 0:
            return 1, (out_index[-1], in_index[-1])
        if i == 1:
            return 0, tuple(out_index[:-1]) + (in_index[-1],)
        return None

    @staticmethod
    def forward(ctx, x, w, b=None):
        return _layer_forward(ctx, x, w, b, 0)

    @staticmethod
    def backward(ctx, grad):
        return _layer_backward(ctx, grad, 0)

    @staticmethod
    def backward_arrays(ctx, grad):
        return _layer_backward_arrays(ctx, grad, 0)


class LinearActivation(Op):
    """A whole neuron layer as one node: out = ψ(x·Wᵀ + b), ψ ∈ {relu, tanh, sigmoid}.

    The course draws it as two steps, and so does viz: the weighted input z = W a + b, then the
    activation a' = ψ(z). backward (ψ' read from the output a' = ψ(z))
               δ = grad ⊙ ψ'(z)           activation ψ → ψ'
               grad_x = δ · W,  grad_W = δᵀ · x,  grad_b = Σ_batch δ   (as ``Linear``)
    ``ctx.kwargs["activation"]`` names ψ. Forward and (plain) backward are one compiled call
    each: the bias, ψ, ψ' and Σ δ are fused with the two matrix products.
    """

    inverse_rule = InverseRule.WEIGHTED_INPUT
    saves_output = True
    name = "linear"
    roles = ("activation", "weight", "bias")
    formula = "ψ({0}·{1}ᵀ + {2})"

    @classmethod
    def steps(cls, ctx) -> tuple:
        """The course's neuron in its two steps: z = x·Wᵀ + b (``Linear``), then a = ψ(z)."""
        return ((Linear, {}), (ACTIVATION_OPS[ctx.kwargs["activation"]], {}))

    @staticmethod
    def forward(ctx, x, w, b=None, *, activation):
        return _layer_forward(ctx, x, w, b, kernels.ACTIVATIONS[activation])

    @staticmethod
    def backward(ctx, grad):
        return _layer_backward(ctx, grad, kernels.ACTIVATIONS[ctx.kwargs["activation"]])

    @staticmethod
    def backward_arrays(ctx, grad):
        return _layer_backward_arrays(ctx, grad, kernels.ACTIVATIONS[ctx.kwargs["activation"]])


#: the op of each activation a layer can carry (the second of ``LinearActivation.steps``)
ACTIVATION_OPS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}

#: the fused backward op of each activation a layer can carry (differentiable δ = grad ⊙ ψ')
_ACTIVATION_BACKWARD = {kernels.ACTIVATIONS["relu"]: ReLUBackward,
                        kernels.ACTIVATIONS["tanh"]: TanhBackward,
                        kernels.ACTIVATIONS["sigmoid"]: SigmoidBackward}


def linear(x, weight, bias=None, activation: str | None = None) -> Tensor:
    """ψ(x·Wᵀ + b) with PyTorch's layout (weight: (out_features, in_features)), one graph node.

    ``activation`` (not in PyTorch's ``F.linear``): None, ``"relu"``, ``"tanh"`` or
    ``"sigmoid"`` fuses the activation into the same node (``LinearActivation``), as
    ``nn.Sequential`` does for a Linear followed by one of these activations.

    >>> import autograd_core as ag
    >>> x = ag.tensor([[1.0, -2.0]]); w = ag.tensor([[0.5, 1.0]]); b = ag.tensor([0.25])
    >>> linear(x, w, b).tolist(), linear(x, w, b, activation="relu").tolist()
    ([[-1.25]], [[0.0]])
    """
    if activation is not None:
        if activation not in kernels.ACTIVATIONS:
            names = ", ".join(repr(a) for a in kernels.ACTIVATIONS)
            raise ValueError(f"linear: activation must be one of {names}, got {activation!r}")
        if bias is None:
            return LinearActivation.apply(x, weight, activation=activation)
        return LinearActivation.apply(x, weight, bias, activation=activation)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
