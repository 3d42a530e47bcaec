"""Hypothesis strategies shared by the test suite.

Shapes stay small (at most 3 dimensions of at most 4) so that full Jacobians stay cheap, and they
include the edge cases an op must survive: 0-d tensors, size-0 and size-1 dimensions, and
operands of different rank that broadcast. Element strategies give the input domain an op needs:
positive values for ``log``/``sqrt``, values away from the kinks of ``relu``/``abs``/``clip``, and
values on disjoint grids so that ``max``/``min``/``maximum`` never see a tie.

Arrays are drawn as float64; tests cast them to the dtype under test.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS = 3
MAX_SIDE = 4

#: distance kept from a kink; gradcheck perturbs by 1e-6, so 1e-2 is far away
KINK_MARGIN = 1e-2


# --- shapes ---------------------------------------------------------------------------------------
@st.composite
def sides(draw, min_side: int = 0, max_side: int = MAX_SIDE) -> int:
    """One dimension; when 0 is allowed it comes up about one time in eight, so that most
    examples still hold values to check."""
    if min_side == 0 and draw(st.integers(0, 7)) == 7:
        return 0
    return draw(st.integers(max(min_side, 1), max_side))


@st.composite
def shapes(draw, min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0,
           max_side: int = MAX_SIDE) -> tuple[int, ...]:
    """Array shapes with ``min_dims..max_dims`` dimensions of ``min_side..max_side`` each
    (0-d shapes, size-1 and, unless ``min_side`` ≥ 1, size-0 dimensions included)."""
    ndim = draw(st.integers(min_dims, max_dims))
    return tuple(draw(sides(min_side, max_side)) for _ in range(ndim))


@st.composite
def broadcastable_shapes(draw, num_shapes: int = 2, min_dims: int = 0, max_dims: int = MAX_DIMS,
                         min_side: int = 0, max_side: int = MAX_SIDE
                         ) -> tuple[tuple[int, ...], ...]:
    """``num_shapes`` shapes that broadcast together under numpy's rules.

    A result shape is drawn first; each operand keeps a trailing part of it (rank differences)
    and replaces some of its dimensions by 1 (stretched axes). Size-0 dimensions broadcast
    against 1 as numpy allows.
    """
    result = draw(shapes(min_dims, max_dims, min_side, max_side))
    drawn = []
    for _ in range(num_shapes):
        full = draw(st.booleans())          # half of the operands keep the full rank
        rank = len(result) if full else draw(st.integers(0, len(result)))
        tail = result[len(result) - rank:]
        drawn.append(tuple(1 if draw(st.booleans()) else side for side in tail))
    return tuple(drawn)


def broadcastable_pair(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0,
                       max_side: int = MAX_SIDE
                       ) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Two shapes that broadcast together (size-1 and size-0 dims, different ranks)."""
    return broadcastable_shapes(2, min_dims, max_dims, min_side, max_side)


@st.composite
def broadcast_target(draw, min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0,
                     max_side: int = MAX_SIDE) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(small, big)``: ``small`` broadcasts to ``big`` (the pair of broadcast_to / sum_to)."""
    big = draw(shapes(min_dims, max_dims, min_side, max_side))
    rank = draw(st.integers(0, len(big)))
    small = tuple(1 if draw(st.booleans()) else side for side in big[len(big) - rank:])
    return small, big


@st.composite
def axes(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    """An ``axis`` argument for a reduction over ``ndim`` dimensions: None, an int (negative ones
    included) or a tuple of distinct axes (possibly empty, possibly negative)."""
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    span = max(ndim, 1)                   # a 0-d tensor accepts axis 0 / -1 (as PyTorch)
    if kind == "int":
        return draw(st.integers(-span, span - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


# --- elements -------------------------------------------------------------------------------------
def reals(lo: float = -3.0, hi: float = 3.0) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi] (no nan, inf or subnormals)."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def positive(lo: float = 0.2, hi: float = 3.0) -> st.SearchStrategy[float]:
    """Floats bounded away from 0 from above: the domain of log, sqrt and non-integer powers."""
    return reals(lo, hi)


def away_from(*points: float, lo: float = -3.0, hi: float = 3.0,
              margin: float = KINK_MARGIN) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] at least ``margin`` away from each of ``points`` (kinks, poles)."""
    return reals(lo, hi).filter(lambda v: all(abs(v - p) >= margin for p in points))


def nonzero(lo: float = 0.3, hi: float = 3.0) -> st.SearchStrategy[float]:
    """Floats with lo ≤ |v| ≤ hi, either sign: divisors, and factors of a product."""
    return st.tuples(reals(lo, hi), st.booleans()).map(lambda p: -p[0] if p[1] else p[0])


def grid(step: float = 0.05, offset: float = 0.0, half_width: int = 30
         ) -> st.SearchStrategy[float]:
    """Values ``k·step + offset`` for |k| ≤ half_width. Two grids with offsets that differ by
    a fraction of ``step`` never share a value, so max/min/maximum cannot tie."""
    return st.integers(-half_width, half_width).map(lambda k: k * step + offset)


# --- arrays ---------------------------------------------------------------------------------------
def arrays(dtype, shape, elements: st.SearchStrategy | None = None
           ) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype`` and ``shape`` (a tuple or a strategy) with the given elements
    (default: reals in [−3, 3]). Each array is a fresh, writable copy."""
    if elements is None:
        elements = reals()
    return hnp.arrays(np.dtype(dtype), shape, elements=elements).map(np.array)


def distinct_arrays(dtype, shape, step: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose elements are pairwise at least ``step`` apart (no ties for max/min)."""
    size = int(np.prod(shape))
    half = max(size, 30)
    return (hnp.arrays(np.int64, shape, elements=st.integers(-half, half), unique=True)
            .map(lambda k: (k * step).astype(dtype)))


def probabilities(shape, axis: int = -1) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays whose entries along ``axis`` are positive and sum to 1 (soft targets)."""
    return arrays(np.float64, shape, positive(0.1, 1.0)).map(
        lambda a: a / a.sum(axis=axis, keepdims=True) if a.size else a)


def labels(shape, num_classes: int) -> st.SearchStrategy[np.ndarray]:
    """Integer class labels in [0, num_classes), repeats allowed."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, num_classes - 1)).map(np.array)


def masks(shape) -> st.SearchStrategy[np.ndarray]:
    """Boolean arrays (conditions of ``where``, boolean indices)."""
    return hnp.arrays(np.bool_, shape, elements=st.booleans()).map(np.array)
