"""Every registered Kernel: the compiled twin equals the numpy reference (STYLE.md R6, §4).

For each kernel in ``KERNELS``: hypothesis arrays in float32 and float64, empty arrays,
non-contiguous inputs (slices, transposes) and inputs of ±1000 give the same values and dtype
through the reference, the compiled version and the size dispatch.
Each ``<name>_numba.py_func`` (the plain Python body) also runs on tiny inputs, so the kernel
code stays covered when ``NUMBA_DISABLE_JIT=1`` sends every call to the reference.
Arguments are made by parameter name: x/logits/grad/y any reals, target rows of
probabilities, and the scalars of the activations. In-place kernels (the optimizer updates)
get fresh arguments for each version, return None, and are compared on every array they were
given: param and state buffers (sums and averages of g² non-negative, and above ḡ² for
centered RMSprop), with the hyperparameters of ``OPTIM_SCALARS``.
"""
from __future__ import annotations

import inspect
import math
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd_core import kernels
from autograd_core.kernels import KERNELS, Compiled, Kernel
from tests.strategies import shapes

NAMES = sorted(KERNELS)
DTYPES = [np.float32, np.float64]
SCALARS = {"negative_slope": 0.01, "alpha": 1.3, "beta": 0.7, "scale": 0.25}
OPTIM_SCALARS = {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "nesterov": True,
                 "first_step": False, "beta1": 0.8, "beta2": 0.95, "eps": 1e-8,
                 "weight_decay": 0.1, "step": 3, "alpha": 0.9, "lr_decay": 0.05}
SQUARES = {"exp_avg_sq", "max_exp_avg_sq", "square_avg", "state_sum"}
#: float32 references round every step (gelu′ cancels in 1 − tanh²), bodies compute in float64
TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _args(kernel: Kernel, values: np.ndarray, dtype) -> tuple:
    """Arguments for ``kernel`` built from ``values`` (one array per array parameter)."""
    scalars = OPTIM_SCALARS if kernel.inplace else SCALARS
    args = []
    for i, name in enumerate(inspect.signature(kernel.reference).parameters):
        if name in scalars:
            args.append(scalars[name])
        elif name in SQUARES:                     # ≥ 1 > ḡ²
            args.append(np.asarray(np.abs(np.roll(values, i)) + 1, dtype=dtype))
        elif name == "grad_avg":                  # |ḡ| < ½
            args.append(np.asarray(np.tanh(np.roll(values, i)) / 2, dtype=dtype))
        elif name == "target":
            t = np.abs(np.roll(values, i)) + 0.1
            t = t / t.sum(axis=-1, keepdims=True) if t.shape[-1] else t
            t.flat[::3] = 0.0                     # zeros: the 0·ln 0 convention
            args.append(np.asarray(t, dtype=dtype))
        else:
            args.append(np.asarray(np.roll(values, i) * (1 + 0.5 * i), dtype=dtype))
    return tuple(args)


def _versions(kernel: Kernel) -> dict:
    """The size dispatch, and the compiled body run through the kernel's flattening."""
    return {"dispatch": kernel,
            "compiled": lambda *args: kernel.run(kernel.compiled.dispatcher(), args)}


def _check(kernel: Kernel, args, dtype) -> None:
    """Every version gives the reference's result; ``args`` may be a function making them."""
    if kernel.inplace:
        _check_inplace(kernel, args if callable(args) else lambda: _fresh(args), dtype)
        return
    args = args() if callable(args) else args
    expected = kernel.reference(*args)
    assert expected.dtype == dtype
    for label, version in _versions(kernel).items():
        got = version(*args)
        assert got.dtype == expected.dtype, (kernel.name, label)
        assert got.shape == expected.shape, (kernel.name, label)
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype],
                                   err_msg=f"{kernel.name} ({label})")


def _fresh(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _arrays(args: tuple) -> list:
    return [a for a in args if isinstance(a, np.ndarray)]


def _check_inplace(kernel: Kernel, make_args, dtype) -> None:
    """Each version, on fresh arguments, leaves every array as the reference does."""
    expected = make_args()
    assert kernel.reference(*expected) is None
    for label, version in _versions(kernel).items():
        args = make_args()
        assert version(*args) is None, (kernel.name, label)
        for i, (got, want) in enumerate(zip(_arrays(args), _arrays(expected))):
            assert got.dtype == want.dtype == dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, **TOLERANCE[dtype],
                                       err_msg=f"{kernel.name} ({label}), array {i}")


def _min_rank(kernel: Kernel) -> int:
    return 1 if "rows" in kernel.name else 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_compiled_equals_reference(name, dtype, data):
    kernel = KERNELS[name]
    shape = data.draw(shapes(min_dims=_min_rank(kernel)))
    values = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-30, 30)))
    _check(kernel, _args(kernel, values, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_extremes_empty_and_non_contiguous(name, dtype):
    kernel = KERNELS[name]
    extreme = np.array([[1000.0, -1000.0, 0.0, 3.0], [-1000.0, -999.0, 1e-3, 1000.0]])
    _check(kernel, _args(kernel, extreme, dtype), dtype)
    for shape in [(0,), (0, 3), (3, 0)]:
        _check(kernel, _args(kernel, np.zeros(shape), dtype), dtype)
    grid = np.linspace(-5, 5, 6 * 8).reshape(6, 8)
    for view in (grid[:, ::2], grid.T, grid[1:, 3:], grid[::2, 1]):
        def strided(view=view):
            return tuple(np.asfortranarray(a) if isinstance(a, np.ndarray) else a
                         for a in _args(kernel, view, dtype))

        def reversed_(view=view):
            return tuple(a[::-1] if isinstance(a, np.ndarray) else a
                         for a in _args(kernel, view, dtype))
        _check(kernel, strided, dtype)
        _check(kernel, reversed_, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_python_body_runs(name):
    """The Numba body run as plain Python (covered even when JIT is disabled)."""
    kernel = KERNELS[name]
    for dtype in DTYPES:
        args = _args(kernel, np.array([[-1000.0, -0.5, 0.0, 2.0], [1.0, 1000.0, -3.0, 0.25]]),
                     dtype)
        if kernel.inplace:                        # bodies of in-place kernels take flat arrays
            expected, flat = _fresh(args), tuple(
                a.reshape(-1) if isinstance(a, np.ndarray) else a for a in args)
            assert kernel.compiled.py_func(*flat) is None
            kernel.reference(*expected)
            for got, want in zip(_arrays(args), _arrays(expected)):
                np.testing.assert_allclose(got, want, **TOLERANCE[dtype])
            continue
        got = kernel.compiled.py_func(*args)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, kernel.reference(*args), **TOLERANCE[dtype])


#: the kernels with a body writing into a given array (what the compiled training step calls)
INTO = [name for name in NAMES
        if hasattr(inspect.getmodule(KERNELS[name].compiled.py_func), f"{name}_into")]


@pytest.mark.parametrize("name", INTO)
def test_into_bodies_write_the_result_into_the_array_given(name):
    """``<name>_into(…, out)``, compiled and as plain Python, writes into ``out`` (a 2-D array
    or a view of a larger one, as the compiled training step gives it) what ``<name>_numba``
    returns; ``<name>_numba`` is the allocation and that call."""
    assert len(INTO) == 20
    kernel = KERNELS[name]
    into = getattr(inspect.getmodule(kernel.compiled.py_func), f"{name}_into")
    assert isinstance(into, Compiled)
    assert list(inspect.signature(into).parameters) == \
        list(inspect.signature(kernel.compiled).parameters) + ["out"]
    for dtype in DTYPES:
        args = _args(kernel, np.linspace(-4, 4, 15).reshape(5, 3), dtype)
        expected = kernel.compiled(*args)
        for label, body in (("compiled", into), ("python", into.py_func)):
            arena = np.full(40, np.nan, dtype)
            out = arena[16:16 + expected.size].reshape(expected.shape)
            assert body(*args, out) is None
            np.testing.assert_allclose(out, expected, **(TOLERANCE[dtype] if label == "python"
                                                         else {"rtol": 0, "atol": 0}),
                                       err_msg=f"{name} ({label})")
            assert np.isnan(arena[:16]).all() and np.isnan(arena[16 + expected.size:]).all()


@pytest.mark.parametrize("name", NAMES)
def test_twins_have_identical_signatures(name):
    kernel = KERNELS[name]
    assert isinstance(kernel.compiled, Compiled)
    assert kernel.reference.__name__ == f"{name}_reference"
    assert kernel.compiled.__name__ == f"{name}_numba"
    assert inspect.signature(kernel.reference) == inspect.signature(kernel.compiled)
    assert inspect.signature(kernel.compiled) == inspect.signature(kernel.compiled.py_func)
    assert getattr(kernels, name) is kernel
    assert kernel.compiled_below <= kernel.min_size


def test_dispatch_by_size_and_dtype(monkeypatch):
    calls = []
    ref = Compiled(lambda x: calls.append("reference") or x)
    fast = Compiled(lambda x: calls.append("compiled") or x)
    monkeypatch.setattr(fast, "dispatcher", lambda: fast.py_func)
    monkeypatch.setattr("autograd_core.kernels._kernel.jit_enabled", lambda: True)
    monkeypatch.setattr("autograd_core.kernels._kernel.KERNELS", {})
    kernel = Kernel(ref.py_func, fast, 100, "probe", compiled_below=10)
    for size, dtype, expected in [(1, np.float32, "compiled"), (50, np.float64, "reference"),
                                  (100, np.float32, "compiled"), (5, np.int64, "reference"),
                                  (500, np.float16, "reference")]:
        calls.clear()
        kernel(np.zeros(size, dtype))
        assert calls == [expected], (size, dtype)
    for size in (0, 10**4):                      # empty arrays go to the reference
        calls.clear()
        kernel(np.zeros((size, 0), np.float32))
        assert calls == ["reference"]
    calls.clear()
    strided = np.arange(800, dtype=np.float32).reshape(20, 40)[:, ::2]
    out = kernel(strided)
    assert calls == ["compiled"] and out.shape == (20, 20)
    np.testing.assert_array_equal(out, strided)
    with pytest.raises(ValueError, match="already registered"):
        Kernel(ref.py_func, fast, 100, "probe")


def test_references_only_is_per_thread_and_nests(monkeypatch):
    calls = []
    fast = Compiled(lambda x: calls.append("compiled") or x)
    monkeypatch.setattr(fast, "dispatcher", lambda: fast.py_func)
    monkeypatch.setattr("autograd_core.kernels._kernel.jit_enabled", lambda: True)
    monkeypatch.setattr("autograd_core.kernels._kernel.KERNELS", {})
    kernel = Kernel(lambda x: calls.append("reference") or x, fast, 0, "probe_refs")
    seen_elsewhere = []
    with kernels.references_only():
        with kernels.references_only():              # nested: the inner exit keeps it on
            kernel(np.zeros(4, np.float32))
        kernel(np.zeros(4, np.float32))
        other = threading.Thread(target=lambda: seen_elsewhere.append(
            kernel(np.zeros(4, np.float32)) is not None and calls[-1]))
        other.start()
        other.join()
    kernel(np.zeros(4, np.float32))
    assert calls == ["reference", "reference", "compiled", "compiled"]
    assert seen_elsewhere == ["compiled"]                 # another thread compiles as before


def test_references_only_covers_the_linear_layer(monkeypatch):
    from autograd_core.kernels import linalg
    monkeypatch.setattr(linalg, "_dispatchers", (None, None))   # calling them would raise
    x, w, b = (np.ones(s, np.float32) for s in ((3, 2), (4, 2), (4,)))
    with kernels.references_only():
        z = linalg.linear_forward(x, w, b, 2)
        grads = linalg.linear_backward(np.ones_like(z), x, w, z, 2, True, True, True)
    np.testing.assert_allclose(z, np.tanh(3.0), rtol=1e-6)
    assert [g.shape for g in grads] == [(3, 2), (4, 2), (4,)]


def test_dispatch_without_jit(monkeypatch):
    monkeypatch.setattr("autograd_core.kernels._kernel.jit_enabled", lambda: False)
    monkeypatch.setattr("autograd_core.kernels._kernel.KERNELS", {})
    kernel = Kernel(lambda x: "reference", lambda x: "compiled", 0, "probe_nojit")
    assert kernel(np.zeros(3)) == "reference" and kernel(np.zeros(10**4)) == "reference"
    assert kernel._hi == math.inf


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_labels_in_range_finds_any_label_outside_zero_to_classes(dtype):
    from autograd_core.kernels.labels import labels_in_range
    for body in (labels_in_range, labels_in_range.py_func):
        assert body(np.array([0, 2, 1], dtype), 3)
        assert body(np.array([], dtype), 3)
        assert not body(np.array([0, 3, 1], dtype), 3)                  # = classes
        assert not body(np.array([2, 1, 9], dtype), 3)                  # the last one
        if np.issubdtype(dtype, np.signedinteger):
            assert not body(np.array([-1, 0], dtype), 3)


def test_shaped_is_compiled_for_the_signatures_asked_for_only():
    from autograd_core.kernels.views import shaped, shaped_signatures
    signatures = shaped_signatures(np.float32, (2, 1, 2))
    assert len(signatures) == 2                                  # ranks 1 and 2, once each
    dispatcher = shaped.dispatcher(signatures)
    assert dispatcher is shaped.dispatcher(shaped_signatures(np.float32, (1, 2)))
    assert dispatcher is not shaped.dispatcher(shaped_signatures(np.float64, (1, 2)))
    buffer = np.arange(10, dtype=np.float32)
    for body in (dispatcher, shaped.py_func):
        view = body(buffer, 2, (2, 3))
        np.testing.assert_array_equal(view, np.arange(2, 8, dtype=np.float32).reshape(2, 3))
        assert np.shares_memory(view, buffer)                    # a view, no copy
    assert len(dispatcher.signatures) == 2
    with pytest.raises(TypeError):                               # no rank 3: not compiled
        dispatcher(buffer, 0, (1, 2, 3))
