"""Engine details that mutation testing showed no test pinned (``make mutants``, group
``graph``): accumulation across backward calls, dtypes on the way back, observers' handles and
what a released node keeps. Each test names the behaviour it holds.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.graph import engine


def f64(values, requires_grad=True):
    return ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_create_graph_backward_accumulates_across_calls():
    # d(x³)/dx = 3x² = [0.75, 3]; twice with create_graph: .grad holds the sum, still a graph
    x = f64([0.5, -1.0])
    (x ** 3).sum().backward(create_graph=True)
    (x ** 3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 6.0])
    assert x.grad.requires_grad
    x.grad.sum().backward()                           # d(6x²)/dx added to .grad's own leaf
    assert x.grad is not None


def test_accumulating_into_a_leaf_never_writes_into_the_callers_gradient():
    x = f64([1.0, 2.0])
    seed = f64([0.5, 0.25], requires_grad=False)
    x.backward(seed, inputs=[x])
    x.backward(seed, inputs=[x])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.5])
    np.testing.assert_array_equal(seed.numpy(), [0.5, 0.25])     # untouched


def test_gradients_are_plain_tensors_that_require_no_grad():
    x = f64([1.0, 2.0])
    (x * 3.0).sum().backward()
    assert x.grad.requires_grad is False and x.grad.grad_fn is None
    (x * 3.0).sum().backward()
    assert x.grad.requires_grad is False
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    # sum's gradient is a broadcast view, so this first .grad is a copy (another branch)
    v = f64([1.0, 2.0])
    v.sum().backward()
    assert v.grad.requires_grad is False and v.grad.grad_fn is None
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 1.0])


def test_a_retained_non_leaf_gradient_is_replaced_not_written_in_place():
    x = f64([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    y.sum().backward(retain_graph=True)
    first = y.grad
    y.sum().backward()
    np.testing.assert_array_equal(first.numpy(), [1.0, 1.0])      # the object seen earlier
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


def test_an_intermediate_gradient_takes_its_tensors_dtype():
    # y is float32; z = y·w with w float64 is float64, so ∂z/∂y arrives as float64 and must be
    # cast to float32 before y's hook, y's producer and x see it
    x = ag.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    w = f64([3.0, 4.0])
    y = x * 2.0
    seen = []
    y.register_hook(lambda g: seen.append(g.dtype))
    (y * w).sum().backward()
    assert seen == [np.dtype(np.float32)]
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])


def test_an_error_inside_an_observer_block_is_not_swallowed():
    x = f64([1.0])
    with pytest.raises(ZeroDivisionError):
        with engine.add_observer(lambda step: None):
            (x * 2.0).sum().backward()
            raise ZeroDivisionError("inside the block")
    assert not engine._observers


def test_grad_names_the_type_of_an_input_that_is_not_a_tensor():
    x = f64([1.0])
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(int\) does not require grad"):
        ag.grad((x * 2.0).sum(), [x, 3])


def test_a_released_node_keeps_nothing_for_backward():
    x = f64([1.0, 2.0])
    y = x.tanh()
    node = y.grad_fn
    y.sum().backward()
    assert node.released and node.inputs == () and node.saved_versions is None


def test_backward_with_inputs_honours_retain_graph():
    x, w = f64([1.0, 2.0]), f64([3.0, 4.0])
    y = (x * w).tanh().sum()
    y.backward(inputs=[x], retain_graph=True)
    y.backward(inputs=[x])                           # the graph is still there
    assert w.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 2 * w.numpy() * (1 - np.tanh([3.0, 8.0]) ** 2))


def test_backward_with_inputs_honours_create_graph():
    x = f64([0.5, -1.0])
    (x ** 3).sum().backward(inputs=[x], create_graph=True)
    assert x.grad.requires_grad                      # 3x², differentiable again
    (g,) = ag.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(g.numpy(), [3.0, -6.0])


# --- hooks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("replacement", [np.array([10.0, -20.0]), [10.0, -20.0]])
def test_a_hook_may_return_an_array_or_a_list(replacement):
    x = f64([1.0, 2.0])
    y = x * 2.0
    y.register_hook(lambda g: replacement)          # replaces ∂J/∂y = [3, 3]
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, -40.0])      # 2·[10, −20]


def test_a_wrong_shape_from_a_callable_object_is_named_by_its_type():
    class Widen:                                     # an instance has no __qualname__
        def __call__(self, grad):
            return ag.Tensor(np.ones(3))

    y = f64([1.0, 2.0]) * 2.0
    y.register_hook(Widen())
    with pytest.raises(RuntimeError) as caught:
        y.sum().backward()
    assert str(caught.value) == ("hook 'Widen' registered on a tensor of shape (2,) returned a "
                                 "gradient of shape (3,); a hook must return a gradient of the "
                                 "tensor's shape (or None to keep it)")


def test_a_hook_returning_nan_outside_detect_anomaly_is_accepted():
    x = f64([1.0, 2.0])
    y = x * 2.0
    y.register_hook(lambda g: g * np.nan)
    y.sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_a_hook_returning_inf_under_detect_anomaly_is_reported_as_inf():
    y = f64([1.0, 2.0]) * 2.0
    y.register_hook(lambda g: np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match=r"detect_anomaly: hook .*<lambda>' registered on a "
                                           r"tensor of shape \(2,\) returned inf in the gradient"):
        with ag.detect_anomaly():
            y.sum().backward()


def test_detect_anomaly_still_checks_the_steps_after_a_hook():
    # the hook runs with the check off, which must be back on for y's own backward rule:
    # d√x/dx = 1/(2√x) is inf at x = 0
    x = f64([0.0, 1.0])
    y = x ** 0.5
    y.register_hook(lambda g: None)
    with pytest.raises(RuntimeError, match="detect_anomaly: powscalar backward produced inf"):
        with ag.detect_anomaly():
            y.sum().backward()


# --- when a gradient may become .grad without a copy ----------------------------------------------
class _TwoFresh(ag.Op):
    """a·b whose backward returns two new arrays; forward saves values unrelated to them."""

    made: list[int] = []

    @staticmethod
    def forward(ctx, a, b):
        ctx.mask = a > 0                               # an extra saved array
        ctx.b_copy = ag.Tensor(b.copy())               # and a saved tensor
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        grads = (grad * b, grad * a)
        _TwoFresh.made[:] = [id(g.data) for g in grads]
        return grads


def test_fresh_gradients_of_an_op_with_saved_values_become_grad_without_a_copy():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    _TwoFresh.apply(a, b).sum().backward()
    assert [id(a.grad.data), id(b.grad.data)] == _TwoFresh.made
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_two_tensors_over_one_array_are_not_both_kept():
    class SharedArray(ag.Op):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            g = grad * 1.0
            return g, ag.Tensor(g.data)              # two tensor objects, one array

    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    SharedArray.apply(a, b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a * 3.0).sum().backward()                       # accumulates in place into a.grad only
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("keep", [lambda g: ag.Tensor(g), lambda g: g[:]],
                         ids=["tensor over it", "view of it"])
def test_a_gradient_that_a_saved_value_refers_to_is_copied(keep):
    kept = []

    class KeepsItsGradient(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            result = grad.data * 2.0
            ctx.scratch = keep(result)               # the node still refers to the array
            kept.append(ctx.scratch)
            return result

    x = f64([1.0, 2.0])
    KeepsItsGradient.apply(x).sum().backward()
    kept_data = kept[0].data if isinstance(kept[0], ag.Tensor) else kept[0]
    assert not np.shares_memory(x.grad.numpy(), kept_data)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
