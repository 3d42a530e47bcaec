"""Memory behaviour of the engine: deep graphs without recursion, saved arrays freed by reference
counting alone after backward (the graph has no reference cycles), and training loops that do not
grow memory.

Most tests run with the cyclic garbage collector disabled: whatever they expect to be freed must
be freed by reference counting, as DESIGN.md §4 requires ("no reference cycles in the graph").
"""
from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def no_gc():
    """Disable the cyclic collector for the test (after clearing what earlier tests left)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _all_dead(refs) -> bool:
    return all(ref() is None for ref in refs)


# --- deep graphs ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_million_node_chain_backward_without_recursion(no_gc):
    # NOTE: the cyclic collector is off only for speed: it rescans the growing heap while the
    # million nodes are built (about 2x the forward time) and the graph needs none of it
    n = 1_000_000
    factor = 1.0000001
    x = ag.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * factor
    y.backward()                                   # RecursionError if any walk recursed
    expected = np.float64(factor) ** n             # d(x·cⁿ)/dx = cⁿ ≈ e^0.1
    np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-9)
    np.testing.assert_allclose(y.item(), expected, rtol=1e-9)


def test_deep_chain_can_be_dropped_without_backward(no_gc):
    # deallocating a 200,000-deep chain must not overflow the C stack, nor need the collector
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(200_000):
        y = y + 1.0
    ref = weakref.ref(y.grad_fn)
    del y
    assert ref() is None
    assert gc.collect() == 0


def test_deep_chain_mixed_ops_gradient():
    x = ag.tensor([0.3, -0.2], dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(20_000):                        # tanh keeps values bounded: y ↦ tanh(y)·1 + 0
        y = (y.tanh() * 1.0) + 0.0
    y.sum().backward()
    # reference by the chain rule, iteratively
    value, grad = x.numpy().copy(), np.ones(2)
    values = []
    for _ in range(20_000):
        values.append(value)
        value = np.tanh(value)
    for v in reversed(values):
        grad = grad * (1 - np.tanh(v) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-10)


# --- freeing after backward -----------------------------------------------------------------------
def _mlp_graph(depth: int, width: int):
    """A deep tanh network; returns the loss, the leaves, and weakrefs to every intermediate."""
    x = ag.randn(8, width)
    weights = [ag.randn(width, width, requires_grad=True) for _ in range(depth)]
    h, refs = x, []
    for w in weights:
        h = (h @ w * (1.0 / np.sqrt(width))).tanh()
        refs += [weakref.ref(h), weakref.ref(h.data), weakref.ref(h.grad_fn)]
    loss = (h * h).mean()
    return loss, weights, refs


def test_intermediates_are_freed_by_refcounting_after_backward(no_gc):
    loss, weights, refs = _mlp_graph(depth=50, width=32)
    nodes = [ref() for ref in refs[2::3]]
    assert not _all_dead(refs)
    del nodes
    loss.backward()
    # the root (loss) is still alive; everything between it and the leaves is gone
    assert _all_dead(refs)
    assert loss.grad_fn.released and loss.grad_fn.inputs == ()
    assert all(w.grad is not None and w.grad.shape == w.shape for w in weights)


def test_released_nodes_drop_their_inputs_and_saved_values(no_gc):
    class SaveBig(ag.Op):
        """out = 2x, with an extra array saved on ctx (as ops that keep masks do)."""

        @staticmethod
        def forward(ctx, x):
            ctx.big = np.ones(10_000)
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            assert ctx.big.shape == (10_000,)
            return grad * 2

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = SaveBig.apply(h)
    saved = weakref.ref(y.grad_fn.big)
    inner = weakref.ref(h)
    loss = y.sum()
    del h, y
    node_of_y = loss.grad_fn.inputs[0].grad_fn
    loss.backward()
    assert saved() is None and inner() is None
    assert node_of_y.inputs == () and not hasattr(node_of_y, "big")
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_retained_graph_is_freed_when_dropped(no_gc):
    loss, weights, refs = _mlp_graph(depth=10, width=8)
    loss.backward(retain_graph=True)
    assert not _all_dead(refs)                     # kept for a second backward
    del loss
    assert _all_dead(refs)                         # ...and freed with the root
    assert gc.collect() == 0


def test_graph_without_backward_is_freed_when_dropped(no_gc):
    loss, weights, refs = _mlp_graph(depth=10, width=8)
    del loss
    assert _all_dead(refs)


def test_building_and_dropping_graphs_creates_no_reference_cycles(no_gc):
    x = ag.randn(4, 6, requires_grad=True)
    w = ag.randn(6, 5, requires_grad=True)
    b = ag.zeros(5, requires_grad=True)
    labels = ag.tensor([0, 3, 1, 4])
    # NOTE: the first run is a warm-up: the first call of a compiled kernel imports and loads
    # Numba, which leaves cyclic garbage of its own; only the later runs are measured
    for run, backward in enumerate((True, False, True)):
        h = (x @ w + b).relu()
        z = ag.concatenate([h[:, :2], h[:, 2:].sigmoid()], axis=1).reshape(4, 5).T.T
        loss = -(z.log_softmax(axis=-1) * ag.one_hot(labels, 5)).sum(axis=1).mean()
        loss = loss + z.max(axis=0).sum() * 0.1 + (z[z > 0.5] ** 2).sum() * 0.01
        if backward:
            loss.backward()
        del h, z, loss
        collected = gc.collect()
        assert run == 0 or collected == 0          # nothing needed the cycle collector
    assert gc.collect() == 0


def test_grad_and_hooks_leave_no_cycles(no_gc):
    x = ag.randn(3, requires_grad=True)
    (x.exp() * x).sum().backward()                 # warm-up: loads the kernels (see above)
    x.grad = None
    gc.collect()
    h = x.exp()
    h.retain_grad()
    h.register_hook(lambda grad: grad * 2)
    ag.grad((h * x).sum(), [x, h], retain_graph=True)
    (h * x).sum().backward()
    ref = weakref.ref(h)
    del h
    assert ref() is None
    assert gc.collect() == 0


# --- training loops do not grow memory ------------------------------------------------------------
def _training_run(steps: int, on_step) -> None:
    x = ag.randn(32, 4)
    target = (x.numpy()[:, :1] * 2 - x.numpy()[:, 1:2]).astype(np.float32)
    w1 = ag.tensor(ag.randn(4, 16).numpy() * 0.5, requires_grad=True)
    b1 = ag.zeros(16, requires_grad=True)
    w2 = ag.tensor(ag.randn(16, 1).numpy() * 0.5, requires_grad=True)
    b2 = ag.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    first = last = None                            # (a list of losses would itself grow)
    for step in range(1, steps + 1):
        out = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((out - target) ** 2).mean()
        loss.backward()
        with ag.no_grad():
            for p in params:
                p -= 0.05 * p.grad
                p.grad.zero_()
        last = loss.item()
        first = last if first is None else first
        del out, loss
        on_step(step)
    assert last < 0.5 * first                      # it really trained


def _count_live(kind) -> int:
    # NOTE: type() rather than isinstance(), which would read __class__ on every object
    # (lazy module proxies of other libraries warn when touched)
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_training_steps_do_not_grow_memory(no_gc):
    marks = {}

    def on_step(step):
        if step in (20, 100, 200):
            # NOTE: a full collection also empties CPython's free lists (up to 2,000 spare
            # tuples of each size), which would otherwise fill up over the first few thousand
            # steps and look like growth; it must find no cyclic garbage
            marks[step] = (gc.collect(), tracemalloc.get_traced_memory()[0],
                           _count_live(ag.Tensor))

    tracemalloc.start()
    try:
        _training_run(200, on_step)
    finally:
        tracemalloc.stop()
    (found20, bytes20, tensors20) = marks[20]
    for step in (100, 200):
        found, traced, tensors = marks[step]
        assert found == 0 and tensors == tensors20
        # a few hundred bytes are expected: version counters passing 256 become new int objects
        assert abs(traced - bytes20) < 2048, (step, bytes20, traced)


def test_gradient_buffers_are_reused_across_steps(no_gc):
    w = ag.randn(3, 3, requires_grad=True)
    x = ag.randn(5, 3)
    buffers = set()
    for _ in range(10):
        (x @ w).tanh().sum().backward()
        buffers.add(id(w.grad.numpy()))
        with ag.no_grad():
            w -= 0.01 * w.grad
            w.grad.zero_()
    assert len(buffers) == 1
