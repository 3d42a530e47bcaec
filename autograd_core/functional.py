"""Functional differentiation: ``grad``, ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``.

All are built on the engine's reverse sweep (``graph.engine.grad``); second-order ones record the
first backward (``create_graph=True``) and differentiate it again.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .grad_mode import enable_grad
from .graph.engine import grad
from .ops import clone, reshape, stack
from .tensor import Tensor

__all__ = ["grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]


def _recording(func: Callable) -> Callable:
    """Run ``func`` with graph recording on, also when called under ``no_grad`` (as torch does):
    otherwise func's graph is not recorded and every derivative silently comes out zero."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with enable_grad():
            return func(*args, **kwargs)
    return wrapper


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _fresh_inputs(inputs, create_graph: bool = False) -> tuple[Tensor, ...]:
    """New tensors to differentiate with respect to (as torch.autograd.functional).

    Leaves sharing the inputs' data, except with ``create_graph`` for inputs that require grad:
    those get a differentiable copy, so the result stays connected to the caller's graph.
    """
    fresh = []
    for i, x in enumerate(_as_tuple(inputs)):
        if not isinstance(x, Tensor):
            raise TypeError(f"functional: input {i} must be a Tensor, got {type(x).__name__}")
        if create_graph and x.requires_grad:
            fresh.append(clone(x))
        else:
            fresh.append(Tensor(x.data, requires_grad=True))
    return tuple(fresh)


def _zeros_where_none(grads, like) -> tuple[Tensor, ...]:
    return tuple(g if g is not None else Tensor(np.zeros(x.shape, x.dtype))
                 for g, x in zip(grads, like))


def _grads(outputs, inputs, grad_outputs, create_graph: bool) -> tuple[Tensor, ...]:
    """Gradients that are zero (not None) for inputs the outputs do not depend on."""
    live = [(o, v) for o, v in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        return tuple(Tensor(np.zeros(x.shape, x.dtype)) for x in inputs)
    result = grad([o for o, _ in live], inputs, [v for _, v in live], retain_graph=True,
                  create_graph=create_graph, allow_unused=True)
    return _zeros_where_none(result, inputs)


@_recording
def vjp(func: Callable, inputs, v=None, create_graph: bool = False):
    """(func(inputs), vᵀ·J): the vector-Jacobian product, one reverse sweep."""
    xs = _fresh_inputs(inputs, create_graph)
    outputs = _as_tuple(func(*xs))
    if v is None:
        if any(o.size != 1 for o in outputs):
            raise ValueError("vjp: v is required when func returns a non-scalar output")
        v = tuple(Tensor(np.ones(o.shape, o.dtype)) for o in outputs)
    vs = _as_tuple(v)
    result = _grads(outputs, xs, vs, create_graph)
    out = outputs if len(outputs) > 1 else outputs[0]
    return out, (result if isinstance(inputs, (tuple, list)) else result[0])


@_recording
def jvp(func: Callable, inputs, v, create_graph: bool = False):
    """(func(inputs), J·v): the Jacobian-vector product by the double-vjp trick
    (J v = d/du [uᵀ J] v, with a dummy cotangent u), so only reverse mode is needed."""
    xs = _fresh_inputs(inputs, create_graph)
    vs = _as_tuple(v)
    outputs = _as_tuple(func(*xs))
    dummies = tuple(Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outputs)
    vjps = _grads(outputs, xs, dummies, create_graph=True)
    live = [(g, w) for g, w in zip(vjps, vs) if g.requires_grad]
    if live:
        result = grad([g for g, _ in live], dummies, [w for _, w in live],
                      create_graph=create_graph, allow_unused=True)
        result = _zeros_where_none(result, dummies)
    else:
        result = tuple(Tensor(np.zeros(o.shape, o.dtype)) for o in outputs)
    single = len(outputs) == 1
    return (outputs[0] if single else outputs), (result[0] if single else result)


@_recording
def jacobian(func: Callable, inputs, create_graph: bool = False):
    """∂func/∂inputs: for one input and one output a tensor of shape out.shape + in.shape;
    tuples of those for several inputs (and nested tuples for several outputs).

    >>> import autograd_core as ag
    >>> ag.functional.jacobian(lambda x: x * x, ag.tensor([1.0, 2.0])).numpy()
    array([[2., 0.],
           [0., 4.]], dtype=float32)
    """
    xs = _fresh_inputs(inputs, create_graph)
    outputs = _as_tuple(func(*xs))
    per_output = []
    for o in outputs:
        rows = []
        for i in range(o.size):
            seed = np.zeros(o.size, o.dtype)
            seed[i] = 1
            seed_t = Tensor(seed.reshape(o.shape))
            rows.append(_grads((o,), xs, (seed_t,), create_graph))
        blocks = []
        for k, x in enumerate(xs):
            if rows:
                block = stack([r[k] for r in rows]) if create_graph else \
                    Tensor(np.stack([r[k].data for r in rows]))
            else:
                block = Tensor(np.zeros((0,) + x.shape, x.dtype))
            blocks.append(reshape(block, o.shape + x.shape))
        per_output.append(tuple(blocks))
    multi_in = isinstance(inputs, (tuple, list))
    results = [blocks if multi_in else blocks[0] for blocks in per_output]
    return tuple(results) if len(outputs) > 1 else results[0]


@_recording
def hessian(func: Callable, inputs, create_graph: bool = False):
    """Second derivatives of a scalar ``func``: shape in.shape + in.shape for one input; a
    nested tuple H[i][j] = ∂²f/∂xᵢ∂xⱼ for several."""
    multi_in = isinstance(inputs, (tuple, list))

    def gradient(*xs):
        value = func(*xs)
        if not isinstance(value, Tensor) or value.size != 1:
            raise ValueError("hessian: func must return a single-element tensor, got "
                             f"{getattr(value, 'shape', type(value).__name__)}")
        value = reshape(value, ())
        return _grads((value,), xs, (Tensor(np.ones((), value.dtype)),), create_graph=True)

    result = jacobian(gradient, tuple(_as_tuple(inputs)), create_graph=create_graph)
    if not multi_in:
        return result[0][0] if isinstance(result[0], tuple) else result[0]
    return result


@_recording
def hvp(func: Callable, inputs, v, create_graph: bool = False):
    """(func(inputs), H·v) for a scalar ``func``, without forming H (two reverse sweeps)."""
    xs = _fresh_inputs(inputs, create_graph)
    vs = _as_tuple(v)
    value = func(*xs)
    if value.size != 1:
        raise ValueError(f"hvp: func must return a single-element tensor, got shape {value.shape}")
    grads = _grads((value,), xs, (Tensor(np.ones(value.shape, value.dtype)),), create_graph=True)
    products = _grads(grads, xs, vs, create_graph)
    multi_in = isinstance(inputs, (tuple, list))
    return value, (products if multi_in else products[0])
