"""Checking gradients: ``gradcheck``, ``gradgradcheck`` and ``detect_anomaly``.

gradcheck compares the engine's Jacobian with central finite differences in float64. When they
disagree it says which input and element, both values, and which op's own backward rule is wrong
(it re-checks every node of the failing graph on its own).
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import warnings
from collections.abc import Callable

import numpy as np

from .dtypes import is_floating
from .grad_mode import STATE, ModeStack, enable_grad, no_grad
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
        return _first_derivatives(fn, args[:n], args[n:], wrt, create_graph=True)[0]

    # NOTE: gradcheck below differentiates the first derivative that create_graph=True builds
    # from the ops' Tensor-level backward; it cannot see whether that derivative is right (a
    # wrong one has a consistent derivative of its own). The array-level rules are the ones
    # gradcheck checks against finite differences: the two must agree first.
    differing = _create_graph_disagreement(fn, inputs, wrt, grad_outputs, atol, rtol)
    if differing:
        if not raise_exception:
            return False
        raise GradcheckError(f"gradgradcheck: {differing}")
    # the blame names an op of the recorded backward whose own first-order rule is wrong
    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception, seed=seed)


def _first_derivatives(fn, xs, vs, wrt, create_graph: bool) -> tuple[tuple, list]:
    """vᵀ·∂fn/∂x for the inputs ``x = xs[i]``, i in ``wrt`` (zeros where fn does not depend
    on x), through ``engine.grad`` with ``create_graph``; and the outputs it differentiated."""
    with enable_grad():              # also when gradcheck evaluates it under no_grad
        outs = [o for o in _as_tuple(fn(*xs)) if is_floating(o.dtype)]
        live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        grads = engine.grad([o for o, _ in live], [xs[i] for i in wrt], [v for _, v in live],
                            create_graph=create_graph, allow_unused=True)
    return (tuple(g if g is not None else Tensor(np.zeros(xs[i].shape, xs[i].dtype))
                  for g, i in zip(grads, wrt)), [o for o, _ in live])


def _create_graph_disagreement(fn, inputs, wrt, grad_outputs, atol, rtol) -> str | None:
    """Where ``create_graph=True`` and ``create_graph=False`` give different first derivatives
    vᵀ·∂fn/∂x (|a − b| > atol + rtol·|b|): a message naming the input and the ops; else None."""
    graph, outputs = _first_derivatives(fn, inputs, grad_outputs, wrt, create_graph=True)
    plain, _ = _first_derivatives(fn, inputs, grad_outputs, wrt, create_graph=False)
    for i, a, b in zip(wrt, graph, plain):
        a, b = np.asarray(a.data), np.asarray(b.data)
        if not np.all(np.abs(a - b) <= atol + rtol * np.abs(b)):
            ops = {node.op.__name__ for node in topological_order(
                [o._node for o in outputs if o._node is not None])}
            worst = tuple(int(k) for k in np.unravel_index(np.argmax(np.abs(a - b)), a.shape))
            return (f"the first derivative for input {i} (shape {inputs[i].shape}) is "
                    f"{a[worst]:.6g} with create_graph=True but {b[worst]:.6g} without, at "
                    f"index {worst}: the Tensor-level backward of one of "
                    f"{', '.join(sorted(ops))} disagrees with its array-level rule")
    return None


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager / decorator: raise at the first NaN or Inf produced in forward or backward.

    The error names the op and, for backward, where that op was created in your code (the
    forward traceback is recorded while this mode is on, which slows recording down).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self._previous = ModeStack()            # per thread, as grad mode's (see grad_mode.py)

    def __enter__(self) -> detect_anomaly:
        self._previous.push(STATE.anomaly_enabled)
        STATE.anomaly_enabled = self.check_nan
        _observe_backward(+1 if self.check_nan else 0)
        return self

    def __exit__(self, *exc) -> bool:
        STATE.anomaly_enabled = self._previous.pop()
        _observe_backward(-1 if self.check_nan else 0)
        return False


_observer_lock = threading.Lock()
_observer = {"users": 0, "handle": None}


def _observe_backward(change: int) -> None:
    """Keep the backward NaN check registered while any thread is inside ``detect_anomaly``.

    NOTE: observers are process-wide; the check itself reads the calling thread's anomaly mode,
    so a thread outside ``detect_anomaly`` is never stopped by another thread's block.
    """
    if not change:
        return
    with _observer_lock:
        _observer["users"] += change
        if _observer["users"] and _observer["handle"] is None:
            _observer["handle"] = engine.add_observer(_check_backward_step)
        elif not _observer["users"] and _observer["handle"] is not None:
            _observer["handle"].remove()
            _observer["handle"] = None


def _check_backward_step(step: engine.BackwardStep) -> None:
    if not STATE.anomaly_enabled:
        return
    for index, g in enumerate(step.input_grads):
        if g is None or np.isfinite(g.data).all():
            continue
        bad = "nan" if np.isnan(g.data).any() else "inf"
        trace = step.node.creation_trace
        where = f"\nThe {step.node.op.name} op was created at:\n{trace}" if trace else ""
        raise RuntimeError(f"detect_anomaly: {step.node.op.name} backward produced {bad} in the "
                           f"gradient of input {index} (shape {g.shape}, {g.dtype}){where}")


# --- checks of a recorded graph, op by op and end to end (viz colours what these return) ------
def check_ops(order, max_inputs: int = 2000) -> dict:
    """``{node: status}``: does each recorded op's backward rule agree with its forward?

    Each op is re-run alone on float64 copies of its inputs and checked with :func:`gradcheck`:
    "ok" or "fail". "nonfinite": its output holds NaN/Inf while none of its inputs does (where
    the trouble starts); "downstream": an input already holds NaN/Inf, so finite differences
    say nothing about this op (not checked); "skipped": more than ``max_inputs`` input elements.
    ``order`` is a list of nodes (e.g. ``topological_order([out.grad_fn])``).
    """
    status = {}
    for node in order:
        finite_inputs = all(not is_floating(t.dtype) or np.all(np.isfinite(t.data))
                            for t in node.inputs)
        if not finite_inputs:
            status[node] = "downstream"
        elif not np.all(np.isfinite(node.output.data)):
            status[node] = "nonfinite"
        elif sum(t.size for t in node.inputs) > max_inputs:
            status[node] = "skipped"
        else:
            status[node] = "ok" if _check_one_op(node) else "fail"
    return status


def _check_one_op(node) -> bool:
    copies = [Tensor(t.data.astype(np.float64), requires_grad=t.requires_grad)
              if is_floating(t.dtype) else t for t in node.inputs]
    op, kwargs = node.op, node.kwargs or {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gradcheck(lambda *xs: op.apply(*xs, **kwargs), copies,
                             raise_exception=False, blame=False)
    except Exception:                                   # noqa: BLE001 — the op fails its check
        return False


def replay(output, order, substitute: dict):
    """Run the recorded graph of ``output`` again, in float64, with some tensors replaced.

    ``substitute`` maps ``id(tensor)`` → the Tensor to use instead; every other floating leaf
    is used as a float64 copy without requires_grad (the user's tensors and hooks are never
    touched). Each op is re-applied with its recorded keywords, so a random op's mask, recorded
    as a constant input, is the same. Returns the new output.
    """
    values: dict[int, object] = {}

    def value(t):
        if id(t) in substitute:
            return substitute[id(t)]
        if id(t) not in values:
            values[id(t)] = Tensor(t.data.astype(np.float64)) if is_floating(t.dtype) else t
        return values[id(t)]

    for node in reversed(list(order)):                  # producers first
        if id(node.output) not in substitute:
            values[id(node.output)] = node.op.apply(*[value(t) for t in node.inputs],
                                                    **(node.kwargs or {}))
    return value(output)


@dataclasses.dataclass
class InputCheck:
    """The end-to-end check of ∂J/∂x for one input x (J = the output, or its sum).

    ``status`` "ok", "fail" or "unused" (no path to the output); ``method`` "full" (every
    element perturbed) or "projected" (random unit directions u: ⟨∂J/∂x, u⟩ against
    (J(x + εu) − J(x − εu)) / 2ε); ``max_error`` the largest |analytical − numerical|.
    """

    name: str
    tensor: object
    status: str
    method: str
    max_error: float
    analytical: np.ndarray
    numerical: np.ndarray


def check_inputs(output, inputs, order, names: dict | None = None, *, max_full: int = 100,
                 projections: int = 3, eps: float = 1e-6, atol: float = 1e-5,
                 rtol: float = 1e-3) -> list[InputCheck]:
    """End-to-end gradient check of ``output`` with respect to each of ``inputs``.

    The analytical ∂J/∂x comes from the engine on a float64 :func:`replay` of the graph, the
    numerical one from central differences of the same replay. Inputs with at most ``max_full``
    elements are perturbed element by element, larger ones along ``projections`` random unit
    directions. Agreement: |analytical − numerical| ≤ atol + rtol·|numerical| (gradcheck's rule).
    ``names`` maps ``id(tensor)`` → the name reported (default ``tensor.name`` or "input<k>").
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    results = []
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"check_inputs: inputs must be Tensors, got {type(x).__name__} at "
                            f"position {k}")
        if not is_floating(x.dtype):
            raise TypeError(f"check_inputs: input {k} has dtype {x.dtype}; only floating "
                            "tensors can be checked by finite differences")
        name = (names or {}).get(id(x)) or getattr(x, "name", None) or f"input{k}"
        results.append(_check_input(output, order, x, name, max_full, projections, eps, atol,
                                    rtol))
    return results


def _replayed_grad(output, order, x):
    x64 = Tensor(x.data.astype(np.float64), requires_grad=True)
    with enable_grad():
        out = replay(output, order, {id(x): x64})
        if not out.requires_grad:
            return None
        seed = None if out.size == 1 else Tensor(np.ones(out.shape))
        (g,) = engine.grad([out], [x64], grad_outputs=[seed], allow_unused=True, hooks=False)
    return None if g is None else np.asarray(g.data, dtype=np.float64)


def _check_input(output, order, x, name, max_full, projections, eps, atol, rtol) -> InputCheck:
    analytical = _replayed_grad(output, order, x)
    if analytical is None:
        zeros = np.zeros(x.shape)
        return InputCheck(name, x, "unused", "full", 0.0, zeros, zeros)
    base = x.data.astype(np.float64)

    def J(xv):
        with no_grad():
            return float(np.sum(replay(output, order, {id(x): Tensor(xv)}).data))

    if x.size <= max_full:
        directions = [np.eye(x.size)[i].reshape(x.shape) for i in range(x.size)]
        method = "full"
    else:
        rng = np.random.default_rng(0)
        directions = [u / (np.linalg.norm(u) or 1.0)
                      for u in (rng.standard_normal(x.shape) for _ in range(projections))]
        method = "projected"
    a_cmp = np.array([np.sum(analytical * u) for u in directions])
    n_cmp = np.array([(J(base + eps * u) - J(base - eps * u)) / (2 * eps) for u in directions])
    error = np.abs(a_cmp - n_cmp)
    ok = bool(np.all(error <= atol + rtol * np.abs(n_cmp)))
    numerical = n_cmp.reshape(x.shape) if method == "full" else n_cmp
    return InputCheck(name, x, "ok" if ok else "fail", method,
                      float(error.max()) if error.size else 0.0, analytical, numerical)
