"""Numerical robustness: the exp/log-based ops stay finite for inputs of ±1000.

For each op, in float32 and float64: the forward value and the gradient are finite and equal the
exact expected values where those are known (logsumexp([1000, 1000]) = 1000 + ln 2,
σ(−1000) = 0, softplus(1000) = 1000, ...); the dtype is preserved (float32 in → float32 out and
float32 gradients); and no numpy RuntimeWarning (overflow, invalid value, divide by zero) leaks
from the computation.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag

DTYPES = [np.float32, np.float64]
LN2 = math.log(2.0)
LN3 = math.log(3.0)
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
MIXED = [1000.0, -1000.0, 0.0]
#: numpy's floating-point checks forced on (whatever the caller's errstate); underflow stays
#: silent because exp(−1000) = 0 is the intended result, not an error
STRICT = {"over": "warn", "divide": "warn", "invalid": "warn", "under": "ignore"}


def _tolerance(dtype) -> dict:
    return {"rtol": 2e-7, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-13}


class Case:
    """One op on extreme inputs with its exact forward value and gradient.

    ``fn(x, dtype)`` maps the input tensor to the output; the gradient is that of the sum of
    ``upstream ⊙ output`` (upstream defaults to ones).
    """

    def __init__(self, fn, x, value, grad, upstream=None, grad_atol32=None) -> None:
        self.fn, self.x, self.value, self.grad, self.upstream = fn, x, value, grad, upstream
        self.grad_atol32 = grad_atol32


# NOTE: logsumexp's gradient is exp(x − out) (as PyTorch's); in float32 out = 1000 + ln 2 is
# rounded to ulp(1000) ≈ 6e-5, so the gradient is only that accurate (PyTorch: 0.4999855 too)
LSE_F32 = 1e-4


def _labels(values) -> ag.Tensor:
    return ag.tensor(np.asarray(values, dtype=np.int64))


def _sce_rows(x, dtype, reduction):
    return ag.softmax_cross_entropy(x, _labels([0, 1, 2]), reduction=reduction)


def _bce(x, dtype, reduction="none"):
    target = np.array([1.0, 1.0, 0.0, 0.0, 0.5], dtype=dtype)
    return ag.binary_cross_entropy_with_logits(x, target, reduction=reduction)


_SCE_ROWS = [MIXED] * 3
_SCE_GRAD = [[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [1.0, 0.0, -1.0]]
_BCE_LOGITS = [1000.0, -1000.0, 1000.0, -1000.0, 0.0]

CASES = {
    "sigmoid": Case(lambda x, d: ag.sigmoid(x), MIXED, [1.0, 0.0, 0.5], [0.0, 0.0, 0.25]),
    "tanh": Case(lambda x, d: ag.tanh(x), MIXED, [1.0, -1.0, 0.0], [0.0, 0.0, 1.0]),
    "softplus": Case(lambda x, d: ag.softplus(x), MIXED, [1000.0, 0.0, LN2], [1.0, 0.0, 0.5]),
    "softplus_beta2": Case(lambda x, d: ag.softplus(x, beta=2.0), MIXED, [1000.0, 0.0, LN2 / 2],
                           [1.0, 0.0, 0.5]),
    "softplus_beta0.5": Case(lambda x, d: ag.softplus(x, beta=0.5), MIXED,
                             [1000.0, 0.0, 2 * LN2], [1.0, 0.0, 0.5]),
    "elu": Case(lambda x, d: ag.elu(x), MIXED, [1000.0, -1.0, 0.0], [1.0, 0.0, 1.0]),
    "elu_alpha0.5": Case(lambda x, d: ag.elu(x, alpha=0.5), MIXED, [1000.0, -0.5, 0.0],
                         [1.0, 0.0, 0.5]),
    "selu": Case(lambda x, d: ag.selu(x), MIXED,
                 [1000.0 * SELU_SCALE, -SELU_SCALE * SELU_ALPHA, 0.0],
                 [SELU_SCALE, 0.0, SELU_SCALE * SELU_ALPHA]),
    "silu": Case(lambda x, d: ag.silu(x), MIXED, [1000.0, 0.0, 0.0], [1.0, 0.0, 0.5]),
    "gelu": Case(lambda x, d: ag.gelu(x), MIXED, [1000.0, 0.0, 0.0], [1.0, 0.0, 0.5]),
    "gelu_tanh": Case(lambda x, d: ag.gelu(x, approximate="tanh"), MIXED, [1000.0, 0.0, 0.0],
                      [1.0, 0.0, 0.5]),
    "logsumexp_mixed": Case(lambda x, d: ag.logsumexp(x), MIXED, 1000.0, [1.0, 0.0, 0.0]),
    "logsumexp_equal_large": Case(lambda x, d: ag.logsumexp(x), [1000.0, 1000.0], 1000.0 + LN2,
                                  [0.5, 0.5], grad_atol32=LSE_F32),
    "logsumexp_equal_small": Case(lambda x, d: ag.logsumexp(x), [-1000.0, -1000.0],
                                  -1000.0 + LN2, [0.5, 0.5], grad_atol32=LSE_F32),
    "logsumexp_rows": Case(lambda x, d: ag.logsumexp(x, axis=1),
                           [MIXED, [-1000.0] * 3], [1000.0, -1000.0 + LN3],
                           [[1.0, 0.0, 0.0], [1 / 3] * 3], grad_atol32=LSE_F32),
    "logsumexp_keepdims_cols": Case(lambda x, d: ag.logsumexp(x, axis=0, keepdims=True),
                                    [[1000.0, -1000.0], [1000.0, 1000.0]],
                                    [[1000.0 + LN2, 1000.0]], [[0.5, 0.0], [0.5, 1.0]],
                                    grad_atol32=LSE_F32),
    "log_softmax_mixed": Case(lambda x, d: ag.log_softmax(x), MIXED, [0.0, -2000.0, -1000.0],
                              [-2.0, 1.0, 1.0]),
    "log_softmax_equal": Case(lambda x, d: ag.log_softmax(x), [1000.0, 1000.0], [-LN2, -LN2],
                              [0.0, 0.0]),
    "log_softmax_axis0": Case(lambda x, d: ag.log_softmax(x, axis=0),
                              [[1000.0, -1000.0], [-1000.0, -1000.0]],
                              [[0.0, -LN2], [-2000.0, -LN2]], [[-1.0, 0.0], [1.0, 0.0]]),
    "softmax_mixed": Case(lambda x, d: ag.softmax(x), MIXED, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                          upstream=[1.0, 2.0, 3.0]),
    "softmax_two_large": Case(lambda x, d: ag.softmax(x), [1000.0, 1000.0, -1000.0],
                              [0.5, 0.5, 0.0], [-0.25, 0.25, 0.0], upstream=[1.0, 2.0, 3.0]),
    "softmax_cross_entropy_none": Case(lambda x, d: _sce_rows(x, d, "none"), _SCE_ROWS,
                                       [0.0, 2000.0, 1000.0], _SCE_GRAD),
    "softmax_cross_entropy_sum": Case(lambda x, d: _sce_rows(x, d, "sum"), _SCE_ROWS, 3000.0,
                                      _SCE_GRAD),
    "softmax_cross_entropy_mean": Case(lambda x, d: _sce_rows(x, d, "mean"), _SCE_ROWS, 1000.0,
                                       np.array(_SCE_GRAD) / 3),
    "softmax_cross_entropy_probs": Case(
        lambda x, d: ag.softmax_cross_entropy(x, np.array([[0.5, 0.5, 0.0]], dtype=d)),
        [MIXED], 1000.0, [[0.5, -0.5, 0.0]]),
    "softmax_cross_entropy_smoothing": Case(
        lambda x, d: ag.softmax_cross_entropy(x, _labels([0]), label_smoothing=0.3), [MIXED],
        0.1 * 2000.0 + 0.1 * 1000.0, [[0.2, -0.1, -0.1]]),
    "bce_with_logits_none": Case(lambda x, d: _bce(x, d), _BCE_LOGITS,
                                 [0.0, 1000.0, 1000.0, 0.0, LN2], [0.0, -1.0, 1.0, 0.0, 0.0]),
    "bce_with_logits_mean": Case(lambda x, d: _bce(x, d, "mean"), _BCE_LOGITS,
                                 (2000.0 + LN2) / 5, [0.0, -0.2, 0.2, 0.0, 0.0]),
}


def _run_strict(case: Case, dtype):
    """Forward and backward with numpy's floating-point warnings turned into errors."""
    x = ag.tensor(np.asarray(case.x, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**STRICT):
            out = case.fn(x, dtype)
            upstream = np.ones(out.shape) if case.upstream is None else case.upstream
            out.backward(np.asarray(upstream, dtype=dtype))
    return x, out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(CASES))
def test_extreme_inputs_exact_values_and_gradients(name, dtype):
    case = CASES[name]
    x, out = _run_strict(case, dtype)
    assert out.dtype == dtype, f"{name}: forward returned {out.dtype} for {np.dtype(dtype)} input"
    assert np.all(np.isfinite(out.numpy())), f"{name}: forward {out.numpy()}"
    np.testing.assert_allclose(out.numpy(), case.value, **_tolerance(dtype),
                               err_msg=f"{name} forward")
    assert x.grad is not None and x.grad.dtype == dtype and x.grad.shape == x.shape
    assert np.all(np.isfinite(x.grad.numpy())), f"{name}: gradient {x.grad.numpy()}"
    tolerance = _tolerance(dtype)
    if dtype == np.float32 and case.grad_atol32 is not None:
        tolerance["atol"] = case.grad_atol32
    np.testing.assert_allclose(x.grad.numpy(), case.grad, **tolerance, err_msg=f"{name} gradient")


def test_sigmoid_of_minus_1000_is_exactly_zero_and_finite():
    for dtype in DTYPES:
        out = ag.sigmoid(ag.tensor(np.array([-1000.0, 1000.0], dtype=dtype)))
        assert out.numpy()[0] == 0.0 and out.numpy()[1] == 1.0


def test_softplus_of_1000_is_exactly_1000():
    for dtype in DTYPES:
        out = ag.softplus(ag.tensor(np.array([1000.0, -1000.0], dtype=dtype)))
        assert out.numpy()[0] == 1000.0 and out.numpy()[1] == 0.0


# --- a sweep over the whole range: finite, no warnings, float32 agrees with float64 -----------
_SWEEP = np.concatenate([np.linspace(-1000.0, 1000.0, 41), [-88.0, -87.0, 88.0, 89.0, -1e-3,
                                                           1e-3, 20.0, -20.0, 710.0, -745.0]])

SWEEP_OPS = {
    "sigmoid": ag.sigmoid,
    "tanh": ag.tanh,
    "softplus": ag.softplus,
    "softplus_beta3": lambda x: ag.softplus(x, beta=3.0),
    "elu": ag.elu,
    "selu": ag.selu,
    "silu": ag.silu,
    "gelu": ag.gelu,
    "gelu_tanh": lambda x: ag.gelu(x, approximate="tanh"),
    "logsumexp": lambda x: ag.logsumexp(x.reshape(3, -1), axis=1),
    "log_softmax": lambda x: ag.log_softmax(x.reshape(3, -1), axis=1),
    "softmax": lambda x: ag.softmax(x.reshape(3, -1), axis=0),
    "softmax_cross_entropy": lambda x: ag.softmax_cross_entropy(
        x.reshape(3, -1), _labels([0, 5, 16]), reduction="none"),
    "softmax_cross_entropy_smooth": lambda x: ag.softmax_cross_entropy(
        x.reshape(3, -1), _labels([0, 5, 16]), reduction="sum", label_smoothing=0.1),
    "bce_with_logits": lambda x: ag.binary_cross_entropy_with_logits(
        x, np.linspace(0.0, 1.0, x.size).astype(x.dtype), reduction="none"),
}


def _sweep(fn, dtype):
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.permutation(_SWEEP).astype(dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**STRICT):
            out = fn(x)
            upstream = np.random.default_rng(1).uniform(-1.0, 1.0, out.shape).astype(dtype)
            out.backward(upstream)
    return out, x.grad


@pytest.mark.parametrize("name", list(SWEEP_OPS))
def test_sweep_finite_and_float32_matches_float64(name):
    results = {dtype: _sweep(SWEEP_OPS[name], dtype) for dtype in DTYPES}
    for dtype, (out, grad) in results.items():
        assert out.dtype == dtype and grad.dtype == dtype, f"{name}: {out.dtype}, {grad.dtype}"
        assert np.all(np.isfinite(out.numpy())), f"{name} {np.dtype(dtype)} forward"
        assert np.all(np.isfinite(grad.numpy())), f"{name} {np.dtype(dtype)} gradient"
    (out32, grad32), (out64, grad64) = results[np.float32], results[np.float64]
    scale = max(1.0, float(np.max(np.abs(out64.numpy()))))
    np.testing.assert_allclose(out32.numpy(), out64.numpy(), rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(grad32.numpy(), grad64.numpy(), rtol=1e-4, atol=1e-5)


# --- masked entries (−inf logits) as used for attention masks ------------------------------------
MASKED_CASES = {
    "logsumexp": (lambda x: ag.logsumexp(x, axis=-1), [[0.0, -np.inf, 0.0]], [LN2],
                  [[0.5, 0.0, 0.5]]),
    "logsumexp_all_masked": (lambda x: ag.logsumexp(x, axis=-1), [[-np.inf, -np.inf]],
                             [-np.inf], None),
    "softmax": (lambda x: ag.softmax(x, axis=-1), [[1000.0, -np.inf, 1000.0]],
                [[0.5, 0.0, 0.5]], [[0.0, 0.0, 0.0]]),
    "log_softmax": (lambda x: ag.log_softmax(x, axis=-1), [[0.0, -np.inf, 0.0]],
                    [[-LN2, -np.inf, -LN2]], [[-0.5, 1.0, -0.5]]),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(MASKED_CASES))
def test_masked_entries(name, dtype):
    fn, values, expected, expected_grad = MASKED_CASES[name]
    x = ag.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**STRICT):
            out = fn(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, **_tolerance(dtype))
    if expected_grad is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(**STRICT):
                out.sum().backward()
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), expected_grad, **_tolerance(dtype))


# --- dtype preservation with Python-number hyperparameters ---------------------------------------
DTYPE_OPS = {
    "sigmoid": ag.sigmoid, "tanh": ag.tanh, "softplus": lambda x: ag.softplus(x, beta=2.5),
    "elu": lambda x: ag.elu(x, alpha=0.3), "selu": ag.selu, "silu": ag.silu, "gelu": ag.gelu,
    "gelu_tanh": lambda x: ag.gelu(x, approximate="tanh"),
    "logsumexp": lambda x: ag.logsumexp(x, axis=0), "log_softmax": ag.log_softmax,
    "softmax": ag.softmax, "leaky_relu": lambda x: ag.leaky_relu(x, 0.2),
    "softmax_cross_entropy": lambda x: ag.softmax_cross_entropy(
        x, _labels([1, 0]), label_smoothing=0.1),
    "bce_with_logits": lambda x: ag.binary_cross_entropy_with_logits(
        x, np.full(x.shape, 0.25, dtype=x.dtype)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(DTYPE_OPS))
def test_dtype_preserved_through_forward_and_backward(name, dtype):
    x = ag.tensor(np.array([[0.5, -1.5, 3.0], [-2.0, 0.0, 1.0]], dtype=dtype),
                  requires_grad=True)
    out = DTYPE_OPS[name](x)
    assert out.dtype == dtype
    (out * 3.0).sum().backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "logsumexp", "log_softmax",
                                  "softmax_cross_entropy"])
def test_float32_second_order_stays_float32_and_finite(name):
    x = ag.tensor(np.array([[1000.0, -1000.0, 0.0], [3.0, -2.0, 0.5]], dtype=np.float32),
                  requires_grad=True)
    (g,) = ag.grad(DTYPE_OPS[name](x).sum(), x, create_graph=True)
    (gg,) = ag.grad((g * g).sum(), x)
    assert g.dtype == np.float32 and gg.dtype == np.float32
    assert np.all(np.isfinite(g.numpy())) and np.all(np.isfinite(gg.numpy()))
