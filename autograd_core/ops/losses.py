"""Fused loss ops: forward and backward computed together from the logits, so they stay finite
for logits of ±1000 and the gradient is exactly the course's δ = ŷ − t.

``nn.functional`` builds the user-facing losses (with reductions and class weights) on these.
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ..graph.rules import InverseRule
from ._op import Op, Tensor
from .activations import sigmoid
from .compare import one_hot
from .elementwise import log, where
from .reduce import log_softmax, softmax
from .shape import reshape

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(per_sample: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.mean(per_sample) if per_sample.size else np.zeros((), per_sample.dtype)
    if reduction == "sum":
        return np.sum(per_sample)
    return per_sample


def _per_sample_grad(grad: Tensor, ctx, sample_shape) -> Tensor:
    """∂J/∂loss_i for each sample as a tensor of shape sample_shape + (1,)."""
    reduction = ctx.kwargs["reduction"]
    if reduction == "none":
        return reshape(grad, tuple(sample_shape) + (1,))
    if reduction == "mean":
        grad = grad / max(math.prod(sample_shape), 1)
    return reshape(grad, (1,) * (len(sample_shape) + 1))


class SoftmaxCrossEntropy(Op):
    """Softmax followed by cross-entropy, along the last axis.

    forward    loss_i = −Σ_c t_ic ln softmax(z_i)_c = logsumexp(z_i) − Σ_c t_ic z_ic  (Σ_c t_ic = 1)
    backward   grad_z = grad ⊙ (softmax(z) − t),   grad_t = −grad ⊙ ln softmax(z)
               (divided by the number of samples for reduction="mean")
    inverse neuron: loss function L → its derivative L' (here fused with the softmax's ψ')
    """

    inverse_rule = InverseRule.LOSS
    roles = ("prediction", "target")
    formula = {"reduction": {"mean": "−1/N Σ {1}·ln softmax({0})",
                             "sum": "−Σ {1}·ln softmax({0})"}}
    derivative = {"reduction": {"mean": "(softmax({0}) − {1})/N",
                                "sum": "softmax({0}) − {1}"}}

    @staticmethod
    def forward(ctx, logits, target, reduction):
        if logits.shape != target.shape:
            raise ValueError(f"cross_entropy: logits of shape {logits.shape} and target "
                             f"probabilities of shape {target.shape} must have the same shape")
        # NOTE: rows shifted by their max; 0·ln 0 is taken as 0 (one-hot targets stay finite)
        per_sample = kernels.softmax_cross_entropy_rows(logits, target)
        return _reduce(per_sample, reduction).astype(logits.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        logits, target = ctx.inputs
        need_z, need_t = ctx.needs_input_grad
        scale = _per_sample_grad(grad, ctx, logits.shape[:-1])
        grad_z = scale * (softmax(logits, axis=-1) - target) if need_z else None
        grad_t = -scale * log_softmax(logits, axis=-1) if need_t else None
        return grad_z, grad_t

    @staticmethod
    def backward_arrays(ctx, grad):
        logits, target = ctx.inputs[0].data, ctx.inputs[1].data
        need_z, need_t = ctx.needs_input_grad
        if ctx.kwargs["reduction"] != "none" and not need_t:
            # NOTE: a reduced loss: one compiled pass gives scale·(softmax(z) − t), with
            # scale = ∂J/∂loss (÷ N for the mean)
            rows = max(math.prod(logits.shape[:-1]), 1)
            scale = float(grad) / (rows if ctx.kwargs["reduction"] == "mean" else 1)
            return kernels.softmax_cross_entropy_backward_rows(logits, target, scale), None
        samples = logits.shape[:-1]
        if ctx.kwargs["reduction"] == "none":
            scale = grad.reshape(samples + (1,))
        else:               # the mean's ∂J/∂loss is shared by the samples: ÷ N
            count = max(math.prod(samples), 1) if ctx.kwargs["reduction"] == "mean" else 1
            scale = grad.reshape((1,) * (len(samples) + 1)) / count
        grad_z = scale * (kernels.softmax_rows(logits) - target) if need_z else None
        grad_t = -scale * kernels.log_softmax_rows(logits) if need_t else None
        return grad_z, grad_t


def softmax_cross_entropy(logits: Tensor, target, reduction: str = "mean",
                          label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) against ``target`` (classes on the last axis).

    ``target`` holds integer class labels (shape ``logits.shape[:-1]``) or probabilities
    (same shape as ``logits``). ``label_smoothing`` ε mixes the target with the uniform
    distribution: t ← (1 − ε)t + ε/C. The gradient with respect to the logits is
    softmax(z) − t (divided by N for the mean).

    >>> import autograd_core as ag
    >>> z = ag.tensor([[1000.0, 0.0]], requires_grad=True)
    >>> ag.softmax_cross_entropy(z, ag.tensor([1]))
    tensor(1000., grad_fn=<SoftmaxCrossEntropyBackward>)
    """
    _check_reduction("cross_entropy", reduction)
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits need a class axis, got a 0-d tensor")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if target_data.dtype.kind in "iu":
        if target_data.shape != logits.shape[:-1]:
            raise ValueError(f"cross_entropy: integer labels of shape {target_data.shape} do not "
                             f"match logits of shape {logits.shape}: expected "
                             f"{logits.shape[:-1]}")
        target = one_hot(target_data, logits.shape[-1], dtype=logits.dtype)
    elif not isinstance(target, Tensor):
        target = Tensor(target_data.astype(logits.dtype))
    if label_smoothing:
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        target = target * (1 - label_smoothing) + label_smoothing / logits.shape[-1]
    return SoftmaxCrossEntropy.apply(logits, target, reduction=reduction)


class SigmoidBinaryCrossEntropy(Op):
    """Sigmoid followed by binary cross-entropy, elementwise (``BCEWithLogitsLoss``).

    forward    loss = max(z, 0) − z·t + ln(1 + e^{−|z|})   (= −t ln σ(z) − (1 − t) ln(1 − σ(z)))
    backward   grad_z = grad ⊙ (σ(z) − t),   grad_t = −grad ⊙ z
    inverse neuron: loss function L → L' (fused with the sigmoid's ψ')
    """

    inverse_rule = InverseRule.LOSS
    roles = ("prediction", "target")
    formula = {"reduction": {
        "mean": "−1/N Σ [{1}·ln σ({0}) + (1 − {1})·ln(1 − σ({0}))]",
        "sum": "−Σ [{1}·ln σ({0}) + (1 − {1})·ln(1 − σ({0}))]"}}
    derivative = {"reduction": {"mean": "(σ({0}) − {1})/N", "sum": "σ({0}) − {1}"}}

    @staticmethod
    def forward(ctx, logits, target, reduction):
        if logits.shape != target.shape:
            raise ValueError(f"binary_cross_entropy_with_logits: logits of shape {logits.shape} "
                             f"and target of shape {target.shape} must have the same shape")
        # NOTE: this form never exponentiates a positive number, so ±1000 stays finite
        per = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
        return _reduce(per, reduction).astype(logits.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        logits, target = ctx.inputs
        reduction = ctx.kwargs["reduction"]
        if reduction == "mean":
            grad = grad / max(logits.size, 1)
        need_z, need_t = ctx.needs_input_grad
        grad_z = grad * (sigmoid(logits) - target) if need_z else None
        grad_t = -grad * logits if need_t else None
        return grad_z, grad_t


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of σ(logits) against ``target`` ∈ [0, 1], fused and stable."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=logits.dtype))
    return SigmoidBinaryCrossEntropy.apply(logits, target, reduction=reduction)


class MeanSquaredError(Op):
    """Squared error summed or averaged over every element (``mse_loss``), as one node.

    forward    loss = Σ (y − t)²  (÷ number of elements for reduction="mean")
    backward   grad_y = grad · 2(y − t)  (÷ number of elements),   grad_t = −grad_y
    inverse neuron: loss function L → its derivative L'
    """

    inverse_rule = InverseRule.LOSS
    name = "mse_loss"
    roles = ("prediction", "target")
    formula = {"reduction": {"mean": "1/N Σ ({0} − {1})²", "sum": "Σ ({0} − {1})²"}}
    derivative = {"reduction": {"mean": "2({0} − {1})/N", "sum": "2({0} − {1})"}}

    @staticmethod
    def forward(ctx, y, target, reduction):
        if y.shape != target.shape:
            raise ValueError(f"mse_loss: input of shape {y.shape} and target of shape "
                             f"{target.shape} must have the same shape")
        diff = y - target
        total = np.dot(diff.ravel(), diff.ravel())           # Σ (y − t)² in one BLAS call
        if reduction == "mean":
            total = total / y.size if y.size else np.nan
        return np.asarray(total, dtype=y.dtype)

    @staticmethod
    def backward(ctx, grad):
        y, target = ctx.inputs
        need_y, need_t = ctx.needs_input_grad
        count = y.size if ctx.kwargs["reduction"] == "mean" else 1
        grad_y = (y - target) * (grad * (2 / max(count, 1)))
        return (grad_y if need_y else None), (-grad_y if need_t else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        y, target = ctx.inputs[0].data, ctx.inputs[1].data
        need_y, need_t = ctx.needs_input_grad
        count = y.size if ctx.kwargs["reduction"] == "mean" else 1
        grad_y = (y - target) * (2 * float(grad) / max(count, 1))
        grad_y = grad_y.astype(y.dtype, copy=False)
        return (grad_y if need_y else None), (-grad_y if need_t else None)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of (y − t)² over every element, one node; ``reduction="none"`` gives the
    elementwise (y − t)² (three ops).

    >>> import autograd_core as ag
    >>> ag.mse_loss(ag.tensor([1.0, 2.0]), ag.tensor([0.0, 0.0]))
    tensor(2.5)
    """
    _check_reduction("mse_loss", reduction)
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    if reduction == "none":
        if input.shape != target.shape:
            raise ValueError(f"mse_loss: input of shape {input.shape} and target of shape "
                             f"{target.shape} must have the same shape")
        return (input - target) ** 2
    return MeanSquaredError.apply(input, target, reduction=reduction)


class SquaredError(Op):
    """The course's quadratic cost C = ½‖y − t‖² per sample, summed or averaged over samples.

    The squared norm runs over each sample's outputs (every axis but the first; a 0-d or 1-D
    input is a batch of single outputs); "mean" then divides by the number of samples n.
    forward    J = (1/n) Σₓ ½‖yₓ − tₓ‖²        ("sum": without 1/n)
    backward   grad_y = grad · (y − t)/n,   grad_t = −grad_y        (∇_y C = y − t, course 000)
    inverse neuron: loss function L → its derivative L'
    """

    inverse_rule = InverseRule.LOSS
    name = "squared_error"
    roles = ("prediction", "target")
    formula = {"reduction": {"mean": "1/n Σ ½‖{0} − {1}‖²", "sum": "Σ ½‖{0} − {1}‖²"}}
    derivative = {"reduction": {"mean": "({0} − {1})/n", "sum": "{0} − {1}"}}

    @staticmethod
    def forward(ctx, y, target, reduction):
        if y.shape != target.shape:
            raise ValueError(f"squared_error: input of shape {y.shape} and target of shape "
                             f"{target.shape} must have the same shape")
        diff = (y - target).ravel()
        total = 0.5 * np.dot(diff, diff)
        if reduction == "mean":
            n = y.shape[0] if y.ndim else 1
            total = total / n if n else np.nan
        return np.asarray(total, dtype=y.dtype)

    @staticmethod
    def backward(ctx, grad):
        y, target = ctx.inputs
        need_y, need_t = ctx.needs_input_grad
        n = (y.shape[0] if y.ndim else 1) if ctx.kwargs["reduction"] == "mean" else 1
        grad_y = (y - target) * (grad * (1 / max(n, 1)))
        return (grad_y if need_y else None), (-grad_y if need_t else None)


def squared_error(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """½‖y − t‖² per sample, averaged (or summed) over the samples, as one node.

    >>> import autograd_core as ag
    >>> ag.squared_error(ag.tensor([[1.0, 2.0]]), ag.tensor([[0.0, 0.0]]))
    tensor(2.5)
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"squared_error: reduction must be 'mean' or 'sum' (one node), got "
                         f"{reduction!r}")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    return SquaredError.apply(input, target, reduction=reduction)


class BinaryCrossEntropy(Op):
    """Binary cross-entropy of probabilities y against targets t, each log clamped at −100.

    forward    ℓ = −[t·max(ln y, −100) + (1 − t)·max(ln(1 − y), −100)], then mean or sum
    backward   grad_y = grad · [−t/y + (1 − t)/(1 − y)]  (÷ N for "mean"), each term 0 where its
               log is clamped (as the clamp's derivative is 0; y = 0 or 1 then gives no nan)
               grad_t = grad · [ln(1 − y) − ln y] with the clamped logs
    inverse neuron: loss function L → its derivative L'
    """

    inverse_rule = InverseRule.LOSS
    name = "binary_cross_entropy"
    roles = ("prediction", "target")
    formula = {"reduction": {
        "mean": "−1/N Σ [{1}·ln {0} + (1 − {1})·ln(1 − {0})]",
        "sum": "−Σ [{1}·ln {0} + (1 − {1})·ln(1 − {0})]"}}
    derivative = {"reduction": {"mean": "({0} − {1}) / ({0}(1 − {0})·N)",
                                "sum": "({0} − {1}) / ({0}(1 − {0}))"}}

    @staticmethod
    def _logs(y: np.ndarray):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(y), -100.0), np.maximum(np.log1p(-y), -100.0)

    @staticmethod
    def forward(ctx, y, target, reduction):
        if y.shape != target.shape:
            raise ValueError(f"binary_cross_entropy: input of shape {y.shape} and target of "
                             f"shape {target.shape} must have the same shape")
        log_y, log_1my = BinaryCrossEntropy._logs(y)
        per = -(target * log_y + (1 - target) * log_1my)
        return np.asarray(_reduce(per, reduction), dtype=y.dtype)

    @staticmethod
    def backward(ctx, grad):
        y, target = ctx.inputs
        need_y, need_t = ctx.needs_input_grad
        if ctx.kwargs["reduction"] == "mean":
            grad = grad / max(y.size, 1)
        log_y, log_1my = BinaryCrossEntropy._logs(y.data)
        live_y, live_1my = log_y > -100.0, log_1my > -100.0
        safe_y = where(live_y, y, 1.0)
        safe_1my = where(live_1my, 1 - y, 1.0)
        grad_y = grad_t = None
        if need_y:
            grad_y = grad * (where(live_1my, (1 - target) / safe_1my, 0.0)
                             - where(live_y, target / safe_y, 0.0))
        if need_t:
            grad_t = grad * (where(live_1my, log(safe_1my), -100.0)
                             - where(live_y, log(safe_y), -100.0))
        return grad_y, grad_t


def binary_cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """−[t ln y + (1 − t) ln(1 − y)] of probabilities y, mean or sum, as one node.

    >>> import autograd_core as ag
    >>> round(ag.binary_cross_entropy(ag.tensor([0.5]), ag.tensor([1.0])).item(), 4)
    0.6931
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"binary_cross_entropy: reduction must be 'mean' or 'sum' (one node), "
                         f"got {reduction!r}")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    return BinaryCrossEntropy.apply(input, target, reduction=reduction)
