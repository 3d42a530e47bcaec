"""Loss functions (cost functions J of the course, section 4), as functions and as modules.

Each loss takes ``reduction``: ``"mean"`` (average over samples, the course's J = (1/n) Σ C),
``"sum"`` or ``"none"`` (one value per sample). They are built from autograd_core ops only: the
logit-based losses call the engine's fused, stable ops (``ag.softmax_cross_entropy``,
``ag.binary_cross_entropy_with_logits``), whose gradient with respect to the logits is exactly
the course's output delta δ = ŷ − t (divided by N for the mean).

| module | function | per-sample cost |
|---|---|---|
| ``MSELoss`` | ``mse_loss`` | (y − t)², averaged over every element (PyTorch) |
| ``SquaredError`` | ``squared_error`` | ½‖y − t‖² summed over outputs (the course; ∇_y C = y − t) |
| ``BCELoss`` | ``binary_cross_entropy`` | −[t ln y + (1 − t) ln(1 − y)], y a probability |
| ``BCEWithLogitsLoss`` | ``binary_cross_entropy_with_logits`` | the same with y = σ(z), fused |
| ``CrossEntropyLoss`` | ``cross_entropy`` | −Σ_c t_c ln softmax(z)_c, from logits |
| ``NLLLoss`` | ``nll_loss`` | −ln p_o, from log-probabilities |
| ``HingeLoss`` | ``hinge_loss`` | Σ_{j≠o} max(0, z_j − z_o + Δ) (the course, SVM) |
| ``MultiMarginLoss`` | ``multi_margin_loss`` | the same divided by C, the classes (PyTorch) |
| ``CategoricalHinge`` | ``categorical_hinge`` | max(0, 1 + max_c (1−t_c)z_c − Σ t_c z_c), Keras |

Deliberate differences from PyTorch: targets must have the input's shape where PyTorch would
broadcast (with a warning) — a shape mismatch is an error naming the loss and both shapes;
``binary_cross_entropy`` gives a zero gradient where its log is clamped at −100.
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .module import Module

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CategoricalHinge", "CrossEntropyLoss", "HingeLoss",
    "MSELoss", "MultiMarginLoss", "NLLLoss", "SquaredError", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "categorical_hinge", "cross_entropy", "hinge_loss",
    "mse_loss", "multi_margin_loss", "nll_loss", "squared_error",
]

REDUCTIONS = ("mean", "sum", "none")


# --- shared checks ------------------------------------------------------------------------------
def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_input(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating tensor, got {input.dtype}")


def _float_target(name: str, input: Tensor, target) -> Tensor:
    """``target`` as a Tensor of the input's dtype and shape (Tensors keep their graph)."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype))
    elif target.dtype != input.dtype:
        target = target.astype(input.dtype)
    if target.shape != input.shape:
        raise ValueError(f"{name}: input of shape {input.shape} and target of shape "
                         f"{target.shape} must have the same shape")
    return target


def _weight_array(name: str, weight, size: int | None, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    array = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if size is not None and array.shape != (size,):
        raise ValueError(f"{name}: weight must have one value per class, shape ({size},), got "
                         f"{array.shape}")
    return array


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _labels(name: str, logits: Tensor, target, ignore_index: int | None = None) -> np.ndarray:
    """Integer class labels of shape logits.shape[:-1], checked against the number of classes."""
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class labels, got {labels.dtype}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"{name}: integer labels of shape {labels.shape} do not match input of "
                         f"shape {logits.shape}: expected {logits.shape[:-1]}")
    classes = logits.shape[-1]
    valid = labels if ignore_index is None else labels[labels != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= classes):
        bad = valid.min() if valid.min() < 0 else valid.max()
        raise ValueError(f"{name}: label {bad} is out of range for {classes} classes")
    return labels.astype(np.int64, copy=False)


def _class_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) → (N, d1, ..., C): PyTorch puts classes on axis 1, the ops on the last."""
    if x.ndim <= 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1)


# --- regression ---------------------------------------------------------------------------------
def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: ℓ = (y − t)² per element; "mean" averages over every element.

    >>> import autograd_core as ag
    >>> mse_loss(ag.tensor([1.0, 2.0]), ag.tensor([0.0, 0.0]))
    tensor(2.5)
    """
    _check_reduction("mse_loss", reduction)
    _check_input("mse_loss", input)
    target = _float_target("mse_loss", input, target)
    return ag.mse_loss(input, target, reduction)       # mean / sum: one fused node


def squared_error(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """The course's quadratic cost C = ½‖y − t‖², with ∇_y C = y − t.

    The squared norm is taken over each sample's outputs (every axis but the first); a 1-D
    input is a batch of single outputs. "mean" then averages over the samples: J = (1/n) Σ C.
    For a (N, K) input it equals K/2 · ``mse_loss``.
    """
    _check_reduction("squared_error", reduction)
    _check_input("squared_error", input)
    target = _float_target("squared_error", input, target)
    if reduction != "none":
        return ag.squared_error(input, target, reduction)   # one node: the course's L
    per = 0.5 * (input - target) ** 2
    if input.ndim >= 2:
        per = per.sum(axis=tuple(range(1, input.ndim)))
    return per


# --- binary classification ----------------------------------------------------------------------
def _clamped_log(x: Tensor) -> Tensor:
    """max(ln x, −100), and a zero gradient (instead of ∞·0 = nan) where the clamp is active."""
    positive = x.data > 0
    safe = ag.where(positive, x, 1.0)
    return ag.where(positive, ag.maximum(ag.log(safe), -100.0), -100.0)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: ℓ = −w·[t ln y + (1 − t) ln(1 − y)].

    Each log is clamped at −100 (as PyTorch) so y ∈ {0, 1} gives a finite loss. ``weight``
    rescales each element (broadcast to the input). Prefer ``binary_cross_entropy_with_logits``
    on the pre-sigmoid z: its δ = σ(z) − t never saturates.
    """
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _float_target(name, input, target)
    if input.size and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError(f"{name}: input must hold probabilities in [0, 1], got values in "
                         f"[{input.data.min()}, {input.data.max()}]; for logits use "
                         "binary_cross_entropy_with_logits")
    if weight is None and reduction != "none":
        return ag.binary_cross_entropy(input, target, reduction)   # one node: the course's L
    per = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        per = per * _weight_array(name, weight, None, input.dtype)
    return _reduce(per, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy fused: ℓ = max(z, 0) − z·t + ln(1 + e^{−|z|}).

    Finite for any logit; ∂ℓ/∂z = σ(z) − t. ``weight`` rescales each element, ``pos_weight``
    (one per output, broadcast over the last axis) the positive term:
    ℓ = (1 − t)·z + (1 + (p − 1)·t)·softplus(−z).
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _check_input(name, input)
    target = _float_target(name, input, target)
    if pos_weight is None and weight is None:
        return ag.binary_cross_entropy_with_logits(input, target, reduction)
    if pos_weight is None:
        per = ag.binary_cross_entropy_with_logits(input, target, "none")
    else:
        factor = 1 + (_weight_array(name, pos_weight, None, input.dtype) - 1) * target
        per = (1 - target) * input + factor * ag.softplus(-input)
    if weight is not None:
        per = per * _weight_array(name, weight, None, input.dtype)
    return _reduce(per, reduction)


# --- multi-class classification -----------------------------------------------------------------
def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from logits: ℓ = −Σ_c w_c t_c ln softmax(z)_c.

    ``target`` holds integer labels (shape (N,), or (N, d1, ...) for (N, C, d1, ...) logits:
    classes on axis 1 as in PyTorch) or class probabilities / one-hot rows of the logits' shape.
    ``label_smoothing`` ε uses t ← (1 − ε)t + ε/C. ``weight`` (one per class) and
    ``ignore_index`` follow PyTorch: with labels, "mean" divides by Σ_i w_{o_i} over the samples
    kept; with probabilities, by N. Without weight or ignored labels this is the fused
    ``ag.softmax_cross_entropy``: ∂J/∂z = (softmax(z) − t)/N exactly, finite for ±1000.
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if input.ndim == 0:
        raise ValueError(f"{name}: input needs a class axis, got a 0-d tensor")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = _class_last(input)
    classes = logits.shape[-1]
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind in "iu":
        labels = _labels(name, logits, raw, ignore_index)
        valid = labels != ignore_index
        if weight is None and valid.all():
            return ag.softmax_cross_entropy(logits, labels, reduction, label_smoothing)
        target = ag.one_hot(np.where(valid, labels, 0), classes, dtype=input.dtype)
    else:
        if raw.shape != input.shape:
            raise ValueError(f"{name}: target probabilities of shape {raw.shape} must have the "
                             f"shape of the input {input.shape} (or pass integer labels of "
                             f"shape {input.shape[:1] + input.shape[2:]})")
        target = _class_last(target if isinstance(target, Tensor) else Tensor(raw))
        target = target.astype(input.dtype) if target.dtype != input.dtype else target
        if weight is None:
            return ag.softmax_cross_entropy(logits, target, reduction, label_smoothing)
        valid = None
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    w = _weight_array(name, weight, classes, input.dtype)
    if w is not None:
        target = target * w
    per = -(ag.log_softmax(logits, axis=-1) * target).sum(axis=-1)
    if valid is None:
        return _reduce(per, reduction)
    per = per * valid.astype(input.dtype)
    if reduction != "mean":
        return per if reduction == "none" else per.sum()
    kept = np.where(valid, labels, 0)
    denominator = (w[kept] * valid).sum() if w is not None else valid.sum()
    return per.sum() / float(denominator)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood from log-probabilities: ℓ_i = −w_{o_i} · input[i, o_i].

    Use after ``log_softmax`` (``cross_entropy`` fuses both). "mean" divides by Σ_i w_{o_i}
    over the samples whose label is not ``ignore_index`` (PyTorch).
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if input.ndim == 0:
        raise ValueError(f"{name}: input needs a class axis, got a 0-d tensor")
    log_probs = _class_last(input)
    classes = log_probs.shape[-1]
    labels = _labels(name, log_probs, target, ignore_index)
    valid = labels != ignore_index
    kept = np.where(valid, labels, 0).reshape(-1)
    flat = log_probs.reshape(-1, classes)
    picked = flat[np.arange(flat.shape[0]), kept].reshape(labels.shape)
    w = _weight_array(name, weight, classes, input.dtype)
    scale = (w[kept].reshape(labels.shape) if w is not None else 1.0) * valid
    per = -picked * scale.astype(input.dtype)
    if reduction != "mean":
        return per if reduction == "none" else per.sum()
    return per.sum() / float(np.sum(scale))


def _hinge_labels(name: str, input: Tensor, target) -> np.ndarray:
    """Integer labels, or the argmax of one-hot rows (the course's t_j = δ_jo)."""
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind == "f" and raw.shape == input.shape:
        raw = raw.argmax(axis=-1)
    return _labels(name, input, raw)


def _multiclass_hinge(name: str, input: Tensor, target, margin: float, p: int, weight,
                      reduction: str, per_class_mean: bool) -> Tensor:
    _check_reduction(name, reduction)
    _check_input(name, input)
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: input must be (C,) or (N, C) scores, got shape {input.shape}")
    if p not in (1, 2):
        raise ValueError(f"{name}: p must be 1 or 2, got {p}")
    labels = _hinge_labels(name, input, target)
    classes = input.shape[-1]
    one_hot = np.eye(classes, dtype=input.dtype)[labels]
    true_score = (input * one_hot).sum(axis=-1, keepdims=True)            # z_o
    # NOTE: relu'(0) = 0, so a term exactly at the margin sends no gradient (as PyTorch)
    terms = ag.relu(input - true_score + margin)                          # max(0, z_j − z_o + Δ)
    if p == 2:
        terms = terms * terms
    mask = 1 - one_hot                                                    # j ≠ o
    w = _weight_array(name, weight, classes, input.dtype)
    if w is not None:
        mask = mask * w[labels][..., None]
    per = (terms * mask).sum(axis=-1)
    if per_class_mean:
        per = per / classes
    return _reduce(per, reduction)


def hinge_loss(input: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The course's multi-class hinge (SVM) loss: ℓ = Σ_{j≠o} max(0, z_j − z_o + Δ), Δ = margin.

    ``input`` holds linear scores z (no activation); ``target`` integer labels o or one-hot
    rows. Unlike ``multi_margin_loss`` (PyTorch) the sum is not divided by the number of
    classes; Keras's ``Hinge`` is a different, binary loss (see ``categorical_hinge``).

    >>> import autograd_core as ag
    >>> hinge_loss(ag.tensor([[3.0, 5.0, -2.0]]), ag.tensor([0]))   # max(0, 3) + max(0, -4)
    tensor(3.)
    """
    return _multiclass_hinge("hinge_loss", input, target, margin, 1, None, reduction, False)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Tensor:
    """PyTorch's multi-class margin loss: ℓ = Σ_{j≠o} w_o · max(0, Δ − z_o + z_j)^p / C."""
    return _multiclass_hinge("multi_margin_loss", input, target, margin, p, weight, reduction,
                             True)


def categorical_hinge(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Keras's ``categorical_hinge``: ℓ = max(0, neg − pos + 1) with pos = Σ_c t_c z_c and
    neg = max_c (1 − t_c) z_c (one-hot t; integer labels are one-hot encoded first).

    NOTE: as in Keras, the true class enters ``neg`` as a 0, so neg ≥ 0 when every other
    score is negative.
    """
    name = "categorical_hinge"
    _check_reduction(name, reduction)
    _check_input(name, input)
    if input.ndim == 0:
        raise ValueError(f"{name}: input needs a class axis, got a 0-d tensor")
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind in "iu":
        target = ag.one_hot(_labels(name, input, raw), input.shape[-1], dtype=input.dtype)
    else:
        target = _float_target(name, input, target)
    positive = (input * target).sum(axis=-1)
    negative = (input * (1 - target)).max(axis=-1)
    return _reduce(ag.relu(negative - positive + 1), reduction)


# --- modules ------------------------------------------------------------------------------------
class _Loss(Module):
    """Base of the loss modules: holds ``reduction`` and calls its function in ``forward``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""

    def _set_weight(self, name: str, weight) -> None:
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(np.asarray(weight, dtype=ag.get_default_dtype()))
        self.register_buffer(name, weight)


class MSELoss(_Loss):
    """Mean squared error (``mse_loss``): mean over every element of (y − t)²."""

    def forward(self, input: Tensor, target) -> Tensor:
        return mse_loss(input, target, self.reduction)


class SquaredError(_Loss):
    """The course's cost C = ½‖y − t‖² per sample (``squared_error``); ∇_y C = y − t."""

    def forward(self, input: Tensor, target) -> Tensor:
        return squared_error(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (``binary_cross_entropy``)."""

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._set_weight("weight", weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, fused and stable (``binary_cross_entropy_with_logits``)."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self._set_weight("weight", weight)
        self._set_weight("pos_weight", pos_weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (``cross_entropy``); labels or probabilities."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self._set_weight("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                             self.label_smoothing)

    def extra_repr(self) -> str:
        extra = [super().extra_repr()] if self.reduction != "mean" else []
        if self.label_smoothing:
            extra.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(extra)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (``nll_loss``)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._set_weight("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class HingeLoss(_Loss):
    """The course's multi-class hinge loss Σ_{j≠o} max(0, z_j − z_o + Δ) (``hinge_loss``)."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Tensor, target) -> Tensor:
        return hinge_loss(input, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"margin={self.margin}", super().extra_repr()]))


class MultiMarginLoss(_Loss):
    """PyTorch's multi-class margin loss, the course's hinge divided by C (``multi_margin_loss``).
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p}")
        self.p, self.margin = p, margin
        self._set_weight("weight", weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class CategoricalHinge(_Loss):
    """Keras's categorical hinge max(0, 1 + max_{c}(1 − t_c) z_c − Σ t_c z_c)."""

    def forward(self, input: Tensor, target) -> Tensor:
        return categorical_hinge(input, target, self.reduction)
