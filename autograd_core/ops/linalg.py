"""Matrix products: ``matmul`` (numpy semantics) and the course's neuron layer ``linear``."""
from __future__ import annotations

import numpy as np

from ..graph.rules import InverseRule
from ._op import Op, Tensor
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


class Linear(Op):
    """Affine layer on a batch: out = x·Wᵀ + b   (x: (..., in), W: (out, in), b: (out,)).

    This is the course's neuron without its activation, z = W a + b, as one node.
    backward   grad_x = grad · W          double weighted output → towards the activations
               grad_W = gradᵀ · x         double weighted output → ∂J/∂w = δ aᵀ
               grad_b = Σ_batch grad      constant output → ∂J/∂b = δ
    inverse neuron: weighted input w·a (+ constant input b)
    """

    inverse_rule = InverseRule.WEIGHTED_INPUT

    @staticmethod
    def forward(ctx, x, w, b=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not fit a weight of shape "
                             f"{w.shape}: expected input (..., in_features) and weight "
                             "(out_features, in_features) with the same in_features")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias of shape {b.shape} does not match weight of shape "
                             f"{w.shape}: expected ({w.shape[0]},)")
        out = x @ w.T
        if b is not None:
            if b.dtype == out.dtype:
                out += b
            else:
                out = out + b
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        grad_x = grad @ w if needs[0] else None
        grad_w = None
        if needs[1]:
            rows = int(np.prod(x.shape[:-1]))    # not -1: numpy cannot infer it when empty
            flat_grad = reshape(grad, (rows, grad.shape[-1]))
            flat_x = reshape(x, (rows, x.shape[-1]))
            grad_w = transpose(flat_grad) @ flat_x
        if len(ctx.inputs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (grad if needs[2] else None)


def linear(x, weight, bias=None) -> Tensor:
    """x·Wᵀ + b with PyTorch's layout (weight: (out_features, in_features)), one graph node."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
