"""The backward engine: accumulation at branch points, retain/create graph, grad modes, hooks,
observers, custom ops, dtypes and broadcasting, in-place modification and version counters.

Expected values are derived by hand in each test (the course's "suma de salidas": a tensor used
by several ops receives the sum of the gradients coming back from each use).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.graph.walk import topological_order


def leaf(values, dtype=np.float32) -> ag.Tensor:
    return ag.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def close(tensor, expected, rtol=1e-6, atol=1e-6) -> None:
    assert isinstance(tensor, ag.Tensor)
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=rtol, atol=atol)


# --- branch points: "punto de bifurcación → suma de salidas" ------------------------------------
def test_branch_point_sums_the_gradients_of_every_use():
    x = leaf([0.5, -1.0, 2.0])
    y = x * x + 3 * x + x.exp()
    y.sum().backward()
    xv = x.numpy().astype(np.float64)
    close(x.grad, 2 * xv + 3 + np.exp(xv), rtol=1e-6)


def test_same_tensor_twice_in_one_op():
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()                      # both edges of the node lead to x
    close(x.grad, [3.0, -4.0])


def test_diamond_graph():
    # x → a = 2x, b = exp(x) → c = a·b:   dc/dx = 2eˣ + 2x·eˣ
    x = leaf([0.3, -0.7], np.float64)
    a = x * 2
    b = x.exp()
    (a * b).sum().backward()
    xv = x.numpy()
    close(x.grad, 2 * np.exp(xv) + 2 * xv * np.exp(xv), rtol=1e-12)


def test_nested_diamonds_with_uses_at_different_depths():
    # h = tanh(x) feeds a deep path and a direct one: y = sin(exp(h)·3) + h
    # dy/dh = cos(3eʰ)·3eʰ + 1;  dy/dx = dy/dh · (1 − h²)
    x = leaf([0.2, -0.4, 1.1], np.float64)
    h = x.tanh()
    y = (h.exp() * 3).sin() + h
    y.sum().backward()
    hv = np.tanh(x.numpy())
    close(x.grad, (np.cos(3 * np.exp(hv)) * 3 * np.exp(hv) + 1) * (1 - hv ** 2), rtol=1e-12)


def test_non_leaf_branch_point_receives_the_complete_sum_before_it_runs():
    x = leaf([1.0, 2.0], np.float64)
    h = x * 2                                      # used three times below
    seen = {}

    def record(step):
        if step.node is h.grad_fn:
            seen["grad"] = step.grad.numpy().copy()

    with ag.add_observer(record):
        (h * h + h.sin() + 4 * h).sum().backward()
    hv = h.numpy()
    expected_dh = 2 * hv + np.cos(hv) + 4
    np.testing.assert_allclose(seen["grad"], expected_dh, rtol=1e-12)
    close(x.grad, 2 * expected_dh, rtol=1e-12)


# --- accumulation into .grad ---------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls_in_the_same_buffer():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    first, buffer = x.grad, x.grad.numpy()
    close(first, [2.0, 4.0])
    (x * 3).sum().backward()
    assert x.grad is first                         # same Tensor...
    assert x.grad.numpy() is buffer                # ...and the same array, updated in place
    close(x.grad, [5.0, 7.0])


def test_first_gradient_is_a_copy_not_the_callers_seed():
    x = leaf([1.0, 2.0])
    seed = ag.tensor([1.0, 1.0])
    (x + 0).backward(seed)                         # add passes the seed through unchanged
    (x + 0).backward(seed)
    close(x.grad, [2.0, 2.0])
    close(seed, [1.0, 1.0])                        # accumulation never writes into the seed


# The first gradient of a leaf is kept without a copy only when nothing else can see it (engine's
# _is_fresh). Each test below hands the gradient to someone else, then accumulates in place
# again: what that someone holds must not change.
def test_first_gradient_is_not_shared_between_two_leaves_fed_by_add():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()                       # add gives both leaves the same tensor
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a * 2).sum().backward()
    close(a.grad, [3.0, 3.0])
    close(b.grad, [1.0, 1.0])


def test_first_gradient_is_not_shared_with_a_users_seed_array():
    x = leaf([1.0, 2.0])
    seed = np.ones(2, dtype=np.float32)
    x.reshape(2, 1).backward(ag.Tensor(seed.reshape(2, 1)))   # a view of the caller's array
    x.backward(ag.Tensor(seed))                                # a leaf root: the seed itself
    close(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_first_gradient_kept_by_a_hook_is_not_changed_by_later_accumulation():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(seen.append)
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    close(seen[0], [2.0, 2.0])
    close(x.grad, [4.0, 4.0])


def test_first_gradient_kept_by_an_observer_is_not_changed_by_later_accumulation():
    x = leaf([1.0, 2.0])
    steps = []
    with ag.add_observer(steps.append):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    close(steps[-1].input_grads[0], [2.0, 2.0])
    close(x.grad, [4.0, 4.0])


def test_first_gradient_saved_by_a_retained_graph_is_not_changed():
    class PassMask(ag.Op):                         # backward returns a value saved in forward
        saves_inputs = False

        @staticmethod
        def forward(ctx, x):
            ctx.ones = ag.Tensor(np.ones_like(x))
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return ctx.ones

    x = leaf([1.0, 2.0])
    y = PassMask.apply(x)
    y.backward(ag.tensor([1.0, 1.0]), retain_graph=True)
    y.backward(ag.tensor([1.0, 1.0]), retain_graph=True)
    close(x.grad, [2.0, 2.0])
    close(y.grad_fn.ones, [1.0, 1.0])


def test_grad_set_to_none_restarts_accumulation():
    x = leaf([1.0])
    (x * 2).sum().backward()
    x.grad = None
    (x * 5).sum().backward()
    close(x.grad, [5.0])


# --- retain_graph ---------------------------------------------------------------------------------
def test_second_backward_without_retain_graph_raises():
    x = leaf([0.5, 1.0])
    y = (x * x).tanh().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"^sum: .*second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([0.5, 1.0], np.float64)
    y = (x * x).tanh().sum()
    y.backward(retain_graph=True)
    once = x.grad.numpy().copy()
    y.backward()
    close(x.grad, 2 * once, rtol=1e-12)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()                               # the second call did free it


def test_backward_frees_the_graph_nodes():
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = (h * x).sum()
    nodes = [y.grad_fn, h.grad_fn]
    y.backward()
    assert all(node.released and node.inputs == () for node in nodes)


# --- misuse of backward ---------------------------------------------------------------------------
def test_backward_on_non_scalar_without_gradient_names_the_shape():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match=re.escape("backward: the output has shape (2, 2)")):
        (x * 2).backward()


def test_backward_with_mismatched_gradient_shape_names_both_shapes():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=re.escape("backward: gradient has shape (2,) but the "
                                                   "output has shape (3,)")):
        (x * 2).backward(ag.ones(2))


def test_backward_with_gradient_on_non_scalar():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(ag.tensor([1.0, 0.5, -1.0]))
    close(x.grad, [2.0, 2.0, -6.0])


def test_backward_on_tensor_that_does_not_require_grad_raises():
    with pytest.raises(RuntimeError, match=re.escape("backward: the output (shape (2,), float32) "
                                                     "does not require grad")):
        ag.tensor([1.0, 2.0]).backward(ag.ones(2))
    x = leaf([1.0])
    with ag.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"backward: .*shape \(\), float32.*no_grad"):
        y.backward()


def test_backward_on_a_leaf_root():
    x = leaf(3.0)
    x.backward()
    close(x.grad, 1.0)
    v = leaf([1.0, 2.0])
    v.backward(ag.tensor([0.5, -2.0]))
    close(v.grad, [0.5, -2.0])


# --- grad modes -----------------------------------------------------------------------------------
def test_no_grad_context_records_nothing():
    x = leaf([1.0, 2.0])
    with ag.no_grad():
        y = x * 2
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_enable_grad_inside_no_grad_records():
    x = leaf([1.0, 2.0])
    with ag.no_grad():
        with ag.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and repr(y.grad_fn) == "<MulBackward>"
    assert not z.requires_grad


def test_set_grad_enabled_as_context_manager_and_function():
    x = leaf([1.0])
    with ag.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with ag.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    ag.set_grad_enabled(False)                     # a plain call switches at once (as torch)
    assert not ag.is_grad_enabled()
    ag.set_grad_enabled(True)
    assert ag.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @ag.no_grad()
    def off():
        return x * 2

    @ag.enable_grad()
    def on():
        return x * 2

    @ag.set_grad_enabled(False)
    def switched_off():
        return x * 2, ag.is_grad_enabled()

    assert ag.is_grad_enabled()                    # decorating switches nothing
    assert not off().requires_grad
    assert ag.is_grad_enabled()
    y, inside = switched_off()
    assert not y.requires_grad and not inside
    assert ag.is_grad_enabled()
    with ag.no_grad():
        assert on().requires_grad
        assert not ag.is_grad_enabled()            # the caller's mode comes back after the call
        y, _ = switched_off()
        assert not ag.is_grad_enabled()


def test_nested_grad_modes_restore_every_level():
    trail = []
    with ag.no_grad():
        trail.append(ag.is_grad_enabled())
        with ag.enable_grad():
            trail.append(ag.is_grad_enabled())
            with ag.set_grad_enabled(False):
                trail.append(ag.is_grad_enabled())
                with ag.no_grad():
                    trail.append(ag.is_grad_enabled())
                trail.append(ag.is_grad_enabled())
            trail.append(ag.is_grad_enabled())
        trail.append(ag.is_grad_enabled())
    trail.append(ag.is_grad_enabled())
    assert trail == [False, True, False, False, False, True, False, True]


def test_decorated_recursive_function_restores_the_outer_mode():
    @ag.no_grad()
    def depth(n):
        return depth(n - 1) if n else ag.is_grad_enabled()

    assert depth(3) is False
    assert ag.is_grad_enabled()

    @ag.enable_grad()
    def depth_on(n):
        return depth_on(n - 1) if n else ag.is_grad_enabled()

    with ag.no_grad():
        assert depth_on(3) is True
        assert not ag.is_grad_enabled()


def test_one_grad_mode_instance_nested_in_itself():
    switch = ag.no_grad()
    with switch:
        with switch:
            assert not ag.is_grad_enabled()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(KeyError):
        with ag.no_grad():
            raise KeyError("boom")
    assert ag.is_grad_enabled()


# --- higher order: create_graph -------------------------------------------------------------------
def test_create_graph_gives_differentiable_gradients():
    x = leaf(1.5, np.float64)
    y = x ** 3
    y.backward(create_graph=True)
    g = x.grad
    close(g, 3 * 1.5 ** 2)
    assert g.requires_grad and g.grad_fn is not None
    x.grad = None
    g.backward()
    close(x.grad, 6 * 1.5)                         # d²(x³)/dx² = 6x


def test_grad_of_grad_of_grad():
    x = leaf(0.7, np.float64)
    (g1,) = ag.grad(x ** 3, x, create_graph=True)
    (g2,) = ag.grad(g1, x, create_graph=True)
    (g3,) = ag.grad(g2, x)
    close(g1, 3 * 0.49)
    close(g2, 6 * 0.7)
    close(g3, 6.0)
    assert not g3.requires_grad


def test_without_create_graph_gradients_are_constants():
    x = leaf(2.0)
    (x ** 3).backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


def test_retain_graph_defaults_to_create_graph():
    x = leaf(2.0, np.float64)
    y = x ** 3
    y.backward(create_graph=True)
    y.backward()                                   # graph kept: no error
    close(x.grad, 2 * 12.0)


# --- backward(inputs=...) -------------------------------------------------------------------------
def test_backward_inputs_accumulates_only_into_the_given_tensors():
    a, b, c = leaf([2.0]), leaf([3.0]), leaf([5.0])
    (a * b * c).sum().backward(inputs=[a, c])
    close(a.grad, [15.0])
    close(c.grad, [6.0])
    assert b.grad is None
    (a * b).sum().backward(inputs=a)               # a single tensor, added to the existing grad
    close(a.grad, [18.0])
    assert b.grad is None


# --- ag.grad --------------------------------------------------------------------------------------
def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    y = (x * w).sum()
    gx, gw = ag.grad(y, [x, w])
    close(gx, [3.0, -1.0])
    close(gw, [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_single_input_returns_a_one_tuple():
    x = leaf([1.0, 2.0])
    result = ag.grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    close(result[0], [2.0, 4.0])


def test_grad_with_grad_outputs_and_several_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 3, x * x
    (g,) = ag.grad([y1, y2], [x], grad_outputs=[ag.tensor([1.0, 1.0]), ag.tensor([0.5, 2.0])])
    close(g, [3.0 + 1.0, 3.0 + 8.0])


def test_grad_with_respect_to_an_intermediate_tensor():
    x = leaf([1.0, -2.0])
    h = x * 3
    (gh,) = ag.grad((h * h).sum(), h)
    close(gh, 2 * h.numpy())
    assert x.grad is None


def test_grad_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    first = ag.grad(y, x, retain_graph=True)[0].numpy().copy()
    second = ag.grad(y, x)[0].numpy()
    np.testing.assert_allclose(first, second)
    with pytest.raises(RuntimeError, match="retain_graph"):
        ag.grad(y, x)


def test_grad_create_graph():
    x = leaf([1.0, 2.0], np.float64)
    (g,) = ag.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = ag.grad(g.sum(), x)
    close(gg, 6 * x.numpy())


def test_grad_unused_input_raises_unless_allowed():
    x, unused = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match=re.escape("grad: input 1 (shape (), float32) was not "
                                                     "used") + ".*allow_unused=True"):
        ag.grad(x * 2, [x, unused])
    gx, gu = ag.grad(x * 2, [x, unused], allow_unused=True)
    close(gx, 2.0)
    assert gu is None


def test_grad_input_that_does_not_require_grad_raises():
    x, const = leaf(1.0), ag.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=re.escape("grad: input 1 (shape (3,), float32) does not "
                                                     "require grad")):
        ag.grad(x * 2, [x, const])


def test_grad_wrong_number_of_grad_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        ag.grad(x * 2, x, grad_outputs=[ag.ones(2), ag.ones(2)])


# --- hooks and retain_grad ------------------------------------------------------------------------
def test_leaf_hook_sees_the_complete_gradient_once_and_can_replace_it():
    x = leaf([1.0, -2.0])
    calls = []

    def clip(grad):
        calls.append(grad.numpy().copy())
        return grad.clip(-1.0, 1.0)

    x.register_hook(clip)
    (x * x + 3 * x).sum().backward()               # complete gradient 2x + 3 = [5, -1]
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, -1.0])
    close(x.grad, [1.0, -1.0])                     # clipped as a whole, not per branch


def test_hook_handle_remove():
    x = leaf([1.0, 2.0])
    handle = x.register_hook(lambda grad: grad * 10)
    (x * 3).sum().backward()
    close(x.grad, [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    close(x.grad, [3.0, 3.0])


def test_non_leaf_hook_replaces_what_flows_upstream():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda grad: seen.append(grad.numpy().copy()))   # observe only (None)
    h.register_hook(lambda grad: grad * 0.5)                         # then halve
    (h * h).sum().backward()
    np.testing.assert_allclose(seen, [[6.0, 12.0]])                  # dJ/dh = 2h, once
    close(x.grad, 3 * 0.5 * 2 * h.numpy())
    assert h.grad is None                                            # hooks don't retain


def test_grad_with_hooks_false_skips_leaf_and_non_leaf_hooks():
    x = leaf([1.0, 2.0])
    h = x * 3
    calls = []
    h.register_hook(lambda grad: calls.append("h") or grad * 0.5)
    x.register_hook(lambda grad: calls.append("x") or grad * 10)
    (gx,) = ag.grad((h * h).sum(), [x], retain_graph=True, hooks=False)
    assert calls == []
    close(gx, 18 * x.numpy())                                        # d(9x²)/dx, unchanged
    (gx,) = ag.grad((h * h).sum(), [x])                              # default: hooks run
    assert calls == ["h", "x"]
    close(gx, 18 * x.numpy() * 0.5 * 10)


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="register_hook: .*does not require grad"):
        ag.ones(2).register_hook(lambda grad: grad)


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    k = x * 4
    h.retain_grad()
    (h * h + k).sum().backward()
    close(h.grad, 2 * h.numpy())
    assert k.grad is None                          # not retained
    close(x.grad, 3 * 2 * h.numpy() + 4)


def test_retain_grad_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="retain_grad: the tensor does not require grad"):
        ag.ones(2).retain_grad()


# --- observers ------------------------------------------------------------------------------------
def test_observer_sees_every_node_once_in_reverse_topological_order():
    x = leaf([0.5, 1.5], np.float64)
    h = x * 2
    y = (h.exp() * h.sin() + h).sum()
    expected_nodes = set(topological_order([y.grad_fn]))
    steps, parents = [], {}

    def record(step):
        steps.append(step)
        parents[step.node] = [t.grad_fn for t in step.node.inputs if t.grad_fn is not None]

    handle = ag.add_observer(record)
    try:
        y.backward()
    finally:
        handle.remove()
    order = [step.node for step in steps]
    assert len(order) == len(set(order)) == len(expected_nodes) == 6
    assert set(order) == expected_nodes
    assert order[0] is y.grad_fn and order[-1] is h.grad_fn
    position = {node: i for i, node in enumerate(order)}
    for node in order:                             # every producer runs after its consumers
        assert all(position[parent] > position[node] for parent in parents[node])


def test_observer_step_contents():
    w = leaf(np.ones((4, 3)))
    b = leaf([1.0, 2.0, 3.0])
    const = ag.ones(4, 3)
    steps = []                                     # (step, the node's inputs at that time)
    with ag.add_observer(lambda step: steps.append((step, step.node.inputs))):
        ((w * const + b) * 2).sum().backward()
    add_step = next(s for s, _ in steps if repr(s.node) == "<AddBackward>")
    mul_step = next(s for s, inputs in steps if repr(s.node) == "<MulBackward>"
                    and inputs[1] is const)
    close(add_step.grad, np.full((4, 3), 2.0))    # complete gradient of the node's output
    assert add_step.raw_input_grads[1].shape == (4, 3)         # as the rule returned it
    assert add_step.input_grads[1].shape == (3,)               # summed back to b's shape
    close(add_step.input_grads[1], [8.0, 8.0, 8.0])
    assert mul_step.input_grads[1] is None         # const does not require grad
    assert mul_step.input_grads[0].shape == (4, 3)


def test_observer_context_manager_and_remove():
    x = leaf([1.0])
    steps = []
    with ag.add_observer(steps.append):
        (x * 2).sum().backward()
    assert len(steps) == 2
    (x * 2).sum().backward()
    assert len(steps) == 2                         # removed on exit
    handle = ag.add_observer(steps.append)
    handle.remove()
    (x * 2).sum().backward()
    assert len(steps) == 2


# --- dtypes and broadcasting ----------------------------------------------------------------------
def test_float32_leaf_in_float64_computation_gets_float32_grad():
    x32 = leaf([1.0, 2.0])
    y = x32 * np.array([3.0, 4.0])                 # float64 array: numpy promotion → float64
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x32.grad.dtype == np.float32
    close(x32.grad, 2 * np.array([3.0, 4.0]) ** 2 * [1.0, 2.0])


def test_mixed_float_leaves_keep_their_own_grad_dtype():
    a32, b64 = leaf([1.0, 2.0]), leaf([3.0, 4.0], np.float64)
    (a32 * b64).sum().backward()
    assert (a32.grad.dtype, b64.grad.dtype) == (np.float32, np.float64)
    close(a32.grad, [3.0, 4.0])
    close(b64.grad, [1.0, 2.0])


def test_broadcast_bias_gets_gradient_summed_over_the_batch():
    x = ag.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    b = leaf([0.0, 0.0, 0.0])
    ((x + b) * x).sum().backward()
    assert b.grad.shape == (3,)
    close(b.grad, x.numpy().sum(axis=0))


@pytest.mark.parametrize("shape", [(), (1,), (3,), (1, 3), (4, 1), (2, 1, 3)])
def test_broadcast_gradient_has_the_input_shape(shape):
    big = ag.ones(2, 4, 3)
    p = ag.tensor(np.ones(shape, np.float32), requires_grad=True)
    (big * p).sum().backward()
    assert p.grad.shape == shape
    close(p.grad, np.full(shape, 24.0 / np.prod(shape)))


# --- custom ops -----------------------------------------------------------------------------------
def test_custom_op_end_to_end():
    class ScaledCube(ag.Op):
        """out = k·x³;  grad_x = grad · 3k·x²."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return k * x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * (3 * ctx.k) * x * x

    x = leaf([1.0, -2.0], np.float64)
    y = ScaledCube.apply(x, k=2.0)
    close(y, [2.0, -16.0])
    assert repr(y.grad_fn) == "<ScaledCubeBackward>"
    assert ag.Op.registry["ScaledCube"] is ScaledCube
    (g,) = ag.grad(y.sum(), x, create_graph=True)  # backward is written in tensor ops
    close(g, 6 * x.numpy() ** 2)
    (gg,) = ag.grad(g.sum(), x)
    close(gg, 12 * x.numpy())
    assert ag.gradcheck(lambda t: ScaledCube.apply(t, k=0.5), (leaf([0.3, -1.2], np.float64),))


def test_custom_op_with_two_inputs_and_needs_input_grad():
    class WeightedSum(ag.Op):
        """out = a·w + b;  grad_a = grad·w, grad_b = grad."""

        @staticmethod
        def forward(ctx, a, b, w):
            ctx.w = w
            return a * w + b

        @staticmethod
        def backward(ctx, grad):
            need_a, need_b = ctx.needs_input_grad
            assert need_a and not need_b
            return grad * ctx.w, None

    a = leaf([1.0, 2.0])
    y = WeightedSum.apply(a, np.array([10.0, 20.0], np.float32), w=3.0)
    close(y, [13.0, 26.0])
    y.sum().backward()
    close(a.grad, [3.0, 3.0])


def test_custom_op_returning_a_wrongly_shaped_gradient_names_the_op():
    class BadShape(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return x.sum(axis=0)

        @staticmethod
        def backward(ctx, grad):
            return grad                            # (4,) instead of (3, 4)

    x = leaf(np.ones((3, 4)))
    with pytest.raises(ValueError, match=re.escape("badshape: backward produced a gradient of "
                                                   "shape (4,) for input 0 of shape (3, 4)")):
        BadShape.apply(x).sum().backward()


def test_custom_op_returning_the_wrong_number_of_gradients():
    class BadCount(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape("badcount: backward returned 2 gradient(s) "
                                                     "for 1 input(s)")):
        BadCount.apply(x).sum().backward()


# --- in-place operations --------------------------------------------------------------------------
INPLACE = {
    "add_": (lambda t: t.add_(ag.tensor([1.0, 2.0])), [2.0, 4.0]),
    "sub_": (lambda t: t.sub_(1.0), [0.0, 1.0]),
    "mul_": (lambda t: t.mul_(3.0), [3.0, 6.0]),
    "div_": (lambda t: t.div_(2.0), [0.5, 1.0]),
    "zero_": (lambda t: t.zero_(), [0.0, 0.0]),
    "fill_": (lambda t: t.fill_(7.0), [7.0, 7.0]),
    "copy_": (lambda t: t.copy_(np.array([5.0, 6.0])), [5.0, 6.0]),
    "add_ alpha": (lambda t: t.add_(ag.tensor([1.0, 1.0]), alpha=-0.5), [0.5, 1.5]),
}


def _setitem(t):
    t[1] = 9.0


def _isub(t):
    t -= ag.tensor([1.0, 1.0])


def _iadd(t):
    t += 1.0


INPLACE_NAMED = [(name, fn, expected, name.split()[0]) for name, (fn, expected) in INPLACE.items()]
INPLACE_NAMED += [("setitem", _setitem, [1.0, 9.0], "setitem"),
                  ("-=", _isub, [0.0, 1.0], "sub_"),
                  ("+=", _iadd, [2.0, 3.0], "add_")]


@pytest.mark.parametrize("case, fn, expected, op", INPLACE_NAMED,
                         ids=[c[0] for c in INPLACE_NAMED])
def test_inplace_on_leaf_inside_no_grad_bumps_version(case, fn, expected, op):
    x = leaf([1.0, 2.0])
    buffer, before = x.data, x._version
    with ag.no_grad():
        fn(x)
    close(x, expected)
    assert x.data is buffer                        # really in place
    assert x._version == before + 1
    assert x.is_leaf and x.requires_grad


@pytest.mark.parametrize("case, fn, expected, op", INPLACE_NAMED,
                         ids=[c[0] for c in INPLACE_NAMED])
def test_inplace_on_leaf_requiring_grad_outside_no_grad_raises(case, fn, expected, op):
    x = leaf([1.0, 2.0])
    message = (f"{op}: a leaf tensor that requires grad (shape (2,), float32) cannot be "
               "modified in place")
    with pytest.raises(RuntimeError, match=re.escape(message) + ".*no_grad"):
        fn(x)
    close(x, [1.0, 2.0])
    assert x._version == 0


def test_inplace_on_non_leaf_raises():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=re.escape("add_: in-place modification of a tensor "
                                                     "that is part of a recorded graph (made by "
                                                     "MulBackward, shape (2,))")):
        y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"setitem: .*MulBackward"):
        y[0] = 3.0


def test_inplace_on_tensor_without_grad_is_allowed():
    c = ag.tensor([1.0, 2.0])
    c.mul_(2).add_(1)
    c[0] = 0.0
    close(c, [0.0, 5.0])
    assert c._version == 3


def test_modified_saved_input_is_detected_at_backward():
    a = ag.tensor([1.0, 2.0])                      # does not require grad: may be modified...
    b = leaf([3.0, 4.0])
    y = (a * b).sum()                              # ...but mul saved it to compute b's gradient
    a.add_(1.0)
    message = ("mul: input 0 (shape (2,), float32), saved for backward, was modified in place: "
               "it is at version 1, backward needs version 0")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        y.backward()


@pytest.mark.parametrize("op", ["tanh", "exp", "sigmoid"])
def test_modified_saved_output_is_detected_at_backward(op):
    x = leaf([0.1, 0.2])
    out = getattr(x, op)()
    y = out.sum()                                  # sum does not save its input
    with ag.no_grad():
        out.mul_(2)
    message = (f"{op}: its output (shape (2,), float32), saved for backward, was modified in "
               "place: it is at version 1, backward needs version 0")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        y.backward()


def test_modifying_an_input_that_add_does_not_save_is_fine():
    a = ag.tensor([1.0, 2.0])
    b = leaf([3.0, 4.0])
    y = ((a + b) * 2).sum()
    a.fill_(100.0)
    y.backward()
    close(b.grad, [2.0, 2.0])


@pytest.mark.parametrize("make_view", [
    lambda a: a.reshape(4),
    lambda a: a.T,
    lambda a: a[1:],
    lambda a: a.reshape(4).reshape(2, 2).T,
], ids=["reshape", "transpose", "slice", "chain"])
def test_views_share_the_version_counter_of_their_base(make_view):
    a = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    view = make_view(a)
    w = leaf(np.ones(view.shape))
    y = (view * w).sum()                           # mul saved the view
    a[0, 0] = 10.0                                 # modify the base
    assert view._version == a._version == 1
    with pytest.raises(RuntimeError, match=r"mul: input 0 .*modified in place: it is at "
                                           r"version 1, backward needs version 0"):
        y.backward()


def test_modifying_a_view_is_seen_by_ops_that_saved_the_base():
    a = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = leaf(np.ones((2, 2)))
    y = (a * w).sum()
    a[0].mul_(2.0)                                 # in place through a slice view
    assert a.numpy()[0, 0] == 2.0 and a._version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_detach_shares_the_version_counter():
    x = leaf([0.5, 1.0])
    out = x.exp()
    y = out.sum()
    out.detach().zero_()
    with pytest.raises(RuntimeError, match=r"exp: its output .*version 1, backward needs "
                                           r"version 0"):
        y.backward()


def test_increment_version_makes_a_saved_tensor_stale():
    a = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    with ag.no_grad():
        a.data *= 2                  # outside the engine: not tracked by itself
    ag.increment_version(a)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_increment_version_takes_several_tensors_as_pytorch_does():
    a, b, c = (ag.tensor([1.0, 2.0], requires_grad=True) for _ in range(3))
    y = (a * b * c).sum()
    ag.increment_version([a, c])
    ag.increment_version(t for t in (a,))                       # any iterable, counted up
    assert (a._version, b._version, c._version) == (2, 0, 1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
