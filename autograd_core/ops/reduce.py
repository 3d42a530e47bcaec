"""Reductions and the row-wise normalizations (softmax family).

Axis arguments follow numpy (``axis``, ``keepdims``; an int, a tuple or None for all axes) and
accept PyTorch's ``dim``/``keepdim`` as aliases. In the inverse network a sum is a *sum of inputs*
and so becomes a *branch point*: δ is copied back to every element that was summed.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import normalize_axis
from ..grad_mode import is_grad_enabled
from ..graph.rules import InverseRule
from ._op import Op, Tensor
from .elementwise import exp, sqrt, where
from .shape import broadcast_to, permute, reshape


def _axes(op: str, x: Tensor, axis, keepdims, dim, keepdim):
    """Resolve numpy/PyTorch axis aliases into (sorted axis tuple or None, keepdims)."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axis(op, axis, x.ndim), bool(keepdims)


def _kept_shape(shape: tuple, axes) -> tuple:
    """``shape`` with the reduced axes set to 1 (the keepdims shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand(grad: Tensor, ctx) -> Tensor:
    """Broadcast the gradient of a reduction back over the reduced axes of the input."""
    x = ctx.inputs[0]
    if grad.ndim:           # a full reduction's () gradient broadcasts as it is
        grad = reshape(grad, _kept_shape(x.shape, ctx.kwargs["axis"]))
    return broadcast_to(grad, x.shape)


def _count(shape: tuple, axes) -> int:
    if axes is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in axes]))


class Sum(Op):
    """Sum over axes.

    forward    out = Σᵢ xᵢ
    backward   grad_x = grad broadcast over the summed axes
    inverse neuron: sum of inputs → branch point
    """

    inverse_rule = InverseRule.SUM_OF_INPUTS
    saves_inputs = False
    roles = ("term",)
    formula = "Σ {0}"

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return _expand(grad, ctx)


def sum(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Σ over ``axis`` (all axes when None).

    >>> import autograd_core as ag
    >>> ag.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
    tensor([4., 6.])
    """
    axis, keepdims = _axes("sum", x, axis, keepdims, dim, keepdim)
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Op):
    """Mean over axes.

    forward    out = (1/n) Σᵢ xᵢ
    backward   grad_x = grad / n, broadcast over the reduced axes
    inverse neuron: sum of inputs (scaled) → branch point
    """

    inverse_rule = InverseRule.SUM_OF_INPUTS
    saves_inputs = False
    roles = ("term",)
    formula = "1/N Σ {0}"

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        if _count(x.shape, axis) == 0:      # an empty x reduced over non-empty axes is fine
            raise ValueError(f"mean: cannot take the mean of an empty tensor (shape {x.shape})")
        return np.mean(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        n = _count(ctx.inputs[0].shape, ctx.kwargs["axis"])
        return _expand(grad, ctx) / n


def mean(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Arithmetic mean over ``axis``."""
    axis, keepdims = _axes("mean", x, axis, keepdims, dim, keepdim)
    return Mean.apply(x, axis=axis, keepdims=keepdims)


class Var(Op):
    """Variance over axes with ``ddof`` delta degrees of freedom (numpy's default ddof=0).

    forward    out = Σᵢ (xᵢ − x̄)² / (n − ddof)
    backward   grad_x = grad ⊙ 2(x − x̄) / (n − ddof)
    """

    formula = "var({0})"

    @staticmethod
    def forward(ctx, x, axis, keepdims, ddof):
        n = _count(x.shape, axis)
        if n - ddof <= 0:
            raise ValueError(f"var: {n} element(s) along the reduced axes with ddof={ddof}; need "
                             "more than ddof elements")
        return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        axis, ddof = ctx.kwargs["axis"], ctx.kwargs["ddof"]
        centered = x - mean(x, axis=axis, keepdims=True)
        return _expand(grad, ctx) * centered * (2.0 / (_count(x.shape, axis) - ddof))


def var(x: Tensor, axis=None, ddof: int = 0, keepdims: bool = False, *, dim=None, keepdim=None,
        correction=None) -> Tensor:
    """Variance over ``axis``. ``ddof=0`` (numpy's default) is the biased estimator used by batch
    normalization; PyTorch's ``torch.var`` defaults to ``correction=1`` (accepted as an alias)."""
    axis, keepdims = _axes("var", x, axis, keepdims, dim, keepdim)
    ddof = correction if correction is not None else ddof
    return Var.apply(x, axis=axis, keepdims=keepdims, ddof=int(ddof))


def std(x: Tensor, axis=None, ddof: int = 0, keepdims: bool = False, *, dim=None, keepdim=None,
        correction=None) -> Tensor:
    """Standard deviation √var (same arguments as ``var``)."""
    return sqrt(var(x, axis, ddof, keepdims, dim=dim, keepdim=keepdim, correction=correction))


class _Extremum(Op):
    """Shared rule of Max and Min: the gradient goes to the selected element(s).

    backward   grad_x = grad ⊙ [x = out] / (number of ties)
    NOTE: ties share the gradient evenly (as PyTorch's amax/amin).
    inverse neuron: routing
    """

    inverse_rule = InverseRule.ROUTING
    saves_output = True
    reducer = None

    @classmethod
    def forward(cls, ctx, x, axis, keepdims):
        if _count(x.shape, axis) == 0:
            raise ValueError(f"{cls.name}: cannot reduce an empty tensor (shape {x.shape}) "
                             f"over axis {axis}")
        return cls.reducer(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0].data
        kept = _kept_shape(x.shape, ctx.kwargs["axis"])
        selected = x == ctx.output.data.reshape(kept)
        ties = selected.sum(axis=ctx.kwargs["axis"], keepdims=True)
        weights = Tensor._from_op((selected / ties).astype(grad.dtype), False)
        return _expand(grad, ctx) * weights


class Max(_Extremum):
    """Maximum over axes.   forward out = maxᵢ xᵢ   (backward: see _Extremum)."""

    reducer = staticmethod(np.max)
    formula = "max {0}"


class Min(_Extremum):
    """Minimum over axes.   forward out = minᵢ xᵢ   (backward: see _Extremum)."""

    reducer = staticmethod(np.min)
    formula = "min {0}"


def max(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Largest value over ``axis`` (values only; ``argmax`` gives indices)."""
    axis, keepdims = _axes("max", x, axis, keepdims, dim, keepdim)
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Smallest value over ``axis`` (values only; ``argmin`` gives indices)."""
    axis, keepdims = _axes("min", x, axis, keepdims, dim, keepdim)
    return Min.apply(x, axis=axis, keepdims=keepdims)


def _exclusive_products(x: np.ndarray, axis) -> np.ndarray:
    """For every element, the product of the *other* elements along the reduced axes.

    Uses prefix and suffix products, so zeros in x are handled exactly (no division).
    """
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    result = (before * after).reshape(moved.shape)
    return np.transpose(result, np.argsort(rest + list(axes)))


def _exclusive_products_recorded(x: Tensor, axis) -> Tensor:
    """``_exclusive_products`` written with differentiable ops, for ``create_graph``.

    Along the n reduced elements it builds an n × n copy with the diagonal set to 1 and takes
    its product: Π_{i≠k} xᵢ for every k, at O(n²) memory (used only when a slice holds a zero).
    """
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = permute(x, rest + list(axes))
    n = _count(x.shape, axes)
    flat = reshape(moved, moved.shape[:len(rest)] + (1, n))
    tiled = broadcast_to(flat, flat.shape[:-2] + (n, n))             # [..., k, i] = xᵢ
    others = prod(where(np.eye(n, dtype=bool), 1, tiled), axis=-1)   # Π_{i≠k} xᵢ
    return permute(reshape(others, moved.shape), np.argsort(rest + list(axes)).tolist())


class Prod(Op):
    """Product over axes.

    forward    out = Πᵢ xᵢ
    backward   grad_x_k = grad ⊙ Π_{i≠k} xᵢ
    NOTE: the products of the other elements are computed without division, so zeros are exact.
    In slices without zeros the rule is written as grad ⊙ out / x; in slices holding a zero it
    uses prefix/suffix products, or, when the backward is recorded (create_graph), an n × n
    masked product that can be differentiated again.
    """

    formula = "Π {0}"

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        return np.prod(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        kept = _kept_shape(x.shape, ctx.kwargs["axis"])
        if np.all(x.data != 0):
            return _expand(grad, ctx) * reshape(ctx.output, kept) / x
        # NOTE: only the slices holding a zero take the constant rule; the others keep out / x
        has_zero = np.any(x.data == 0, axis=ctx.kwargs["axis"], keepdims=True)
        if is_grad_enabled():
            others = _exclusive_products_recorded(x, ctx.kwargs["axis"])
        else:
            others = Tensor._from_op(_exclusive_products(x.data, ctx.kwargs["axis"]), False)
        rule = where(has_zero, others, reshape(ctx.output, kept) / where(has_zero, 1, x))
        return _expand(grad, ctx) * rule


def prod(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Product over ``axis``."""
    axis, keepdims = _axes("prod", x, axis, keepdims, dim, keepdim)
    return Prod.apply(x, axis=axis, keepdims=keepdims)


def _stable_max(x: np.ndarray, axis) -> np.ndarray:
    # NOTE: initial=−inf lets an empty axis through (it becomes 0 below)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(m), m, 0)


class LogSumExp(Op):
    """log Σ exp over axes, computed stably.

    forward    out = m + ln Σᵢ e^{xᵢ − m},  m = max x
    backward   grad_x = grad ⊙ e^{x − out}  (= grad ⊙ softmax(x))
    """

    formula = "ln Σ exp({0})"

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        if _count(x.shape, axis) == 0:
            raise ValueError(f"logsumexp: cannot reduce an empty tensor (shape {x.shape})")
        # NOTE: subtracting the max keeps every exponent ≤ 0, so nothing overflows
        m = _stable_max(x, axis)
        with np.errstate(divide="ignore"):
            out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0]
        kept = _kept_shape(x.shape, ctx.kwargs["axis"])
        return _expand(grad, ctx) * exp(x - reshape(ctx.output, kept))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """ln Σ exp(x) over ``axis``; finite for inputs of ±1000."""
    axis, keepdims = _axes("logsumexp", x, axis, keepdims, dim, keepdim)
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


class Softmax(Op):
    """Softmax along one axis.

    forward    out = e^{x − m} / Σ e^{x − m}
    backward   grad_x = out ⊙ (grad − Σ(grad ⊙ out))   (sum along the axis)
    inverse neuron: activation (a vector one: ψ' is the Jacobian diag(s) − s sᵀ)
    """

    inverse_rule = InverseRule.ACTIVATION
    saves_inputs = False
    saves_output = True
    formula = "softmax({0})"
    derivative = "diag(s) − s·sᵀ, s = softmax({0})"

    @staticmethod
    def forward(ctx, x, axis):
        if axis == x.ndim - 1:
            return kernels.softmax_rows(x)
        # NOTE: softmax is shift-invariant; subtracting the max prevents overflow
        e = np.exp(x - _stable_max(x, axis))
        return e / np.sum(e, axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx, grad):
        out = ctx.output
        return out * (grad - sum(grad * out, axis=ctx.kwargs["axis"], keepdims=True))


def _one_axis(op: str, x: Tensor, axis, dim) -> int:
    axis = dim if dim is not None else axis
    if axis is None or not hasattr(axis, "__index__"):
        raise TypeError(f"{op}: expected a single int axis, got {axis!r}")
    return normalize_axis(op, axis, x.ndim)[0] if x.ndim else 0


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """eˣ / Σ eˣ along ``axis`` (default the last); finite for inputs of ±1000."""
    if x.ndim == 0:
        raise ValueError("softmax: needs at least one dimension, got a 0-d tensor")
    return Softmax.apply(x, axis=_one_axis("softmax", x, axis, dim))


class LogSoftmax(Op):
    """log softmax along one axis.

    forward    out = x − logsumexp(x)
    backward   grad_x = grad − softmax(x) ⊙ Σ grad   (sum along the axis)
    """

    inverse_rule = InverseRule.ACTIVATION
    saves_inputs = False
    saves_output = True
    formula = "ln softmax({0})"
    derivative = "I − softmax({0})"

    @staticmethod
    def forward(ctx, x, axis):
        if axis == x.ndim - 1:
            return kernels.log_softmax_rows(x)
        shifted = x - _stable_max(x, axis)
        with np.errstate(divide="ignore"):
            return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, grad):
        return grad - exp(ctx.output) * sum(grad, axis=ctx.kwargs["axis"], keepdims=True)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """ln softmax(x) along ``axis``, computed without forming softmax (stable for ±1000)."""
    if x.ndim == 0:
        raise ValueError("log_softmax: needs at least one dimension, got a 0-d tensor")
    return LogSoftmax.apply(x, axis=_one_axis("log_softmax", x, axis, dim))
