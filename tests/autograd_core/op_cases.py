"""The op test table (STYLE.md rule 8): one ``OpCase`` row per op registered in ``Op.registry``.

A row says which public function to call, how to draw its inputs (a hypothesis strategy of
``Sample``: the input arrays plus the non-tensor arguments such as ``axis`` or ``keepdims``), the
numpy formula its forward must equal, and whether its second derivative can be checked.
``test_ops.py`` runs every row through the same checks (forward == reference, gradcheck,
gradgradcheck, gradient shapes and dtypes); an op without a row fails ``test_ops.py``.

Input domains keep finite differences meaningful: positive values for log/sqrt/powers, values at
least 1e-2 away from kinks (relu, abs, clip bounds), tie-free values for max/min/maximum. Piecewise
ops still support double backward: away from their kinks the second derivative is 0 and
gradgradcheck applies.

Arrays are drawn as float64; integer and boolean arrays (labels, conditions) are constants.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import autograd_core as ag
from tests.strategies import (arrays, away_from, axes, broadcast_target, broadcastable_pair,
                              broadcastable_shapes, distinct_arrays, grid, labels, masks, nonzero,
                              positive, probabilities, reals, shapes)

F64 = np.float64


@dataclass(frozen=True)
class Sample:
    """One drawn input: ``fn(*args, **kwargs)``; floating ``args`` become tensors with grad."""

    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:               # what hypothesis prints for a failing example
        arrays_ = ", ".join(f"array({a.tolist()!r}, {a.dtype})" for a in self.args)
        return f"Sample(args=({arrays_}), kwargs={self.kwargs!r})"


@dataclass(frozen=True)
class OpCase:
    """One row of the op table.

    ``op``          the registered class name the row covers (``Op.registry`` key)
    ``fn``          the public function, called as ``fn(*tensors, **sample.kwargs)``
    ``samples``     hypothesis strategy of ``Sample`` (shapes, domain, non-tensor arguments)
    ``reference``   numpy forward, called as ``reference(*arrays, **sample.kwargs)``
    ``supports_double_backward``  whether gradgradcheck applies
    ``variant``     distinguishes several rows of one op in test ids
    ``tolerances``  extra keywords for gradcheck/gradgradcheck (eps, atol, rtol)
    """

    op: str
    fn: Callable
    samples: st.SearchStrategy
    reference: Callable
    supports_double_backward: bool = True
    variant: str = ""
    tolerances: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.variant}" if self.variant else self.op


# --- sample builders ------------------------------------------------------------------------------
def _kwargs(draw, kwargs: dict) -> dict:
    return {name: draw(strategy) for name, strategy in kwargs.items()}


def unary(elements=None, shape=None, **kwargs) -> st.SearchStrategy[Sample]:
    """One array of any small shape (0-d, size 0 and size 1 included), plus drawn keywords."""
    @st.composite
    def sample(draw):
        x = draw(arrays(F64, draw(shape if shape is not None else shapes()), elements))
        return Sample((x,), _kwargs(draw, kwargs))
    return sample()


def binary(elements_a=None, elements_b=None, **kwargs) -> st.SearchStrategy[Sample]:
    """Two arrays whose shapes broadcast (rank differences, size-1 and size-0 dims)."""
    @st.composite
    def sample(draw):
        shape_a, shape_b = draw(broadcastable_pair())
        a = draw(arrays(F64, shape_a, elements_a))
        b = draw(arrays(F64, shape_b, elements_b))
        return Sample((a, b), _kwargs(draw, kwargs))
    return sample()


def _count(shape: tuple, axis) -> int:
    """How many elements each output of a reduction over ``axis`` combines."""
    if axis is None:
        return int(np.prod(shape))
    picked = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in picked])) if shape else 1


def reduction(elements=None, min_count: int = 0, distinct: bool = False,
              **kwargs) -> st.SearchStrategy[Sample]:
    """One array with an ``axis`` (None, int, negative, tuple, empty tuple) and ``keepdims``.

    ``min_count`` is the least number of elements each reduced group must have (1 for ops with
    no value on an empty group, like max); ``distinct`` draws tie-free elements.
    """
    @st.composite
    def sample(draw):
        shape = draw(shapes())
        axis = draw(axes(len(shape)))
        if distinct:
            x = draw(distinct_arrays(F64, shape))
        else:
            x = draw(arrays(F64, shape, elements))
        keywords = {"axis": axis, "keepdims": draw(st.booleans())}
        keywords.update(_kwargs(draw, kwargs))
        return Sample((x,), keywords)
    return sample().filter(lambda s: _count(s.args[0].shape, s.kwargs["axis"]) >= min_count)


def along_axis(elements=None) -> st.SearchStrategy[Sample]:
    """One array of at least one dimension and a single int ``axis`` (negative included)."""
    @st.composite
    def sample(draw):
        shape = draw(shapes(min_dims=1))
        x = draw(arrays(F64, shape, elements))
        return Sample((x,), {"axis": draw(st.integers(-len(shape), len(shape) - 1))})
    return sample()


def _np_axis(axis, ndim: int):
    """numpy's spelling of an axis the engine accepts (a 0-d tensor takes axis 0 or -1)."""
    return () if ndim == 0 and axis is not None else axis


# --- elementwise ----------------------------------------------------------------------------------
@st.composite
def _pow_scalar(draw):
    exponent = draw(st.sampled_from([2, 3, 1, 0, -1, 0.5, -1.5, 2.5]))
    integral = isinstance(exponent, int)
    x = draw(arrays(F64, draw(shapes()), nonzero(0.3, 2.0) if integral else positive(0.2, 2.0)))
    return Sample((x,), {"exponent": exponent})


@st.composite
def _where(draw):
    shape_c, shape_a, shape_b = draw(broadcastable_shapes(3))
    return Sample((draw(masks(shape_c)), draw(arrays(F64, shape_a)), draw(arrays(F64, shape_b))))


_CLIP_BOUNDS = [(-1.0, 1.0), (None, 0.5), (-0.5, None), (0.25, 0.25)]

ELEMENTWISE = [
    OpCase("Add", ag.add, binary(), np.add),
    OpCase("Sub", ag.sub, binary(), np.subtract),
    OpCase("Mul", ag.mul, binary(), np.multiply),
    OpCase("Div", ag.div, binary(elements_b=nonzero(0.5, 3.0)), np.divide),
    OpCase("Neg", ag.neg, unary(), np.negative),
    OpCase("Pow", ag.pow, binary(positive(0.2, 3.0), reals(-2.0, 2.0)), np.power),
    OpCase("PowScalar", lambda x, exponent: ag.pow(x, exponent), _pow_scalar(),
           lambda x, exponent: np.power(x, exponent)),
    OpCase("Exp", ag.exp, unary(), np.exp),
    OpCase("Log", ag.log, unary(positive()), np.log),
    OpCase("Sqrt", ag.sqrt, unary(positive()), np.sqrt),
    OpCase("Abs", ag.abs, unary(away_from(0.0)), np.abs),
    OpCase("Sin", ag.sin, unary(), np.sin),
    OpCase("Cos", ag.cos, unary(), np.cos),
    # NOTE: a on the even multiples of 0.05, b on the odd ones: a == b never happens
    OpCase("Maximum", ag.maximum, binary(grid(0.1), grid(0.1, 0.05)), np.maximum),
    OpCase("Minimum", ag.minimum, binary(grid(0.1), grid(0.1, 0.05)), np.minimum),
    OpCase("Where", ag.where, _where(), np.where),
    OpCase("Clip", lambda x, bounds: ag.clip(x, *bounds),
           unary(away_from(-1.0, -0.5, 0.25, 0.5, 1.0), bounds=st.sampled_from(_CLIP_BOUNDS)),
           lambda x, bounds: np.clip(x, *bounds)),
    # NOTE: the float32 output rounds away 1e-6 perturbations: difference with eps = 1e-3
    OpCase("Cast", lambda x: ag.astype(x, np.float32), unary(),
           lambda x: x.astype(np.float32), tolerances={"eps": 1e-3, "atol": 1e-3}),
    OpCase("Clone", ag.clone, unary(), np.copy),
]


# --- activations ----------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


ACTIVATIONS = [
    OpCase("Sigmoid", ag.sigmoid, unary(reals(-4.0, 4.0)), _sigmoid),
    OpCase("Tanh", ag.tanh, unary(), np.tanh),
    OpCase("ReLU", ag.relu, unary(away_from(0.0)), lambda x: np.maximum(x, 0.0)),
    # the fused backward rules, called as op(grad, y) with y the activation's output
    OpCase("SigmoidBackward", ag.Op.registry["SigmoidBackward"].apply,
           binary(elements_b=reals(0.05, 0.95)), lambda grad, y: grad * y * (1 - y)),
    OpCase("TanhBackward", ag.Op.registry["TanhBackward"].apply,
           binary(elements_b=reals(-0.95, 0.95)), lambda grad, y: grad * (1 - y * y)),
    OpCase("ReLUBackward", ag.Op.registry["ReLUBackward"].apply,
           binary(elements_b=away_from(0.0)), lambda grad, y: np.where(y > 0, grad, 0.0)),
    OpCase("LeakyReLU", lambda x, negative_slope: ag.leaky_relu(x, negative_slope),
           unary(away_from(0.0), negative_slope=st.sampled_from([0.01, 0.2])),
           lambda x, negative_slope: np.where(x > 0, x, negative_slope * x)),
    OpCase("ELU", lambda x, alpha: ag.elu(x, alpha),
           unary(away_from(0.0), alpha=st.sampled_from([1.0, 0.5])),
           lambda x, alpha: np.where(x > 0, x, alpha * (np.exp(x) - 1.0))),
    OpCase("Softplus", lambda x, beta: ag.softplus(x, beta),
           unary(beta=st.sampled_from([1.0, 2.0, 0.5])),
           lambda x, beta: np.log1p(np.exp(beta * x)) / beta),
    OpCase("SiLU", ag.silu, unary(), lambda x: x * _sigmoid(x)),
    OpCase("GELU", ag.gelu, unary(), _gelu),
]


# --- reductions and the softmax family ------------------------------------------------------------
def _prod_with_zeros():
    # NOTE: exact zeros take prod's division-free backward, which is not differentiable again
    return reduction(st.sampled_from([0.0, 0.5, -1.0, 1.5, 2.0]))


def _logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=_np_axis(axis, x.ndim), keepdims=keepdims))


def _softmax(x, axis):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    with np.errstate(divide="ignore"):     # an empty axis: log 0, never used by an element
        return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


REDUCTIONS = [
    OpCase("Sum", lambda x, axis, keepdims: ag.sum(x, axis=axis, keepdims=keepdims),
           reduction(),
           lambda x, axis, keepdims: np.sum(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims)),
    OpCase("Mean", lambda x, axis, keepdims: ag.mean(x, axis=axis, keepdims=keepdims),
           reduction(min_count=1),
           lambda x, axis, keepdims: np.mean(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims)),
    OpCase("Var", lambda x, axis, keepdims, ddof: ag.var(x, axis=axis, ddof=ddof,
                                                         keepdims=keepdims),
           reduction(min_count=2, ddof=st.sampled_from([0, 1])),
           lambda x, axis, keepdims, ddof: np.var(x, axis=_np_axis(axis, x.ndim), ddof=ddof,
                                                  keepdims=keepdims)),
    OpCase("Max", lambda x, axis, keepdims: ag.max(x, axis=axis, keepdims=keepdims),
           reduction(min_count=1, distinct=True),
           lambda x, axis, keepdims: np.max(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims)),
    OpCase("Min", lambda x, axis, keepdims: ag.min(x, axis=axis, keepdims=keepdims),
           reduction(min_count=1, distinct=True),
           lambda x, axis, keepdims: np.min(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims)),
    OpCase("Prod", lambda x, axis, keepdims: ag.prod(x, axis=axis, keepdims=keepdims),
           reduction(nonzero(0.5, 1.5)),
           lambda x, axis, keepdims: np.prod(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims)),
    OpCase("Prod", lambda x, axis, keepdims: ag.prod(x, axis=axis, keepdims=keepdims),
           _prod_with_zeros(),
           lambda x, axis, keepdims: np.prod(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims),
           variant="zeros"),
    OpCase("LogSumExp", lambda x, axis, keepdims: ag.logsumexp(x, axis=axis, keepdims=keepdims),
           reduction(min_count=1), _logsumexp),
    OpCase("Softmax", lambda x, axis: ag.softmax(x, axis=axis), along_axis(), _softmax),
    OpCase("LogSoftmax", lambda x, axis: ag.log_softmax(x, axis=axis), along_axis(),
           _log_softmax),
]


# --- linear algebra -------------------------------------------------------------------------------
@st.composite
def _matmul(draw):
    n, k, m = (draw(st.integers(0, 3)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched", "vb", "bv"]))
    batch_a, batch_b = draw(broadcastable_pair(max_dims=2, max_side=3))
    shape_a = {"vv": (k,), "vm": (k,), "mv": (n, k), "mm": (n, k), "batched": batch_a + (n, k),
               "vb": (k,), "bv": batch_a + (n, k)}[kind]
    shape_b = {"vv": (k,), "vm": (k, m), "mv": (k,), "mm": (k, m), "batched": batch_b + (k, m),
               "vb": batch_b + (k, m), "bv": (k,)}[kind]
    return Sample((draw(arrays(F64, shape_a)), draw(arrays(F64, shape_b))))


@st.composite
def _linear(draw):
    batch = draw(shapes(max_dims=2, max_side=3))
    n_in, n_out = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    x = draw(arrays(F64, batch + (n_in,)))
    w = draw(arrays(F64, (n_out, n_in)))
    if draw(st.booleans()):
        return Sample((x, w))
    return Sample((x, w, draw(arrays(F64, (n_out,)))))


def _linear_reference(x, w, b=None):
    return x @ w.T + (0.0 if b is None else b)


def _linear_activation(activation: str):
    """Linear samples with ``activation``; for relu, z = x·Wᵀ + b at least 1e-2 from its kink."""
    def away_from_kink(sample: Sample) -> bool:
        return activation != "relu" or bool(np.all(np.abs(_linear_reference(*sample.args))
                                                   > 1e-2))
    return _linear().map(lambda s: Sample(s.args, {"activation": activation})).filter(
        away_from_kink)


_PSI = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


LINALG = [
    OpCase("MatMul", ag.matmul, _matmul(), np.matmul),
    OpCase("Linear", ag.linear, _linear(), _linear_reference),
    *[OpCase("LinearActivation", ag.linear, _linear_activation(name),
             lambda *args, activation: _PSI[activation](_linear_reference(*args)), variant=name)
      for name in ("relu", "tanh", "sigmoid")],
]


# --- shape ops ------------------------------------------------------------------------------------
@st.composite
def _broadcast_to(draw):
    small, big = draw(broadcast_target())
    return Sample((draw(arrays(F64, small)),), {"shape": big})


@st.composite
def _sum_to(draw):
    small, big = draw(broadcast_target())
    return Sample((draw(arrays(F64, big)),), {"shape": small})


def _sum_to_reference(x, shape):
    lead = x.ndim - len(shape)
    summed = np.sum(x, axis=tuple(range(lead)))
    stretched = tuple(i for i, side in enumerate(shape) if side == 1 and summed.shape[i] != 1)
    return np.sum(summed, axis=stretched, keepdims=True)


@st.composite
def _reshape(draw):
    shape = draw(shapes())
    size = int(np.prod(shape))
    options = [shape[::-1], (size,), (-1,), shape + (1,), (1,) + shape]
    if len(shape) >= 2:
        options.append(shape[:-2] + (shape[-2] * shape[-1],))
        options.append((-1,) + shape[-1:])
    target = draw(st.sampled_from(options))
    if size == 0 and -1 in target:          # numpy cannot infer -1 for an empty array
        target = tuple(0 if side == -1 else side for side in target)
    return Sample((draw(arrays(F64, shape)),), {"shape": target})


@st.composite
def _transpose(draw):
    shape = draw(shapes())
    ndim = len(shape)
    kind = draw(st.sampled_from(["reverse", "swap", "permutation"] if ndim >= 2 else ["reverse"]))
    if kind == "reverse":
        axes_ = ()
    elif kind == "swap":
        a, b = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=2, max_size=2))
        axes_ = (a, b)
    else:
        axes_ = (tuple(draw(st.permutations(range(ndim)))),)
    return Sample((draw(arrays(F64, shape)),), {"axes": axes_})


def _transpose_reference(x, axes):
    if not axes:
        return np.transpose(x)
    if len(axes) == 2:
        return np.swapaxes(x, *axes)
    return np.transpose(x, axes[0])


@st.composite
def _slice(draw, side: int):
    bound = st.none() | st.integers(-side - 1, side + 1)
    return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2])))


@st.composite
def index_for(draw, shape: tuple):
    """An index for an array of ``shape``: ints, slices, None, Ellipsis, integer arrays with
    repeated entries (alone or after a slice), boolean masks."""
    ndim = len(shape)
    if ndim == 0:
        return draw(st.sampled_from([(), Ellipsis, None]))
    kinds = ["slice", "basic", "int_array", "mask"]
    if shape[0] > 0:
        kinds.append("int")
    if ndim >= 2 and shape[1] > 0:
        kinds.append("slice_then_array")
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-shape[0], shape[0] - 1))
    if kind == "slice":
        return draw(_slice(shape[0]))
    if kind == "basic":
        count = draw(st.integers(1, ndim))
        ellipsis_first = draw(st.booleans())    # x[..., i] indexes the last axes
        parts = []
        for side in (shape[ndim - count:] if ellipsis_first else shape[:count]):
            if side > 0 and draw(st.booleans()):
                parts.append(draw(st.integers(-side, side - 1)))
            else:
                parts.append(draw(_slice(side)))
        if ellipsis_first:
            parts.insert(0, Ellipsis)
        elif draw(st.booleans()):
            parts.append(Ellipsis)
        if draw(st.booleans()):                 # a new axis anywhere
            parts.insert(draw(st.integers(0, len(parts))), None)
        return tuple(parts)
    if kind == "mask":
        mask_shape = shape if draw(st.booleans()) else shape[:1]
        return draw(masks(mask_shape))
    side = shape[0] if kind == "int_array" else shape[1]
    if side == 0:
        positions = np.zeros(draw(shapes(1, 2, 0, 3)), dtype=np.int64)[..., :0]
    else:
        positions = draw(arrays(np.int64, shapes(1, 2, 1, 4), st.integers(-side, side - 1)))
    return positions if kind == "int_array" else (slice(None), positions)


@st.composite
def _getitem(draw):
    shape = draw(shapes())
    return Sample((draw(arrays(F64, shape)),), {"index": draw(index_for(shape))})


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) for p in parts)


@st.composite
def _index_add(draw):
    shape = draw(shapes())
    index = draw(index_for(shape))
    selected = np.zeros(shape)[index].shape
    return Sample((draw(arrays(F64, selected)),), {"shape": shape, "index": index})


def _index_add_reference(x, shape, index):
    out = np.zeros(shape)
    if _is_advanced(index):
        np.add.at(out, index, x)       # repeated indices accumulate
    else:
        out[index] += x
    return out


@st.composite
def _concatenate(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        piece = list(shape)
        piece[axis] = draw(st.integers(0, 3))
        pieces.append(draw(arrays(F64, tuple(piece))))
    return Sample(tuple(pieces), {"axis": axis})


@st.composite
def _stack(draw):
    shape = draw(shapes(max_dims=2))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    count = draw(st.integers(1, 3))
    return Sample(tuple(draw(arrays(F64, shape)) for _ in range(count)), {"axis": axis})


SHAPE_OPS = [
    OpCase("BroadcastTo", lambda x, shape: ag.broadcast_to(x, shape), _broadcast_to(),
           np.broadcast_to),
    OpCase("SumTo", lambda x, shape: ag.sum_to(x, shape), _sum_to(), _sum_to_reference),
    OpCase("Reshape", lambda x, shape: ag.reshape(x, shape), _reshape(),
           lambda x, shape: x.reshape(shape)),
    OpCase("Transpose", lambda x, axes: ag.transpose(x, *axes), _transpose(),
           _transpose_reference),
    OpCase("GetItem", lambda x, index: ag.getitem(x, index), _getitem(),
           lambda x, index: x[index]),
    # NOTE: IndexAdd (GetItem's backward) has no public function; it is called through the
    # public registry, the way a custom op would be
    OpCase("IndexAdd", lambda x, shape, index: ag.Op.registry["IndexAdd"].apply(
        x, shape=shape, index=index), _index_add(), _index_add_reference),
    OpCase("Concatenate", lambda *xs, axis: ag.concatenate(xs, axis=axis), _concatenate(),
           lambda *xs, axis: np.concatenate(xs, axis=axis)),
    OpCase("Stack", lambda *xs, axis: ag.stack(xs, axis=axis), _stack(),
           lambda *xs, axis: np.stack(xs, axis=axis)),
]


# --- losses ---------------------------------------------------------------------------------------
_REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda per: per}


@st.composite
def _cross_entropy(draw):
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    # the mean over no samples is undefined: "mean" gets at least one sample
    batch = draw(shapes(max_dims=2, min_side=1 if reduction == "mean" else 0, max_side=3))
    shape = batch + (draw(st.integers(1, 4)),)
    logits = draw(arrays(F64, shape))
    if draw(st.booleans()):
        target = draw(labels(batch, shape[-1]))
    else:
        target = draw(probabilities(shape))
    smoothing = draw(st.sampled_from([0.0, 0.1]))
    return Sample((logits, target), {"reduction": reduction, "label_smoothing": smoothing})


def _cross_entropy_reference(logits, target, reduction, label_smoothing):
    classes = logits.shape[-1]
    if target.dtype.kind == "i":
        target = np.eye(classes)[target]
    target = target * (1.0 - label_smoothing) + label_smoothing / classes
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    return _REDUCE[reduction](-np.sum(target * log_probs, axis=-1))


@st.composite
def _binary_cross_entropy(draw):
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    shape = draw(shapes(min_side=1 if reduction == "mean" else 0))
    logits = draw(arrays(F64, shape, reals(-4.0, 4.0)))
    target = draw(arrays(F64, shape, reals(0.0, 1.0)))
    return Sample((logits, target), {"reduction": reduction})


def _binary_cross_entropy_reference(logits, target, reduction):
    p = _sigmoid(logits)
    return _REDUCE[reduction](-target * np.log(p) - (1.0 - target) * np.log(1.0 - p))


@st.composite
def _mean_squared_error(draw):
    reduction = draw(st.sampled_from(["mean", "sum"]))
    shape = draw(shapes(min_side=1 if reduction == "mean" else 0))
    return Sample((draw(arrays(F64, shape)), draw(arrays(F64, shape))), {"reduction": reduction})


def _squared_error_reference(y, t, reduction):
    per = 0.5 * (y - t) ** 2
    if y.ndim >= 2:
        per = per.sum(axis=tuple(range(1, y.ndim)))
    return _REDUCE[reduction](per)


@st.composite
def _probabilities(draw):
    reduction = draw(st.sampled_from(["mean", "sum"]))
    shape = draw(shapes(min_side=1))
    y = draw(arrays(F64, shape, reals(0.05, 0.95)))
    return Sample((y, draw(arrays(F64, shape, reals(0.0, 1.0)))), {"reduction": reduction})


def _bce_reference(y, t, reduction):
    return _REDUCE[reduction](-(t * np.log(y) + (1.0 - t) * np.log(1.0 - y)))


LOSSES = [
    OpCase("BinaryCrossEntropy",
           lambda y, t, reduction: ag.binary_cross_entropy(y, t, reduction=reduction),
           _probabilities(), _bce_reference),
    OpCase("SquaredError",
           lambda y, t, reduction: ag.squared_error(y, t, reduction=reduction),
           _mean_squared_error(), _squared_error_reference),
    OpCase("MeanSquaredError",
           lambda y, t, reduction: ag.mse_loss(y, t, reduction=reduction),
           _mean_squared_error(), lambda y, t, reduction: _REDUCE[reduction]((y - t) ** 2)),
    OpCase("SoftmaxCrossEntropy",
           lambda z, t, reduction, label_smoothing: ag.softmax_cross_entropy(
               z, t, reduction=reduction, label_smoothing=label_smoothing),
           _cross_entropy(), _cross_entropy_reference),
    OpCase("SigmoidBinaryCrossEntropy",
           lambda z, t, reduction: ag.binary_cross_entropy_with_logits(z, t, reduction=reduction),
           _binary_cross_entropy(), _binary_cross_entropy_reference),
]

CASES: list[OpCase] = ELEMENTWISE + ACTIVATIONS + REDUCTIONS + LINALG + SHAPE_OPS + LOSSES
