"""gradcheck, gradgradcheck and detect_anomaly: the details that mutation testing showed no
test pinned (``make mutants``, group ``checks``). Each test names the behaviour it holds.

Custom ops here have planted bugs of known size; tests/conftest.py removes them from
``Op.registry`` after each test.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import checks
from autograd_core.checks import GradcheckError
from autograd_core.graph import engine


def f64(values, requires_grad=True):
    return ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


class _Ops:
    """The custom ops, defined on first use inside a test (so the registry fixture drops them)."""

    def __init__(self) -> None:
        class OffBy(ag.Op):
            """out = x; backward grad·(1 + δ) (δ per element): the diagonal is off by δ."""

            @staticmethod
            def forward(ctx, x, delta):
                return x.copy()

            @staticmethod
            def backward(ctx, grad):
                return grad * ag.Tensor(1 + np.asarray(ctx.kwargs["delta"], dtype=grad.dtype))

        class Mixing(ag.Op):
            """out = x; backward grad + ½·(roll(grad) − grad): wrong, but each row of the error
            sums to zero, so it is invisible along the all-ones direction."""

            @staticmethod
            def forward(ctx, x):
                return x.copy()

            @staticmethod
            def backward(ctx, grad):
                rolled = ag.Tensor(np.roll(grad.data, -1))
                return grad + (rolled - grad) * 0.5

        class WrongSquare(ag.Op):
            """out = x², backward 3x·grad (should be 2x)."""

            @staticmethod
            def forward(ctx, x):
                return x * x

            @staticmethod
            def backward(ctx, grad):
                return grad * ctx.inputs[0] * 3.0

        class WrongExp(ag.Op):
            """out = eˣ, backward grad (forgets eˣ)."""

            @staticmethod
            def forward(ctx, x):
                return np.exp(x)

            @staticmethod
            def backward(ctx, grad):
                return grad

        class FlatSquare(ag.Op):
            """out = x², backward 2x·grad with x as raw numbers: right once, not differentiable
            (its second derivative is seen as 0)."""

            @staticmethod
            def forward(ctx, x):
                return x * x

            @staticmethod
            def backward(ctx, grad):
                return grad * ag.Tensor(2.0 * ctx.inputs[0].data)

        class RawGradSquare(ag.Op):
            """out = x², backward 2x·grad with grad as raw numbers: right once, but its own
            derivative with respect to grad is lost (seen as 0)."""

            @staticmethod
            def forward(ctx, x):
                return x * x

            @staticmethod
            def backward(ctx, grad):
                return ag.Tensor(grad.data.copy()) * 2.0 * ctx.inputs[0]

        class ScaleByConstant(ag.Op):
            """out = s·x; s is a constant: its gradient is never computed (None)."""

            @staticmethod
            def forward(ctx, x, s):
                return x * s

            @staticmethod
            def backward(ctx, grad):
                return grad * ctx.inputs[1], None

        class InfForSecond(ag.Op):
            """out = a + b; backward: finite for a, inf for b."""

            saves_inputs = False

            @staticmethod
            def forward(ctx, a, b):
                return a + b

            @staticmethod
            def backward(ctx, grad):
                return grad, grad * np.inf

        class Recording(ag.Op):
            """out = 3x, records the dtype of every grad its backward receives and counts calls."""

            seen: list = []

            @staticmethod
            def forward(ctx, x):
                return x * 3

            @staticmethod
            def backward(ctx, grad):
                Recording.seen.append(grad.dtype)
                return grad * 3

        self.__dict__.update(locals())


@pytest.fixture
def ops():
    return _Ops()


def _fail_message(fn, inputs, **kw) -> str:
    with pytest.raises(GradcheckError) as info:
        ag.gradcheck(fn, inputs, **kw)
    return str(info.value)


# --- what is compared ------------------------------------------------------------------------
def test_an_exact_gradient_passes_with_zero_tolerance():
    # eps = 2⁻²⁰ and x = ½, ¼: x ± eps, 2·(x ± eps), their difference and ÷ 2eps are all exact,
    # so |analytical − numerical| = 0 ≤ 0 + 0·|n| holds with equality
    x = f64([0.5, 0.25])
    assert ag.gradcheck(lambda x: x * 2.0, (x,), eps=2.0 ** -20, atol=0.0, rtol=0.0)


def test_the_message_points_at_the_worst_element(ops):
    # errors 0.5 at element 1, −0.9 at element 2: element 2 is reported (|a − n| largest; |a + n|
    # would point at element 1)
    x = f64([0.1, 0.2, 0.3])
    message = _fail_message(lambda x: ops.OffBy.apply(x, delta=[0.0, 0.5, -0.9]), (x,),
                            blame=False)
    assert "input index (2,)" in message and "output index (2,)" in message, message


@pytest.mark.parametrize("outputs", [lambda x: (x.argmax(), x.tanh()),
                                     lambda x: (x.tanh(), x.argmax())])
def test_integer_outputs_are_skipped_wherever_they_stand(outputs):
    assert ag.gradcheck(outputs, (f64([0.5, -1.0, 2.0]),))


def test_an_integer_output_does_not_hide_the_float_output_after_it(ops):
    x = f64([0.5, -1.0, 2.0])
    assert not ag.gradcheck(lambda x: (x.argmax(), ops.WrongSquare.apply(x)), (x,),
                            raise_exception=False)


def test_a_function_without_floating_outputs_has_nothing_to_check():
    assert ag.gradcheck(lambda x: x.argmax(), (f64([0.5, -1.0, 2.0]),)) is True


def test_integer_inputs_are_passed_as_they_are():
    # labels stay integers (a float copy would be read as probabilities of the wrong shape)
    z = f64([[0.1, 0.5, -0.3], [1.0, 0.0, 2.0]])
    labels = ag.tensor(np.array([2, 0]))
    assert ag.gradcheck(lambda z, y: ag.softmax_cross_entropy(z, y), (z, labels))


def test_inputs_unused_by_an_output_or_by_every_output_get_zero_gradients():
    x, y = f64([0.5, -1.0]), f64([2.0, 0.3])
    assert ag.gradcheck(lambda x, y: (x * 2.0, y.tanh()), (x, y))
    assert ag.gradcheck(lambda x, y: x * 2.0, (x, y))
    assert ag.gradgradcheck(lambda x, y: x ** 3, (x, y))


def test_a_non_leaf_input_keeps_its_graph_for_a_later_backward():
    leaf = f64([0.5, -1.0])
    a = leaf * 2.0
    assert ag.gradcheck(lambda a: a.tanh(), (a,))
    a.sum().backward()                        # the graph from a back to leaf is still there
    np.testing.assert_array_equal(leaf.grad.numpy(), [2.0, 2.0])


# --- float32: seeds in the output's dtype, finite differences in float64 ---------------------
def test_backward_sees_gradients_in_the_outputs_dtype(ops):
    ops.Recording.seen.clear()
    x = ag.tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning):
        ag.gradcheck(lambda x: ops.Recording.apply(x), (x,), raise_exception=False)
    assert ops.Recording.seen and set(ops.Recording.seen) == {np.dtype(np.float32)}


def test_the_float32_warning_is_exact_and_points_at_the_caller():
    x = ag.tensor(np.array([0.5, 1.0], dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ag.gradcheck(lambda x: x * 2.0, (x,))
    (warning,) = [w for w in caught if "gradcheck" in str(w.message)]
    assert str(warning.message) == (
        "gradcheck: inputs are not float64; the finite differences are taken in float64 "
        "copies, but the analytical gradients keep the inputs' precision")
    # NOTE: when make mutants mutates checks.py, gradcheck is called through mutmut's
    # trampoline: one more frame between the caller and gradcheck
    mutated = hasattr(checks, "x_gradcheck__mutmut_orig")
    caller = "trampoline.py" if mutated else __file__
    assert warning.filename.endswith(caller), warning.filename


def test_a_wrong_gradient_dtype_or_shape_from_the_engine_is_reported(monkeypatch):
    real = engine.grad
    x = f64([0.5, -1.0, 2.0])

    def as_float32(*args, **kwargs):
        return tuple(ag.Tensor(g.data.astype(np.float32)) for g in real(*args, **kwargs))

    monkeypatch.setattr(engine, "grad", as_float32)
    with pytest.raises(GradcheckError, match=re.escape(
            "gradcheck: the gradient for an input of shape (3,), float64 has shape (3,), "
            "float32")):
        ag.gradcheck(lambda x: x.tanh(), (x,), blame=False)

    def flattened_twice(*args, **kwargs):
        return tuple(ag.Tensor(np.tile(g.data, 2)) for g in real(*args, **kwargs))

    monkeypatch.setattr(engine, "grad", flattened_twice)
    with pytest.raises(GradcheckError, match=r"has shape \(6,\), float64"):
        ag.gradcheck(lambda x: x.tanh(), (x,), blame=False)


# --- large blocks: random unit projections ----------------------------------------------------
def test_large_blocks_use_two_unit_projections(ops, monkeypatch):
    norms = []
    real = checks._numerical_column

    def spy(fn, inputs, x, direction, eps):
        norms.append(float(np.linalg.norm(direction)))
        return real(fn, inputs, x, direction, eps)

    monkeypatch.setattr(checks, "_numerical_column", spy)
    ops.Recording.seen.clear()
    x = f64(np.linspace(-1, 1, 200))
    assert ag.gradcheck(lambda x: ops.Recording.apply(x), (x,))
    np.testing.assert_allclose(norms, [1.0, 1.0], rtol=1e-12)
    assert len(ops.Recording.seen) == 2 + 3     # two projections; reentrancy ×2; zero seed


def test_large_blocks_catch_an_error_invisible_along_the_all_ones_direction(ops):
    x = f64(np.linspace(-1, 1, 200))
    assert not ag.gradcheck(lambda x: ops.Mixing.apply(x), (x,), raise_exception=False)


def test_the_seed_makes_failures_reproducible(ops):
    x = f64(np.linspace(-1, 1, 200))

    def fn(x):
        return ops.OffBy.apply(x, delta=0.01)

    default = _fail_message(fn, (x,), blame=False)
    assert default == _fail_message(fn, (x,), blame=False)
    assert default == _fail_message(fn, (x,), blame=False, seed=0)
    assert default != _fail_message(fn, (x,), blame=False, seed=1)


@pytest.mark.parametrize("size", [3, 120])      # 3: full Jacobians; 120: projections
def test_gradgradcheck_failures_are_reproducible(ops, size):
    x = f64(np.linspace(-1, 1, size))

    def message(**kw):
        with pytest.raises(GradcheckError) as info:
            ag.gradgradcheck(lambda x: ops.FlatSquare.apply(x), (x,), **kw)
        return str(info.value)

    default = message()
    assert default == message() == message(seed=0)
    assert default != message(seed=1)
    assert "The backward rule of" not in default     # no blame: the culprit is a backward


# --- gradgradcheck with integer outputs -------------------------------------------------------
def test_gradgradcheck_skips_integer_outputs_and_still_checks_the_others(ops):
    x = f64([0.5, -1.0, 2.0])
    assert ag.gradgradcheck(lambda x: (x.argmax(), x.tanh()), (x,))
    assert not ag.gradgradcheck(lambda x: (x.argmax(), ops.FlatSquare.apply(x)), (x,),
                                raise_exception=False)


# --- blame --------------------------------------------------------------------------------------
def test_blame_lists_every_wrong_op_in_walk_order(ops):
    x = f64([0.3, -1.2, 0.7])
    message = _fail_message(lambda x: ops.WrongExp.apply(ops.WrongSquare.apply(x.sin())).sum(),
                            (x,))
    assert message.endswith(". The backward rule of WrongExp, WrongSquare disagrees with its "
                            "forward"), message


def test_blame_spares_an_op_whose_two_inputs_are_one_tensor(ops):
    # y * y: in its local check each input is perturbed on its own copy
    x = f64([0.3, -1.2, 0.7])
    message = _fail_message(lambda x: ops.WrongSquare.apply((lambda y: y * y)(x.tanh())), (x,))
    assert message.endswith("The backward rule of WrongSquare disagrees with its forward"), \
        message


def test_blame_spares_an_op_that_skips_the_gradient_of_a_constant(ops):
    x = f64([0.3, -1.2, 0.7])
    s = f64([2.0, 3.0, 4.0], requires_grad=False)
    message = _fail_message(lambda x: ops.WrongSquare.apply(ops.ScaleByConstant.apply(x, s)),
                            (x,))
    assert message.endswith("The backward rule of WrongSquare disagrees with its forward"), \
        message


# --- detect_anomaly -----------------------------------------------------------------------------
def test_anomaly_messages_say_nan_or_inf_and_which_input(ops):
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    with ag.detect_anomaly():
        out = ops.InfForSecond.apply(a, b).sum()
        with pytest.raises(RuntimeError, match=r"detect_anomaly: infforsecond backward produced "
                                               r"inf in the gradient of input 1 \(shape \(2,\), "
                                               r"float64\)\nThe infforsecond op was created at"):
            out.backward()
    x = f64([-1.0, 4.0])
    with ag.detect_anomaly():
        y = (ag.sqrt(x * 0.0) * 0.0).sum()            # backward: 0 · 1/(2·√0) = nan
        with pytest.raises(RuntimeError, match=r"sqrt backward produced nan in the gradient of "
                                               r"input 0"):
            y.backward()


def test_anomaly_without_a_recorded_forward_adds_no_creation_site():
    x = f64([0.0, 1.0])
    y = ag.sqrt(x).sum()                              # recorded outside anomaly mode
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            y.backward()
    assert str(info.value) == ("detect_anomaly: sqrt backward produced inf in the gradient of "
                               "input 0 (shape (2,), float64)")


def test_anomaly_with_check_nan_false_checks_nothing():
    x = f64([0.0, 1.0])
    with ag.detect_anomaly(check_nan=False):
        ag.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()[0])


def test_blame_uses_the_callers_tolerances(ops):
    # the op alone is off by δ (its derivative is 1): blamed when δ exceeds atol + rtol·1
    x = f64([0.3, -1.2, 0.7])
    message = _fail_message(lambda x: ops.OffBy.apply(x, delta=1.5e-3), (x,))
    assert message.endswith("The backward rule of OffBy disagrees with its forward"), message
    message = _fail_message(lambda x: ops.OffBy.apply(x, delta=5e-4), (x,), rtol=1e-4)
    assert message.endswith("The backward rule of OffBy disagrees with its forward"), message


def test_gradgradcheck_checks_the_derivative_with_respect_to_the_seed(ops):
    # vᵀ·∂f/∂x is checked as a function of x and of v: here only its v-part is wrong
    x = f64([0.5, -1.0, 2.0])
    assert ag.gradcheck(lambda x: ops.RawGradSquare.apply(x), (x,))
    assert not ag.gradgradcheck(lambda x: ops.RawGradSquare.apply(x), (x,),
                                raise_exception=False)


def test_gradgradcheck_accepts_constant_tensor_inputs():
    x, c = f64([0.5, -1.0]), f64([2.0, 3.0], requires_grad=False)
    assert ag.gradgradcheck(lambda x, c: x ** 3 * c, (x, c))


def test_gradgradcheck_of_a_function_without_floating_outputs():
    assert ag.gradgradcheck(lambda x: x.argmax(), (f64([0.5, -1.0, 2.0]),))


def test_gradgradcheck_passes_its_seed_to_the_projections(ops):
    # fixed grad_outputs: only the projections' random vectors depend on the seed
    x = f64(np.linspace(-1, 1, 120))
    v = f64(np.linspace(0.5, 1.5, 120))

    def message(seed):
        with pytest.raises(GradcheckError) as info:
            ag.gradgradcheck(lambda x: ops.FlatSquare.apply(x), (x,), grad_outputs=(v,),
                             seed=seed)
        return str(info.value)

    assert message(0) == message(0)
    assert message(0) != message(1)
