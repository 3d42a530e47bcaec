"""The checks of a recorded graph (``autograd_core.checks``): ``check_ops`` op by op,
``replay`` of the graph in float64, and ``check_inputs`` end to end. viz colours what they return;
here they are checked torch-free against hand-computed values, status by status.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.checks import check_inputs, check_ops, replay
from autograd_core.graph.walk import topological_order


def f64(values, requires_grad=True, name=None):
    t = ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)
    t.name = name
    return t


def order_of(output):
    return list(topological_order([output.grad_fn]))


def status_by_op(output, **options):
    return {node.op.name: s for node, s in check_ops(order_of(output), **options).items()}


class _HalfSquare(ag.Op):
    """out = x², with a wrong backward (x·δ instead of 2x·δ)."""

    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inputs[0]


class _ScaleBy(ag.Op):
    """out = x·c for a keyword c (no default: calling it without c raises)."""

    @staticmethod
    def forward(ctx, x, *, c):
        return x * c

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.kwargs["c"]


# --- check_ops ------------------------------------------------------------------------------------
def test_every_right_op_is_ok():
    x = f64([0.5, -1.0])
    y = (ag.tanh(x) * x).sum()
    assert list(check_ops(order_of(y)).values()) == ["ok"] * 3


def test_a_wrong_backward_fails_and_only_that_op():
    x = f64([0.5, -1.0])
    y = ag.tanh(_HalfSquare.apply(ag.sigmoid(x))).sum()
    statuses = status_by_op(y)
    assert statuses.pop("_halfsquare") == "fail"
    assert set(statuses.values()) == {"ok"}


def test_where_a_nan_starts_and_what_it_reaches():
    x = f64([-1.0, 2.0])
    y = ag.tanh(ag.log(x)).sum()                     # log(−1) = NaN
    with np.errstate(invalid="ignore"):
        statuses = status_by_op(y)
    assert statuses == {"log": "nonfinite", "tanh": "downstream", "sum": "downstream"}


def test_an_integer_input_is_neither_non_finite_nor_perturbed():
    class TimesCount(ag.Op):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.inputs[1].data, None

    x = f64([0.5, -1.0])
    k = ag.tensor(np.array([2, 3]))
    assert list(check_ops(order_of(TimesCount.apply(x, k).sum())).values()) == ["ok", "ok"]


def test_ops_with_more_input_elements_than_max_inputs_are_skipped():
    x = f64([0.5, -1.0, 2.0, 0.25])
    y = ag.tanh(x).sum()
    assert set(check_ops(order_of(y), max_inputs=3).values()) == {"skipped"}
    assert set(check_ops(order_of(y), max_inputs=4).values()) == {"ok"}


def test_ops_are_checked_with_their_keywords():
    x = f64([0.5, -1.0])
    assert status_by_op(_ScaleBy.apply(x, c=3.0).sum()) == {"_scaleby": "ok", "sum": "ok"}


def test_an_op_whose_check_raises_fails():
    class Raises(ag.Op):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("a broken rule")

    x = f64([0.5])
    assert status_by_op(Raises.apply(x).sum())["raises"] == "fail"


def test_float32_ops_are_checked_in_float64_without_warnings():
    x = ag.tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    y = ag.tanh(x * 3.0).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        statuses = check_ops(order_of(y))
    assert list(statuses.values()) == ["ok"] * 3
    assert x.dtype == np.float32 and x.grad is None


def test_a_constant_input_is_not_checked():
    class WrongForTheConstant(ag.Op):                 # x·c; the rule for c is wrong
        @staticmethod
        def forward(ctx, x, c):
            return x * c

        @staticmethod
        def backward(ctx, grad):
            x, c = ctx.inputs
            return grad * c, grad * 0.0

    x, c = f64([0.5, -1.0]), f64([2.0, 3.0], requires_grad=False)
    assert status_by_op(WrongForTheConstant.apply(x, c).sum())["wrongfortheconstant"] == "ok"
    c.requires_grad_(True)
    assert status_by_op(WrongForTheConstant.apply(x, c).sum())["wrongfortheconstant"] == "fail"


# --- replay ---------------------------------------------------------------------------------------
def test_replay_recomputes_in_float64_with_substitutes_and_touches_nothing():
    w = ag.tensor(np.float32(0.5), requires_grad=True)
    x = ag.tensor(np.float32(1.5))
    y = ag.sigmoid(w * x + 0.25)
    order = order_of(y)
    again = replay(y, order, {})
    assert again.dtype == np.float64 and not again.requires_grad
    np.testing.assert_allclose(again.numpy(), 1 / (1 + np.exp(-1.0)), rtol=1e-12)
    two = f64(2.0, requires_grad=False)
    np.testing.assert_allclose(replay(y, order, {id(w): two}).numpy(), 1 / (1 + np.exp(-3.25)),
                               rtol=1e-12)
    assert w.grad is None and w.dtype == np.float32 and float(w.numpy()) == 0.5


def test_replay_keeps_keywords_integer_inputs_and_a_substituted_intermediate():
    x = f64([0.5, -1.0])
    k = ag.tensor(np.array([1, 0]))
    z = _ScaleBy.apply(x, c=3.0)                     # [1.5, −3]
    y = (z[k] * 2.0).sum()                           # z[[1, 0]]·2 summed: −3
    order = order_of(y)
    np.testing.assert_allclose(replay(y, order, {}).numpy(), -3.0)
    other = f64([10.0, 20.0], requires_grad=False)
    np.testing.assert_allclose(replay(y, order, {id(z): other}).numpy(), 60.0)


# --- check_inputs ---------------------------------------------------------------------------------
def course_neuron():
    """The course's neuron: L = (σ(w·x + b) − 1)², w = 0.5, x = 1.5, b = −0.3."""
    w, x, b = f64(0.5, name="w"), f64(1.5, name="x"), f64(-0.3, name="b")
    L = (ag.sigmoid(w * x + b) - 1.0) ** 2
    s = 1 / (1 + np.exp(-0.45))
    dz = 2 * (s - 1) * s * (1 - s)
    return L, (w, x, b), (dz * 1.5, dz * 0.5, dz)


def test_end_to_end_checks_of_the_course_neuron():
    L, inputs, exact = course_neuron()
    results = check_inputs(L, inputs, order_of(L))
    assert [(r.name, r.status, r.method) for r in results] == [
        ("w", "ok", "full"), ("x", "ok", "full"), ("b", "ok", "full")]
    for r, t, value in zip(results, inputs, exact):
        assert r.tensor is t
        np.testing.assert_allclose(r.analytical, value, rtol=1e-9)
        np.testing.assert_allclose(r.numerical, value, rtol=1e-6)
        assert 0.0 < r.max_error < 1e-9
        assert r.max_error == pytest.approx(abs(float(r.analytical) - float(r.numerical)))
    assert all(t.grad is None for t in inputs)


def test_names_come_from_the_names_given_then_the_tensor_then_the_position():
    L, (w, x, b), _ = course_neuron()
    x.name = None
    results = check_inputs(L, [w, x, b], order_of(L), {id(b): "bias"})
    assert [r.name for r in results] == ["w", "input1", "bias"]
    assert check_inputs(L, b, order_of(L))[0].name == "b"     # one tensor, no list


def test_a_wrong_rule_fails_end_to_end_with_its_error():
    x = f64([0.5, -1.0])
    y = _HalfSquare.apply(x).sum()                   # ∂y/∂x = 2x, the rule gives x
    (r,) = check_inputs(y, [x], order_of(y))
    assert r.status == "fail"
    np.testing.assert_allclose(r.analytical, [0.5, -1.0])
    np.testing.assert_allclose(r.numerical, [1.0, -2.0], rtol=1e-6)
    assert r.max_error == pytest.approx(1.0, rel=1e-6)


def test_the_tolerance_is_gradchecks_and_follows_atol_and_rtol():
    # ∂y/∂x = 2x = [1, −2] and the rule gives x: errors 0.5 and 1
    x = f64([0.5, -1.0])
    y = _HalfSquare.apply(x).sum()
    assert check_inputs(y, [x], order_of(y), atol=1.01)[0].status == "ok"
    assert check_inputs(y, [x], order_of(y), atol=0.99)[0].status == "fail"
    assert check_inputs(y, [x], order_of(y), atol=0.0, rtol=0.51)[0].status == "ok"
    assert check_inputs(y, [x], order_of(y), atol=0.0, rtol=0.49)[0].status == "fail"


def test_eps_is_the_finite_difference_step():
    # J = Σx³: the central difference is 3x² + ε², exact in ε: with ε = 0.1 it is off by 0.01
    x = f64([1.0, 2.0])
    y = (x ** 3).sum()
    (r,) = check_inputs(y, [x], order_of(y), eps=0.1)
    np.testing.assert_allclose(r.numerical, [3.01, 12.01], rtol=1e-9)
    np.testing.assert_allclose(r.analytical, [3.0, 12.0])
    assert r.status == "fail"                        # 0.01 > 1e-5 + 1e-3·12.01


def test_a_non_scalar_output_is_checked_through_its_sum():
    x = f64([0.5, -1.0])
    y = x * x                                        # J = Σx², ∂J/∂x = 2x
    (r,) = check_inputs(y, [x], order_of(y))
    assert r.status == "ok"
    np.testing.assert_allclose(r.analytical, [1.0, -2.0])


def test_an_input_the_output_does_not_use():
    x, u = f64([0.5, -1.0]), f64([[1.0, 2.0, 3.0]])
    y = (x * 2.0).sum()
    r = check_inputs(y, [x, u], order_of(y))[1]
    assert (r.status, r.method, r.max_error) == ("unused", "full", 0.0)
    np.testing.assert_array_equal(r.analytical, np.zeros((1, 3)))
    np.testing.assert_array_equal(r.numerical, np.zeros((1, 3)))


def test_a_tensor_reached_only_through_unrecorded_ops_is_unused():
    # c requires no grad, so c.sum() was not recorded: the graph holds its result, not c
    x = f64([0.5, -1.0])
    c = f64([1.0, 2.0], requires_grad=False)
    y = (x * 2.0).sum() + c.sum()
    assert [r.status for r in check_inputs(y, [x, c], order_of(y))] == ["ok", "unused"]


def test_large_inputs_are_checked_along_projections():
    x = f64(np.linspace(-1.0, 1.0, 6))
    y = (ag.tanh(x) * x).sum()
    full = check_inputs(y, [x], order_of(y), max_full=6)[0]
    assert full.method == "full" and full.numerical.shape == (6,) and full.status == "ok"
    projected = check_inputs(y, [x], order_of(y), max_full=5, projections=4)[0]
    assert projected.method == "projected" and projected.status == "ok"
    assert projected.numerical.shape == (4,)
    # each projection is ⟨∂J/∂x, u⟩ along a unit direction u drawn from seed 0
    rng = np.random.default_rng(0)
    directions = [u / np.linalg.norm(u) for u in (rng.standard_normal(6) for _ in range(4))]
    exact = np.tanh(x.numpy()) + x.numpy() * (1 - np.tanh(x.numpy()) ** 2)
    np.testing.assert_allclose(projected.numerical, [exact @ u for u in directions], rtol=1e-6)
    np.testing.assert_allclose(projected.analytical, exact)


def test_bad_inputs_are_refused_by_name():
    L, (w, _, _), _ = course_neuron()
    with pytest.raises(TypeError) as caught:
        check_inputs(L, [w, np.ones(3)], order_of(L))
    assert str(caught.value) == ("check_inputs: inputs must be Tensors, got ndarray at "
                                 "position 1")
    with pytest.raises(TypeError) as caught:
        check_inputs(L, ag.tensor(np.arange(3)), order_of(L))
    assert str(caught.value) == ("check_inputs: input 0 has dtype int64; only floating tensors "
                                 "can be checked by finite differences")


# --- cases the mutation run found unchecked ------------------------------------------------------
class _TakeAt(ag.Op):
    """out = x[k] for integer positions k (a float k is refused by numpy)."""

    @staticmethod
    def forward(ctx, x, k):
        return np.take(x, k)

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.inputs[0].shape)
        np.add.at(g, ctx.inputs[1].data, grad.data)
        return ag.tensor(g), None


class _NoGradient(ag.Op):
    """out = x, whose backward gives x no gradient (None)."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return None


def test_an_op_that_needs_integer_positions_gets_them_in_check_ops_and_replay():
    x, k = f64([0.5, -1.0, 2.0]), ag.tensor(np.array([2, 0]))
    y = (_TakeAt.apply(x, k) * 3.0).sum()                  # 3·(x₂ + x₀) = 7.5
    assert set(status_by_op(y).values()) == {"ok"}
    np.testing.assert_allclose(replay(y, order_of(y), {}).numpy(), 7.5)
    (r,) = check_inputs(y, [x], order_of(y))
    assert r.status == "ok"
    np.testing.assert_allclose(r.analytical, [3.0, 0.0, 3.0])


def test_an_input_whose_only_path_gives_no_gradient_is_unused():
    x = f64([0.5, -1.0], name="x")
    y = _NoGradient.apply(x).sum()
    (r,) = check_inputs(y, [x], order_of(y))
    assert (r.name, r.tensor, r.status, r.max_error) == ("x", x, "unused", 0.0)
    np.testing.assert_array_equal(r.analytical, np.zeros(2))


def test_a_matrix_input_is_perturbed_element_by_element_in_its_shape():
    w = f64([[0.5, -1.0], [2.0, 0.25]])
    y = (ag.tanh(w) * ag.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))).sum()
    (r,) = check_inputs(y, [w], order_of(y))
    assert (r.status, r.method) == ("ok", "full") and r.numerical.shape == (2, 2)
    expected = (1 - np.tanh(w.numpy()) ** 2) * [[1.0, 2.0], [3.0, 4.0]]
    np.testing.assert_allclose(r.numerical, expected, rtol=1e-8)


def test_an_error_equal_to_the_tolerance_passes():
    x = f64([0.5, -1.0])
    y = _HalfSquare.apply(x).sum()
    error = check_inputs(y, [x], order_of(y))[0].max_error       # ≈ 1, as computed
    assert check_inputs(y, [x], order_of(y), atol=error, rtol=0.0)[0].status == "ok"
    assert check_inputs(y, [x], order_of(y), atol=np.nextafter(error, 0), rtol=0.0
                        )[0].status == "fail"


def test_an_empty_input_checks_ok_with_no_error():
    x = f64(np.zeros(0))
    y = (x * 2.0).sum() + f64([1.0]).sum()
    (r,) = check_inputs(y, [x], order_of(y))
    assert (r.status, r.max_error) == ("ok", 0.0)


def test_the_documented_defaults():
    import inspect
    ops_defaults = inspect.signature(check_ops).parameters
    inputs_defaults = inspect.signature(check_inputs).parameters
    assert ops_defaults["max_inputs"].default == 2000
    assert {k: inputs_defaults[k].default for k in ("max_full", "projections", "eps", "atol",
                                                    "rtol")} == {
        "max_full": 100, "projections": 3, "eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}


def test_the_default_limits_at_their_boundaries():
    """check_ops checks up to 2,000 input elements; check_inputs perturbs up to 100 elements one
    by one, larger inputs along 3 random directions."""
    at, over = f64(np.linspace(-1, 1, 2000)), f64(np.linspace(-1, 1, 2001))
    assert set(status_by_op(ag.tanh(at).sum()).values()) == {"ok"}
    assert set(status_by_op(ag.tanh(over).sum()).values()) == {"skipped"}
    full, projected = f64(np.linspace(-1, 1, 100)), f64(np.linspace(-1, 1, 101))
    y_full, y_projected = ag.tanh(full).sum(), ag.tanh(projected).sum()
    r_full = check_inputs(y_full, [full], order_of(y_full))[0]
    r_projected = check_inputs(y_projected, [projected], order_of(y_projected))[0]
    assert (r_full.method, r_full.numerical.shape) == ("full", (100,))
    assert (r_projected.method, r_projected.numerical.shape) == ("projected", (3,))
