"""The Tensor API: factories and dtypes, random generators, properties, repr, operators mixing
Python scalars and numpy arrays on either side, comparisons, arg-reductions, one_hot, casts."""
from __future__ import annotations

import operator
import re

import numpy as np
import pytest

import autograd_core as ag


def close(tensor, expected, rtol=1e-6, atol=1e-6) -> None:
    assert isinstance(tensor, ag.Tensor)
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=rtol, atol=atol)


# --- factories ------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [ag.zeros, ag.ones, ag.rand, ag.randn])
def test_shape_as_ints_or_tuple(factory):
    for args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = factory(*args)
        assert isinstance(t, ag.Tensor)
        assert t.shape == (2, 3) and t.dtype == np.float32
    assert factory(4).shape == (4,)
    assert factory(()).shape == ()


def test_constant_factories_values():
    close(ag.zeros(2, 2), np.zeros((2, 2)))
    close(ag.ones(3), np.ones(3))
    full = ag.full((2, 3), 7.5)
    assert full.shape == (2, 3) and full.dtype == np.float32
    close(full, np.full((2, 3), 7.5))
    assert ag.full(4, 2).dtype == np.int64         # an int fill value gives int64
    assert ag.full(4, 2.0, dtype=np.float64).dtype == np.float64
    eye = ag.eye(3)
    assert eye.dtype == np.float32
    close(eye, np.eye(3))
    close(ag.eye(2, 3), np.eye(2, 3))


def test_arange_and_linspace():
    r = ag.arange(5)
    assert r.dtype == np.int64 and r.tolist() == [0, 1, 2, 3, 4]
    assert ag.arange(2, 8, 2).tolist() == [2, 4, 6]
    f = ag.arange(0.0, 1.0, 0.25)
    assert f.dtype == np.float32
    close(f, [0.0, 0.25, 0.5, 0.75])
    lin = ag.linspace(0, 1, 5)
    assert lin.dtype == np.float32 and lin.shape == (5,)
    close(lin, [0.0, 0.25, 0.5, 0.75, 1.0])


def test_like_factories_follow_shape_and_dtype():
    base = ag.tensor(np.ones((2, 3), np.float64))
    for factory, check in [(ag.zeros_like, 0.0), (ag.ones_like, 1.0)]:
        t = factory(base)
        assert t.shape == (2, 3) and t.dtype == np.float64
        close(t, np.full((2, 3), check))
    full = ag.full_like(base, 4.0)
    assert full.shape == (2, 3) and full.dtype == np.float64
    close(full, np.full((2, 3), 4.0))
    for factory in (ag.rand_like, ag.randn_like):
        t = factory(base)
        assert t.shape == (2, 3) and t.dtype == np.float64
    assert ag.zeros_like(base, dtype=np.float32).dtype == np.float32
    assert ag.ones_like(base, requires_grad=True).requires_grad


def test_random_factories():
    u = ag.rand(1000)
    assert u.dtype == np.float32 and 0 <= u.numpy().min() and u.numpy().max() < 1
    n = ag.randn(4000)
    assert abs(float(n.numpy().mean())) < 0.1 and abs(float(n.numpy().std()) - 1) < 0.1
    i = ag.randint(3, 7, (5, 4))
    assert i.dtype == np.int64 and i.shape == (5, 4)
    assert set(np.unique(i.numpy())) <= {3, 4, 5, 6}
    assert ag.randint(0, 2, 3).shape == (3,)
    p = ag.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    assert ag.rand(2, dtype=np.float64).dtype == np.float64


def test_factories_with_requires_grad():
    for t in [ag.zeros(2, requires_grad=True), ag.ones(2, requires_grad=True),
              ag.rand(2, requires_grad=True), ag.randn(2, requires_grad=True),
              ag.full(2, 1.0, requires_grad=True), ag.eye(2, requires_grad=True),
              ag.tensor([1.0], requires_grad=True)]:
        assert t.requires_grad and t.is_leaf and t.grad is None


# --- dtypes ---------------------------------------------------------------------------------------
def test_python_values_get_default_dtypes():
    assert ag.tensor(1.5).dtype == np.float32
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor([1, 2.5]).dtype == np.float32        # any float in the list
    assert ag.tensor([1, 2]).dtype == np.int64
    assert ag.tensor(3).dtype == np.int64
    assert ag.tensor([True, False]).dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_numpy_arrays_keep_their_dtype(dtype):
    array = np.zeros(3, dtype=dtype)
    assert ag.tensor(array).dtype == dtype
    assert ag.Tensor(array).dtype == dtype
    assert ag.from_numpy(array).dtype == dtype


def test_explicit_dtype_wins():
    assert ag.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert ag.tensor(np.ones(2, np.float32), dtype=np.float64).dtype == np.float64
    assert ag.zeros(2, dtype=np.int32).dtype == np.int32


def test_set_default_dtype_changes_python_values_and_factories():
    ag.set_default_dtype(np.float64)
    assert ag.get_default_dtype() == np.float64
    assert ag.tensor([1.0]).dtype == np.float64
    for t in [ag.zeros(2), ag.ones(2), ag.rand(2), ag.randn(2), ag.eye(2), ag.linspace(0, 1, 3),
              ag.arange(0.0, 1.0, 0.5)]:
        assert t.dtype == np.float64
    assert ag.tensor([1, 2]).dtype == np.int64            # integers unaffected
    assert ag.tensor(np.ones(2, np.float32)).dtype == np.float32
    ag.set_default_dtype(np.float32)
    assert ag.tensor([1.0]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_set_default_dtype_rejects_non_floating(dtype):
    with pytest.raises(TypeError, match=f"set_default_dtype: expected a floating dtype .*got "
                                        f"{np.dtype(dtype)}"):
        ag.set_default_dtype(dtype)
    assert ag.get_default_dtype() == np.float32


# --- memory sharing -------------------------------------------------------------------------------
def test_tensor_copies_its_data():
    array = np.array([1.0, 2.0], np.float32)
    t = ag.tensor(array)
    array[0] = 100.0
    assert t.numpy()[0] == 1.0
    source = ag.tensor([1.0, 2.0])
    copy = ag.tensor(source)
    source.numpy()[0] = 5.0
    assert copy.numpy()[0] == 1.0


def test_tensor_constructor_and_from_numpy_share_memory():
    array = np.array([1.0, 2.0], np.float32)
    for t in (ag.Tensor(array), ag.from_numpy(array)):
        assert t.numpy() is array
        array[1] = 7.0
        assert t.numpy()[1] == 7.0
    assert ag.Tensor(array, requires_grad=True).requires_grad


def test_from_numpy_requires_an_array():
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        ag.from_numpy([1.0, 2.0])


# --- seeds ----------------------------------------------------------------------------------------
def test_manual_seed_reproduces_the_stream():
    ag.manual_seed(123)
    first = [ag.rand(3).numpy(), ag.randn(2, 2).numpy(), ag.randint(0, 100, 5).numpy(),
             ag.randperm(6).numpy()]
    ag.manual_seed(123)
    second = [ag.rand(3).numpy(), ag.randn(2, 2).numpy(), ag.randint(0, 100, 5).numpy(),
              ag.randperm(6).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    ag.manual_seed(124)
    assert not np.array_equal(ag.rand(3).numpy(), first[0])


def test_generator_is_independent_of_the_global_stream():
    ag.manual_seed(0)
    expected_global = ag.randn(3).numpy()
    ag.manual_seed(0)
    gen = ag.Generator(42)
    a = ag.randn(3, generator=gen).numpy()
    np.testing.assert_array_equal(ag.randn(3).numpy(), expected_global)   # not advanced by gen
    gen.manual_seed(42)
    np.testing.assert_array_equal(ag.randn(3, generator=gen).numpy(), a)
    assert gen.initial_seed == 42
    b = ag.rand(4, generator=ag.Generator(7)).numpy()
    np.testing.assert_array_equal(ag.rand(4, generator=ag.Generator(7)).numpy(), b)


# --- requires_grad only for floating tensors ------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: ag.tensor([1, 2], requires_grad=True),
    lambda: ag.arange(3, requires_grad=True),
    lambda: ag.zeros(2, dtype=np.int32, requires_grad=True),
    lambda: ag.tensor([1, 2]).requires_grad_(),
], ids=["tensor", "arange", "zeros-int32", "requires_grad_"])
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match=r"requires_grad_: only floating-point tensors can require "
                                        r"gradients; this tensor is int(32|64) with shape"):
        make()


def test_bool_tensor_cannot_require_grad():
    t = ag.tensor([True, False])
    with pytest.raises(TypeError, match=re.escape("this tensor is bool with shape (2,)")):
        t.requires_grad = True
    assert not t.requires_grad


# --- properties -----------------------------------------------------------------------------------
def test_array_properties():
    t = ag.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert isinstance(t.data, np.ndarray) and t.numpy() is t.data
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert t.dtype == np.float32 and isinstance(t.dtype, np.dtype)
    assert t.ndim == 2 and t.dim() == 2
    assert t.size == 6 and t.numel() == 6
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_item():
    assert ag.tensor(2.5).item() == 2.5
    assert isinstance(ag.tensor([[3]]).item(), int)
    with pytest.raises(ValueError, match=re.escape("item: only a tensor with one element can be "
                                                   "converted to a Python scalar; this one has "
                                                   "shape (2, 2)")):
        ag.ones(2, 2).item()


def test_T_is_the_differentiable_transpose():
    x = ag.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    w = ag.tensor(np.arange(6, dtype=np.float32).reshape(3, 2))
    (x.T * w).sum().backward()
    close(x.grad, w.numpy().T)


def test_detach_shares_data_without_grad():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.numpy() is y.numpy()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert (d * 3).grad_fn is None


def test_requires_grad_and_is_leaf():
    x = ag.tensor([1.0, 2.0])
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    with ag.no_grad():
        z = x * 2
    assert z.is_leaf and not z.requires_grad
    with pytest.raises(RuntimeError, match="requires_grad_: cannot turn off requires_grad on a "
                                           "non-leaf tensor \\(made by MulBackward\\)"):
        y.requires_grad_(False)
    x.requires_grad = False
    assert not x.requires_grad


def test_grad_fn():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None
    assert repr((x * 2).grad_fn) == "<MulBackward>"
    assert repr((x + 2).grad_fn) == "<AddBackward>"
    assert repr(x.tanh().grad_fn) == "<TanhBackward>"
    assert repr(x.sum().grad_fn) == "<SumBackward>"
    assert (x * 2).grad_fn.name() == "MulBackward"


def test_grad_setter_validation():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad is None
    x.grad = ag.tensor([0.5, 0.5])
    close(x.grad, [0.5, 0.5])
    x.grad = None
    assert x.grad is None
    with pytest.raises(ValueError, match=re.escape("grad: assigned gradient has shape (3,), but "
                                                   "the tensor has shape (2,)")):
        x.grad = ag.ones(3)
    with pytest.raises(TypeError, match="grad: expected a Tensor or None, got ndarray"):
        x.grad = np.ones(2)


# --- repr -----------------------------------------------------------------------------------------
def test_repr():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(ag.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr(ag.tensor([1.0, 2.0], dtype=np.float64)) == "tensor([1., 2.], dtype=float64)"
    assert repr(ag.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(ag.tensor(3.5)) == "tensor(3.5)"
    assert repr(ag.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_repr_of_a_large_tensor_is_summarised():
    text = repr(ag.zeros(10000))
    assert len(text) < 200 and "..." in text


# --- operators with Python scalars and numpy arrays on either side --------------------------------
BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("other", [2, 2.5, np.array([1.5, 2.0, 3.0]),
                                   np.array([1.5, 2.0, 3.0], np.float32)],
                         ids=["int", "float", "f64-array", "f32-array"])
def test_operators_mix_on_either_side(op, other):
    x = ag.tensor([0.5, 1.0, 2.0], requires_grad=True)
    xv = x.numpy().astype(np.float64)
    for result, expected in [(op(x, other), op(xv, other)), (op(other, x), op(other, xv))]:
        assert isinstance(result, ag.Tensor)
        assert result.requires_grad
        close(result, expected, rtol=1e-6)


def test_matmul_with_numpy_arrays_on_either_side():
    x = ag.tensor(np.arange(3, dtype=np.float32), requires_grad=True)
    m = np.arange(9, dtype=np.float32).reshape(3, 3)
    left, right = m @ x, x @ m
    assert isinstance(left, ag.Tensor) and isinstance(right, ag.Tensor)
    close(left, m @ x.numpy())
    close(right, x.numpy() @ m)
    (left.sum() + right.sum()).backward()
    close(x.grad, m.sum(axis=0) + m.sum(axis=1))


def test_reflected_operators_give_the_right_gradient():
    x = ag.tensor([0.5, 2.0], requires_grad=True, dtype=np.float64)
    y = 1 - x + 2 * x + 3 / x + 2 ** x + np.ones(2) * x
    y.sum().backward()
    xv = x.numpy()
    close(x.grad, -1 + 2 - 3 / xv ** 2 + np.log(2) * 2 ** xv + 1, rtol=1e-12)


def test_unary_operators():
    x = ag.tensor([-1.0, 2.0], requires_grad=True)
    close(-x, [1.0, -2.0])
    assert +x is x
    close(abs(x), [1.0, 2.0])
    (-x + abs(x)).sum().backward()
    close(x.grad, [-2.0, 0.0])


def test_python_scalars_keep_the_tensor_dtype():
    x32 = ag.tensor([1.0, 2.0])
    for result in [x32 * 2.0, 2.0 * x32, x32 + 1, x32 / 3, 1 - x32, x32 ** 2, 2 ** x32]:
        assert result.dtype == np.float32
    x64 = ag.tensor([1.0, 2.0], dtype=np.float64)
    assert (x64 * 2.0).dtype == np.float64 and (2.0 * x64).dtype == np.float64


def test_integer_tensor_with_python_numbers():
    i = ag.tensor([1, 2, 3])
    assert (i * 2).dtype == np.int64 and (i + 1).tolist() == [2, 3, 4]
    for result in [i * 2.5, 2.5 * i, i + 0.5, 0.5 - i]:
        assert result.dtype == np.float32              # the default float, as in PyTorch
    close(i * 2.5, [2.5, 5.0, 7.5])
    ag.set_default_dtype(np.float64)
    assert (i * 2.5).dtype == np.float64


def test_numpy_arrays_follow_numpy_promotion():
    x32 = ag.tensor([1.0, 2.0], requires_grad=True)
    assert (x32 * np.ones(2)).dtype == np.float64
    assert (np.ones(2) * x32).dtype == np.float64
    assert (x32 * np.ones(2, np.float32)).dtype == np.float32
    assert (x32 + ag.tensor([1.0, 2.0], dtype=np.float64)).dtype == np.float64
    assert (ag.tensor([1, 2]) * np.ones(2, np.float32)).dtype == np.result_type(np.int64,
                                                                                np.float32)


def test_unsupported_operand_type():
    with pytest.raises(TypeError, match="unsupported operand type str"):
        ag.ones(2) * "a"


# --- comparisons, argmax/argmin, one_hot ----------------------------------------------------------
COMPARISONS = [(operator.eq, [False, True, False]), (operator.ne, [True, False, True]),
               (operator.lt, [True, False, False]), (operator.le, [True, True, False]),
               (operator.gt, [False, False, True]), (operator.ge, [False, True, True])]


@pytest.mark.parametrize("op, expected", COMPARISONS, ids=lambda v: getattr(v, "__name__", ""))
def test_comparisons_return_bool_tensors_without_grad(op, expected):
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in [op(x, 2.0), op(x, ag.tensor([2.0, 2.0, 2.0])), op(x, np.full(3, 2.0))]:
        assert isinstance(result, ag.Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
        assert result.tolist() == expected


def test_reflected_comparison_with_a_python_number():
    x = ag.tensor([1.0, 2.0, 3.0])
    assert (2.0 < x).tolist() == [False, False, True]
    assert (2.0 == x).tolist() == [False, True, False]


def test_comparison_shape_error():
    with pytest.raises(ValueError, match=re.escape("lt: shapes (2,) and (3,) cannot be "
                                                   "broadcast")):
        _ = ag.ones(2) < ag.ones(3)


def test_tensors_stay_hashable():
    x = ag.ones(2)
    assert {x: 1}[x] == 1


def test_argmax_argmin():
    x = ag.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    assert x.argmax().item() == 3 and x.argmin().item() == 4
    assert x.argmax(axis=1).tolist() == [1, 0]
    assert x.argmin(axis=0).tolist() == [0, 1, 0]
    assert x.argmax(dim=1, keepdim=True).shape == (2, 1)
    assert ag.argmax(x, axis=-1).tolist() == [1, 0]
    result = x.argmax(axis=1)
    assert result.dtype == np.int64 and not result.requires_grad
    with pytest.raises(ValueError, match=re.escape("argmax: cannot take argmax of an empty tensor "
                                                   "(shape (0,))")):
        ag.zeros(0).argmax()


def test_one_hot():
    t = ag.one_hot(ag.tensor([0, 2, 1]), 3)
    assert t.shape == (3, 3) and t.dtype == np.float32 and not t.requires_grad
    close(t, np.eye(3)[[0, 2, 1]])
    assert ag.one_hot(ag.tensor([[0], [3]])).shape == (2, 1, 4)   # num_classes from max + 1
    with pytest.raises(ValueError, match=re.escape("one_hot: labels must lie in [0, 3); got values "
                                                   "from 0 to 5")):
        ag.one_hot(ag.tensor([0, 5]), 3)
    with pytest.raises(TypeError, match="one_hot: expected integer class labels, got float32"):
        ag.one_hot(ag.tensor([0.0, 1.0]), 2)


# --- Python protocols -----------------------------------------------------------------------------
def test_len_iter_bool_float_int():
    t = ag.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, ag.Tensor) and r.shape == (2,) for r in rows)
    close(rows[2], [5.0, 6.0])
    sum(r.sum() for r in rows).backward()          # iteration is differentiable indexing
    close(t.grad, np.ones((3, 2)))
    assert bool(ag.tensor(1.0)) and not bool(ag.tensor([0.0]))
    assert float(ag.tensor(2.5)) == 2.5 and int(ag.tensor(3.7)) == 3
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ag.tensor(1.0))
    with pytest.raises(ValueError, match=re.escape("bool: the truth value of a tensor with shape "
                                                   "(2,) is ambiguous")):
        bool(ag.ones(2))
    with pytest.raises(ValueError, match=re.escape("item: only a tensor with one element")):
        float(ag.ones(3))


# --- casts ----------------------------------------------------------------------------------------
def test_casts_are_differentiable():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.dtype == np.float64 and repr(d.grad_fn) == "<CastBackward>"
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    close(x.grad, [2.0, 4.0])
    x.grad = None
    f = x.double().float()
    assert f.dtype == np.float32
    (f * 3).sum().backward()
    close(x.grad, [3.0, 3.0])
    x.grad = None
    h = x.astype(np.float16)
    assert h.dtype == np.float16
    (h * h).sum().backward()
    assert x.grad.dtype == np.float32
    close(x.grad, [2.0, 4.0])
    assert x.astype(np.float32) is x               # no-op cast returns the tensor itself


def test_cast_to_integer_cuts_the_graph():
    x = ag.tensor([1.7, 2.2], requires_grad=True)
    n = x.long()
    assert n.dtype == np.int64 and n.tolist() == [1, 2]
    assert not n.requires_grad and n.grad_fn is None
    back = ag.tensor([1, 2]).float()
    assert back.dtype == np.float32 and not back.requires_grad


def test_setitem_of_a_value_that_requires_grad_is_refused():
    x = ag.zeros(3)
    v = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"setitem: the assigned value \(shape \(1,\)\) requires "
                                           "grad"):
        x[0:1] = v
    x[0:1] = v.detach()
    assert x.numpy()[0] == 1.0


def test_setitem_shape_mismatch_names_the_shapes():
    x = ag.zeros(3)
    with pytest.raises(ValueError, match=r"setitem: cannot assign shape \(2,\), float64 .*"
                                         r"shape \(3,\), float32"):
        x[0:1] = np.ones(2)
