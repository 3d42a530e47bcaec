"""gradcheck at its own tolerance boundary.

gradcheck accepts an analytical derivative a against a numerical n when
|a − n| ≤ atol + rtol·|n|. Hundreds of op tests rest on that line, so it is pinned here with a
custom op whose backward is off by a chosen amount δ: an error just beyond the tolerance
(δ = 1.05·tol) must fail and one just within (δ = 0.95·tol) must pass, for small, medium and
large gradients, for each of atol and rtol alone, and on the random-projection path used for
large Jacobians. The function is linear (out = c·x), so central differences are exact up to
rounding (~1e-10 relative), far below the 5 % margins used here.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.checks import GradcheckError


@pytest.fixture
def scale_op():
    """out = c·x, whose backward returns (c + δ)·grad: off by exactly δ (tests/conftest.py
    removes it from Op.registry afterwards)."""

    class ScaleOffBy(ag.Op):
        @staticmethod
        def forward(ctx, x, c, delta):
            return x * c

        @staticmethod
        def backward(ctx, grad):
            return grad * (ctx.kwargs["c"] + ctx.kwargs["delta"])

    return ScaleOffBy


def _check(op, c, delta, size=3, **tolerances):
    x = ag.tensor(np.linspace(0.25, 0.75, size), dtype="float64", requires_grad=True)
    return ag.gradcheck(lambda x: op.apply(x, c=c, delta=delta), (x,), raise_exception=False,
                        blame=False, **tolerances)


# small (≈1e-3: the case, where atol dominates), medium, and large (rtol dominates)
GRADIENTS = [1e-3, -0.5, 2.0, 1e3]


@pytest.mark.parametrize("c", GRADIENTS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_error_just_beyond_the_default_tolerance_fails(scale_op, c, sign):
    tolerance = 1e-5 + 1e-3 * abs(c)                    # defaults atol=1e-5, rtol=1e-3
    assert _check(scale_op, c, sign * 1.05 * tolerance) is False


@pytest.mark.parametrize("c", GRADIENTS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_error_just_within_the_default_tolerance_passes(scale_op, c, sign):
    tolerance = 1e-5 + 1e-3 * abs(c)
    assert _check(scale_op, c, sign * 0.95 * tolerance) is True


def test_a_sixty_percent_error_on_a_small_gradient_fails(scale_op):
    # the loosened tolerance atol + rtol·(|n| + 1) would accept this (it allows ~1e-3)
    assert _check(scale_op, 1e-3, 0.6e-3) is False


@pytest.mark.parametrize("atol, rtol, c", [(1e-4, 0.0, 1e-3), (1e-4, 0.0, 1e3),
                                           (0.0, 1e-2, 1e-3), (0.0, 1e-2, 1e3),
                                           (1e-2, 1e-1, 0.5)])
def test_the_boundary_follows_the_given_atol_and_rtol(scale_op, atol, rtol, c):
    tolerance = atol + rtol * abs(c)
    assert _check(scale_op, c, 1.05 * tolerance, atol=atol, rtol=rtol) is False
    assert _check(scale_op, c, -1.05 * tolerance, atol=atol, rtol=rtol) is False
    assert _check(scale_op, c, 0.95 * tolerance, atol=atol, rtol=rtol) is True
    assert _check(scale_op, c, -0.95 * tolerance, atol=atol, rtol=rtol) is True


@pytest.mark.parametrize("c", [1e-3, 1e3])
def test_the_boundary_holds_on_the_random_projection_path(scale_op, c):
    # 200 inputs → 200 × 200 = 40 000 Jacobian entries > 10⁴: checked through vᵀJu. With
    # atol = 0 the test is |δ·vᵀu| ≤ rtol·|c·vᵀu|, i.e. |δ| ≤ rtol·|c| whatever v and u are
    assert ag.checks.MAX_FULL_JACOBIAN < 200 * 200
    tolerance = 1e-3 * abs(c)
    assert _check(scale_op, c, 1.05 * tolerance, size=200, atol=0.0) is False
    assert _check(scale_op, c, 0.95 * tolerance, size=200, atol=0.0) is True


def test_the_error_message_gives_both_values(scale_op):
    x = ag.tensor([0.5, 1.0], dtype="float64", requires_grad=True)
    with pytest.raises(GradcheckError, match=r"analytical 2\.1\d*, numerical (2\.0|1\.99)\d*"):
        ag.gradcheck(lambda x: scale_op.apply(x, c=2.0, delta=0.1), (x,), blame=False)
