"""Elementwise arithmetic and functions, with numpy broadcasting.

Backward rules are written for equal shapes; the engine sums each gradient back over broadcast
axes (``sum_to``), so ``x + b`` with a bias row gets ∂J/∂b summed over the batch automatically.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..dtypes import get_default_dtype, is_floating
from ..graph.rules import InverseRule
from ._op import Op, Tensor


def _broadcast_error(name: str, a: np.ndarray, b: np.ndarray) -> ValueError:
    return ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together "
                      "(numpy rules: trailing dimensions must be equal or 1)")


def _binary(name, fn, a, b):
    try:
        return fn(a, b)
    except ValueError:
        raise _broadcast_error(name, a, b) from None


class Add(Op):
    """Sum of two inputs.

    forward    out = a + b
    backward   grad_a = grad,   grad_b = grad
    inverse neuron: sum of inputs → branch point (δ is copied to both inputs)
    """

    inverse_rule = InverseRule.SUM_OF_INPUTS
    saves_inputs = False
    roles = ("term", "term")
    formula = "{0} + {1}"

    @staticmethod
    def forward(ctx, a, b):
        return _binary("add", np.add, a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def add(a, b) -> Tensor:
    """a + b, elementwise with broadcasting.

    >>> import autograd_core as ag
    >>> ag.add(ag.tensor([1.0, 2.0]), 1.0)
    tensor([2., 3.])
    """
    return Add.apply(a, b)


class Sub(Op):
    """Difference.

    forward    out = a − b
    backward   grad_a = grad,   grad_b = −grad
    inverse neuron: sum of inputs (with sign) → branch point
    """

    inverse_rule = InverseRule.SUM_OF_INPUTS
    saves_inputs = False
    roles = ("term", "negated_term")
    formula = "{0} − {1}"

    @staticmethod
    def forward(ctx, a, b):
        return _binary("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


def sub(a, b) -> Tensor:
    """a − b, elementwise with broadcasting."""
    return Sub.apply(a, b)


class Mul(Op):
    """Elementwise product.

    forward    out = a ⊙ b
    backward   grad_a = grad ⊙ b,   grad_b = grad ⊙ a
    inverse neuron: weighted input w·a → double weighted output
    """

    inverse_rule = InverseRule.WEIGHTED_INPUT
    roles = ("factor", "factor")
    formula = "{0}·{1}"

    @classmethod
    def partner(cls, i, out_index, in_index, shapes):
        """∂(a ⊙ b)[o]/∂a[o] = b[o] (b's index: o with b's broadcast axes at 0), and vice versa."""
        shape = shapes[1 - i]
        lead = len(out_index) - len(shape)
        return 1 - i, tuple(0 if n == 1 else out_index[lead + d] for d, n in enumerate(shape))

    @staticmethod
    def forward(ctx, a, b):
        return _binary("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


def mul(a, b) -> Tensor:
    """a ⊙ b, elementwise with broadcasting."""
    return Mul.apply(a, b)


class Div(Op):
    """Elementwise quotient.

    forward    out = a / b
    backward   grad_a = grad / b,   grad_b = −grad ⊙ a / b²
    inverse neuron: elementwise function
    """

    formula = "{0} / {1}"

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _binary("div", np.true_divide, a, b)
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            out = out.astype(get_default_dtype())   # int / int → default float (as PyTorch)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad / b if need_a else None
        grad_b = -grad * a / (b * b) if need_b else None
        return grad_a, grad_b


def div(a, b) -> Tensor:
    """a / b, elementwise with broadcasting (true division)."""
    return Div.apply(a, b)


class Neg(Op):
    """Negation.   forward out = −x   backward grad_x = −grad   inverse neuron: elementwise."""

    saves_inputs = False
    formula = "−{0}"
    derivative = "−1"

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def neg(x) -> Tensor:
    """−x."""
    return Neg.apply(x)


class Pow(Op):
    """Power with a tensor exponent.

    forward    out = aᵇ
    backward   grad_a = grad ⊙ b ⊙ aᵇ⁻¹,   grad_b = grad ⊙ out ⊙ ln a
    NOTE: ln a is taken as 0 where a = 0 (the limit of out·ln a there), as PyTorch does;
    grad_a is 0 where b = 0 (a⁰ is constant), also at a = 0, as PyTorch.
    """

    formula = "{0}^{1}"

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _binary("pow", np.power, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        # NOTE: where a = b = 0, aᵇ⁻¹ becomes a¹ so that 0⁻¹ cannot turn b·aᵇ⁻¹ = 0 into nan;
        # only there, so that ∂grad_a/∂b = aᵇ⁻¹(1 + b ln a) stays right at b = 0, a ≠ 0
        zero_zero = (a.data == 0) & (b.data == 0)
        grad_a = grad * b * a ** where(zero_zero, 1, b - 1) if need_a else None
        grad_b = None
        if need_b:
            safe_a = where(a == 0, 1, a)
            grad_b = grad * ctx.output * log(safe_a)
        return grad_a, grad_b


class PowScalar(Op):
    """Power with a constant exponent p (``x ** 2``, ``x ** 0.5``).

    forward    out = xᵖ
    backward   grad_x = grad ⊙ p ⊙ xᵖ⁻¹
    inverse neuron: elementwise function
    """

    formula = "{0}^{exponent}"
    derivative = {"exponent": {2: "2{0}", None: "{exponent}·{0}^({exponent} − 1)"}}

    @staticmethod
    def forward(ctx, x, exponent):
        if not is_floating(x.dtype) and not isinstance(exponent, numbers.Integral):
            x = x.astype(get_default_dtype())       # int ** 0.5 → default float (as PyTorch)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, np.asarray(exponent, dtype=x.dtype if is_floating(x.dtype)
                                          else None))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.inputs
        p = ctx.kwargs["exponent"]
        if p == 0:
            return grad * 0
        if p == 1:
            return grad
        if p == 2:
            return grad * 2 * x
        return grad * p * x ** (p - 1)


def pow(a, b) -> Tensor:
    """aᵇ. A Python number as exponent is a constant (no gradient flows to it)."""
    if isinstance(b, numbers.Number) and not isinstance(b, bool) and isinstance(a, Tensor):
        return PowScalar.apply(a, exponent=b)
    return Pow.apply(a, b)


class Exp(Op):
    """Exponential.   forward out = eˣ   backward grad_x = grad ⊙ out."""

    saves_inputs = False
    saves_output = True
    formula = "exp({0})"
    derivative = "exp({0})"

    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            return np.exp(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.output


def exp(x) -> Tensor:
    """eˣ, elementwise."""
    return Exp.apply(x)


class Log(Op):
    """Natural logarithm.   forward out = ln x   backward grad_x = grad / x."""

    formula = "ln({0})"
    derivative = "1/{0}"

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.inputs[0]


def log(x) -> Tensor:
    """ln x, elementwise (−inf at 0, nan below, as numpy)."""
    return Log.apply(x)


class Sqrt(Op):
    """Square root.   forward out = √x   backward grad_x = grad / (2·out)."""

    saves_inputs = False
    saves_output = True
    formula = "√{0}"
    derivative = "1/(2√{0})"

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.output)


def sqrt(x) -> Tensor:
    """√x, elementwise."""
    return Sqrt.apply(x)


class Abs(Op):
    """Absolute value.   forward out = |x|   backward grad_x = grad ⊙ sign(x).
    NOTE: the subgradient at 0 is taken as 0 (as PyTorch)."""

    formula = "|{0}|"
    derivative = "sign({0})"

    @staticmethod
    def forward(ctx, x):
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor._from_op(np.sign(ctx.inputs[0].data), False)


def abs(x) -> Tensor:
    """|x|, elementwise."""
    return Abs.apply(x)


class Sin(Op):
    """Sine.   forward out = sin x   backward grad_x = grad ⊙ cos x."""

    formula = "sin({0})"
    derivative = "cos({0})"

    @staticmethod
    def forward(ctx, x):
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * cos(ctx.inputs[0])


def sin(x) -> Tensor:
    """sin x, elementwise."""
    return Sin.apply(x)


class Cos(Op):
    """Cosine.   forward out = cos x   backward grad_x = −grad ⊙ sin x."""

    formula = "cos({0})"
    derivative = "−sin({0})"

    @staticmethod
    def forward(ctx, x):
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad * sin(ctx.inputs[0])


def cos(x) -> Tensor:
    """cos x, elementwise."""
    return Cos.apply(x)


def _mask(condition: np.ndarray, like: Tensor) -> Tensor:
    """A constant 0/1 tensor of ``like``'s dtype (masks carry no gradient)."""
    return Tensor._from_op(condition.astype(like.dtype), False)


class Maximum(Op):
    """Elementwise maximum of two tensors.

    forward    out = max(a, b)
    backward   grad_a = grad ⊙ [a > b] + ½ grad ⊙ [a = b],   grad_b likewise
    NOTE: at ties the gradient is split evenly between a and b (as PyTorch).
    """

    formula = "max({0}, {1})"

    @staticmethod
    def forward(ctx, a, b):
        return _binary("maximum", np.maximum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        share = _mask(a.data > b.data, grad) + _mask(a.data == b.data, grad) * 0.5
        return grad * share, grad * (1 - share)


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b) with broadcasting (the reduction is ``max``)."""
    return Maximum.apply(a, b)


class Minimum(Op):
    """Elementwise minimum of two tensors.

    forward    out = min(a, b)
    backward   grad_a = grad ⊙ [a < b] + ½ grad ⊙ [a = b],   grad_b likewise
    NOTE: at ties the gradient is split evenly (as PyTorch).
    """

    formula = "min({0}, {1})"

    @staticmethod
    def forward(ctx, a, b):
        return _binary("minimum", np.minimum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.inputs
        share = _mask(a.data < b.data, grad) + _mask(a.data == b.data, grad) * 0.5
        return grad * share, grad * (1 - share)


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b) with broadcasting."""
    return Minimum.apply(a, b)


class Where(Op):
    """Select from a where the condition holds, from b elsewhere.

    forward    out = cond ? a : b
    backward   grad_a = grad ⊙ cond,   grad_b = grad ⊙ ¬cond   (no gradient for cond)
    inverse neuron: routing
    """

    inverse_rule = InverseRule.ROUTING
    formula = "where(c, {0}, {1})"

    @staticmethod
    def forward(ctx, condition, a, b):
        if condition.dtype != np.bool_:
            raise TypeError(f"where: the condition must be a bool tensor, got {condition.dtype}")
        try:
            return np.where(condition, a, b)
        except ValueError:
            raise ValueError(f"where: shapes {condition.shape}, {a.shape} and {b.shape} cannot be "
                             "broadcast together") from None

    @staticmethod
    def backward(ctx, grad):
        condition = ctx.inputs[0].data
        zero = Tensor._from_op(np.zeros((), dtype=grad.dtype), False)
        return None, where(condition, grad, zero), where(condition, zero, grad)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a if condition else b`` (numpy's ``where``)."""
    if not isinstance(condition, Tensor):
        condition = Tensor._from_op(np.asarray(condition), False)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    return Where.apply(condition, a, b)


class Clip(Op):
    """Clamp values into [min, max] (either bound may be None).

    forward    out = min(max(x, lo), hi)
    backward   grad_x = grad ⊙ [lo ≤ x ≤ hi]   (PyTorch's convention at the bounds)
    """

    formula = "clip({0})"
    derivative = "[lo ≤ {0} ≤ hi]"

    @staticmethod
    def forward(ctx, x, min, max):
        return np.clip(x, min, max)

    @staticmethod
    def backward(ctx, grad):
        x = ctx.inputs[0].data
        lo, hi = ctx.kwargs["min"], ctx.kwargs["max"]
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        return grad * _mask(inside, grad)


def clip(x, min=None, max=None) -> Tensor:
    """Clamp ``x`` into [min, max] (PyTorch: ``clamp``)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(x, min=min, max=max)


class Cast(Op):
    """Change dtype.   forward out = x as dtype   backward grad_x = grad as x.dtype."""

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    formula = "{0}"

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return astype(grad, ctx.inputs[0].dtype)


def astype(x, dtype) -> Tensor:
    """``x`` converted to ``dtype`` (differentiable between floating dtypes)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


class Clone(Op):
    """A copy with its own memory.   forward out = copy(x)   backward grad_x = grad."""

    inverse_rule = InverseRule.ROUTING
    saves_inputs = False
    formula = "{0}"

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(x) -> Tensor:
    """A differentiable copy of ``x`` that owns its data."""
    return Clone.apply(x)
