"""The backward engine: one sweep over the graph in reverse topological order.

Each node runs once, after every consumer of its output has added its part of the gradient (the
course's *suma de salidas*). The node's op turns the incoming gradient δ into one gradient per
input (its inverse-neuron rule); the engine sums each of them back to the input's shape where the
forward broadcast (``sum_to``, the only place broadcasting is undone), then accumulates it: into
``.grad`` for leaves, into the pending gradient of the producing node otherwise.

Observers (``add_observer``) see every step; viz and ``detect_anomaly`` are built on them.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..grad_mode import STATE, set_grad_enabled
from .walk import topological_order


@dataclass
class BackwardStep:
    """What observers receive after a node's backward rule ran.

    ``grad`` is the complete gradient of the node's output; ``raw_input_grads`` what the rule
    returned; ``input_grads`` the same after summing over broadcast axes (None where no gradient).
    """

    node: object
    grad: object
    raw_input_grads: tuple
    input_grads: tuple


#: ticket -> observer; a handle removes its own registration only (the same function may be
#: registered twice)
_observers: dict[int, Callable[[BackwardStep], None]] = {}
_tickets = itertools.count()


class _ObserverHandle:
    def __init__(self, ticket: int) -> None:
        self.ticket = ticket

    def remove(self) -> None:
        _observers.pop(self.ticket, None)

    def __enter__(self) -> _ObserverHandle:
        return self

    def __exit__(self, *exc) -> bool:
        self.remove()
        return False


def add_observer(fn: Callable[[BackwardStep], None]) -> _ObserverHandle:
    """Call ``fn(step)`` after every node's backward rule; the handle's ``remove()`` undoes it.

    The handle is also a context manager: ``with add_observer(record): loss.backward()``.
    """
    ticket = next(_tickets)
    _observers[ticket] = fn
    return _ObserverHandle(ticket)


def increment_version(tensor) -> None:
    """Record that ``tensor.data`` was changed in place by code outside the engine (an optimizer
    writing with numpy ``out=``): a graph that saved the old values then refuses to backward
    through them. ``tensor`` is a Tensor or an iterable of Tensors, as in PyTorch's
    ``torch.autograd.graph.increment_version``."""
    for t in [tensor] if isinstance(tensor, Tensor) else tensor:
        # NOTE: Tensor._bump_version spelled inline: its method call doubled the cost (the
        # compiled step bumps every parameter at every step)
        (t._version_box or t._box())[0] += 1


def backward(root, gradient=None, *, retain_graph: bool | None = None, create_graph: bool = False,
             inputs=None) -> None:
    """``root.backward(gradient)``: accumulate d(root)/d(leaf) into the leaves' ``.grad``.

    ``retain_graph`` defaults to ``create_graph`` (as in PyTorch).
    """
    if retain_graph is None:
        retain_graph = create_graph
    seed = _seed(root, gradient, "backward")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        captured = run([root], [seed], retain_graph=retain_graph, create_graph=create_graph,
                       targets=inputs)
        for t, g in zip(inputs, captured):
            if g is not None:
                _accumulate_leaf(t, g, create_graph)
        return
    run([root], [seed], retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False, *, hooks: bool = True) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated in ``.grad``).

    ``grad_outputs`` gives ∂J/∂output for each output (required for non-scalar outputs). With
    ``create_graph=True`` the results are themselves differentiable (grad of grad).
    ``hooks=False`` (not in PyTorch) skips the tensors' ``register_hook`` hooks: a pass made to
    look at the gradients (viz) neither triggers the user's hooks nor sees them change a gradient.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} ({_describe(t)}) does not require grad")
    seeds = [_seed(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    results = run(outputs, seeds, retain_graph=retain, create_graph=create_graph, targets=inputs,
                  hooks=hooks)
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} ({_describe(t)}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
    return tuple(results)


def run(roots: Sequence, seeds: Sequence, *, retain_graph: bool, create_graph: bool,
        targets: Sequence | None = None, hooks: bool = True) -> list | None:
    """The reverse sweep. With ``targets``, return their gradients instead of filling ``.grad``;
    with ``hooks=False``, the tensors' hooks are not called."""
    capture = None if targets is None else {id(t): None for t in targets}
    pending: dict = {}
    leaves: dict = {}                                   # id(leaf) -> [leaf, summed gradient]
    for root, seed in zip(roots, seeds):
        if root._node is None:                          # a leaf is its own root: J = x
            _add_leaf(leaves, root, seed)
        else:
            _add_pending(pending, root._node, seed)
    nodes = list(pending)
    order = list(topological_order(nodes)) if nodes else []
    if capture is not None:
        order = _prune(order, capture)
    with set_grad_enabled(create_graph):
        for node in order:
            grad = pending.pop(node, None)
            if grad is None:                            # no gradient flows into this node
                continue
            _run_node(node, grad, pending, leaves, capture, create_graph, hooks)
        # NOTE: a leaf's gradient is complete only after the sweep (it may feed several ops):
        # its hooks see the sum once, as a non-leaf's hooks do
        for leaf, g, owned in leaves.values():
            _deliver(leaf, g, capture, create_graph, hooks, owned and not (hooks and leaf._hooks))
    if not retain_graph:
        # NOTE: released only after the sweep: a node's output tensor is kept alive by its
        # consumers' inputs (the node holds it weakly), and backward rules read it
        for node in order:
            node.release()
    if capture is not None:
        return [capture[id(t)] for t in targets]
    return None


def _run_node(node, grad, pending, leaves, capture, create_graph, hooks=True) -> None:
    op = node.op
    if node.released:
        raise RuntimeError(
            f"{op.name}: trying to backward through the graph a second time, but its saved "
            "values were freed by the first backward; pass retain_graph=True to the first "
            "backward (or grad) call if you need to go through it again")
    out = node._output_ref()
    if out is not None and ((hooks and out._hooks) or out._retains_grad or
                            (capture is not None and id(out) in capture)):
        grad = _deliver(out, grad, capture, create_graph, hooks)
    if node.saved_versions is not None:
        node.check_versions()
    # NOTE: a plain backward (nothing recorded) runs the op's array-level rule when it has one
    if create_graph or op.backward_arrays is None:
        rule, given = op.backward, grad
    else:
        rule, given = op.backward_arrays, grad._data
    raw = _rule_under_anomaly(rule, node, given) if STATE.anomaly_enabled else rule(node, given)
    if type(raw) is not tuple:
        raw = (raw,)
    inputs = node.inputs
    if len(raw) != len(inputs):
        raise RuntimeError(f"{op.name}: backward returned {len(raw)} gradient(s) for "
                           f"{len(inputs)} input(s)")
    # NOTE: observers must see every input's gradient before any is passed on, so with
    # observers the gradients are collected first; without (the usual case), each is passed on
    # as soon as it is fitted, saving a list and a second loop per node
    observed = [] if _observers else None
    for index, t in enumerate(inputs):
        g = raw[index]
        if g is None or not t._requires_grad:
            if observed is not None:
                observed.append(None)
            continue
        if type(g) is not Tensor:
            g = g if isinstance(g, Tensor) else Tensor._from_op(np.asarray(g), False)
        g_data, t_data = g._data, t._data
        # NOTE: ``is`` first: numpy's builtin dtypes are usually the same object, and comparing
        # them with ``!=`` costs as much as a small array operation
        if g_data.shape != t_data.shape or (g_data.dtype is not t_data.dtype
                                            and g_data.dtype != t_data.dtype):
            g = _fit_to_input(g, t, op, index)
        if observed is not None:
            observed.append(g)
        elif t._node is not None:
            _add_pending(pending, t._node, g)
        elif id(t) in leaves:
            _add_leaf(leaves, t, g)
        else:
            leaves[id(t)] = [t, g, _is_fresh(g, grad, node, raw, index)]
    if observed is not None:
        _notify_observers(BackwardStep(node, grad, raw, tuple(observed)), pending, leaves)


def _rule_under_anomaly(rule, node, given):
    """``rule(node, given)`` with the forward anomaly check off: the ops a backward rule runs
    must not trip it; a NaN made here is reported by detect_anomaly's observer as this op's
    backward."""
    STATE.anomaly_enabled = False
    try:
        return rule(node, given)
    finally:
        STATE.anomaly_enabled = True


def _notify_observers(step: BackwardStep, pending: dict, leaves: dict) -> None:
    """Show the step to every observer, then pass its gradients on (never owned: an observer
    may keep them)."""
    for observer in list(_observers.values()):
        observer(step)
    for t, g in zip(step.node.inputs, step.input_grads):
        if g is not None:
            if t._node is not None:
                _add_pending(pending, t._node, g)
            else:
                _add_leaf(leaves, t, g)


def _fit_to_input(g, t, op, index):
    """Sum ``g`` over broadcast axes down to input ``t``'s shape and cast to its dtype."""
    if g.shape != t.shape:
        g = ops.sum_to(g, t.shape, op_name=op.name, input_index=index)
    if g.dtype != t.dtype:
        g = ops.astype(g, t.dtype)
    return g


def _add_pending(pending: dict, node, g) -> None:
    previous = pending.get(node)
    pending[node] = g if previous is None else previous + g


def _add_leaf(leaves: dict, t, g, owned: bool = False) -> None:
    """Add ``g`` to leaf ``t``'s sum; ``owned``: the engine may hand ``g`` over without a copy
    (a sum of two contributions is a new array, so it always is)."""
    entry = leaves.get(id(t))
    if entry is None:
        leaves[id(t)] = [t, g, owned]
    else:
        entry[1] = entry[1] + g
        entry[2] = True


def _deliver(t, g, capture, create_graph, hooks=True, private=False):
    """The gradient of ``t`` is complete: run its hooks, then capture or accumulate it.

    ``private``: nothing outside the engine refers to ``g`` or shares its memory (see
    ``_is_fresh``), so it may become ``t.grad`` without a copy.
    """
    if hooks and t._hooks:
        for hook in list(t._hooks.values()):
            g = _run_hook(hook, t, g)
    if capture is not None:
        if id(t) in capture:
            previous = capture[id(t)]
            capture[id(t)] = g if previous is None else previous + g
    elif t._node is None or t._retains_grad:
        _accumulate_leaf(t, g, create_graph, private)
    return g


def _run_hook(hook, t, g):
    """``hook(g)``; its result (if any) replaces ``g`` and must keep ``t``'s shape.

    Under ``detect_anomaly`` a NaN or Inf the hook makes (in its ops or its result) is reported
    as the hook's, not as a forward op's.
    """
    anomaly = STATE.anomaly_enabled
    if anomaly:
        STATE.anomaly_enabled = False
    try:
        replaced = hook(g)
    finally:
        if anomaly:
            STATE.anomaly_enabled = True
    if replaced is None:
        return g
    name = getattr(hook, "__qualname__", type(hook).__name__)
    if not isinstance(replaced, Tensor):
        replaced = Tensor(replaced)
    if replaced.shape != t.shape:
        raise RuntimeError(f"hook {name!r} registered on a tensor of shape {t.shape} returned a "
                           f"gradient of shape {replaced.shape}; a hook must return a gradient "
                           "of the tensor's shape (or None to keep it)")
    if anomaly and not np.isfinite(replaced._data).all():
        bad = "nan" if np.isnan(replaced._data).any() else "inf"
        raise RuntimeError(f"detect_anomaly: hook {name!r} registered on a tensor of shape "
                           f"{t.shape} returned {bad} in the gradient during backward")
    return replaced


def _accumulate_leaf(t, g, create_graph: bool, private: bool = False) -> None:
    """``t.grad += g``: in place into the existing buffer unless the backward is being recorded."""
    current = t._grad
    if create_graph:
        t._grad = g if current is None else current + g
    elif current is None and private and t._node is None and g._data.dtype == t._data.dtype:
        # NOTE: no copy: g is about to be dropped by the engine and no one else can see its
        # memory, so .grad may own it (a parameter's gradient is megabytes; copying it costs
        # ~15% of a batch-1 step on the course's MNIST network)
        t._grad = Tensor._from_op(g._data, False)
    elif current is None or current.requires_grad or t._node is not None:
        data = g._data.astype(t.dtype, copy=True) if current is None else current._data + g._data
        t._grad = Tensor._from_op(data, False)
    else:
        np.add(current._data, g._data, out=current._data, casting="same_kind")
        current._bump_version()


def _is_fresh(g, grad, node, raw: tuple, index: int) -> bool:
    """True when gradient ``g``, which ``node``'s rule returned for input ``index``, is a new
    array that nothing outside the engine can see: then it may become a leaf's ``.grad``
    without a copy (HIPS autograd's ownership flag; PyTorch's AccumulateGrad "steal").

    Not fresh (copied when it becomes ``.grad``): the incoming gradient passed through (add,
    identity), which may be the caller's ``gradient=``, a hook's result or a retained grad; a
    view of any array; the data of the node's inputs, output or saved values; an object the
    rule returned for another input too. Decided by identities only (no reference counts), so
    it holds on every Python version.
    """
    data = g._data
    if g is grad or data is grad._data:
        return False
    base = data.base
    if base is not None and isinstance(base, np.ndarray):   # a view (Numba's arrays have a
        return False                                         # non-array base: not a view)
    if len(raw) > 1:
        for i, other in enumerate(raw):
            if other is not None and i != index and _refers_to(other, g, data):
                return False
    for t in node.inputs:
        if t._data is data:
            return False
    out = node._output_ref()
    if out is not None and out._data is data:
        return False
    if node.__dict__:                       # extra saved values (a mask, a saved tensor…)
        for value in node.__dict__.values():
            if _refers_to(value, g, data):
                return False
    return True


def _refers_to(value, g, data) -> bool:
    """``value`` is the gradient ``g``, its array, or a tensor or view over that array."""
    if value is g or value is data:
        return True
    if isinstance(value, Tensor):
        value = value._data
    return isinstance(value, np.ndarray) and (value is data or value.base is data)


def _prune(order: list, capture: dict) -> list:
    """Keep only the nodes from which some target can be reached (for ``grad(..., inputs)``)."""
    useful = set()
    for node in reversed(order):                         # producers before consumers
        if node.released:              # inputs unknown: keep it, so running it says what happened
            useful.add(node)
            continue
        for t in node.inputs:
            if id(t) in capture or (t._node is not None and t._node in useful):
                useful.add(node)
                break
        out = node._output_ref() if node._output_ref is not None else None
        if out is not None and id(out) in capture:
            useful.add(node)
    return [node for node in order if node in useful]


def _seed(root, gradient, where: str):
    if not isinstance(root, Tensor):
        raise TypeError(f"{where}: expected a Tensor output, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(f"{where}: the output ({_describe(root)}) does not require grad and "
                           "has no grad_fn: none of the tensors it was computed from requires "
                           "grad, or it was computed under no_grad()")
    if gradient is None:
        if root.size != 1:
            raise RuntimeError(f"{where}: the output has shape {root.shape}, not a single "
                               "value; pass gradient= (∂J/∂output) with the same shape")
        return Tensor._from_op(np.ones(root.shape, dtype=root.dtype), False)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(np.asarray(gradient, dtype=root.dtype))
    if gradient.shape != root.shape:
        raise ValueError(f"{where}: gradient has shape {gradient.shape} but the output has shape "
                         f"{root.shape}; they must match")
    return gradient


def _describe(t) -> str:
    if isinstance(t, Tensor):
        return f"shape {t.shape}, {t.dtype}"
    return type(t).__name__


from .. import ops  # noqa: E402  (engine is above ops in the layering)
from ..tensor import Tensor  # noqa: E402
