"""Parity with PyTorch: forward values and gradients of every op, in float64.

Each case runs the same function through autograd_core and through torch on the same float64
inputs and compares the outputs; then it back-propagates the same random upstream gradient through
both (the backward of a random-weighted sum of the outputs) and compares the gradient of every
input. Second order is checked with ``ag.grad(..., create_graph=True)`` and
``ag.functional.hessian`` against ``torch.autograd``. The whole module is skipped without torch.

Deliberate differences from PyTorch are pinned in ``test_documented_differences_*`` at the end.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-10
ATOL = 1e-12


# --- harness -----------------------------------------------------------------------------------
class Const:
    """An input that takes part in the computation but does not require grad (labels, masks)."""

    def __init__(self, value) -> None:
        self.value = value


def _pair(value):
    """The autograd_core and torch versions of one input (float64 arrays become grad leaves)."""
    if isinstance(value, Const):
        value = value.value
        if isinstance(value, np.ndarray):
            return ag.tensor(value), torch.from_numpy(value.copy())
        return value, value
    if isinstance(value, np.ndarray):
        assert value.dtype == np.float64, "parity inputs are float64"
        return ag.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
    return value, value


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, ag.Tensor):
        return value.numpy()
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def assert_close(actual, expected, what: str = "", rtol: float = RTOL, atol: float = ATOL):
    ours, theirs = _to_numpy(actual), _to_numpy(expected)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def _pieces(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_parity(ag_fn, torch_fn, *inputs, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Compare forward outputs and the gradients of every float64 array input with torch."""
    pairs = [_pair(v) for v in inputs]
    ours = _pieces(ag_fn(*[p[0] for p in pairs]))
    theirs = _pieces(torch_fn(*[p[1] for p in pairs]))
    assert len(ours) == len(theirs), f"{len(ours)} outputs, torch has {len(theirs)}"
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert isinstance(o, ag.Tensor) and o.dtype == np.float64, f"output {i}: {o!r}"
        assert_close(o, t, f"forward output {i}", rtol, atol)
    rng = np.random.default_rng(1234)
    weights = [rng.standard_normal(t.shape) for t in theirs]
    our_loss = sum((o * ag.tensor(w)).sum() for o, w in zip(ours, weights))
    their_loss = sum((t * torch.from_numpy(w)).sum() for t, w in zip(theirs, weights))
    our_loss.backward()
    their_loss.backward()
    for i, (value, (a, t)) in enumerate(zip(inputs, pairs)):
        if not isinstance(value, np.ndarray):
            continue
        assert a.grad is not None, f"input {i} got no gradient"
        assert a.grad.dtype == np.float64 and a.grad.shape == a.shape, f"input {i}: {a.grad!r}"
        assert_close(a.grad, t.grad, f"gradient of input {i}", rtol, atol)


def _uniform(shape, low=-3.0, high=3.0, seed=0) -> np.ndarray:
    return np.asarray(np.random.default_rng(seed).uniform(low, high, shape))


def _away_from_zero(shape, seed=0) -> np.ndarray:
    """Values with 0.5 ≤ |v| ≤ 2 (safe denominators, no kinks)."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def _shape_id(value) -> str:
    return "x".join(map(str, value)) if isinstance(value, tuple) and value else repr(value)


# --- elementwise: binary -----------------------------------------------------------------------
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 1, 4), (3, 1)), ((3, 1), (1, 5)),
    ((), (2, 3)), ((2, 3), ()), ((1,), (2, 1, 3)),
]

BINARY_OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "add_fn": (ag.add, torch.add),
    "sub_fn": (ag.sub, torch.sub),
    "mul_fn": (ag.mul, torch.mul),
    "div_fn": (ag.div, torch.div),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b),
    "pow_fn": (ag.pow, torch.pow),
    "maximum": (ag.maximum, torch.maximum),
    "minimum": (ag.minimum, torch.minimum),
    "maximum_method": (lambda a, b: a.maximum(b), torch.maximum),
    "minimum_method": (lambda a, b: a.minimum(b), torch.minimum),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("name", list(BINARY_OPS))
def test_binary_elementwise(name, shapes):
    ag_fn, torch_fn = BINARY_OPS[name]
    if name.startswith("pow"):                 # positive base, exponent of either sign
        a, b = _uniform(shapes[0], 0.3, 2.5, seed=1), _uniform(shapes[1], -2.0, 2.0, seed=2)
    else:
        a, b = _away_from_zero(shapes[0], seed=1), _away_from_zero(shapes[1], seed=2)
    check_parity(ag_fn, torch_fn, a, b)


SCALAR_OPERAND_CASES = {
    "x+1.5": (lambda x: x + 1.5, None),
    "1.5+x": (lambda x: 1.5 + x, None),
    "x-2": (lambda x: x - 2, None),
    "2-x": (lambda x: 2.0 - x, None),
    "x*-3": (lambda x: x * -3.0, None),
    "3*x": (lambda x: 3 * x, None),
    "x/4": (lambda x: x / 4.0, None),
    "4/x": (lambda x: 4.0 / x, None),
    "x**2": (lambda x: x ** 2, None),
    "x**3": (lambda x: x ** 3, None),
    "x**0.5": (lambda x: x ** 0.5, None),
    "x**-1.5": (lambda x: x ** -1.5, None),
    "x**0": (lambda x: x ** 0, None),
    "x**1": (lambda x: x ** 1, None),
    "2**x": (lambda x: 2.0 ** x, None),
    "pow(x,2.5)": (lambda x: ag.pow(x, 2.5), lambda x: torch.pow(x, 2.5)),
    "x.pow(-1)": (lambda x: x.pow(-1), lambda x: x.pow(-1)),
}


@pytest.mark.parametrize("name", list(SCALAR_OPERAND_CASES))
def test_python_scalar_operands(name):
    ag_fn, torch_fn = SCALAR_OPERAND_CASES[name]
    positive = "**" in name or "pow" in name or name == "4/x"
    x = _uniform((2, 3), 0.3, 2.5) if positive else _uniform((2, 3))
    check_parity(ag_fn, torch_fn or ag_fn, x)


@pytest.mark.parametrize("p", [2, 3, -1])
def test_integer_scalar_power_of_negative_base(p):
    x = _away_from_zero((3, 4))
    check_parity(lambda t: t ** p, lambda t: t ** p, x)


# --- elementwise: unary ------------------------------------------------------------------------
UNARY_OPS = {
    "neg": (lambda x: -x, lambda x: -x, "any"),
    "neg_fn": (ag.neg, torch.neg, "any"),
    "exp": (ag.exp, torch.exp, "any"),
    "log": (ag.log, torch.log, "positive"),
    "sqrt": (ag.sqrt, torch.sqrt, "positive"),
    "abs": (ag.abs, torch.abs, "nonzero"),
    "abs_builtin": (abs, abs, "nonzero"),
    "sin": (ag.sin, torch.sin, "any"),
    "cos": (ag.cos, torch.cos, "any"),
    "tanh": (ag.tanh, torch.tanh, "any"),
    "sigmoid": (ag.sigmoid, torch.sigmoid, "any"),
    "relu": (ag.relu, torch.relu, "nonzero"),
    "leaky_relu": (ag.leaky_relu, F.leaky_relu, "nonzero"),
    "leaky_relu_0.2": (lambda x: ag.leaky_relu(x, negative_slope=0.2),
                       lambda x: F.leaky_relu(x, negative_slope=0.2), "nonzero"),
    "elu": (ag.elu, F.elu, "nonzero"),
    "elu_0.7": (lambda x: ag.elu(x, alpha=0.7), lambda x: F.elu(x, alpha=0.7), "nonzero"),
    "selu": (ag.selu, F.selu, "nonzero"),
    "softplus": (ag.softplus, F.softplus, "any"),
    "softplus_beta2": (lambda x: ag.softplus(x, beta=2.0), lambda x: F.softplus(x, beta=2.0),
                       "any"),
    "silu": (ag.silu, F.silu, "any"),
    "swish": (ag.swish, F.silu, "any"),
    "gelu": (ag.gelu, F.gelu, "any"),
    "gelu_tanh": (lambda x: ag.gelu(x, approximate="tanh"),
                  lambda x: F.gelu(x, approximate="tanh"), "any"),
    "clip": (lambda x: ag.clip(x, -0.5, 0.8), lambda x: torch.clamp(x, -0.5, 0.8), "any"),
    "clip_min": (lambda x: ag.clip(x, min=-0.5), lambda x: torch.clamp(x, min=-0.5), "any"),
    "clip_max": (lambda x: ag.clip(x, max=0.3), lambda x: torch.clamp(x, max=0.3), "any"),
    "clamp_method": (lambda x: x.clamp(-1.0, 1.0), lambda x: x.clamp(-1.0, 1.0), "any"),
    "tanh_method": (lambda x: x.tanh(), lambda x: x.tanh(), "any"),
    "sigmoid_method": (lambda x: x.sigmoid(), lambda x: x.sigmoid(), "any"),
    "relu_method": (lambda x: x.relu(), lambda x: x.relu(), "nonzero"),
    "exp_log_method": (lambda x: x.exp().log(), lambda x: x.exp().log(), "any"),
    "softplus_method": (lambda x: x.softplus(beta=0.5), lambda x: F.softplus(x, beta=0.5),
                        "any"),
}


def _domain(kind: str, shape) -> np.ndarray:
    if kind == "positive":
        return _uniform(shape, 0.2, 3.0)
    if kind == "nonzero":
        return np.asarray(_away_from_zero(shape) * 1.5)
    return _uniform(shape)


@pytest.mark.parametrize("shape", [(), (7,), (2, 1, 3)], ids=_shape_id)
@pytest.mark.parametrize("name", list(UNARY_OPS))
def test_unary_elementwise(name, shape):
    ag_fn, torch_fn, kind = UNARY_OPS[name]
    check_parity(ag_fn, torch_fn, _domain(kind, shape))


KINK_CASES = {
    # the subgradient conventions at non-differentiable points, as PyTorch's
    "relu_at_0": (ag.relu, torch.relu, [0.0, -0.0, 1.0, -1.0]),
    "leaky_relu_at_0": (lambda x: ag.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1),
                        [0.0, 1.0, -1.0]),
    "elu_at_0": (lambda x: ag.elu(x, 0.7), lambda x: F.elu(x, 0.7), [0.0, 1.0, -1.0]),
    "selu_at_0": (ag.selu, F.selu, [0.0, 1.0, -1.0]),
    "abs_at_0": (ag.abs, torch.abs, [0.0, 2.0, -2.0]),
    "clip_at_bounds": (lambda x: ag.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0),
                       [-1.0, 1.0, -2.0, 2.0, 0.0]),
    "clip_min_at_bound": (lambda x: ag.clip(x, min=0.0), lambda x: torch.clamp(x, min=0.0),
                          [0.0, -1.0, 1.0]),
    "clip_max_at_bound": (lambda x: ag.clip(x, max=0.0), lambda x: torch.clamp(x, max=0.0),
                          [0.0, -1.0, 1.0]),
    "clip_min_above_max": (lambda x: ag.clip(x, 1.0, -1.0), lambda x: torch.clamp(x, 1.0, -1.0),
                           [-2.0, 0.0, 2.0]),
    "sqrt_of_square": (lambda x: ag.sqrt(x * x), lambda x: torch.sqrt(x * x), [3.0, -2.0]),
}


@pytest.mark.parametrize("name", list(KINK_CASES))
def test_subgradients_at_kinks(name):
    ag_fn, torch_fn, values = KINK_CASES[name]
    check_parity(ag_fn, torch_fn, np.array(values))


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_evenly(op):
    a = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    b = np.array([[1.0, 0.0, 3.0], [0.5, -1.0, 5.0]])
    check_parity(getattr(ag, op), getattr(torch, op), a, b)
    # broadcast ties: the halves of one b element are summed over the broadcast axis
    check_parity(getattr(ag, op), getattr(torch, op), a, np.array([1.0, 2.0, 3.0]))


def test_pow_tensor_exponent_at_zero_base():
    # 0⁰: a⁰ is constant, so grad_a = 0 (the rule b·aᵇ⁻¹ would give 0·∞ = nan)
    a = np.array([0.0, 0.0, 0.0, 0.0, 1.5, 2.0])
    b = np.array([0.0, 2.0, 1.0, 2.5, 0.0, 3.0])
    check_parity(ag.pow, torch.pow, a, b)
    check_parity(ag.pow, torch.pow, np.array([0.0, 3.0]), np.array([[0.0], [2.0]]))


# --- where ---------------------------------------------------------------------------------------
WHERE_CASES = {
    "same_shape": ((3, 4), (3, 4), (3, 4)),
    "broadcast": ((3, 1), (1, 4), (3, 4)),
    "cond_row": ((4,), (3, 4), (4,)),
    "scalar_branch": ((2, 3), (2, 3), ()),
    "cond_broadest": ((2, 3, 4), (3, 1), (4,)),
}


@pytest.mark.parametrize("name", list(WHERE_CASES))
def test_where(name):
    cond_shape, a_shape, b_shape = WHERE_CASES[name]
    cond = np.random.default_rng(5).random(cond_shape) > 0.5
    check_parity(ag.where, torch.where, Const(cond), _uniform(a_shape, seed=1),
                 _uniform(b_shape, seed=2))


def test_where_with_python_scalar_branches():
    cond = np.array([[True, False, True], [False, False, True]])
    x = _uniform((2, 3))
    check_parity(lambda c, t: ag.where(c, t, 0.5), lambda c, t: torch.where(c, t, 0.5),
                 Const(cond), x)
    check_parity(lambda c, t: ag.where(c, -1.0, t), lambda c, t: torch.where(c, -1.0, t),
                 Const(cond), x)


# --- matmul and linear ---------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((5, 2, 3), (5, 3, 2)), ((1, 2, 3), (4, 3, 2)),
    ((2, 3), (4, 3, 5)), ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}@{s[1]}")
@pytest.mark.parametrize("form", ["operator", "function"])
def test_matmul(shapes, form):
    ag_fn = (lambda a, b: a @ b) if form == "operator" else ag.matmul
    check_parity(ag_fn, torch.matmul, _uniform(shapes[0], seed=1), _uniform(shapes[1], seed=2))


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,), (1, 3)], ids=_shape_id)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear(x_shape, bias):
    x, w = _uniform(x_shape, seed=1), _uniform((5, 3), seed=2)
    if bias:
        check_parity(ag.linear, F.linear, x, w, _uniform((5,), seed=3))
    else:
        check_parity(ag.linear, F.linear, x, w)


def test_linear_with_constant_weight():
    x, w, b = _uniform((4, 3), seed=1), _uniform((5, 3), seed=2), _uniform((5,), seed=3)
    check_parity(ag.linear, F.linear, x, Const(w), b)


# --- reductions ----------------------------------------------------------------------------------
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def _torch_prod(x, dims, keepdim):
    """torch.prod takes one dim: reduce several by moving them last and flattening."""
    if x.ndim == 0:
        return x.prod()
    dims = sorted(d % x.ndim for d in ((dims,) if isinstance(dims, int) else dims))
    rest = [d for d in range(x.ndim) if d not in dims]
    moved = x.permute(*rest, *dims).reshape(*[x.shape[d] for d in rest], -1)
    out = moved.prod(-1)
    if keepdim:
        out = out.reshape([1 if d in dims else s for d, s in enumerate(x.shape)])
    return out


TORCH_REDUCTIONS = {
    "sum": lambda x, d, k: torch.sum(x, dim=d, keepdim=k),
    "mean": lambda x, d, k: torch.mean(x, dim=d, keepdim=k),
    "var": lambda x, d, k: torch.var(x, dim=d, keepdim=k, correction=0),
    "var_ddof1": lambda x, d, k: torch.var(x, dim=d, keepdim=k, correction=1),
    "std": lambda x, d, k: torch.std(x, dim=d, keepdim=k, correction=0),
    "std_ddof1": lambda x, d, k: torch.std(x, dim=d, keepdim=k, correction=1),
    "max": lambda x, d, k: torch.amax(x, dim=d, keepdim=k),
    "min": lambda x, d, k: torch.amin(x, dim=d, keepdim=k),
    "prod": _torch_prod,
    "logsumexp": lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
}


def _ag_reduction(name: str, style: str, axis, keepdims: bool):
    """Our reduction in numpy style (function, axis/keepdims/ddof) or torch style (method,
    dim/keepdim/correction)."""
    base, _, ddof = name.partition("_ddof")
    ddof = int(ddof or 0)
    if style == "numpy":
        extra = {"ddof": ddof} if base in ("var", "std") else {}
        return lambda x: getattr(ag, base)(x, axis=axis, keepdims=keepdims, **extra)
    extra = {"correction": ddof} if base in ("var", "std") else {}
    return lambda x: getattr(x, base)(dim=axis, keepdim=keepdims, **extra)


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", AXES, ids=repr)
@pytest.mark.parametrize("style", ["numpy", "torch_alias"])
@pytest.mark.parametrize("name", list(TORCH_REDUCTIONS))
def test_reductions(name, style, axis, keepdims):
    x = _uniform((2, 3, 4), 0.5, 1.5) if name == "prod" else _uniform((2, 3, 4))
    torch_fn = TORCH_REDUCTIONS[name]
    check_parity(_ag_reduction(name, style, axis, keepdims),
                 lambda t: torch_fn(t, _dims(axis, t.ndim), keepdims), x)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "logsumexp"])
def test_reductions_of_vectors_and_scalars(name):
    torch_fn = TORCH_REDUCTIONS[name]
    for shape in [(5,), (1,), ()]:
        x = _uniform(shape, 0.5, 1.5)
        check_parity(lambda t: getattr(ag, name)(t),
                     lambda t: torch_fn(t, tuple(range(t.ndim)), False), x)


TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.0, -1.0, 5.0, 5.0]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=repr)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_ties_split_like_amax_amin(op, axis):
    torch_fn = TORCH_REDUCTIONS[op]
    for x in (TIES, -TIES, np.full((2, 3), 4.0)):
        check_parity(lambda t: getattr(ag, op)(t, axis=axis),
                     lambda t: torch_fn(t, _dims(axis, t.ndim), False), x)


PROD_WITH_ZEROS = np.array([[1.5, 0.0, 2.0, -1.0],      # one zero
                            [0.0, 0.0, 3.0, 2.0],        # two zeros
                            [1.0, 2.0, -1.0, 0.5]])      # none


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=repr)
def test_prod_with_zeros(axis, keepdims):
    for x in (PROD_WITH_ZEROS, PROD_WITH_ZEROS[:1], PROD_WITH_ZEROS[1:2], PROD_WITH_ZEROS[2:]):
        check_parity(lambda t: ag.prod(t, axis=axis, keepdims=keepdims),
                     lambda t: _torch_prod(t, _dims(axis, t.ndim), keepdims), x)


@pytest.mark.parametrize("axis", [0, 1, -1, 2], ids=repr)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("style", ["function_axis", "method_dim"])
def test_softmax_family(op, axis, style):
    if style == "function_axis":
        ag_fn = lambda t: getattr(ag, op)(t, axis=axis)                 # noqa: E731
    else:
        ag_fn = lambda t: getattr(t, op)(dim=axis)                      # noqa: E731
    check_parity(ag_fn, lambda t: getattr(torch, op)(t, dim=axis), _uniform((3, 4, 5)))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_default_axis_on_vector(op):
    check_parity(getattr(ag, op), lambda t: getattr(torch, op)(t, dim=-1), _uniform((6,)))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_over_size_one_axis(op):
    check_parity(lambda t: getattr(ag, op)(t, axis=1), lambda t: getattr(torch, op)(t, dim=1),
                 _uniform((3, 1, 4)))


def test_transpose_of_matrix():
    check_parity(lambda t: t.T, lambda t: t.T, _uniform((3, 5)))
    check_parity(lambda t: t.transpose(1, 0), lambda t: t.transpose(1, 0), _uniform((3, 5)))


# --- shape ops -----------------------------------------------------------------------------------
SHAPE_CASES = {
    "reshape_2d": (lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4)),
    "reshape_tuple": (lambda x: ag.reshape(x, (4, -1, 2)), lambda x: x.reshape(4, -1, 2)),
    "reshape_flat": (lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    "view": (lambda x: x.view(3, 8), lambda x: x.view(3, 8)),
    "transpose_swap": (lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1)),
    "transpose_swap_negative": (lambda x: ag.transpose(x, -1, 0), lambda x: x.transpose(-1, 0)),
    "transpose_permutation": (lambda x: x.transpose((2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    "transpose_three_ints": (lambda x: ag.transpose(x, 1, 2, 0), lambda x: x.permute(1, 2, 0)),
    "transpose_reverse": (lambda x: ag.transpose(x), lambda x: x.permute(2, 1, 0)),
    "T": (lambda x: x.T, lambda x: x.permute(2, 1, 0)),
    "permute": (lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0)),
    "permute_tuple": (lambda x: ag.permute(x, (2, 1, 0)), lambda x: x.permute(2, 1, 0)),
    "permute_negative": (lambda x: x.permute(-1, 0, 1), lambda x: x.permute(-1, 0, 1)),
    "unsqueeze_0": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "unsqueeze_-1": (lambda x: ag.unsqueeze(x, -1), lambda x: x.unsqueeze(-1)),
    "unsqueeze_dim": (lambda x: x.unsqueeze(dim=2), lambda x: x.unsqueeze(dim=2)),
    "flatten": (lambda x: x.flatten(), lambda x: x.flatten()),
    "flatten_1": (lambda x: ag.flatten(x, 1), lambda x: x.flatten(1)),
    "flatten_0_1": (lambda x: x.flatten(0, 1), lambda x: x.flatten(0, 1)),
    "flatten_-2_-1": (lambda x: x.flatten(start_dim=-2, end_dim=-1),
                      lambda x: x.flatten(start_dim=-2, end_dim=-1)),
    "flatten_same": (lambda x: x.flatten(1, 1), lambda x: x.flatten(1, 1)),
}


@pytest.mark.parametrize("name", list(SHAPE_CASES))
def test_shape_ops(name):
    ag_fn, torch_fn = SHAPE_CASES[name]
    check_parity(ag_fn, torch_fn, _uniform((2, 3, 4)))


SQUEEZE_CASES = {
    "all": (lambda x: x.squeeze(), lambda x: x.squeeze()),
    "axis_1": (lambda x: ag.squeeze(x, 1), lambda x: x.squeeze(1)),
    "axis_-1": (lambda x: x.squeeze(-1), lambda x: x.squeeze(-1)),
    "dim_3": (lambda x: x.squeeze(dim=3), lambda x: x.squeeze(dim=3)),
    "tuple": (lambda x: ag.squeeze(x, (1, 3)), lambda x: x.squeeze((1, 3))),
}


@pytest.mark.parametrize("name", list(SQUEEZE_CASES))
def test_squeeze(name):
    ag_fn, torch_fn = SQUEEZE_CASES[name]
    check_parity(ag_fn, torch_fn, _uniform((2, 1, 3, 1)))


@pytest.mark.parametrize("shapes", [((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((), (2, 2)),
                                    ((1, 1), (1, 5)), ((2, 1, 3), (2, 4, 3))],
                         ids=lambda s: f"{s[0]}->{s[1]}")
@pytest.mark.parametrize("form", ["broadcast_to", "expand"])
def test_broadcast_to_vs_expand(shapes, form):
    source, target = shapes
    ag_fn = (lambda t: ag.broadcast_to(t, target)) if form == "broadcast_to" else \
        (lambda t: t.expand(target))
    check_parity(ag_fn, lambda t: t.expand(*target), _uniform(source))


_MASK = np.random.default_rng(7).random((5, 4, 3)) > 0.5
INDEX_CASES = {
    "int": 2,
    "negative_int": -1,
    "slice": slice(1, 4),
    "slice_step": slice(1, None, 2),
    "slices_with_steps": (slice(None, None, 2), slice(1, 4, 2)),
    "negative_ints": (-2, slice(None), -1),
    "negative_slice_bounds": (slice(-3, -1), slice(None, -1)),
    "int_array_repeats": np.array([0, 2, 2, 4, 0]),
    "int_array_negative": np.array([-1, 0, -1]),
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "list_index": [3, 3, 1],
    "bool_mask_rows": np.array([True, False, True, True, False]),
    "bool_mask_full": _MASK,
    "bool_mask_then_slice": (np.array([True, False, True, True, False]), slice(1, 3)),
    "slice_then_array": (slice(1, 4), np.array([0, 0, 3])),
    "separated_arrays": (np.array([0, 4, 4]), slice(None), np.array([2, 0, 2])),
    "adjacent_arrays_broadcast": (np.array([[0], [4]]), np.array([1, 3, 1])),
    "int_array_int": (1, np.array([0, 3, 3]), -1),
    "ellipsis_none": (Ellipsis, None, 1),
    "none_slice": (None, slice(0, 2), 3),
    "all_ints": (4, -4, 2),
    "empty_slice": slice(3, 1),
}


def _torch_index(index):
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, list):
        return torch.tensor(index)
    return index


@pytest.mark.parametrize("name", list(INDEX_CASES))
def test_indexing(name):
    index = INDEX_CASES[name]
    check_parity(lambda t: t[index], lambda t: t[_torch_index(index)], _uniform((5, 4, 3)))


def test_indexing_with_tensor_indices():
    rows, cols = np.array([0, 2, 2]), np.array([1, 1, 3])
    check_parity(lambda t: t[ag.tensor(rows), ag.tensor(cols)],
                 lambda t: t[torch.from_numpy(rows), torch.from_numpy(cols)], _uniform((4, 5)))
    mask = _uniform((4, 5)) > 0
    check_parity(lambda t: ag.getitem(t, ag.tensor(mask)), lambda t: t[torch.from_numpy(mask)],
                 _uniform((4, 5), seed=3))


def test_indexing_with_negative_steps():
    # torch has no negative steps: flip is its spelling of x[::-1]
    check_parity(lambda t: t[::-1], lambda t: torch.flip(t, [0]), _uniform((5, 3)))
    check_parity(lambda t: t[:, ::-2], lambda t: torch.flip(t, [1])[:, ::2], _uniform((5, 4)))


def test_indexing_used_twice_accumulates():
    check_parity(lambda t: t[1:] * t[:-1] + t[np.array([0, 0, 0])],
                 lambda t: t[1:] * t[:-1] + t[torch.tensor([0, 0, 0])], _uniform((4,)))


CONCAT_CASES = {
    "axis0": ([(2, 3), (4, 3), (1, 3)], {"axis": 0}, {"dim": 0}),
    "axis1": ([(2, 3), (2, 1), (2, 5)], {"axis": 1}, {"dim": 1}),
    "axis-1": ([(2, 2, 3), (2, 2, 1)], {"axis": -1}, {"dim": -1}),
    "dim_alias": ([(2, 1, 3), (2, 4, 3)], {"dim": 1}, {"dim": 1}),
    "single": ([(3, 2)], {}, {}),
}


@pytest.mark.parametrize("name", list(CONCAT_CASES))
@pytest.mark.parametrize("fn", ["concatenate", "cat"])
def test_concatenate(name, fn):
    shapes, ours, theirs = CONCAT_CASES[name]
    arrays = [_uniform(s, seed=i) for i, s in enumerate(shapes)]
    check_parity(lambda *ts: getattr(ag, fn)(list(ts), **ours),
                 lambda *ts: torch.cat(ts, **theirs), *arrays)


def test_concatenate_with_a_constant_piece():
    check_parity(lambda a, c, b: ag.concatenate([a, c, b], axis=1),
                 lambda a, c, b: torch.cat([a, c, b], dim=1),
                 _uniform((2, 3), seed=1), Const(_uniform((2, 2), seed=2)), _uniform((2, 1)))


def test_stack_of_scalars_and_with_a_constant():
    check_parity(lambda *ts: ag.stack(ts), lambda *ts: torch.stack(ts),
                 _uniform((), seed=1), _uniform((), seed=2))
    check_parity(lambda a, c: ag.stack([a, c], axis=-1), lambda a, c: torch.stack([a, c], -1),
                 _uniform((3,), seed=1), Const(_uniform((3,), seed=2)))


@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": -1}, {"axis": 2}, {"dim": 1}],
                         ids=repr)
def test_stack(kwargs):
    arrays = [_uniform((2, 3), seed=i) for i in range(3)]
    dim = kwargs.get("axis", kwargs.get("dim", 0))
    check_parity(lambda *ts: ag.stack(ts, **kwargs), lambda *ts: torch.stack(ts, dim=dim),
                 *arrays)


SPLIT_CASES = {
    "int_uneven": ((7, 3), 3, {}, 0),
    "int_even": ((6, 3), 2, {}, 0),
    "int_larger_than_axis": ((3, 2), 5, {}, 0),
    "sections": ((7, 3), [2, 5], {}, 0),
    "sections_with_zero": ((7, 3), [2, 0, 5], {}, 0),
    "axis1": ((2, 5), 2, {"axis": 1}, 1),
    "axis-1_sections": ((2, 5), [1, 3, 1], {"axis": -1}, -1),
    "dim_alias": ((2, 5, 2), [4, 1], {"dim": 1}, 1),
}


@pytest.mark.parametrize("name", list(SPLIT_CASES))
@pytest.mark.parametrize("form", ["function", "method"])
def test_split(name, form):
    shape, sections, kwargs, dim = SPLIT_CASES[name]
    if form == "function":
        ag_fn = lambda t: ag.split(t, sections, **kwargs)               # noqa: E731
    else:
        ag_fn = lambda t: t.split(sections, **kwargs)                   # noqa: E731
    check_parity(ag_fn, lambda t: torch.split(t, sections, dim=dim), _uniform(shape))


# --- losses --------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]
SMOOTHING = [0.0, 0.1]


@pytest.mark.parametrize("smoothing", SMOOTHING, ids=lambda s: f"ls{s}")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("logits_shape", [(4, 5), (1, 3), (2, 3, 5)], ids=_shape_id)
def test_softmax_cross_entropy_integer_labels(logits_shape, reduction, smoothing):
    labels = np.random.default_rng(3).integers(0, logits_shape[-1], logits_shape[:-1])
    check_parity(
        lambda z, t: ag.softmax_cross_entropy(z, t, reduction=reduction,
                                              label_smoothing=smoothing),
        lambda z, t: F.cross_entropy(z.movedim(-1, 1), t, reduction=reduction,
                                     label_smoothing=smoothing),
        _uniform(logits_shape), Const(labels))


@pytest.mark.parametrize("smoothing", SMOOTHING, ids=lambda s: f"ls{s}")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_grad", [False, True], ids=["const_target", "grad_target"])
def test_softmax_cross_entropy_probability_targets(reduction, smoothing, target_grad):
    probs = np.random.default_rng(4).dirichlet(np.ones(5), size=(2, 3))
    target = probs if target_grad else Const(probs)
    check_parity(
        lambda z, t: ag.softmax_cross_entropy(z, t, reduction=reduction,
                                              label_smoothing=smoothing),
        lambda z, t: F.cross_entropy(z.movedim(-1, 1), t.movedim(-1, 1), reduction=reduction,
                                     label_smoothing=smoothing),
        _uniform((2, 3, 5)), target)


def test_softmax_cross_entropy_one_hot_target_with_extreme_logit():
    # a zero target next to a very negative logit: 0·ln(softmax) must stay 0, not nan
    z = np.array([[50.0, -800.0, 0.0], [1.0, 2.0, 3.0]])
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    check_parity(lambda a, b: ag.softmax_cross_entropy(a, b, reduction="sum"),
                 lambda a, b: F.cross_entropy(a, b, reduction="sum"), z, Const(t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (5,), ()], ids=_shape_id)
def test_binary_cross_entropy_with_logits(reduction, shape):
    logits, target = _uniform(shape, -4.0, 4.0, seed=1), _uniform(shape, 0.0, 1.0, seed=2)
    check_parity(
        lambda z, t: ag.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        logits, target)


def test_binary_cross_entropy_with_logits_hard_targets_default_reduction():
    logits = np.array([[-30.0, -1.0, 0.0], [0.5, 2.0, 40.0]])
    target = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    check_parity(ag.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                 logits, Const(target))


# --- non-differentiable ops: values only ---------------------------------------------------------
@pytest.mark.parametrize("num_classes", [4, -1])
def test_one_hot(num_classes):
    for labels in (np.array([0, 2, 1, 2]), np.array([[3, 0], [1, 1]])):
        ours = ag.one_hot(ag.tensor(labels), num_classes)
        theirs = F.one_hot(torch.from_numpy(labels), num_classes)
        assert_close(ours, theirs.to(torch.float32), "one_hot")
        assert ours.dtype == np.float32                # deliberate: float, torch gives int64
        assert not ours.requires_grad


_ARG_INPUT = np.array([[[1.0, 5.0, 5.0], [2.0, 0.0, 0.0]], [[-1.0, -1.0, 3.0], [4.0, 4.0, 4.0]]])


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=repr)
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, axis, keepdims):
    """Ties pick the first index in both libraries."""
    for data in (_ARG_INPUT, _uniform((3, 4, 2))):
        x = ag.tensor(data, requires_grad=True)
        t = torch.from_numpy(data)
        expected = getattr(torch, op)(t, dim=axis, keepdim=keepdims)
        for ours in (getattr(ag, op)(x, axis=axis, keepdims=keepdims),
                     getattr(x, op)(dim=axis, keepdim=keepdims)):
            assert ours.dtype == np.int64 and not ours.requires_grad
            np.testing.assert_array_equal(ours.numpy(), expected.numpy())


COMPARISONS = {
    "eq": (lambda a, b: a == b, ag.eq), "ne": (lambda a, b: a != b, ag.ne),
    "lt": (lambda a, b: a < b, ag.lt), "le": (lambda a, b: a <= b, ag.le),
    "gt": (lambda a, b: a > b, ag.gt), "ge": (lambda a, b: a >= b, ag.ge),
}


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_comparisons(name):
    operator, function = COMPARISONS[name]
    a = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], [0.0, 2.0, 2.0, 5.0]])
    b = np.array([1.0, 3.0, 2.0, 4.0])
    x, y = ag.tensor(a, requires_grad=True), ag.tensor(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for ours, theirs in [(operator(x, y), operator(ta, tb)), (function(x, y), operator(ta, tb)),
                         (operator(x, 2.0), operator(ta, 2.0)),
                         (operator(y, x), operator(tb, ta))]:
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- higher order --------------------------------------------------------------------------------
def _second_order_parity(ag_fn, torch_fn, arrays, weights_seed=9):
    """First gradients (create_graph) of f, then the gradients of a random projection of them."""
    ours = [ag.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    our_grads = ag.grad(ag_fn(*ours), ours, create_graph=True)
    their_grads = torch.autograd.grad(torch_fn(*theirs), theirs, create_graph=True)
    rng = np.random.default_rng(weights_seed)
    projections = [rng.standard_normal(a.shape) for a in arrays]
    for i, (g, tg) in enumerate(zip(our_grads, their_grads)):
        assert g.requires_grad, f"first gradient {i} is not differentiable"
        assert_close(g, tg, f"first gradient {i}")
    our_s = sum((g * ag.tensor(v)).sum() + (g * g).sum()
                for g, v in zip(our_grads, projections))
    their_s = sum((g * torch.from_numpy(v)).sum() + (g * g).sum()
                  for g, v in zip(their_grads, projections))
    our_second = ag.grad(our_s, ours, allow_unused=True)
    their_second = torch.autograd.grad(their_s, theirs, allow_unused=True)
    for i, (g, tg) in enumerate(zip(our_second, their_second)):
        if tg is None:
            assert g is None or not np.any(g.numpy()), f"second gradient {i}"
            continue
        assert_close(g, tg, f"second gradient {i}")


def test_grad_of_grad_tanh_matmul():
    u = _uniform((3, 2), seed=5)
    _second_order_parity(lambda x, w: (ag.tanh(x @ w) * ag.tensor(u)).sum(),
                         lambda x, w: (torch.tanh(x @ w) * torch.from_numpy(u)).sum(),
                         [_uniform((3, 4), seed=1), _uniform((4, 2), seed=2)])


@pytest.mark.parametrize("smoothing", SMOOTHING, ids=lambda s: f"ls{s}")
def test_grad_of_grad_softmax_cross_entropy(smoothing):
    labels = np.array([0, 2, 1, 2])
    _second_order_parity(
        lambda x, w, b: ag.softmax_cross_entropy(x @ w + b, ag.tensor(labels),
                                                 label_smoothing=smoothing),
        lambda x, w, b: F.cross_entropy(x @ w + b, torch.from_numpy(labels),
                                        label_smoothing=smoothing),
        [_uniform((4, 3), seed=1), _uniform((3, 3), seed=2), _uniform((3,), seed=3)])


def test_grad_of_grad_activations_and_reductions():
    def ours(x):
        return (ag.sigmoid(x) * ag.softplus(x) + ag.gelu(x) + ag.elu(x) ** 2
                + ag.gelu(x, approximate="tanh")).sum() + \
            ag.logsumexp(x, axis=1).sum() + ag.log_softmax(x, axis=0).var() + ag.std(x)

    def theirs(x):
        return (torch.sigmoid(x) * F.softplus(x) + F.gelu(x) + F.elu(x) ** 2
                + F.gelu(x, approximate="tanh")).sum() + torch.logsumexp(x, dim=1).sum() + \
            torch.log_softmax(x, dim=0).var(correction=0) + x.std(correction=0)

    _second_order_parity(ours, theirs, [_uniform((3, 4), seed=1)])


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}@{s[1]}")
def test_grad_of_grad_matmul_shapes(shapes):
    _second_order_parity(lambda a, b: ag.tanh(a @ b).sum(), lambda a, b: torch.tanh(a @ b).sum(),
                         [_uniform(shapes[0], seed=1), _uniform(shapes[1], seed=2)])


SECOND_ORDER_CASES = {
    "div_pow": (lambda a, b: (a / b + a ** b).sum(), lambda a, b: (a / b + a ** b).sum(),
                [(3, 4), (4,)], 0.5, 2.0),
    "max_min_routing": (lambda a, b: (ag.max(a * b, axis=1) ** 2).sum() + ag.min(a * a),
                        lambda a, b: (torch.amax(a * b, dim=1) ** 2).sum() + torch.amin(a * a),
                        [(3, 4), (4,)], -2.0, 2.0),
    "var_std_mean": (lambda a, b: ag.var(a * b, axis=0, ddof=1).sum() + ag.std(a) * ag.mean(b),
                     lambda a, b: torch.var(a * b, dim=0).sum() + a.std(correction=0) * b.mean(),
                     [(3, 4), (4,)], -2.0, 2.0),
    "prod_no_zeros": (lambda a, b: ag.prod(a * b, axis=-1).sum(),
                      lambda a, b: (a * b).prod(-1).sum(), [(3, 4), (4,)], 0.5, 1.5),
    "getitem_repeats": (lambda a, b: (a[np.array([0, 0, 2])] ** 2 * b).sum(),
                        lambda a, b: (a[torch.tensor([0, 0, 2])] ** 2 * b).sum(),
                        [(3, 4), (4,)], -2.0, 2.0),
    "concat_stack_split": (
        lambda a, b: (ag.concatenate([a, b[None]]) ** 3).sum() +
        (ag.stack([b, b * b]) ** 2).sum() + ag.split(a, [1, 2])[1].exp().sum(),
        lambda a, b: (torch.cat([a, b[None]]) ** 3).sum() +
        (torch.stack([b, b * b]) ** 2).sum() + torch.split(a, [1, 2])[1].exp().sum(),
        [(3, 4), (4,)], -1.0, 1.0),
    "broadcast_where_clip": (
        lambda a, b: (ag.where(a > 0, ag.broadcast_to(b, (3, 4)) ** 2, a * b) +
                      ag.clip(a * b, -0.5, 0.5) ** 2).sum(),
        lambda a, b: (torch.where(a > 0, b.expand(3, 4) ** 2, a * b) +
                      torch.clamp(a * b, -0.5, 0.5) ** 2).sum(),
        [(3, 4), (4,)], -2.0, 2.0),
    "linear_activations": (
        lambda x, w: (ag.silu(ag.linear(x, w)) + ag.selu(x @ w.T) +
                      ag.leaky_relu(x @ w.T, 0.1) ** 2 + ag.sin(x @ w.T) * ag.cos(x @ w.T)).sum(),
        lambda x, w: (F.silu(F.linear(x, w)) + F.selu(x @ w.T) +
                      F.leaky_relu(x @ w.T, 0.1) ** 2 + torch.sin(x @ w.T) * torch.cos(x @ w.T)
                      ).sum(),
        [(3, 4), (5, 4)], -1.0, 1.0),
    "bce_softmax_ce_probs": (
        lambda z, t: ag.binary_cross_entropy_with_logits(z, ag.sigmoid(t)) +
        ag.softmax_cross_entropy(z, ag.softmax(t, axis=-1), label_smoothing=0.1),
        lambda z, t: F.binary_cross_entropy_with_logits(z, torch.sigmoid(t)) +
        F.cross_entropy(z, torch.softmax(t, -1), label_smoothing=0.1),
        [(3, 4), (3, 4)], -2.0, 2.0),
    "sqrt_log_abs": (lambda a, b: (ag.sqrt(a * a + b * b) + ag.log(ag.abs(a) + 1)).sum(),
                     lambda a, b: (torch.sqrt(a * a + b * b) + torch.log(torch.abs(a) + 1)).sum(),
                     [(3, 4), (4,)], 0.5, 2.0),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER_CASES))
def test_grad_of_grad_composites(name):
    ag_fn, torch_fn, shapes, low, high = SECOND_ORDER_CASES[name]
    arrays = [_uniform(shape, low, high, seed=i) for i, shape in enumerate(shapes)]
    _second_order_parity(ag_fn, torch_fn, arrays)


def test_grad_of_grad_prod_in_slices_without_zeros():
    """A zero in one slice must not cost the other slices their second derivatives."""
    zero_row = np.array([[0.0, 2.0, 1.5]])               # a constant: only `a` requires grad
    _second_order_parity(lambda a: ag.prod(ag.concatenate([ag.tensor(zero_row), a]), axis=1).sum(),
                         lambda a: torch.cat([torch.from_numpy(zero_row), a]).prod(1).sum(),
                         [_uniform((2, 3), 0.5, 2.0)])


@pytest.mark.parametrize("axis", [1, 0, None])
def test_grad_of_grad_prod_in_a_slice_with_a_zero(axis):
    _second_order_parity(lambda a: ag.prod(a, axis=axis).sum(),
                         lambda a: (a.prod() if axis is None else a.prod(axis)).sum(),
                         [np.array([[0.0, 2.0, 1.5], [0.0, 0.0, 3.0]])])


HESSIAN_CASES = {
    "tanh_cubed_logsumexp": (lambda x: (ag.tanh(x) ** 3).sum() + ag.logsumexp(x),
                             lambda x: (torch.tanh(x) ** 3).sum() + torch.logsumexp(x, 0),
                             (5,)),
    "softmax_cross_entropy": (
        lambda z: ag.softmax_cross_entropy(z, ag.tensor(np.array([1, 0]))),
        lambda z: F.cross_entropy(z, torch.tensor([1, 0])), (2, 3)),
    "quadratic_form_matmul": (lambda x: (x @ ag.tensor(np.arange(9.0).reshape(3, 3)) @ x),
                              lambda x: x @ torch.arange(9.0, dtype=torch.float64)
                              .reshape(3, 3) @ x, (3,)),
    "prod_sqrt": (lambda x: ag.prod(x) + ag.sqrt(x).sum(), lambda x: x.prod() + x.sqrt().sum(),
                  (4,)),
}


@pytest.mark.parametrize("name", list(HESSIAN_CASES))
def test_hessian(name):
    ag_fn, torch_fn, shape = HESSIAN_CASES[name]
    x = _uniform(shape, 0.5, 2.0)
    ours = ag.functional.hessian(ag_fn, ag.tensor(x))
    theirs = torch.autograd.functional.hessian(torch_fn, torch.from_numpy(x))
    assert ours.shape == shape + shape
    assert_close(ours, theirs, "hessian")


def test_hessian_of_two_inputs():
    x, w = _uniform((2, 3), seed=1), _uniform((3, 2), seed=2)
    ours = ag.functional.hessian(lambda a, b: ag.sigmoid(a @ b).sum(),
                                 (ag.tensor(x), ag.tensor(w)))
    theirs = torch.autograd.functional.hessian(lambda a, b: torch.sigmoid(a @ b).sum(),
                                               (torch.from_numpy(x), torch.from_numpy(w)))
    for i in range(2):
        for j in range(2):
            assert_close(ours[i][j], theirs[i][j], f"hessian block ({i}, {j})")


# --- deliberate differences from PyTorch ---------------------------------------------------------
def test_documented_differences_var_std_default_is_biased():
    """var/std default to numpy's ddof=0; torch defaults to correction=1."""
    x = _uniform((4, 3))
    assert_close(ag.var(ag.tensor(x)), torch.var(torch.from_numpy(x), correction=0), "var")
    assert_close(ag.std(ag.tensor(x), axis=0), torch.from_numpy(x).std(0, correction=0), "std")
    assert not np.isclose(ag.var(ag.tensor(x)).item(), torch.var(torch.from_numpy(x)).item())


def test_documented_differences_squeeze_of_non_unit_axis_raises():
    """torch.squeeze(dim) silently ignores an axis whose size is not 1; we raise."""
    x = _uniform((2, 1, 3))
    assert torch.from_numpy(x).squeeze(0).shape == (2, 1, 3)
    with pytest.raises(ValueError, match="squeeze: axis 0 .* has size 2"):
        ag.tensor(x).squeeze(0)


def test_documented_differences_softplus_has_no_threshold():
    """torch.softplus returns x (grad exactly 1) once βx > threshold=20; ours keeps the exact
    ln(1 + eᶻ) and σ(βx), which differ from that in the 10th digit of the gradient."""
    x = np.array([25.0, 30.0])
    ours = ag.tensor(x, requires_grad=True)
    ag.softplus(ours).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    F.softplus(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(ours.grad.numpy(), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ag.softplus(ag.tensor(x)).numpy(), x + np.log1p(np.exp(-x)),
                               rtol=1e-15)


def test_documented_differences_sum_over_empty_axis_tuple():
    """numpy (and we) reduce over nothing for axis=(); torch.sum(dim=()) reduces over all."""
    x = _uniform((2, 3))
    assert ag.sum(ag.tensor(x), axis=()).shape == (2, 3)
    assert torch.sum(torch.from_numpy(x), dim=()).shape == ()
