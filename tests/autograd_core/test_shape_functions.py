"""The composite shape functions (split, squeeze, unsqueeze, flatten, expand) without PyTorch.

Each is checked against numpy (values and shape, 0-d / size-1 / negative axes, ``dim=``), through
its gradient in float64 (x.grad after backward of (f(x)·w).sum() against the numpy-derived
value), for float32 being kept, and on every error path by the exact message. The shape errors
of matmul (``_matmul_error``) and of the broadcasting elementwise binary ops (``_broadcast_error``)
are pinned here too.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag


# --- helpers --------------------------------------------------------------------------------------
def _array(shape, seed: int = 0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _weighted_grad(fn, a: np.ndarray, seed: int = 1):
    """Run ``fn`` on a leaf holding ``a``; backward of Σ (fn(x)·w) with random w per output.

    Returns (outputs as a tuple, the weights, x.grad as an array)."""
    x = ag.tensor(a, requires_grad=True)
    out = fn(x)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape).astype(a.dtype) for o in outs]
    total = None
    for o, w in zip(outs, weights):
        term = (o * ag.tensor(w)).sum()
        total = term if total is None else total + term
    total.backward()
    return outs, weights, x.grad.numpy()


def _numpy_sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting ``shape`` up to ``g.shape`` added or stretched."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True).reshape(shape)


def _exact(message: str) -> str:
    """A ``match`` pattern for exactly ``message`` (the whole text, special characters escaped)."""
    return "^" + re.escape(message) + "$"


# --- squeeze --------------------------------------------------------------------------------------
SQUEEZE_CASES = [
    ((1, 3, 1, 2), None, (3, 2)),
    ((1, 3, 1, 2), 0, (3, 1, 2)),
    ((1, 3, 1, 2), 2, (1, 3, 2)),
    ((1, 3, 1, 2), -2, (1, 3, 2)),
    ((1, 3, 1, 2), -4, (3, 1, 2)),
    ((1, 3, 1, 2), (0, 2), (3, 2)),
    ((1, 3, 1, 2), (-4, -2), (3, 2)),
    ((2, 1), -1, (2,)),
    ((1, 1), None, ()),
    ((1,), 0, ()),
    ((3,), None, (3,)),
    ((2, 3), None, (2, 3)),
    ((), None, ()),
    ((), 0, ()),
    ((), -1, ()),
]


@pytest.mark.parametrize("shape, axis, expected", SQUEEZE_CASES)
def test_squeeze_matches_numpy(shape, axis, expected):
    a = _array(shape)
    reference = np.squeeze(a, axis=axis) if a.ndim else a
    for out in (ag.squeeze(ag.tensor(a), axis), ag.tensor(a).squeeze(axis)):
        assert out.shape == expected == reference.shape
        np.testing.assert_array_equal(out.numpy(), reference)


@pytest.mark.parametrize("shape, axis, expected", SQUEEZE_CASES)
def test_squeeze_gradient_is_the_weight_reshaped_back(shape, axis, expected):
    a = _array(shape)
    (out,), (w,), grad = _weighted_grad(lambda x: x.squeeze(axis), a)
    assert out.shape == expected
    assert grad.shape == shape and grad.dtype == np.float64
    np.testing.assert_array_equal(grad, w.reshape(shape))


def test_squeeze_dim_keyword_including_dim_zero():
    """``dim=`` is PyTorch's spelling; dim=0 must not be mistaken for "no axis given"."""
    x = ag.tensor(_array((1, 3, 1)))
    assert x.squeeze(dim=0).shape == (3, 1)
    assert ag.squeeze(x, dim=-1).shape == (1, 3)
    assert ag.squeeze(x, 2, dim=0).shape == (3, 1)       # dim wins over axis
    assert x.squeeze(dim=(0, 2)).shape == (3,)


@pytest.mark.parametrize("shape, axis, message", [
    ((2, 3), 0, "squeeze: axis 0 of shape (2, 3) has size 2, not 1"),
    ((1, 3, 1), 1, "squeeze: axis 1 of shape (1, 3, 1) has size 3, not 1"),
    ((1, 3, 1), -2, "squeeze: axis 1 of shape (1, 3, 1) has size 3, not 1"),
    ((1, 3, 1), (0, 1), "squeeze: axis 1 of shape (1, 3, 1) has size 3, not 1"),
    ((4, 1), (-2, -1), "squeeze: axis 0 of shape (4, 1) has size 4, not 1"),
    ((0, 3), 0, "squeeze: axis 0 of shape (0, 3) has size 0, not 1"),
    ((2, 3), 2, "squeeze: axis 2 is out of range for a tensor with 2 dimension(s)"),
    ((2, 3), -3, "squeeze: axis -3 is out of range for a tensor with 2 dimension(s)"),
    ((), 1, "squeeze: axis 1 is out of range for a tensor with 0 dimension(s)"),
    ((), -2, "squeeze: axis -2 is out of range for a tensor with 0 dimension(s)"),
    ((1, 1), (1, -1), "squeeze: repeated axis in (1, -1)"),
])
def test_squeeze_errors(shape, axis, message):
    with pytest.raises(ValueError, match=_exact(message)):
        ag.tensor(_array(shape)).squeeze(axis)


# --- unsqueeze ------------------------------------------------------------------------------------
UNSQUEEZE_CASES = [
    ((2, 3), 0, (1, 2, 3)),
    ((2, 3), 1, (2, 1, 3)),
    ((2, 3), 2, (2, 3, 1)),
    ((2, 3), -1, (2, 3, 1)),
    ((2, 3), -2, (2, 1, 3)),
    ((2, 3), -3, (1, 2, 3)),
    ((4,), 1, (4, 1)),
    ((4,), -2, (1, 4)),
    ((1,), 0, (1, 1)),
    ((), 0, (1,)),
    ((), -1, (1,)),
]


@pytest.mark.parametrize("shape, axis, expected", UNSQUEEZE_CASES)
def test_unsqueeze_matches_numpy_expand_dims(shape, axis, expected):
    a = _array(shape)
    reference = np.expand_dims(a, axis)
    outs = (ag.unsqueeze(ag.tensor(a), axis), ag.tensor(a).unsqueeze(axis),
            ag.tensor(a).unsqueeze(dim=axis))
    for out in outs:
        assert out.shape == expected == reference.shape
        np.testing.assert_array_equal(out.numpy(), reference)


@pytest.mark.parametrize("shape, axis, expected", UNSQUEEZE_CASES)
def test_unsqueeze_gradient_is_the_weight_reshaped_back(shape, axis, expected):
    (out,), (w,), grad = _weighted_grad(lambda x: x.unsqueeze(axis), _array(shape))
    assert out.shape == expected
    np.testing.assert_array_equal(grad, w.reshape(shape))


def test_unsqueeze_dim_keyword_wins_over_axis_even_when_zero():
    x = ag.tensor(_array((2, 3)))
    assert x.unsqueeze(dim=0).shape == (1, 2, 3)
    assert ag.unsqueeze(x, 2, dim=0).shape == (1, 2, 3)
    assert ag.unsqueeze(x, 0, dim=-1).shape == (2, 3, 1)


@pytest.mark.parametrize("shape, axis, message", [
    ((2, 3), 3, "unsqueeze: axis 3 is out of range for a result with 3 dimensions"),
    ((2, 3), -4, "unsqueeze: axis -4 is out of range for a result with 3 dimensions"),
    ((4,), 2, "unsqueeze: axis 2 is out of range for a result with 2 dimensions"),
    ((), 1, "unsqueeze: axis 1 is out of range for a result with 1 dimensions"),
    ((), -2, "unsqueeze: axis -2 is out of range for a result with 1 dimensions"),
])
def test_unsqueeze_axis_out_of_range(shape, axis, message):
    with pytest.raises(ValueError, match=_exact(message)):
        ag.tensor(_array(shape)).unsqueeze(axis)


def test_unsqueeze_without_axis_is_a_type_error():
    x = ag.tensor(_array((2, 3)))
    for call in (x.unsqueeze, lambda: ag.unsqueeze(x)):
        with pytest.raises(TypeError, match=_exact("unsqueeze: missing the axis argument")):
            call()


# --- flatten --------------------------------------------------------------------------------------
FLATTEN_CASES = [
    ((2, 3, 4), (), (24,)),
    ((2, 3, 4), (1,), (2, 12)),
    ((2, 3, 4), (2,), (2, 3, 4)),
    ((2, 3, 4), (0, 1), (6, 4)),
    ((2, 3, 4), (0, -2), (6, 4)),
    ((2, 3, 4), (-2, -1), (2, 12)),
    ((2, 3, 4), (-3, 0), (2, 3, 4)),
    ((2, 3, 4), (1, 1), (2, 3, 4)),
    ((2, 3, 4, 5), (1, 2), (2, 12, 5)),
    ((2, 3, 4, 5), (-3, -2), (2, 12, 5)),
    ((2, 1, 3), (1, -1), (2, 3)),
    ((5,), (), (5,)),
    ((5,), (0, 0), (5,)),
    ((), (), (1,)),
    ((), (0, -1), (1,)),
]


@pytest.mark.parametrize("shape, dims, expected", FLATTEN_CASES)
def test_flatten_matches_numpy_reshape(shape, dims, expected):
    a = _array(shape)
    for out in (ag.flatten(ag.tensor(a), *dims), ag.tensor(a).flatten(*dims)):
        assert out.shape == expected
        np.testing.assert_array_equal(out.numpy(), a.reshape(expected))


def test_flatten_keyword_spellings():
    x = ag.tensor(_array((2, 3, 4, 5)))
    assert x.flatten(start_dim=1).shape == (2, 60)
    assert x.flatten(end_dim=1).shape == (6, 4, 5)
    assert ag.flatten(x, start_dim=-2, end_dim=-1).shape == (2, 3, 20)


@pytest.mark.parametrize("shape, dims, expected", FLATTEN_CASES)
def test_flatten_gradient_is_the_weight_reshaped_back(shape, dims, expected):
    (out,), (w,), grad = _weighted_grad(lambda x: x.flatten(*dims), _array(shape))
    assert out.shape == expected
    np.testing.assert_array_equal(grad, w.reshape(shape))


@pytest.mark.parametrize("shape, dims, message", [
    ((2, 3, 4), (2, 1), "flatten: start_dim 2 comes after end_dim 1 for a tensor of shape "
                        "(2, 3, 4)"),
    ((2, 3, 4), (-1, 0), "flatten: start_dim -1 comes after end_dim 0 for a tensor of shape "
                         "(2, 3, 4)"),
    ((2, 3, 4), (1, -3), "flatten: start_dim 1 comes after end_dim -3 for a tensor of shape "
                         "(2, 3, 4)"),
    ((2, 3), (1, 0), "flatten: start_dim 1 comes after end_dim 0 for a tensor of shape (2, 3)"),
])
def test_flatten_start_after_end_is_an_error(shape, dims, message):
    with pytest.raises(ValueError, match=_exact(message)):
        ag.tensor(_array(shape)).flatten(*dims)


# --- expand ---------------------------------------------------------------------------------------
EXPAND_CASES = [
    ((3, 1), (3, 4), (3, 4)),
    ((3, 1), ((3, 4),), (3, 4)),
    ((3, 1), ([2, 3, 4],), (2, 3, 4)),
    ((3, 1), (2, 3, 4), (2, 3, 4)),
    ((3, 1), (2, -1, 4), (2, 3, 4)),
    ((3, 1), (-1, 5), (3, 5)),
    ((3, 1), (-1, -1), (3, 1)),
    ((3, 1), (2, 5, -1, -1), (2, 5, 3, 1)),
    ((1, 2), (3, 1, -1), (3, 1, 2)),
    ((1,), (1, 1), (1, 1)),
    ((1,), (4,), (4,)),
    ((2, 1), (np.int64(2), np.int64(5)), (2, 5)),
    ((), (2, 3), (2, 3)),
    ((), (np.int64(3),), (3,)),
    ((), (), ()),
]


@pytest.mark.parametrize("shape, sizes, expected", EXPAND_CASES)
def test_expand_matches_numpy_broadcast_to(shape, sizes, expected):
    a = _array(shape)
    reference = np.broadcast_to(a, expected)
    for out in (ag.expand(ag.tensor(a), *sizes), ag.tensor(a).expand(*sizes)):
        assert out.shape == expected
        assert all(type(s) is int for s in out.shape)
        np.testing.assert_array_equal(out.numpy(), reference)


@pytest.mark.parametrize("shape, sizes, expected", EXPAND_CASES)
def test_expand_gradient_sums_the_weight_over_broadcast_axes(shape, sizes, expected):
    a = _array(shape)
    (out,), (w,), grad = _weighted_grad(lambda x: x.expand(*sizes), a)
    assert out.shape == expected
    assert grad.shape == shape
    np.testing.assert_allclose(grad, _numpy_sum_to(w, shape), rtol=1e-12, atol=1e-12)


def test_expand_gradient_of_a_stretched_axis_by_hand():
    """A (2, 1) tensor expanded to (3, 2, 4): each element's gradient is the sum of 12 weights."""
    (out,), (w,), grad = _weighted_grad(lambda x: x.expand(3, 2, 4), _array((2, 1)))
    expected = np.array([[w[:, 0, :].sum()], [w[:, 1, :].sum()]])
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


@pytest.mark.parametrize("shape, sizes, message", [
    ((3, 1), (-1, 3, 1), "expand: -1 is not allowed for the new leading dimension 0 "
                         "(sizes (-1, 3, 1), tensor shape (3, 1))"),
    ((3, 1), (2, -1, 3, 1), "expand: -1 is not allowed for the new leading dimension 1 "
                            "(sizes (2, -1, 3, 1), tensor shape (3, 1))"),
    ((3, 1), (np.int64(-1), 3, 1), "expand: -1 is not allowed for the new leading dimension 0 "
                                   "(sizes (-1, 3, 1), tensor shape (3, 1))"),
    ((), (-1,), "expand: -1 is not allowed for the new leading dimension 0 "
                "(sizes (-1,), tensor shape ())"),
    ((2, 3), (3,), "expand: the number of sizes given (1) must be at least the number of "
                   "dimensions of the tensor (shape (2, 3))"),
    ((2, 3, 1), ((4, 1),), "expand: the number of sizes given (2) must be at least the number "
                           "of dimensions of the tensor (shape (2, 3, 1))"),
    ((4,), (), "expand: the number of sizes given (0) must be at least the number of "
               "dimensions of the tensor (shape (4,))"),
    ((2,), (3, 4), "broadcast_to: cannot broadcast shape (2,) to (3, 4)"),
    ((3, 1), (4, 4), "broadcast_to: cannot broadcast shape (3, 1) to (4, 4)"),
    ((3, 2), (5, -1, 4), "broadcast_to: cannot broadcast shape (3, 2) to (5, 3, 4)"),
    ((3, 1), (-2, 1), "broadcast_to: cannot broadcast shape (3, 1) to (-2, 1)"),
    ((3, 1), (2, -3, 1), "broadcast_to: cannot broadcast shape (3, 1) to (2, -3, 1)"),
])
def test_expand_errors(shape, sizes, message):
    """Too few sizes, -1 in a new leading dimension, other negative or incompatible sizes."""
    with pytest.raises(ValueError, match=_exact(message)):
        ag.tensor(_array(shape)).expand(*sizes)


def test_reshape_accepts_the_same_size_spellings_as_expand():
    """``_shape_args``: separate ints, one tuple or list, numpy integers."""
    a = _array((2, 3))
    for sizes in ((3, 2), ((3, 2),), ([3, 2],), (np.int64(3), np.int64(2))):
        out = ag.tensor(a).reshape(*sizes)
        assert out.shape == (3, 2) and all(type(s) is int for s in out.shape)
        np.testing.assert_array_equal(out.numpy(), a.reshape(3, 2))
    assert ag.tensor(a).reshape(np.int64(6)).shape == (6,)


# --- split ----------------------------------------------------------------------------------------
SPLIT_CASES = [
    ((5, 3), 2, 0, [2, 2, 1]),
    ((5, 3), 5, 0, [5]),
    ((5, 3), 7, 0, [5]),
    ((5, 3), 1, 0, [1, 1, 1, 1, 1]),
    ((5, 3), 3, 0, [3, 2]),
    ((2, 6), 3, 1, [3, 3]),
    ((2, 6), 4, -1, [4, 2]),
    ((2, 6), 4, -2, [2]),
    ((4, 2, 3), np.int64(2), 2, [2, 1]),
    ((7,), 3, 0, [3, 3, 1]),
    ((2, 6), [1, 2, 3], 1, [1, 2, 3]),
    ((2, 6), (0, 6), -1, [0, 6]),
    ((2, 6), [6], 1, [6]),
    ((2, 6), [2, 0, 4], 1, [2, 0, 4]),
    ((4, 2, 3), [1, 3], 0, [1, 3]),
    ((4, 2, 3), [np.int64(1), np.int64(1)], -2, [1, 1]),
    ((0, 3), 2, 0, [0]),
    ((0, 3), [0, 0], 0, [0, 0]),
]


@pytest.mark.parametrize("shape, sections, axis, sizes", SPLIT_CASES)
def test_split_matches_numpy_split_at_cumulative_sizes(shape, sections, axis, sizes):
    a = _array(shape)
    reference = np.split(a, np.cumsum(sizes)[:-1], axis=axis)
    spellings = (ag.split(ag.tensor(a), sections, axis), ag.tensor(a).split(sections, axis),
                 ag.tensor(a).split(sections, dim=axis))
    for pieces in spellings:
        assert isinstance(pieces, tuple)
        assert [p.shape[axis] for p in pieces] == sizes
        assert len(pieces) == len(reference)
        for piece, ref in zip(pieces, reference):
            assert piece.shape == ref.shape
            np.testing.assert_array_equal(piece.numpy(), ref)


def test_split_into_equal_chunks_agrees_with_numpy_array_split():
    a = _array((3, 8))
    for pieces in (ag.tensor(a).split(2, 1), ag.tensor(a).split([2, 2, 2, 2], dim=-1)):
        for piece, ref in zip(pieces, np.array_split(a, 4, axis=1), strict=True):
            np.testing.assert_array_equal(piece.numpy(), ref)


@pytest.mark.parametrize("shape, sections, axis, sizes", SPLIT_CASES)
def test_split_gradient_puts_each_piece_weight_back(shape, sections, axis, sizes):
    a = _array(shape)
    pieces, weights, grad = _weighted_grad(lambda x: x.split(sections, axis), a)
    assert [p.shape[axis] for p in pieces] == sizes
    np.testing.assert_array_equal(grad, np.concatenate(weights, axis=axis))


def test_split_gradient_of_an_unused_piece_is_zero():
    a = _array((2, 7))
    x = ag.tensor(a, requires_grad=True)
    first, middle, last = x.split(3, dim=1)
    w = _array(middle.shape, seed=5)
    (middle * ag.tensor(w)).sum().backward()
    expected = np.zeros_like(a)
    expected[:, 3:6] = w
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert last.shape == (2, 1) and first.shape == (2, 3)


def test_split_dim_keyword_wins_over_axis_even_when_zero():
    x = ag.tensor(_array((4, 6)))
    assert [p.shape for p in x.split(2, 1, dim=0)] == [(2, 6), (2, 6)]
    assert [p.shape for p in ag.split(x, [1, 5], 0, dim=-1)] == [(4, 1), (4, 5)]


@pytest.mark.parametrize("shape, sections, axis, message", [
    ((2, 6), 0, 0, "split: split_size must be positive, got 0"),
    ((2, 6), -2, 1, "split: split_size must be positive, got -2"),
    ((2, 6), np.int64(0), 1, "split: split_size must be positive, got 0"),
    ((2, 6), [1, 2], 1, "split: sections [1, 2] sum to 3, but axis 1 of shape (2, 6) has "
                        "length 6"),
    ((2, 6), [4, 4], -1, "split: sections [4, 4] sum to 8, but axis 1 of shape (2, 6) has "
                         "length 6"),
    ((2, 6), [np.int64(1), np.int64(2)], -1, "split: sections [1, 2] sum to 3, but axis 1 of "
                                             "shape (2, 6) has length 6"),
    ((2, 6), (1,), 0, "split: sections [1] sum to 1, but axis 0 of shape (2, 6) has length 2"),
    ((2, 6), [], -2, "split: sections [] sum to 0, but axis 0 of shape (2, 6) has length 2"),
    ((2, 6), 2, 2, "split: axis 2 is out of range for a tensor with 2 dimension(s)"),
    ((2, 6), [1, 1], -3, "split: axis -3 is out of range for a tensor with 2 dimension(s)"),
])
def test_split_errors(shape, sections, axis, message):
    with pytest.raises(ValueError, match=_exact(message)):
        ag.tensor(_array(shape)).split(sections, axis)


# --- dtype ----------------------------------------------------------------------------------------
DTYPE_CALLS = {
    "squeeze": ((1, 3, 1), lambda x: (x.squeeze(),)),
    "squeeze_axis": ((1, 3, 1), lambda x: (x.squeeze(-1),)),
    "unsqueeze": ((2, 3), lambda x: (x.unsqueeze(1),)),
    "flatten": ((2, 3, 4), lambda x: (x.flatten(1),)),
    "flatten_0d": ((), lambda x: (x.flatten(),)),
    "expand": ((3, 1), lambda x: (x.expand(2, -1, 4),)),
    "split_size": ((5, 2), lambda x: x.split(2)),
    "split_sections": ((5, 2), lambda x: x.split([1, 4], dim=0)),
}


@pytest.mark.parametrize("name", list(DTYPE_CALLS))
def test_float32_stays_float32_forward_and_backward(name):
    shape, fn = DTYPE_CALLS[name]
    x = ag.tensor(_array(shape, dtype=np.float32), requires_grad=True)
    outs = fn(x)
    assert all(o.dtype == np.float32 for o in outs)
    total = None
    for o in outs:
        total = o.sum() if total is None else total + o.sum()
    total.backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == shape


# --- matmul shape errors --------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape, b_shape, message", [
    ((), (3,), "matmul: both operands need at least one dimension, got shapes () and (3,)"),
    ((3,), (), "matmul: both operands need at least one dimension, got shapes (3,) and ()"),
    ((), (), "matmul: both operands need at least one dimension, got shapes () and ()"),
    ((2, 3), (), "matmul: both operands need at least one dimension, got shapes (2, 3) and ()"),
    ((3,), (4,), "matmul: shapes (3,) and (4,) are not aligned: 3 (dim 0 of a) != 4 "
                 "(dim 0 of b)"),
    ((2, 3), (4,), "matmul: shapes (2, 3) and (4,) are not aligned: 3 (dim 1 of a) != 4 "
                   "(dim 0 of b)"),
    ((3,), (4, 5), "matmul: shapes (3,) and (4, 5) are not aligned: 3 (dim 0 of a) != 4 "
                   "(dim 0 of b)"),
    ((2, 3), (4, 5), "matmul: shapes (2, 3) and (4, 5) are not aligned: 3 (dim 1 of a) != 4 "
                     "(dim 0 of b)"),
    ((5, 2, 3), (4,), "matmul: shapes (5, 2, 3) and (4,) are not aligned: 3 (dim 2 of a) != 4 "
                      "(dim 0 of b)"),
    ((3,), (2, 4, 5), "matmul: shapes (3,) and (2, 4, 5) are not aligned: 3 (dim 0 of a) != 4 "
                      "(dim 1 of b)"),
    ((2, 2, 3), (2, 4, 5), "matmul: shapes (2, 2, 3) and (2, 4, 5) are not aligned: 3 "
                           "(dim 2 of a) != 4 (dim 1 of b)"),
    ((2, 3), (6, 4, 5), "matmul: shapes (2, 3) and (6, 4, 5) are not aligned: 3 (dim 1 of a) "
                        "!= 4 (dim 1 of b)"),
    ((2, 2, 3), (3, 3, 4), "matmul: the batch dimensions of shapes (2, 2, 3) and (3, 3, 4) "
                           "cannot be broadcast together"),
    ((2, 3, 2, 3), (4, 3, 5), "matmul: the batch dimensions of shapes (2, 3, 2, 3) and "
                              "(4, 3, 5) cannot be broadcast together"),
])
def test_matmul_shape_errors(a_shape, b_shape, message):
    a, b = ag.tensor(_array(a_shape)), ag.tensor(_array(b_shape, seed=1))
    for call in (lambda: a @ b, lambda: ag.matmul(a, b)):
        with pytest.raises(ValueError, match=_exact(message)):
            call()


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 5)),
                                              ((2, 2, 3), (1, 3, 4)), ((4, 1, 2, 3), (5, 3, 2))])
def test_matmul_aligned_shapes_agree_with_numpy(a_shape, b_shape):
    a, b = _array(a_shape), _array(b_shape, seed=1)
    np.testing.assert_allclose((ag.tensor(a) @ ag.tensor(b)).numpy(), a @ b, rtol=1e-12)


# --- broadcasting errors of the elementwise binary ops --------------------------------------------
BINARY_OPS = {
    "add": (ag.add, lambda a, b: a + b),
    "sub": (ag.sub, lambda a, b: a - b),
    "mul": (ag.mul, lambda a, b: a * b),
    "div": (ag.div, lambda a, b: a / b),
    "pow": (ag.pow, lambda a, b: a ** b),
    "maximum": (ag.maximum, None),
    "minimum": (ag.minimum, None),
}


@pytest.mark.parametrize("name", list(BINARY_OPS))
@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4,)), ((4,), (2, 3)), ((2, 3), (3, 2)),
                                              ((5, 1, 3), (4, 2))])
def test_elementwise_broadcast_errors_name_the_op_and_both_shapes(name, a_shape, b_shape):
    a = ag.tensor(np.abs(_array(a_shape)) + 1.0)
    b = ag.tensor(np.abs(_array(b_shape, seed=1)) + 1.0)
    message = (f"{name}: shapes {a_shape} and {b_shape} cannot be broadcast together "
               "(numpy rules: trailing dimensions must be equal or 1)")
    for fn in BINARY_OPS[name]:
        if fn is not None:
            with pytest.raises(ValueError, match=_exact(message)):
                fn(a, b)
