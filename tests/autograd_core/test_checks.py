"""``gradcheck``, ``gradgradcheck`` and ``detect_anomaly``.

The checks are themselves tested by planting bugs: custom ``ag.Op`` subclasses whose backward is
deliberately wrong (wrong formula, non-deterministic, ignoring ``grad``, not differentiable
because it is written with raw numpy values), used inside bigger composite functions. Each check
must fail on them, and say where: the input, the element, both values and the op to blame.
"""
from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import autograd_core as ag

THIS_FILE = "test_checks.py"


def f64(values, requires_grad: bool = True) -> ag.Tensor:
    return ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# --- custom ops with planted bugs -------------------------------------------------------------
def _define_ops() -> SimpleNamespace:
    """Custom ops for the tests (created per test and removed from ``Op.registry`` after it, so
    the op registry seen by the op-coverage tests holds only the library's ops)."""
    noise = np.random.default_rng()

    class GoodCube(ag.Op):
        """out = x³, backward 3x²·grad: correct."""

        @staticmethod
        def forward(ctx, x):
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * 3.0 * x * x

    class WrongSquare(ag.Op):
        """out = x², backward 3x·grad: wrong (should be 2x)."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * x * 3.0

    class WrongAtElement2(ag.Op):
        """out = a ⊙ b; grad_b is right, grad_a is 1.5× too large at element 2 only."""

        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.inputs
            scale = np.ones(b.shape)
            scale[2] = 1.5
            return grad * b * scale, grad * a

    class WrongExp(ag.Op):
        """out = eˣ, backward grad (forgets the eˣ)."""

        @staticmethod
        def forward(ctx, x):
            return np.exp(x)

        @staticmethod
        def backward(ctx, grad):
            return grad

    class NoisySquare(ag.Op):
        """out = x², backward 2x·grad plus 1e-9 of noise: right to 1e-9, but not reentrant."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * 2.0 * x + ag.tensor(1e-9 * noise.standard_normal(x.shape))

    class IgnoresGrad(ag.Op):
        """out = x², backward 2x whatever grad is: right when grad is all ones, wrong for 0."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return x * 2.0

    class SquareViaData(ag.Op):
        """out = x², backward grad·(2x) with 2x taken from ``.data``: the first derivative is
        right, but as a constant it hides the second derivative (2) from create_graph."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * ag.Tensor(2.0 * x.data)

    class SinViaNumpy(ag.Op):
        """out = sin x, backward grad ⊙ cos(x) as a numpy array: differentiable in grad only."""

        @staticmethod
        def forward(ctx, x):
            return np.sin(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            return grad * np.cos(x.data)

    class NanBackward(ag.Op):
        """out = x (finite), backward returns NaN as a raw array (no op runs in backward)."""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return np.full(grad.shape, np.nan, dtype=grad.dtype)

    class WrongWhenRecorded(WrongSquare):
        """out = x²: WrongSquare's Tensor-level backward 3x·grad (used only with
        create_graph=True), but a right array rule 2x·grad."""

        @staticmethod
        def backward_arrays(ctx, grad):
            return grad * ctx.inputs[0].data * 2.0

    class RecordedOffAt2(WrongWhenRecorded):
        """out = x², array rule 2x·grad: the Tensor-level backward is (1 + off)× that rule at
        element 2 (``off`` set by the test)."""

        off = 0.0

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.inputs
            scale = np.ones(x.shape)
            scale[2] += RecordedOffAt2.off
            return grad * x * 2.0 * ag.tensor(scale)

    class CubeThroughWrongSquare(ag.Op):
        """out = x³ with right first derivatives 3x²·grad, recorded through WrongSquare (whose
        own backward is wrong): only the second derivative is wrong, because of WrongSquare."""

        @staticmethod
        def forward(ctx, x):
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3.0 * WrongSquare.apply(ctx.inputs[0])

        @staticmethod
        def backward_arrays(ctx, grad):
            return grad * 3.0 * ctx.inputs[0].data ** 2

    return SimpleNamespace(**{cls.__name__: cls for cls in (
        GoodCube, WrongSquare, WrongAtElement2, WrongExp, NoisySquare, IgnoresGrad,
        SquareViaData, SinViaNumpy, NanBackward, WrongWhenRecorded, RecordedOffAt2,
        CubeThroughWrongSquare)})


@pytest.fixture
def ops():
    return _define_ops()             # tests/conftest.py removes them from Op.registry afterwards


def message_of(excinfo) -> str:
    return str(excinfo.value)


# --- gradcheck: correct functions pass ----------------------------------------------------------
rng0 = np.random.default_rng(0)
CORRECT = {
    "tanh_affine": (lambda x, w, b: ag.tanh(w @ x + b),
                    (rng0.standard_normal(3), rng0.standard_normal((2, 3)),
                     rng0.standard_normal(2))),
    "broadcast_mul_sum": (lambda a, b: (a * b).sum(axis=0),
                          (rng0.standard_normal((4, 3)), rng0.standard_normal(3))),
    "softmax_rows": (lambda x: ag.softmax(x, axis=-1), (rng0.standard_normal((2, 4)),)),
    "linear_sigmoid_mse": (
        lambda x, w, b: ((ag.sigmoid(ag.linear(x, w, b)) - 0.5) ** 2).mean(),
        (rng0.standard_normal((5, 3)), rng0.standard_normal((2, 3)), rng0.standard_normal(2))),
    "two_outputs": (lambda x: (ag.sin(x) * x, ag.exp(x).sum()), (rng0.standard_normal(3),)),
    "batched_matmul": (lambda a, b: a @ b,
                       (rng0.standard_normal((2, 3, 4)), rng0.standard_normal((4, 2)))),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_gradcheck_passes_on_correct_functions(name):
    fn, arrays = CORRECT[name]
    inputs = tuple(f64(a) for a in arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # float64 inputs: no warning
        assert ag.gradcheck(fn, inputs) is True


def test_gradcheck_passes_with_a_correct_custom_op(ops):
    x = f64([0.3, -1.2, 0.7])
    assert ag.gradcheck(lambda x: ops.GoodCube.apply(ag.tanh(x)).sum(), (x,))


def test_gradcheck_checks_only_inputs_that_require_grad_and_accepts_constants():
    x = f64([0.5, 1.5])
    c = f64([2.0, -1.0], requires_grad=False)
    assert ag.gradcheck(lambda x, c, k: x * c + k, (x, c, 3.0))


def test_gradcheck_leaves_the_inputs_unchanged(ops):
    x = f64([0.3, -1.2, 0.7])
    before = x.numpy().copy()
    ag.gradcheck(lambda x: ops.WrongSquare.apply(x), (x,), raise_exception=False)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


# --- gradcheck: wrong backward rules are caught and located ---------------------------------------
def test_gradcheck_returns_false_when_not_raising(ops):
    x = f64([0.3, -1.2, 0.7])
    assert ag.gradcheck(lambda x: ops.WrongSquare.apply(x), (x,), raise_exception=False) is False


def test_error_names_input_index_element_and_both_values(ops):
    a = f64([0.5, -1.0, 2.0, 0.25])
    b = f64([1.5, 0.5, -0.75, 3.0])
    with pytest.raises(ag.GradcheckError) as excinfo:
        ag.gradcheck(lambda b, a: ops.WrongAtElement2.apply(a, b), (b, a))
    message = message_of(excinfo)
    # the bug is in the gradient for a, which is input 1 of the function, at element 2
    assert "with respect to input 1" in message
    assert "output index (2,), input index (2,)" in message
    match = re.search(r"analytical (\S+), numerical ([^.\s]+\.\d+(?:e-?\d+)?)", message)
    assert match, message
    analytical, numerical = float(match.group(1)), float(match.group(2))
    assert analytical == pytest.approx(1.5 * -0.75, rel=1e-12)      # ∂(a b)/∂a = b, times 1.5
    assert numerical == pytest.approx(-0.75, rel=1e-6)


def test_error_blames_the_wrong_op_and_not_the_correct_ones(ops):
    x = f64([0.3, -1.2, 0.7])
    w = f64([[0.5, 1.0, -0.3], [0.2, 0.1, 0.9]])
    b = f64([0.1, -0.2])

    def composite(x, w, b):
        h = ag.tanh(w @ ops.GoodCube.apply(x) + b)       # MatMul, Add, Tanh and a correct op
        return ag.sigmoid(ops.WrongSquare.apply(h) * h).sum()   # h is also a branch point

    with pytest.raises(ag.GradcheckError) as excinfo:
        ag.gradcheck(composite, (x, w, b))
    message = message_of(excinfo)
    assert "The backward rule of WrongSquare disagrees with its forward" in message
    blamed = message.split("The backward rule of", 1)[1]
    for correct in ("GoodCube", "Tanh", "MatMul", "Add", "Mul", "Sigmoid", "Sum"):
        assert not re.search(rf"\b{correct}\b", blamed), (correct, message)


def test_error_blames_every_wrong_op(ops):
    x = f64([0.3, -1.2, 0.7])
    with pytest.raises(ag.GradcheckError, match=r"WrongSquare.*WrongExp|WrongExp.*WrongSquare"):
        ag.gradcheck(lambda x: ops.WrongExp.apply(ops.WrongSquare.apply(ag.sin(x))).sum(), (x,))


def test_error_for_a_wrong_op_used_at_a_branch_point(ops):
    x = f64([0.4, 0.9])
    with pytest.raises(ag.GradcheckError, match="WrongExp"):
        ag.gradcheck(lambda x: (lambda e: e * ag.cos(e))(ops.WrongExp.apply(x)), (x,))


# --- float32 -------------------------------------------------------------------------------------
def test_gradcheck_warns_for_float32_inputs():
    x = ag.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert x.dtype == np.float32
    with pytest.warns(UserWarning, match="not float64"):
        assert ag.gradcheck(lambda x: ag.tanh(x * 2.0), (x,))


def test_gradcheck_still_catches_a_bug_in_float32(ops):
    x = ag.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not float64"):
        with pytest.raises(ag.GradcheckError, match="WrongSquare"):
            ag.gradcheck(lambda x: ops.WrongSquare.apply(x * 2.0), (x,))


# --- large inputs: random projections ------------------------------------------------------------
class CountingFn:
    """Wrap ``fn`` and count how often gradcheck evaluates it."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def test_large_inputs_pass_through_random_projections_quickly():
    x = f64(np.random.default_rng(1).standard_normal((200, 60)))      # 12,000 elements
    fn = CountingFn(lambda x: ag.tanh(x * x))                         # 1.44e8 Jacobian entries
    assert ag.gradcheck(fn, (x,))
    assert fn.calls < 50              # a full Jacobian would need 24,000 evaluations


def test_large_inputs_still_catch_a_planted_bug(ops):
    x = f64(np.random.default_rng(1).standard_normal((200, 60)))
    w = f64(np.random.default_rng(2).standard_normal((60, 5)))
    with pytest.raises(ag.GradcheckError) as excinfo:
        ag.gradcheck(lambda x, w: ag.tanh(ops.WrongSquare.apply(x) @ w), (x, w))
    message = message_of(excinfo)
    assert "projected Jacobian mismatch" in message and "input 0" in message
    assert "WrongSquare" in message


def test_blocks_up_to_ten_thousand_entries_are_checked_in_full(ops):
    x = f64(np.random.default_rng(1).standard_normal(100))             # 100 × 100 = 10⁴
    with pytest.raises(ag.GradcheckError, match=r"Jacobian mismatch .* at output index \(\d+,\)"):
        ag.gradcheck(lambda x: ops.WrongSquare.apply(x), (x,))


# --- reentrancy and zero grad_output -------------------------------------------------------------
def test_non_deterministic_backward_fails_the_reentrancy_check(ops):
    x = f64([0.3, -1.2, 0.7])
    fn = lambda x: ag.tanh(ops.NoisySquare.apply(x)).sum()          # noqa: E731
    assert ag.gradcheck(fn, (x,), raise_exception=False) is False
    with pytest.raises(ag.GradcheckError, match="not reentrant") as excinfo:
        ag.gradcheck(fn, (x,))
    assert "NoisySquare" in message_of(excinfo)
    assert "Tanh" not in message_of(excinfo)


def test_backward_ignoring_grad_fails_the_zero_grad_output_check(ops):
    x = f64([0.3, -1.2, 0.7])
    # the sum sends a gradient of ones, so the Jacobian itself comes out right
    fn = lambda x: ops.IgnoresGrad.apply(ag.sin(x)).sum()           # noqa: E731
    assert ag.gradcheck(fn, (x,), raise_exception=False) is False
    with pytest.raises(ag.GradcheckError, match="zero grad_output") as excinfo:
        ag.gradcheck(fn, (x,))
    assert "IgnoresGrad" in message_of(excinfo)


# --- gradgradcheck --------------------------------------------------------------------------------
SMOOTH = {
    "tanh_affine": (lambda x, w: ag.tanh(w @ x),
                    (rng0.standard_normal(3), rng0.standard_normal((2, 3)))),
    "x_sin_x": (lambda x: x * ag.sin(x), (rng0.standard_normal(4),)),
    "sigmoid_mse": (lambda x, t: ((ag.sigmoid(x) - t) ** 2).mean(),
                    (rng0.standard_normal(4), rng0.standard_normal(4))),
    "exp_log": (lambda x: ag.log(ag.exp(x) + 1.0) * x, (rng0.standard_normal(3),)),
    "log_softmax": (lambda x: ag.log_softmax(x, axis=-1), (rng0.standard_normal((2, 3)),)),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_gradgradcheck_passes_on_smooth_functions(name):
    fn, arrays = SMOOTH[name]
    assert ag.gradgradcheck(fn, tuple(f64(a) for a in arrays)) is True


def test_gradgradcheck_with_given_grad_outputs():
    x = f64([0.5, -0.3])
    v = f64([2.0, -1.0])
    assert ag.gradgradcheck(lambda x: x ** 3, (x,), grad_outputs=(v,))


@pytest.mark.parametrize("op_name", ["SquareViaData", "SinViaNumpy"])
def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(ops, op_name):
    op = getattr(ops, op_name)
    x = f64([0.3, -1.2, 0.7])
    fn = lambda x: ag.tanh(op.apply(x) * 2.0)                       # noqa: E731
    assert ag.gradcheck(fn, (x,)) is True                            # first order is right
    assert ag.gradgradcheck(fn, (x,), raise_exception=False) is False
    with pytest.raises(ag.GradcheckError, match="Jacobian mismatch"):
        ag.gradgradcheck(fn, (x,))


def test_gradgradcheck_catches_a_recorded_backward_that_differs_from_the_array_rule(ops):
    """gradcheck sees only the array rule; gradgradcheck differentiates the Tensor-level
    backward, whose own derivative is consistent even when its value is wrong: it compares the
    two first derivatives before anything else."""
    x = f64([0.3, -1.2, 0.7])
    fn = lambda x: ag.tanh(ops.WrongWhenRecorded.apply(x))          # noqa: E731
    assert ag.gradcheck(fn, (x,)) is True
    assert ag.gradgradcheck(fn, (x,), raise_exception=False) is False
    with pytest.raises(ag.GradcheckError, match=r"gradgradcheck: the first derivative for input "
                                                r"0 \(shape \(3,\)\) is .* with create_graph=True "
                                                r"but .* without, at index \(\d,\): the "
                                                r"Tensor-level backward of one of Tanh, "
                                                r"WrongWhenRecorded disagrees"):
        ag.gradgradcheck(fn, (x,))


def test_the_create_graph_comparison_names_the_element_and_uses_atol_plus_rtol(ops):
    x = f64([0.3, -1.2, 40.0, 0.5])
    fn = ops.RecordedOffAt2.apply
    ops.RecordedOffAt2.off = 5e-4             # 0.04 off a gradient of 80: within 1e-3·80
    assert ag.gradgradcheck(fn, (x,), grad_outputs=(f64([1.0] * 4),)) is True
    ops.RecordedOffAt2.off = 2e-3
    assert ag.gradgradcheck(fn, (x,), grad_outputs=(f64([1.0] * 4),),
                            raise_exception=False) is False
    ops.RecordedOffAt2.off = 0.5             # the element named is the one that differs most
    with pytest.raises(ag.GradcheckError, match=r"input 0 \(shape \(4,\)\) is 1\.2 with "
                                                r"create_graph=True but 0\.8 without, at index "
                                                r"\(2,\): the Tensor-level backward of one of "
                                                r"RecordedOffAt2 disagrees"):
        ag.gradgradcheck(fn, (f64([60.0, -1.2, 0.4, 0.5]),), grad_outputs=(f64([1.0] * 4),))


def test_the_create_graph_comparison_accepts_exact_agreement_at_zero_tolerance():
    from autograd_core.checks import _create_graph_disagreement
    x, v = f64([0.3, -1.2]), f64([1.0, -2.0])
    assert _create_graph_disagreement(lambda x: x * x, (x,), [0], [v], atol=0.0, rtol=0.0) is None


def test_gradgradcheck_with_an_unused_input_and_an_integer_output(ops):
    """An input the function does not use has no gradient (zeros on both sides); an integer
    output beside the floating one is left out of the comparison, not paired with its v."""
    x, unused = f64([0.3, -1.2, 0.7]), f64([1.0, 2.0])
    assert ag.gradgradcheck(lambda x, y: ag.tanh(x) * x, (x, unused)) is True
    fn = lambda x: (ag.argmax(x), ag.tanh(ops.WrongWhenRecorded.apply(x)))   # noqa: E731
    with pytest.raises(ag.GradcheckError, match="gradgradcheck: the first derivative for "
                                                "input 0"):
        ag.gradgradcheck(fn, (x,))


def test_gradgradcheck_blames_the_op_of_the_recorded_backward_whose_rule_is_wrong(ops):
    x = f64([0.3, -1.2, 0.7])
    fn = ops.CubeThroughWrongSquare.apply
    assert ag.gradcheck(fn, (x,)) is True
    with pytest.raises(ag.GradcheckError, match=r"Jacobian mismatch.*The backward rule of "
                                                r"WrongSquare disagrees with its forward"):
        ag.gradgradcheck(fn, (x,))


# --- detect_anomaly -------------------------------------------------------------------------------
ignore_runtime_warnings = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@ignore_runtime_warnings
def test_anomaly_forward_nan_names_the_op():
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"\blog\b.*nan.*forward"):
            ag.log(ag.tensor([-1.0]))


@ignore_runtime_warnings
def test_anomaly_forward_zero_over_zero_names_div():
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"\bdiv\b.*nan"):
            ag.tensor([0.0]) / ag.tensor([0.0])


@ignore_runtime_warnings
def test_anomaly_forward_inf_names_the_op():
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"\bexp\b.*inf"):
            ag.exp(ag.tensor([1000.0], requires_grad=True))


@ignore_runtime_warnings
def test_anomaly_as_a_decorator():
    @ag.detect_anomaly()
    def compute():
        return ag.log(ag.tensor([-1.0]))

    with pytest.raises(RuntimeError, match=r"\blog\b"):
        compute()
    assert np.isnan(ag.log(ag.tensor([-1.0])).numpy()).all()      # off again after the call


@ignore_runtime_warnings
def test_anomaly_backward_inf_names_the_op_and_where_it_was_created():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly():
        y = ag.sqrt(x).sum()                  # forward is finite: √0 = 0
        with pytest.raises(RuntimeError) as excinfo:
            y.backward()                      # backward: 1 / (2·√0) = inf
    message = message_of(excinfo)
    assert re.search(r"\bsqrt\b.*backward", message), message
    assert "inf" in message
    assert THIS_FILE in message               # the forward creation traceback


@ignore_runtime_warnings
def test_anomaly_backward_nan_from_a_custom_op_names_it_and_where_it_was_created(ops):
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with ag.detect_anomaly():
        y = (ops.NanBackward.apply(x) * 3.0).sum()
        with pytest.raises(RuntimeError) as excinfo:
            y.backward()
    message = message_of(excinfo)
    assert re.search(r"\bnanbackward\b.*backward.*nan", message), message
    assert THIS_FILE in message
    assert "y = (ops.NanBackward.apply(x) * 3.0).sum()" in message


@ignore_runtime_warnings
def test_without_anomaly_mode_nothing_is_raised(ops):
    assert np.isnan(ag.log(ag.tensor([-1.0])).numpy()).all()
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    ag.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    z = ag.tensor([1.0], requires_grad=True)
    ops.NanBackward.apply(z).sum().backward()
    assert np.isnan(z.grad.numpy()).all()


@ignore_runtime_warnings
def test_anomaly_mode_is_restored_after_an_error_and_when_nested(ops):
    with pytest.raises(RuntimeError):
        with ag.detect_anomaly():
            ag.log(ag.tensor([-1.0]))
    ag.log(ag.tensor([-1.0]))                                      # off again: no error
    z = ag.tensor([1.0], requires_grad=True)
    ops.NanBackward.apply(z).sum().backward()                      # the observer is gone too
    with ag.detect_anomaly():
        with ag.detect_anomaly():
            pass
        with pytest.raises(RuntimeError, match=r"\blog\b"):        # outer context still on
            ag.log(ag.tensor([-1.0]))


def test_detect_anomaly_keeps_one_backward_observer_while_any_block_is_open():
    """The backward NaN check is one engine observer, registered by the first open block and
    removed by the last; ``check_nan=False`` registers nothing (the count must come back to
    where it was, or a later backward elsewhere would be checked, or not, by accident)."""
    from autograd_core.graph import engine
    from autograd_core.checks import _observer

    def count():
        return len(engine._observers)

    base, users = count(), _observer["users"]
    with ag.detect_anomaly(check_nan=False):
        assert count() == base and _observer["users"] == users
    assert count() == base and _observer["users"] == users
    with ag.detect_anomaly():
        assert count() == base + 1 and _observer["users"] == users + 1
        with ag.detect_anomaly():
            assert count() == base + 1 and _observer["users"] == users + 2
            with ag.detect_anomaly(check_nan=False):
                assert count() == base + 1 and _observer["users"] == users + 2
        assert count() == base + 1 and _observer["users"] == users + 1
    assert count() == base and _observer["users"] == users and _observer["handle"] is None
