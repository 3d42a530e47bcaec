"""``Kernel``: a numpy reference and a Numba-compiled twin behind one call, dispatched by size.

A kernel is registered once, with the sizes where each version is fastest (measured with
``benchmarks/bench_kernels.py``; the figures sit next to each kernel)::

    size of the first input  n ≥ min_size, or 0 < n < compiled_below  →  ``compiled``
                                                          otherwise  →  numpy reference

Why compiled code for tiny arrays too: a numpy expression such as the stable sigmoid is ~6
ufunc calls of ~0.4 µs each, while one compiled call costs ~0.5 µs whatever the size up to ~1k
elements. Every compiled body is serial (``@njit(cache=True)``): inside a training step parallel
kernels fight OpenBLAS's spinning threads (see elementwise.py for the measurements).

The reference runs instead of the compiled version when JIT is off (``NUMBA_DISABLE_JIT=1``), or
when the call is outside what the compiled code handles: an empty array, a first argument that
is not a float32/float64 ndarray, or array arguments whose shape or dtype differ from the
first (numpy's broadcasting and promotion are the reference's job). Compiled bodies get flat
(or, for row kernels, 2-D) C-ordered arrays, copied to C order when they are not, so each
kernel is compiled once per dtype.

In-place kernels (``inplace=True``: the optimizer updates of ``optim.py``) write through their
array arguments and return None, so a copy must never reach them: their compiled version runs
only when every array argument is a writeable, C-contiguous ndarray with the first one's shape
and dtype, and gets flat *views* of it; any other call runs the reference, which writes in
place through numpy ``out=`` whatever the layout.

Numba is imported lazily, the first time a compiled version is needed: it costs ~150 ms, twice
the import of the whole engine.
"""
from __future__ import annotations

import contextlib
import functools
import math
import threading
import types
from collections.abc import Callable, Iterator

import numpy as np

#: every kernel by name (tests iterate over it)
KERNELS: dict[str, Kernel] = {}

#: the dtypes kernels compile for: float32 and float64 in the machine's byte order (a
#: byte-swapped array has the same ``char`` but Numba cannot type it)
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


#: the threads inside ``references_only()`` (empty almost always: one falsy test per call)
_REFERENCE_THREADS: set[int] = set()


@contextlib.contextmanager
def references_only() -> Iterator[None]:
    """Within the block, this thread's kernels run their numpy references, compiling nothing.

    ``optim.compile_step`` traces its first eager step this way: the eager step's Numba kernels
    (``linear_forward_numba`` …) are not the ones the generated step calls (``…_into``), so
    compiling them there was wasted (measured, 2-8-8-1 net, empty Numba cache: first two calls
    9.1 → 7.4 s). Results equal the compiled kernels' to rounding
    (tests/autograd_core/test_kernels.py); other threads are not affected.
    """
    me = threading.get_ident()
    if me in _REFERENCE_THREADS:            # nested: the outer block restores
        yield
        return
    _REFERENCE_THREADS.add(me)
    try:
        yield
    finally:
        _REFERENCE_THREADS.discard(me)


def use_references() -> bool:
    """True inside ``references_only()`` on this thread. Hot paths test ``_REFERENCE_THREADS``
    (empty almost always) first and call this only when it is not."""
    return threading.get_ident() in _REFERENCE_THREADS


def jit_enabled() -> bool:
    """False when ``numba.config.DISABLE_JIT`` is set (``NUMBA_DISABLE_JIT=1``); imports Numba."""
    import numba
    return not numba.config.DISABLE_JIT


class Compiled:
    """A function to be compiled with ``@njit(cache=True)`` on its first call.

    ``py_func`` is the plain Python body (as on a Numba dispatcher), and ``inspect.signature``
    sees its signature. ``error_model="numpy"`` makes a float division by zero give ±inf/nan
    (as the numpy reference does) instead of raising, which also lets LLVM vectorize loops that
    divide (Numba's default "python" model tests every divisor). A body may call another
    body by its global name (``sigmoid_numba`` calls ``sigmoid_into``): the callee is compiled
    first and the caller sees its dispatcher.
    """

    def __init__(self, py_func: Callable, error_model: str = "python") -> None:
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self.error_model = error_model
        self._dispatchers: dict[tuple, object] = {}

    def dispatcher(self, signatures: tuple = ()):
        """The Numba dispatcher (compiled, or loaded from the on-disk cache, on first use);
        with ``signatures`` (Numba signatures), one compiled for those only, once per tuple."""
        found = self._dispatchers.get(signatures)
        if found is None:
            import numba
            body = _calling_dispatchers(self.py_func)
            decorate = numba.njit(*([list(signatures)] if signatures else []),
                                  cache=True, error_model=self.error_model)
            found = self._dispatchers[signatures] = decorate(body)
        return found

    def __call__(self, *args):
        return self.dispatcher()(*args)


def _calling_dispatchers(body: Callable) -> Callable:
    """``body``, or, when it calls other bodies (``sigmoid_numba`` allocates and calls
    ``sigmoid_into``), a copy of it whose globals name their dispatchers instead: Numba compiles a
    call to compiled code only through a dispatcher, and a ``Compiled`` is a plain object."""
    names = body.__code__.co_names
    callees = {name: value.dispatcher() for name in names
               if isinstance(value := body.__globals__.get(name), Compiled)}
    if not callees:
        return body
    copy = types.FunctionType(body.__code__, {**body.__globals__, **callees}, body.__name__,
                              body.__defaults__, body.__closure__)
    functools.update_wrapper(copy, body)        # NOTE: same name and file: Numba's cache key
    return copy


def njit(*, error_model: str = "python") -> Callable[[Callable], Compiled]:
    """Decorator: ``@njit()`` marks a kernel body, compiled lazily (cache=True)."""
    return functools.partial(Compiled, error_model=error_model)


class Kernel:
    """A numpy ``reference`` and its ``compiled`` twin (same signature), dispatched by size.

    ``compiled`` runs when the first input has ``size ≥ min_size`` or ``0 < size <
    compiled_below`` (0: never); the reference runs otherwise, and always when JIT is off. Use
    ``math.inf`` as ``min_size`` for a body that never beats numpy at large sizes. ``inplace``:
    the kernel updates its array arguments and returns None (see the module docstring for the
    dispatch that keeps it off copies).
    """

    __slots__ = ("name", "reference", "compiled", "min_size", "compiled_below", "rows",
                 "inplace", "_fn", "_lo", "_hi")

    def __init__(self, reference: Callable, compiled: Callable, min_size: float, name: str,
                 *, compiled_below: float = 0, rows: bool = False, inplace: bool = False) -> None:
        if name in KERNELS:
            raise ValueError(f"Kernel: a kernel named {name!r} is already registered")
        self.name, self.reference, self.compiled = name, reference, compiled
        self.min_size, self.compiled_below, self.rows = min_size, compiled_below, rows
        self.inplace = inplace
        self._fn = None                      # bound on first use (Numba imported then)
        self._lo, self._hi = compiled_below, min_size
        KERNELS[name] = self

    def __repr__(self) -> str:
        return (f"Kernel({self.name!r}, compiled below {self.compiled_below} and from "
                f"{self.min_size})")

    def __call__(self, *args):
        x = args[0]
        if type(x) is not np.ndarray:
            return self.reference(*args)
        n = x.size
        if n >= self._hi or 0 < n < self._lo:
            fn = self._fn or self._bind()
        else:
            return self.reference(*args)
        if fn is None or (_REFERENCE_THREADS and use_references()):
            return self.reference(*args)
        return self.run(fn, args)

    def run(self, fn: Callable, args: tuple):
        """``fn(*args)`` on flat (or, ``rows``, 2-D) C-ordered views; reference if it cannot.

        NOTE: bodies get 1-D (elementwise) or (rows, width) arrays, so each compiles once per
        dtype rather than once per rank; the result is reshaped to the input's shape (or to
        ``shape[:-1]`` for a per-row result). This is the hot path of every small op, hence
        the fast exits for already-flat, C-ordered single inputs.
        """
        if self.inplace:
            return self._run_inplace(fn, args)
        x = args[0]
        dtype = x.dtype
        if dtype not in _NATIVE_FLOATS or x.size == 0:
            return self.reference(*args)
        rows = self.rows
        flat_ndim = 2 if rows else 1
        shape = x.shape
        if x.ndim == flat_ndim and x.flags.c_contiguous:
            if len(args) == 1:
                return fn(x)
            y = args[1]
            if (len(args) == 2 and type(y) is np.ndarray and y.dtype is dtype
                    and y.shape == shape and y.flags.c_contiguous):
                return fn(x, y)
        flat = (-1, shape[-1]) if rows else -1
        ready = []
        for a in args:
            if type(a) is np.ndarray:
                if a.shape != shape or (a.dtype is not dtype and a.dtype != dtype):
                    return self.reference(*args)
                if a.ndim != flat_ndim:
                    a = a.reshape(flat)
                if not a.flags.c_contiguous:
                    a = np.ascontiguousarray(a)
            elif isinstance(a, np.generic):      # a numpy scalar where an array may be due
                return self.reference(*args)
            ready.append(a)
        out = fn(*ready)
        if x.ndim == flat_ndim:
            return out
        return out.reshape(shape[:-1] if rows and out.ndim == 1 else shape)

    def _run_inplace(self, fn: Callable, args: tuple) -> None:
        """``fn`` on flat views of the callers' arrays, or the reference when a view cannot be
        had (NOTE: ``reshape(-1)`` of a C-contiguous array is always a view, never a copy)."""
        x = args[0]
        dtype, shape = x.dtype, x.shape
        if dtype not in _NATIVE_FLOATS or x.size == 0:
            return self.reference(*args)
        views = []
        for a in args:
            if type(a) is np.ndarray:
                flags = a.flags                  # NOTE: each .flags access builds an object
                if (a.shape != shape or (a.dtype is not dtype and a.dtype != dtype)
                        or not flags.c_contiguous or not flags.writeable):
                    return self.reference(*args)
                if a.ndim != 1:
                    a = a.reshape(-1)
            elif isinstance(a, np.generic):      # a numpy scalar where an array may be due
                return self.reference(*args)
            views.append(a)
        fn(*views)
        return None

    def _bind(self):
        """Resolve the compiled version (or, JIT off, dispatch everything to the reference)."""
        if not jit_enabled():
            self._lo, self._hi = 0, math.inf
            return None
        compiled = self.compiled
        self._fn = compiled.dispatcher() if isinstance(compiled, Compiled) else compiled
        return self._fn
