"""The fused linear-layer kernels (kernels/linalg.py): compiled body == numpy reference.

Each body is also run as plain Python (``py_func``) so that it stays covered when
``NUMBA_DISABLE_JIT=1`` sends the dispatch to the references.
"""
from __future__ import annotations

import numpy as np
import pytest

from autograd_core.kernels import linalg
from autograd_core.kernels.linalg import ACTIVATIONS

TOLERANCE = {np.float32: {"rtol": 2e-5, "atol": 2e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
SHAPES = [(1, 3, 2), (4, 2, 8), (4, 8, 1), (1, 50, 30), (33, 17, 9)]   # (rows, in, out)


def _layer(rows, n_in, n_out, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n_in)).astype(dtype)
    w = rng.standard_normal((n_out, n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    grad = rng.standard_normal((rows, n_out)).astype(dtype)
    return x, w, b, grad


def _bodies(fn_name: str):
    """The compiled body (through the dispatcher) and its plain-Python twin."""
    body = getattr(linalg, fn_name)
    return {"compiled": body, "python": body.py_func}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_body_equals_reference(shape, activation, dtype, with_bias):
    x, w, b, _ = _layer(*shape, dtype)
    code = ACTIVATIONS[activation]
    expected = linalg.linear_forward_reference(x, w, b if with_bias else None, code)
    bias = b if with_bias else np.empty(0, dtype)
    for label, body in _bodies("linear_forward_numba").items():
        got = body(x, w, bias, code)
        assert got.dtype == expected.dtype and got.shape == expected.shape, label
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype], err_msg=label)
    got = linalg.linear_forward(x, w, b if with_bias else None, code)
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, False), (True, False, True)])
def test_backward_body_equals_reference(shape, activation, dtype, needs):
    x, w, b, grad = _layer(*shape, dtype)
    code = ACTIVATIONS[activation]
    y = linalg.linear_forward_reference(x, w, b, code)
    expected = linalg.linear_backward_reference(grad, x, w, y, code, *needs)
    for label, body in {**_bodies("linear_backward_numba"),
                        "dispatch": None}.items():
        if body is None:
            got = linalg.linear_backward(grad, x, w, y, code, *needs)
        else:
            got = tuple(g if need else None for g, need in zip(body(grad, x, w, y, code, *needs),
                                                                 needs))
        for name, g, e in zip(("grad_x", "grad_W", "grad_b"), got, expected):
            if e is None:
                assert g is None, (label, name)
                continue
            assert g.dtype == e.dtype and g.shape == e.shape, (label, name)
            np.testing.assert_allclose(g, e, **TOLERANCE[dtype], err_msg=f"{label} {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, False)])
def test_into_bodies_write_into_the_arrays_given(activation, dtype, needs):
    """``linear_forward_into`` / ``linear_backward_into`` write what the allocating bodies
    return into arrays they are given (the compiled training step's buffers, which hold
    stale values from the step before); an output of size 0 is not computed."""
    x, w, b, grad = _layer(4, 3, 5, dtype)
    code = ACTIVATIONS[activation]
    y = linalg.linear_forward_numba(x, w, b, code)
    expected = linalg.linear_backward_numba(grad, x, w, y, code, *needs)
    for label, suffix in (("compiled", ""), ("python", ".py_func")):
        forward = eval(f"linalg.linear_forward_into{suffix}")
        backward = eval(f"linalg.linear_backward_into{suffix}")
        out = np.full((4, 5), 7.0, dtype)
        forward(x, w, b, code, out)
        np.testing.assert_allclose(out, y, **TOLERANCE[dtype], err_msg=label)
        got = [np.full(e.shape if need else (0,) * e.ndim, 7.0, dtype)
               for e, need in zip(expected, needs)]
        delta = np.full((4, 5) if code else (0, 0), 7.0, dtype)
        assert backward(grad, x, w, y, code, *got, delta) is None
        for g, e, need in zip(got, expected, needs):
            if need:
                np.testing.assert_allclose(g, e, **TOLERANCE[dtype], err_msg=label)
            else:
                assert g.size == 0


def test_backward_reference_is_the_chain_rule_written_out():
    # one sample, 2 inputs → 1 tanh unit: δ = grad·(1 − a²), ∂J/∂w = δ·x, ∂J/∂b = δ, ∂J/∂x = δ·w
    x, w, b = np.array([[1.0, -2.0]]), np.array([[0.5, 0.25]]), np.array([0.1])
    a = np.tanh(x @ w.T + b)
    gx, gw, gb = linalg.linear_backward(np.array([[2.0]]), x, w, a, ACTIVATIONS["tanh"],
                                        True, True, True)
    delta = 2.0 * (1 - a[0, 0] ** 2)
    np.testing.assert_allclose(gx, [[0.5 * delta, 0.25 * delta]])
    np.testing.assert_allclose(gw, [[delta, -2 * delta]])
    np.testing.assert_allclose(gb, [delta])


def test_non_contiguous_and_mixed_inputs_give_the_reference_values():
    x, w, b, grad = _layer(6, 5, 4, np.float64)
    x_t = np.asfortranarray(x)                          # same values, column-major
    code = ACTIVATIONS["sigmoid"]
    expected = linalg.linear_forward_reference(x, w, b, code)
    np.testing.assert_allclose(linalg.linear_forward(x_t, w, b, code), expected, rtol=1e-12)
    np.testing.assert_allclose(linalg.linear_forward(x[::1, :], w.T.copy().T, b, code), expected,
                               rtol=1e-12)
    mixed = linalg.linear_forward(x.astype(np.float32), w, b, code)    # numpy promotes
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, linalg.linear_forward_reference(
        x.astype(np.float32), w, b, code), rtol=1e-12)


def test_relu_keeps_nan_and_sigmoid_stays_finite_at_extremes():
    x = np.array([[np.nan, 1.0], [1000.0, -1000.0]])
    w = np.eye(2)
    b = np.zeros(2)
    relu = linalg.linear_forward(x, w, b, ACTIVATIONS["relu"])
    assert np.isnan(relu[0, 0]) and relu[1, 1] == 0.0
    sig = linalg.linear_forward(x[1:], w, b, ACTIVATIONS["sigmoid"])
    np.testing.assert_array_equal(sig, [[1.0, 0.0]])


def test_empty_batch_runs_the_reference():
    x, w = np.empty((0, 3), np.float32), np.ones((2, 3), np.float32)
    out = linalg.linear_forward(x, w, None, ACTIVATIONS["tanh"])
    assert out.shape == (0, 2) and out.dtype == np.float32


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_read_only_inputs(activation):
    x, w, b, grad = _layer(3, 4, 2, np.float32)
    code = ACTIVATIONS[activation]
    y = linalg.linear_forward(x, w, b, code)
    expected = linalg.linear_backward_reference(grad, x, w, y, code, True, True, True)
    for a in (x, w, b, grad, y):
        a.flags.writeable = False
    np.testing.assert_allclose(linalg.linear_forward(x, w, b, code), y, rtol=1e-6)
    got = linalg.linear_backward(grad, x, w, y, code, True, True, True)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)
