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


class _PassArray(ag.Op):
    """Identity whose backward hands back the incoming gradient's own array."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad.data


def test_the_incoming_gradients_array_passed_on_is_copied_into_grad():
    x = f64([1.0, 2.0])
    seed = f64([0.5, 0.25], requires_grad=False)
    _PassArray.apply(x).backward(seed)
    assert not np.shares_memory(x.grad.numpy(), seed.numpy())
    (x * 2.0).sum().backward()                       # in place into x.grad
    np.testing.assert_array_equal(seed.numpy(), [0.5, 0.25])


def test_a_gradient_that_is_the_ops_output_is_copied():
    class ReturnsItsOutput(ag.Op):                   # d(eˣ)/dx = eˣ, the output itself
        @staticmethod
        def forward(ctx, x):
            return np.exp(x)

        @staticmethod
        def backward(ctx, grad):
            return ctx.output.data                   # right when grad is all ones

    x = f64([0.0, 1.0])
    y = ReturnsItsOutput.apply(x)
    y.sum().backward()
    assert not np.shares_memory(x.grad.numpy(), y.numpy())
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(y.numpy(), [1.0, np.e])               # untouched
    np.testing.assert_allclose(x.grad.numpy(), [2.0, np.e + 1.0])


def test_an_array_numba_made_becomes_grad_without_a_copy():
    numba = pytest.importorskip("numba")
    made = []

    @numba.njit(cache=False)
    def double(a):
        return a * 2.0

    class NumbaDouble(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            result = double(grad.data)               # a new array whose base is Numba's
            made.append(id(result))
            return result

    x = f64([1.0, 2.0])
    NumbaDouble.apply(x).sum().backward()
    assert id(x.grad.data) == made[0]
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_a_gradient_returned_for_an_input_that_requires_none_is_dropped():
    class BothGradients(ag.Op):                      # returns both, needed or not
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.inputs
            return grad * b, grad * a

    x, c = f64([1.0, 2.0]), f64([3.0, 4.0], requires_grad=False)
    BothGradients.apply(x, c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_gradients_from_array_rules_require_no_grad():
    # tanh's plain backward runs its array-level rule, whose result the engine wraps
    x = f64([0.5, -1.0])
    (g,) = ag.grad(x.tanh().sum(), [x])
    assert g.requires_grad is False and g.grad_fn is None
    np.testing.assert_allclose(g.numpy(), 1 - np.tanh([0.5, -1.0]) ** 2)
    (g,) = ag.grad(_PassArray.apply(x).sum(), [x])
    assert g.requires_grad is False


def test_a_rule_may_return_a_tensor_subclass_that_stays_in_the_graph():
    class Marked(ag.Tensor):
        __slots__ = ()

    class TimesW(ag.Op):                             # x·w, the rule for x returns w itself
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, grad):
            return ctx.inputs[1], None               # right when grad is all ones

    x = f64([1.0, 2.0])
    w = Marked(np.array([3.0, 4.0]), requires_grad=True)
    TimesW.apply(x, w).sum().backward(create_graph=True)
    assert x.grad.requires_grad                      # ∂J/∂x = w, still differentiable
    (gw,) = ag.grad(x.grad.sum(), [w])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 1.0])


# --- retained and captured intermediates ----------------------------------------------------------
def test_a_retained_intermediate_gradient_is_differentiable_under_create_graph():
    x = f64([0.5, -1.0])
    y = x * x
    y.retain_grad()
    (y * y).sum().backward(create_graph=True)        # ∂J/∂y = 2y = 2x²
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 2.0])
    assert y.grad.requires_grad
    (g,) = ag.grad(y.grad.sum(), [x])                # d(2x²)/dx = 4x
    np.testing.assert_allclose(g.numpy(), [2.0, -4.0])


def test_grad_without_hooks_runs_no_hook_of_a_retained_intermediate():
    calls = []
    x = f64([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    y.register_hook(lambda g: calls.append(1) or g * 10.0)
    (g,) = ag.grad((y * 3.0).sum(), [x], retain_graph=True, hooks=False)
    assert calls == []
    np.testing.assert_array_equal(g.numpy(), [6.0, 6.0])
    (g,) = ag.grad((y * 3.0).sum(), [x])             # with hooks: the hook scales ∂J/∂y
    assert calls == [1]
    np.testing.assert_array_equal(g.numpy(), [60.0, 60.0])


def test_grad_runs_only_the_part_of_the_graph_that_reaches_its_inputs():
    calls = []
    x, w = f64([1.0, 2.0]), f64([0.5, 0.25])
    u = (w * 2.0).tanh()                             # a branch that does not reach x
    u.register_hook(lambda g: calls.append("u"))
    (g,) = ag.grad((x * u).sum(), [x])
    assert calls == []
    np.testing.assert_allclose(g.numpy(), np.tanh([1.0, 0.5]))


# --- error messages -------------------------------------------------------------------------------
def test_grad_errors_name_grad():
    x = f64([1.0, 2.0])
    constant = f64([1.0], requires_grad=False)
    with pytest.raises(RuntimeError) as caught:
        ag.grad(constant, [x])
    assert str(caught.value).startswith("grad: the output (shape (1,), float64) does not "
                                        "require grad")
    with pytest.raises(RuntimeError) as caught:
        ag.grad(x * 2.0, [x])
    assert str(caught.value).startswith("grad: the output has shape (2,), not a single value")
    unused = f64([3.0])
    with pytest.raises(RuntimeError) as caught:
        ag.grad((x * 2.0).sum(), [x, unused])
    assert str(caught.value) == ("grad: input 1 (shape (1,), float64) was not used to compute "
                                 "the outputs; pass allow_unused=True to get None for it")


def test_a_freed_node_reached_again_names_itself_even_through_grad():
    # y's graph was freed by the first backward; grad from a new output through y must reach
    # the freed tanh node and say so (not report x as unused)
    x = f64([0.5, 1.0])
    y = x.tanh()
    y.sum().backward()
    with pytest.raises(RuntimeError) as caught:
        ag.grad((y * 2.0).sum(), [x])
    assert str(caught.value) == (
        "tanh: trying to backward through the graph a second time, but its saved values were "
        "freed by the first backward; pass retain_graph=True to the first backward (or grad) "
        "call if you need to go through it again")


def test_backward_and_grad_name_an_output_that_is_not_a_tensor():
    x = f64([1.0])
    with pytest.raises(TypeError) as caught:
        engine.backward(np.array(1.0))
    assert str(caught.value) == "backward: expected a Tensor output, got ndarray"
    with pytest.raises(TypeError) as caught:
        ag.grad([np.array(1.0)], [x])
    assert str(caught.value) == "grad: expected a Tensor output, got ndarray"


def test_backward_errors_say_what_is_wrong_and_what_to_do():
    constant = f64([1.0, 2.0], requires_grad=False)
    with pytest.raises(RuntimeError) as caught:
        constant.sum().backward()
    assert str(caught.value) == (
        "backward: the output (shape (), float64) does not require grad and has no grad_fn: "
        "none of the tensors it was computed from requires grad, or it was computed under "
        "no_grad()")
    with pytest.raises(RuntimeError) as caught:
        (f64([1.0, 2.0]) * 2.0).backward()
    assert str(caught.value) == (
        "backward: the output has shape (2,), not a single value; pass gradient= (∂J/∂output) "
        "with the same shape")


# --- the seed -------------------------------------------------------------------------------------
def _seen_by_a_hook_on(y):
    seen = []
    y.register_hook(lambda g: seen.append((g.dtype, g.requires_grad, g.numpy().tolist())))
    return seen


def test_the_default_seed_is_ones_of_the_outputs_dtype_that_require_no_grad():
    x = ag.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = (x * 2.0).sum()
    seen = _seen_by_a_hook_on(y)
    y.backward()
    assert seen == [(np.dtype(np.float32), False, 1.0)]


@pytest.mark.parametrize("gradient", [[0.5, -1.0], np.array([0.5, -1.0])], ids=["list", "array"])
def test_a_seed_given_as_a_list_or_array_takes_the_outputs_dtype(gradient):
    x = ag.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x * 3.0
    seen = _seen_by_a_hook_on(y)
    y.backward(gradient)
    assert seen == [(np.dtype(np.float32), False, [0.5, -1.0])]
    np.testing.assert_array_equal(x.grad.numpy(), [1.5, -3.0])


# --- the sweep ------------------------------------------------------------------------------------
def test_a_node_that_receives_no_gradient_is_skipped_and_the_sweep_goes_on():
    class SecondOnly(ag.Op):                         # a·b, differentiated in b only
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, _ = ctx.inputs
            return None, grad * a

    x, w = f64([1.0, 2.0]), f64([0.5, -0.5])
    # the walk reaches tanh's node (first input) before mul's: tanh gets no gradient
    SecondOnly.apply(w.tanh(), x * 2.0).sum().backward()
    assert w.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.tanh([0.5, -0.5]))


# --- what a node records --------------------------------------------------------------------------
def test_a_new_node_is_not_released_and_has_no_creation_trace_outside_detect_anomaly():
    y = f64([1.0]) * 2.0
    assert y.grad_fn.released is False and y.grad_fn.creation_trace is None


def test_an_op_that_saves_nothing_records_no_versions():
    x = f64([1.0, 2.0])
    assert (x + 1.0).grad_fn.saved_versions is None   # add reads neither inputs nor output


def test_forward_cannot_read_its_own_output():
    class ReadsOutput(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return ctx.output.data

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="readsoutput: the output of this node"):
        ReadsOutput.apply(f64([1.0]))


class _SavesBoth(ag.Op):
    saves_inputs = True
    saves_output = True

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, grad):
        return grad * 2.0


def test_the_output_version_is_checked_against_the_outputs_own_version():
    x = f64([1.0, 2.0])
    a = x * 1.0
    ag.increment_version(a)                          # a is at version 1 when _SavesBoth reads it
    y = _SavesBoth.apply(a)
    y.sum().backward(retain_graph=True)              # nothing changed since forward: fine
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    ag.increment_version(y)
    with pytest.raises(RuntimeError, match="its output .* is at version 1, backward needs "
                                           "version 0"):
        y.sum().backward()


@pytest.mark.parametrize("n", [7, 8, 9])
def test_versions_are_recorded_for_any_number_of_saved_inputs(n):
    class SumAll(ag.Op):
        @staticmethod
        def forward(ctx, *xs):
            return sum(xs)

        @staticmethod
        def backward(ctx, grad):
            return (grad,) * len(ctx.inputs)

    xs = [f64([float(i)]) for i in range(n)]
    y = SumAll.apply(*xs)
    assert y.grad_fn.saved_versions == (0,) * n
    y.sum().backward(retain_graph=True)
    assert all(x.grad.numpy().tolist() == [1.0] for x in xs)
    ag.increment_version(xs[-1])
    with pytest.raises(RuntimeError, match=f"input {n - 1} .* is at version 1"):
        y.sum().backward()
