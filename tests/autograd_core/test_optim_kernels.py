"""The in-place optimizer kernels (``autograd_core/kernels/optim.py``) beyond the generic checks
of test_kernels.py: every flag variant at a size that reaches the compiled body,
writes landing in the caller's arrays (also through non-contiguous views, which go to the
reference), the dispatch rules of ``Kernel(inplace=True)``, and the closed forms of the first
steps (SGD's buffer initialisation, Nesterov, Adam's bias correction, Adagrad's decay).
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from autograd_core import kernels
from autograd_core.kernels import KERNELS, Compiled, Kernel

NAMES = sorted(name for name, kernel in KERNELS.items() if kernel.inplace)
DTYPES = [np.float32, np.float64]
#: compiled bodies do the reference's float operations in the same order: equal to rounding
TOLERANCE = {np.float32: {"rtol": 1e-6, "atol": 1e-7}, np.float64: {"rtol": 1e-14, "atol": 0}}
#: flag variants run by the tests (the other scalars: ``SCALARS``)
VARIANTS = {"sgd_momentum": [dict(nesterov=n, first_step=f, dampening=0.0 if n else 0.3)
                             for n in (False, True) for f in (False, True)],
            "adam": [dict(weight_decay=0.0), dict(weight_decay=0.1)],
            "adam_amsgrad": [dict(weight_decay=0.0), dict(weight_decay=0.1)],
            "adagrad": [dict(lr_decay=0.0, step=1), dict(lr_decay=0.1, step=7)]}
SCALARS = {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
           "first_step": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
           "step": 4, "alpha": 0.99, "lr_decay": 0.0}
SQUARES = {"exp_avg_sq", "max_exp_avg_sq", "square_avg", "state_sum"}


def make_args(name: str, shape, dtype, rng, **scalars) -> tuple:
    """Arguments of kernel ``name``: random arrays of ``shape``, valid state, given scalars."""
    args = []
    for p in inspect.signature(KERNELS[name].compiled.py_func).parameters:
        if p in SCALARS:
            args.append(scalars.get(p, SCALARS[p]))
        elif p in SQUARES:
            args.append((rng.random(shape) + 0.5).astype(dtype))
        elif p == "grad_avg":
            args.append((rng.random(shape) - 0.5).astype(dtype))
        else:
            args.append(rng.standard_normal(shape).astype(dtype))
    return tuple(args)


def copies(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def arrays(args: tuple) -> list:
    return [a for a in args if isinstance(a, np.ndarray)]


def assert_same_arrays(got: tuple, want: tuple, dtype, label: str = "") -> None:
    for i, (a, b) in enumerate(zip(arrays(got), arrays(want))):
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype], err_msg=f"{label} array {i}")


def variants(name: str) -> list[dict]:
    return VARIANTS.get(name, [{}])


def test_every_optimizer_kernel_is_in_place():
    assert NAMES == ["adagrad", "adam", "adam_amsgrad", "rmsprop", "rmsprop_centered",
                     "rmsprop_centered_momentum", "rmsprop_momentum", "sgd", "sgd_momentum"]
    for name in NAMES:
        assert getattr(kernels, name).inplace


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_dispatch_equals_reference_in_place(name, dtype):
    """Sizes below and above the thresholds; the caller's own arrays hold the result."""
    kernel, rng = KERNELS[name], np.random.default_rng(3)
    for size in (1, 7, 64, 4096, 70_000):
        for scalars in variants(name):
            args = make_args(name, (size,), dtype, rng, **scalars)
            expected, before = copies(args), copies(args)
            kernel.reference(*expected)
            assert kernel(*args) is None
            assert_same_arrays(args, expected, dtype, f"{name} {size} {scalars}")
            assert not np.array_equal(args[0], before[0])          # param moved
            np.testing.assert_array_equal(args[1], before[1])      # grad is never written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_compiled_body(name, dtype):
    """The compiled body through ``Kernel.run`` (views of the caller's arrays)."""
    kernel, rng = KERNELS[name], np.random.default_rng(4)
    size = 4099 if kernels.jit_enabled() else 5                 # plain Python loops when off
    for scalars in variants(name):
        args = make_args(name, (size // 3 + 1, 3), dtype, rng, **scalars)   # 2-D, C order
        expected = copies(args)
        kernel.reference(*expected)
        got = copies(args)
        assert kernel.run(kernel.compiled.dispatcher(), got) is None
        assert_same_arrays(got, expected, dtype, f"{name} {scalars}")


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_views_are_updated_through_the_reference(name, monkeypatch):
    """A strided parameter (or buffer) is never copied: the reference writes through the view
    into its base, and only at the viewed places."""
    kernel, rng = KERNELS[name], np.random.default_rng(5)
    calls = []
    reference = kernel.reference
    monkeypatch.setattr(kernel, "reference", lambda *a: calls.append(1) or reference(*a))
    for which in range(len(arrays(make_args(name, (2,), np.float32, rng)))):
        args = list(make_args(name, (300, 4), np.float32, rng))
        expected = copies(tuple(args))
        reference(*expected)
        array_positions = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        position = array_positions[which]
        base = np.zeros((300, 8), np.float32)
        base[:, ::2] = args[position]
        args[position] = base[:, ::2]                          # a strided view
        calls.clear()
        assert kernel(*args) is None
        assert calls == [1]
        np.testing.assert_allclose(base[:, ::2], expected[position], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(base[:, 1::2], 0)         # untouched in between
        assert_same_arrays(tuple(args), expected, np.float32, name)


def _probe(monkeypatch) -> tuple[Kernel, list]:
    calls = []

    def reference(param, grad, lr):
        calls.append("reference")
        param -= lr * grad

    def body(param, grad, lr):
        calls.append(("compiled", param.ndim, param.base is not None))
        param -= lr * grad

    fast = Compiled(body)
    monkeypatch.setattr(fast, "dispatcher", lambda: body)
    monkeypatch.setattr("autograd_core.kernels._kernel.jit_enabled", lambda: True)
    monkeypatch.setattr("autograd_core.kernels._kernel.KERNELS", {})
    return Kernel(reference, fast, 100, "probe_inplace", compiled_below=100, inplace=True), calls


def test_inplace_dispatch_gives_views_or_runs_the_reference(monkeypatch):
    kernel, calls = _probe(monkeypatch)
    param, grad = np.ones((3, 4), np.float32), np.ones((3, 4), np.float32)
    assert kernel(param, grad, 0.5) is None
    assert calls == [("compiled", 1, True)]                     # flat view of the caller's array
    np.testing.assert_array_equal(param, 0.5)
    readonly = np.ones((3, 4), np.float32)
    readonly.flags.writeable = False
    for label, p, g in [
        ("transposed", np.ones((4, 3), np.float32).T, grad),
        ("strided grad", param, np.ones((3, 8), np.float32)[:, ::2]),
        ("dtype mismatch", param, np.ones((3, 4), np.float64)),
        ("shape mismatch", param, np.ones(4, np.float32)),
        ("read-only", param, readonly),
        ("float16", np.ones((3, 4), np.float16), np.ones((3, 4), np.float16)),
        ("empty", np.ones((0, 4), np.float32), np.ones((0, 4), np.float32)),
    ]:
        calls.clear()
        kernel(p, g, 0.5)
        assert calls == ["reference"], label
    calls.clear()
    kernel(param, grad, np.float32(0.5))                         # numpy scalar: reference
    assert calls == ["reference"]


# --- closed forms --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_momentum_first_step_dampening_and_nesterov(dtype):
    g = np.array([1.0, -2.0, 0.5], dtype)
    for nesterov, dampening in [(False, 0.3), (True, 0.0)]:
        p, buf = np.zeros(3, dtype), np.full(3, 123.0, dtype)   # garbage before the first step
        kernels.sgd_momentum(p, g, buf, 0.1, 0.9, dampening, nesterov, True)
        np.testing.assert_allclose(buf, g)                      # v = g: no dampening at t = 1
        first = g + 0.9 * g if nesterov else g
        np.testing.assert_allclose(p, -0.1 * first, rtol=1e-6)
        kernels.sgd_momentum(p, g, buf, 0.1, 0.9, dampening, nesterov, False)
        v2 = 0.9 * g + (1 - dampening) * g
        np.testing.assert_allclose(buf, v2, rtol=1e-6)
        second = g + 0.9 * v2 if nesterov else v2
        np.testing.assert_allclose(p, -0.1 * first - 0.1 * second, rtol=1e-6)


@pytest.mark.parametrize("name", ["adam", "adam_amsgrad"])
def test_adam_bias_correction_by_step_count(name):
    """Under a constant gradient from zero moments, m/(1 − β₁ᵗ) = g and v/(1 − β₂ᵗ) = g² at
    every t, so each step moves p by η·g/(|g| + ε): the step count has to be t exactly."""
    g = np.array([0.5, -2.0, 3.0, -1e-3])
    p = np.zeros(4)
    state = [np.zeros(4) for _ in range(3 if name == "adam_amsgrad" else 2)]
    lr, eps = 0.01, 1e-8
    for t in range(1, 6):
        getattr(kernels, name)(p, g, *state, lr, 0.9, 0.999, eps, 0.0, t)
        np.testing.assert_allclose(state[0], (1 - 0.9 ** t) * g, rtol=1e-12)
        np.testing.assert_allclose(state[1], (1 - 0.999 ** t) * g * g, rtol=1e-12)
        np.testing.assert_allclose(p, -t * lr * g / (np.abs(g) + eps), rtol=1e-9)
    wrong = [s.copy() for s in state]
    q = p.copy()
    getattr(kernels, name)(q, g, *wrong, lr, 0.9, 0.999, eps, 0.0, 1)   # t restarted: too big
    assert np.all(np.abs(q - p) > 1.5 * lr * np.abs(g) / (np.abs(g) + eps))


def test_adamw_decays_the_parameter_before_the_step():
    p, g = np.array([2.0, -4.0]), np.array([1.0, 1.0])
    m, v = np.zeros(2), np.zeros(2)
    kernels.adam(p, g, m, v, 0.1, 0.9, 0.999, 0.0, 0.5, 1)
    np.testing.assert_allclose(p, np.array([2.0, -4.0]) * (1 - 0.1 * 0.5) - 0.1, rtol=1e-12)


def test_adagrad_learning_rate_decays_with_the_step():
    g = np.array([3.0, -4.0])
    p, s = np.zeros(2), np.zeros(2)
    kernels.adagrad(p, g, s, 1.0, 0.5, 0.0, 3)                  # η/(1 + 2·0.5) = η/2
    np.testing.assert_allclose(s, g * g)
    np.testing.assert_allclose(p, -0.5 * np.sign(g), rtol=1e-12)
