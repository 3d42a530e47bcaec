"""Issue 13, core: per-thread grad/anomaly modes, std at σ = 0, byte order, bad values, hooks
and handles, expand, and the ownership-tracked first gradient (no reference counts)."""
from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.graph import engine


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.array(values, dtype=dtype), requires_grad=True)


# --- 1. grad mode and anomaly mode are per thread -------------------------------------------------
def _in_thread(fn):
    result, errors = [], []

    def run():
        try:
            result.append(fn())
        except BaseException as error:            # noqa: BLE001  (re-raised in the caller)
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]
    return result[0]


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with ag.no_grad():
            inside.set()
            release.wait(30)
        return ag.is_grad_enabled()

    thread = threading.Thread(target=hold_no_grad)
    thread.start()
    assert inside.wait(30)
    try:
        y = leaf([1.0, 2.0]) * 3
        assert ag.is_grad_enabled() and y.requires_grad and y.grad_fn is not None
    finally:
        release.set()
        thread.join(30)


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    # A enters, B enters, A exits, B exits: with one global flag B's exit restored "off"
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with ag.no_grad():
            a_in.set()
            b_in.wait(30)
        a_out.set()
        return ag.is_grad_enabled()

    def b():
        a_in.wait(30)
        with ag.no_grad():
            b_in.set()
            a_out.wait(30)
        return ag.is_grad_enabled()

    results = {}
    threads = [threading.Thread(target=lambda f=f: results.setdefault(f.__name__, f()))
               for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"a": True, "b": True}
    assert ag.is_grad_enabled()
    assert _in_thread(ag.is_grad_enabled)


def test_one_switch_instance_shared_by_two_threads_restores_each_threads_mode():
    # T enters, main (inside an outer no_grad) enters, T exits, main exits: one shared stack of
    # previous modes would give T main's "off" and main T's "on"
    switch = ag.no_grad()                          # e.g. one decorator used from two threads
    entered, t_may_exit = threading.Event(), threading.Event()
    after = {}

    def other():
        with switch:
            entered.set()
            t_may_exit.wait(30)
        after["thread"] = ag.is_grad_enabled()

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(30)
    with ag.no_grad():
        with switch:
            t_may_exit.set()
            thread.join(30)
        after["main, inside the outer no_grad"] = ag.is_grad_enabled()
    assert after == {"thread": True, "main, inside the outer no_grad": False}
    assert ag.is_grad_enabled()


def test_a_new_thread_starts_with_grad_on_even_inside_no_grad():
    with ag.no_grad():
        assert _in_thread(ag.is_grad_enabled) is True
    with ag.set_grad_enabled(False):
        assert _in_thread(lambda: (leaf([1.0]) * 2).requires_grad) is True


def test_detect_anomaly_in_one_thread_does_not_stop_another_threads_backward():
    inside, release = threading.Event(), threading.Event()

    def hold_anomaly():
        with ag.detect_anomaly():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=hold_anomaly)
    thread.start()
    assert inside.wait(30)
    try:
        x = leaf([0.0])
        (x ** 0.5).sum().backward()                # inf gradient: fine outside detect_anomaly
        assert np.isinf(x.grad.numpy()).all()
        with pytest.raises(RuntimeError, match="detect_anomaly: powscalar backward produced"):
            with ag.detect_anomaly():
                (leaf([0.0]) ** 0.5).sum().backward()
    finally:
        release.set()
        thread.join(30)
    y = leaf([-1.0])
    ag.log(y).sum()                                # NaN forward: no longer checked anywhere


# --- 2. std at σ = 0 and the 0·∞ class ------------------------------------------------------------
def test_std_of_constant_input_has_zero_gradient():
    x = leaf([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    x.std(axis=1).sum().backward()
    g = x.grad.numpy()
    np.testing.assert_array_equal(g[0], [0.0, 0.0, 0.0])
    centered = np.array([1.0, 2.0, 4.0]) - 7.0 / 3
    np.testing.assert_allclose(g[1], centered / (3 * np.std([1.0, 2.0, 4.0])), rtol=1e-12)


@pytest.mark.parametrize("ddof,keepdims,axis", [(0, False, None), (1, True, 0), (1, False, (0, 1))])
def test_std_gradients_match_finite_differences(ddof, keepdims, axis):
    x = leaf(np.random.default_rng(0).standard_normal((3, 4)))
    assert ag.gradcheck(lambda t: ag.std(t, axis=axis, ddof=ddof, keepdims=keepdims), (x,))
    assert ag.gradgradcheck(lambda t: ag.std(t, axis=axis, ddof=ddof, keepdims=keepdims), (x,))


def test_std_matches_torch_including_constant_rows():
    torch = pytest.importorskip("torch")
    values = np.array([[3.0, 3.0, 3.0, 3.0], [0.5, -1.0, 2.0, 0.0]])
    x = leaf(values)
    x.std(axis=1, correction=1).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    t.std(dim=1, correction=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_std_error_names_std():
    with pytest.raises(ValueError, match=r"std: 1 element\(s\) along the reduced axes with ddof=1"):
        ag.std(leaf([1.0]), ddof=1)


# --- 3. byte order --------------------------------------------------------------------------------
SWAPPED = np.dtype(np.float32).newbyteorder("S")


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "gelu", "softmax", "log_softmax",
                                  "silu", "elu", "softplus", "leaky_relu"])
def test_swapped_byte_order_input_runs_the_kernels(name):
    values = np.linspace(-3, 3, 5000).reshape(50, 100)        # above every kernel's threshold
    x = ag.Tensor(values.astype(SWAPPED), requires_grad=True)
    assert x.dtype == np.float32 and x.dtype.isnative
    out = getattr(ag, name)(x)
    out.sum().backward()
    ref = ag.Tensor(values.astype(np.float32), requires_grad=True)
    expected = getattr(ag, name)(ref)
    expected.sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), ref.grad.numpy())


def test_swapped_byte_order_losses_and_tensor_factory():
    logits = ag.tensor(np.zeros((4, 3), SWAPPED), requires_grad=True)
    loss = ag.softmax_cross_entropy(logits, ag.tensor([0, 1, 2, 0]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-6)
    bce = ag.binary_cross_entropy_with_logits(logits, ag.Tensor(np.zeros((4, 3), SWAPPED)))
    np.testing.assert_allclose(bce.item(), np.log(2), rtol=1e-6)


def test_kernels_called_with_swapped_arrays_fall_back_to_numpy():
    from autograd_core import kernels
    x = np.linspace(-2, 2, 5000).astype(SWAPPED)
    np.testing.assert_allclose(kernels.sigmoid(x), 1 / (1 + np.exp(-x.astype(np.float64))),
                               rtol=1e-6)
    param, grad = np.ones(5000, SWAPPED), np.full(5000, 0.5, SWAPPED)
    buf = np.zeros(5000, SWAPPED)
    kernels.sgd_momentum(param, grad, buf, 0.1, 0.9, 0.0, False, True)
    np.testing.assert_allclose(param, 0.95)


# --- 6. bad values --------------------------------------------------------------------------------
@pytest.mark.parametrize("value,what", [("abc", "strings"),
                                        (np.array([object(), 1]), "Python objects"),
                                        (np.array(["a", "b"]), "strings"),
                                        (np.zeros(2, "datetime64[s]"), "datetimes")])
def test_non_numeric_values_are_rejected_at_creation(value, what):
    with pytest.raises(TypeError, match=f"tensor: cannot make a tensor from .*not {what}"):
        ag.tensor(value)
    with pytest.raises(TypeError, match="expected numbers"):
        ag.Tensor(value)


def test_ragged_list_gets_a_clear_message():
    with pytest.raises(ValueError, match="tensor: cannot make a tensor from a ragged nested "
                                         "sequence"):
        ag.tensor([[1.0, 2.0], [3.0]])


def test_replacing_data_with_integers_on_a_grad_leaf_is_refused_at_the_assignment():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"data: the new array holds int64 with shape \(2,\); "
                                        r"expected a floating dtype, as this tensor requires grad"):
        x.data = np.array([1, 2])
    assert x.dtype == np.float64 and x.tolist() == [1.0, 2.0]        # nothing was replaced
    x.data = np.array([3.0, 4.0])                                    # floating: accepted, shared
    assert x.tolist() == [3.0, 4.0] and x.requires_grad


def test_data_assignment_checks_the_new_array_as_creation_does():
    x = ag.tensor([1, 2])
    x.data = np.array([True, False])                 # any numeric dtype without requires_grad
    assert x.dtype == np.bool_
    with pytest.raises(TypeError, match=r"data: the new array holds <U1 .*expected a numeric"):
        x.data = np.array(["a", "b"])
    with pytest.raises(TypeError, match="data: expected a numpy array or Tensor, got list"):
        x.data = [1.0, 2.0]
    swapped = np.array([1.5, 2.5], dtype=">f4")
    y = leaf([0.0, 0.0])
    y.data = swapped
    assert y.data.dtype.isnative and y.tolist() == [1.5, 2.5]
    (y.sigmoid().sum()).backward()                   # the Numba kernels read it
    y.data = ag.tensor([5.0, 6.0])                   # a Tensor gives its array
    assert y.tolist() == [5.0, 6.0]


def test_numpy_reductions_on_tensors_accept_their_keywords():
    x = leaf([[1.0, 2.0], [3.0, 6.0]])
    for fn, expected in [(np.sum, 12.0), (np.mean, 3.0), (np.max, 6.0), (np.min, 1.0),
                         (np.prod, 36.0), (np.var, np.var([1, 2, 3, 6])),
                         (np.std, np.std([1, 2, 3, 6]))]:
        out = fn(x)
        assert isinstance(out, ag.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.item(), expected)
    np.testing.assert_array_equal(np.sum(x, axis=0).numpy(), [4.0, 8.0])
    assert np.sum(x, dtype=np.float32).dtype == np.float32
    assert np.argmax(x).item() == 3


def test_numpy_out_argument_is_refused_by_name():
    with pytest.raises(TypeError, match=r"sum: out= is not supported on tensors"):
        np.sum(leaf([1.0]), out=np.zeros(()))


def test_numpy_functions_on_a_grad_tensor_refuse_to_drop_the_gradient():
    with pytest.raises(TypeError, match="cannot be converted to an array implicitly"):
        np.cumsum(leaf([1.0, 2.0]))
    np.testing.assert_array_equal(np.cumsum(ag.tensor([1.0, 2.0])), [1.0, 3.0])
    assert np.asarray(ag.tensor([1, 2])).dtype == np.int64


def test_hook_returning_the_wrong_shape_is_named():
    def widen(grad):
        return ag.Tensor(np.ones((3, 3)))

    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(widen)
    with pytest.raises(RuntimeError, match=r"hook 'test_hook_returning_the_wrong_shape_is_named."
                                           r"<locals>.widen' registered on a tensor of shape "
                                           r"\(2,\) returned a gradient of shape \(3, 3\)"):
        y.sum().backward()


def test_nan_made_inside_a_hook_under_detect_anomaly_is_blamed_on_the_hook():
    def poison(grad):
        return ag.log(grad - 5.0)                  # log of a negative number: NaN

    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(poison)
    with pytest.raises(RuntimeError, match="detect_anomaly: hook .*poison' registered on a tensor "
                                           r"of shape \(2,\) returned nan in the gradient during "
                                           "backward"):
        with ag.detect_anomaly():
            y.sum().backward()


# --- 7. handles are tickets -----------------------------------------------------------------------
def test_tensor_hook_handles_remove_exactly_their_registration():
    calls = []

    def hook(grad):
        calls.append(1)

    x = leaf([1.0])
    first = x.register_hook(hook)
    x.register_hook(hook)
    first.remove()
    first.remove()                                 # removing twice removes nothing more
    x.register_hook(hook)
    (x * 2).sum().backward()
    assert len(calls) == 2


def test_observer_handles_remove_exactly_their_registration():
    seen = []
    first = ag.add_observer(seen.append)
    second = ag.add_observer(seen.append)
    try:
        first.remove()
        first.remove()
        (leaf([1.0]) * 2).sum().backward()
        assert len(seen) == 2                      # MulBackward and SumBackward, once each
    finally:
        second.remove()


# --- 8. expand --------------------------------------------------------------------------------
def test_expand_takes_separate_sizes_and_minus_one_like_pytorch():
    x = leaf([[1.0], [2.0], [3.0]])
    assert x.expand(2, 3, 4).shape == (2, 3, 4)
    assert x.expand((3, 4)).shape == (3, 4)
    y = x.expand(-1, 5)
    assert y.shape == (3, 5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[5.0], [5.0], [5.0]])
    with pytest.raises(ValueError, match="expand: -1 is not allowed for the new leading "
                                         "dimension 0"):
        x.expand(-1, 3, 1)
    with pytest.raises(ValueError, match=r"expand: the number of sizes given \(1\) must be at "
                                         "least"):
        x.expand(3)


# --- 9. the first gradient: ownership, not reference counts ---------------------------------------
def test_engine_does_not_read_reference_counts():
    assert "getrefcount" not in inspect.getsource(engine)


class _Recorded(ag.Op):
    """Doubles; its backward records the id of the fresh gradient array it returns."""

    made: list[int] = []

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        result = grad * 2
        _Recorded.made.append(id(result.data))
        return result


def test_a_fresh_first_gradient_becomes_grad_without_a_copy():
    x = leaf([1.0, 2.0])
    _Recorded.made.clear()
    _Recorded.apply(x).sum().backward()
    assert id(x.grad.data) == _Recorded.made[0]    # kept as is (x.grad keeps it alive)
    _Recorded.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_one_gradient_returned_for_two_inputs_is_not_shared():
    class Twice(ag.Op):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            g = grad * 1.0
            return g, g                            # one fresh tensor for both inputs

    class TwiceArray(Twice):
        @staticmethod
        def backward(ctx, grad):
            g = grad.data * 1.0
            return g, g                            # one fresh array for both inputs

    for op in (Twice, TwiceArray):
        a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
        op.apply(a, b).sum().backward()
        assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
        (a * 3).sum().backward()
        np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_a_gradient_that_is_an_input_of_the_op_is_copied():
    class GiveInput(ag.Op):
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, grad):
            return ctx.inputs[1], None             # a wrong rule, but it must not alias w

    x = leaf([1.0, 2.0])
    w = ag.tensor([5.0, 6.0], dtype=np.float64)
    GiveInput.apply(x, w).sum().backward()
    (x * 1).sum().backward()
    np.testing.assert_array_equal(w.numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 7.0])


def test_set_grad_enabled_called_as_a_function_leaves_no_saved_state():
    from autograd_core.grad_mode import STATE
    before = dict(STATE.stacks)
    for _ in range(3):
        ag.set_grad_enabled(False)
        ag.set_grad_enabled(True)
    assert ag.is_grad_enabled() and STATE.stacks == before
    with ag.set_grad_enabled(False):
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled() and STATE.stacks == before
