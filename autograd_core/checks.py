"""Checking gradients: ``gradcheck``, ``gradgradcheck`` and ``detect_anomaly``.

gradcheck compares the engine's Jacobian with central finite differences in float64. When they
disagree it says which input and element, both values, and which op's own backward rule is wrong
(it re-checks every node of the failing graph on its own).
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable

import numpy as np

from .dtypes import is_floating
from .grad_mode import STATE, enable_grad, no_grad
from .graph import engine
from .graph.walk import topological_order
from .tensor import Tensor

MAX_FULL_JACOBIAN = 10_000


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when analytical and numerical gradients disagree."""


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _evaluate(fn, inputs) -> list[np.ndarray]:
    """fn's floating outputs as float64 arrays (the outputs gradcheck checks, in their order)."""
    with no_grad():
        outputs = _as_tuple(fn(*inputs))
    return [np.array(o.data, dtype=np.float64) for o in outputs if is_floating(o.dtype)]


def _numerical_column(fn, inputs, x: Tensor, direction: np.ndarray, eps: float
                      ) -> list[np.ndarray]:
    """(f(x + eps·d) − f(x − eps·d)) / 2eps for every output, x perturbed in place and restored."""
    original = x.data.copy()
    try:
        x.data[...] = original + eps * direction
        plus = _evaluate(fn, inputs)
        x.data[...] = original - eps * direction
        minus = _evaluate(fn, inputs)
    finally:
        x.data[...] = original
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _vjp(outputs, x: Tensor, out_index: int, v: np.ndarray) -> np.ndarray:
    """vᵀ·∂outputs[out_index]/∂x from the engine (zeros when no path)."""
    o = outputs[out_index]
    if not o.requires_grad:
        return np.zeros(x.shape)
    (g,) = engine.grad(o, [x], Tensor(v.astype(o.dtype)), retain_graph=True, allow_unused=True)
    if g is None:
        return np.zeros(x.shape)
    if g.shape != x.shape or g.dtype != x.dtype:
        raise GradcheckError(f"gradcheck: the gradient for an input of shape {x.shape}, {x.dtype} "
                             f"has shape {g.shape}, {g.dtype}")
    return np.array(g.data, dtype=np.float64)


def _close(analytical, numerical, atol, rtol) -> np.ndarray:
    return np.abs(analytical - numerical) <= atol + rtol * np.abs(numerical)


def _float64_copies(inputs) -> tuple:
    """The inputs for finite differences: floating tensors that are not float64 become float64
    copies (so a float32 function is still differentiated numerically in float64)."""
    return tuple(Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
                 if isinstance(x, Tensor) and is_floating(x.dtype) and x.dtype != np.float64
                 else x for x in inputs)


def _check_pair(fn, inputs, numeric_inputs, outputs, out_index, in_index, eps, atol, rtol, rng
                ) -> str | None:
    """Compare one (output, input) block of the Jacobian; return a failure message or None."""
    o, x = outputs[out_index], inputs[in_index]
    x_numeric = numeric_inputs[in_index]
    if o.size * x.size <= MAX_FULL_JACOBIAN:
        analytical = np.zeros((o.size, x.size))
        for row in range(o.size):
            v = np.zeros(o.size)
            v[row] = 1
            analytical[row] = _vjp(outputs, x, out_index, v.reshape(o.shape)).ravel()
        numerical = np.zeros((o.size, x.size))
        for col in range(x.size):
            d = np.zeros(x.size)
            d[col] = 1
            numerical[:, col] = _numerical_column(fn, numeric_inputs, x_numeric,
                                                  d.reshape(x.shape), eps)[out_index].ravel()
        ok = _close(analytical, numerical, atol, rtol)
        if ok.all():
            return None
        row, col = np.unravel_index(np.argmax(~ok * np.abs(analytical - numerical)), ok.shape)
        out_at = tuple(int(i) for i in np.unravel_index(row, o.shape))
        in_at = tuple(int(i) for i in np.unravel_index(col, x.shape))
        return (f"Jacobian mismatch for output {out_index} with respect to input {in_index} at "
                f"output index {out_at}, input index {in_at}: analytical "
                f"{float(analytical[row, col])!r}, numerical {float(numerical[row, col])!r}")
    for _ in range(2):                  # large blocks: random projections vᵀ J u
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u) or 1
        v = rng.standard_normal(o.shape)
        analytical = float(np.sum(_vjp(outputs, x, out_index, v) * u))
        numerical = float(np.sum(_numerical_column(fn, numeric_inputs, x_numeric, u, eps
                                                   )[out_index] * v))
        if not _close(analytical, numerical, atol, rtol):
            return (f"projected Jacobian mismatch (vᵀJu with random unit vectors) for output "
                    f"{out_index} with respect to input {in_index}: analytical {analytical!r}, "
                    f"numerical {numerical!r}")
    return None


def _check_extras(outputs, wrt) -> str | None:
    """Reentrancy (two sweeps agree exactly) and zero grad_output → zero gradient."""
    live = [o for o in outputs if o.requires_grad]
    if not live:
        return None
    rng = np.random.default_rng(1)
    vs = [Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in live]
    first = engine.grad(live, wrt, vs, retain_graph=True, allow_unused=True)
    second = engine.grad(live, wrt, vs, retain_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(first, second)):
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a.data, b.data)):
            return f"backward is not reentrant: two sweeps gave different gradients for input {i}"
    zeros = [Tensor(np.zeros(o.shape, o.dtype)) for o in live]
    for i, g in enumerate(engine.grad(live, wrt, zeros, retain_graph=True, allow_unused=True)):
        if g is not None and np.any(g.data != 0):
            return f"a zero grad_output gave a non-zero gradient for input {i}"
    return None


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, *, blame: bool = True, seed: int = 0) -> bool:
    """Check the engine's gradients of ``fn(*inputs)`` against central finite differences.

    Every input Tensor with ``requires_grad`` is checked, for every floating output. Blocks of up
    to 10⁴ Jacobian entries are compared in full, larger ones through random projections vᵀJu.
    Also checks reentrancy, that a zero grad_output gives zero gradients, and gradient
    shapes/dtypes. Inputs should be float64 (a warning says so otherwise).

    On failure raises ``GradcheckError`` naming the input, the element, both values and the op
    whose own backward rule disagrees with its forward; with ``raise_exception=False`` returns
    False instead.

    >>> import autograd_core as ag
    >>> x = ag.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    >>> ag.gradcheck(lambda x: (x * x).tanh(), (x,))
    True
    """
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if any(inputs[i].dtype != np.float64 for i in wrt):
        warnings.warn("gradcheck: inputs are not float64; the finite differences are taken in "
                      "float64 copies, but the analytical gradients keep the inputs' precision",
                      stacklevel=2)
    numeric_inputs = _float64_copies(inputs)
    rng = np.random.default_rng(seed)
    with enable_grad():
        outputs = [o for o in _as_tuple(fn(*inputs)) if is_floating(o.dtype)]
        failure = None
        for out_index in range(len(outputs)):
            for in_index in wrt:
                failure = _check_pair(fn, inputs, numeric_inputs, outputs, out_index, in_index,
                                      eps, atol, rtol, rng)
                if failure:
                    break
            if failure:
                break
        if failure is None:
            failure = _check_extras(outputs, [inputs[i] for i in wrt])
    if failure is None:
        return True
    if not raise_exception:
        return False
    if blame:
        culprits = _blame(fn, inputs, eps, atol, rtol)
        if culprits:
            failure += f". The backward rule of {', '.join(culprits)} disagrees with its forward"
    raise GradcheckError(f"gradcheck: {failure}")


def _blame(fn, inputs, eps, atol, rtol) -> list[str]:
    """Names of the ops in fn's graph whose backward fails gradcheck on its own."""
    with enable_grad():
        roots = [o._node for o in _as_tuple(fn(*inputs)) if o._node is not None]
    culprits: list[str] = []
    for node in topological_order(roots):
        leaves = [Tensor(np.array(t.data, copy=True),
                         requires_grad=t.requires_grad and is_floating(t.dtype))
                  for t in node.inputs]

        def local(*xs, node=node):
            return node.op.apply(*xs, **node.kwargs)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not gradcheck(local, leaves, eps, atol, rtol, raise_exception=False, blame=False):
                if node.op.__name__ not in culprits:
                    culprits.append(node.op.__name__)
    return culprits


def gradgradcheck(fn: Callable, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, *, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) ↦ vᵀ·∂fn/∂inputs, whose analytical
    gradient comes from differentiating the recorded backward pass (``create_graph=True``)."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outputs = [o for o in _as_tuple(fn(*inputs)) if is_floating(o.dtype)]
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True)
                        for o in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():              # also when gradcheck evaluates it under no_grad
            return _first_derivative(xs, vs)

    def _first_derivative(xs, vs):
        outs = [o for o in _as_tuple(fn(*xs)) if is_floating(o.dtype)]
        live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros(xs[i].shape)) for i in wrt)
        grads = engine.grad([o for o, _ in live], [xs[i] for i in wrt], [v for _, v in live],
                            create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(xs[i].shape, xs[i].dtype))
                     for g, i in zip(grads, wrt))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception, blame=False, seed=seed)


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager / decorator: raise at the first NaN or Inf produced in forward or backward.

    The error names the op and, for backward, where that op was created in your code (the
    forward traceback is recorded while this mode is on, which slows recording down).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> detect_anomaly:
        self.previous = STATE.anomaly_enabled
        STATE.anomaly_enabled = self.check_nan
        self.handle = engine.add_observer(_check_backward_step) if self.check_nan else None
        return self

    def __exit__(self, *exc) -> bool:
        STATE.anomaly_enabled = self.previous
        if self.handle is not None:
            self.handle.remove()
        return False


def _check_backward_step(step: engine.BackwardStep) -> None:
    for index, g in enumerate(step.input_grads):
        if g is None or np.isfinite(g.data).all():
            continue
        bad = "nan" if np.isnan(g.data).any() else "inf"
        trace = step.node.creation_trace
        where = f"\nThe {step.node.op.name} op was created at:\n{trace}" if trace else ""
        raise RuntimeError(f"detect_anomaly: {step.node.op.name} backward produced {bad} in the "
                           f"gradient of input {index} (shape {g.shape}, {g.dtype}){where}")
