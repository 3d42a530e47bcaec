"""Comparisons, arg-reductions and one-hot encoding: results are integer/bool tensors, so they
record nothing and carry no gradient."""
from __future__ import annotations

import numpy as np

from ..dtypes import get_default_dtype
from ._op import Tensor
from .reduce import _axes


def _data(value):
    return value.data if isinstance(value, Tensor) else value


def _compare(name, fn, a, b) -> Tensor:
    try:
        return Tensor._from_op(np.asarray(fn(_data(a), _data(b))), False)
    except ValueError:
        raise ValueError(f"{name}: shapes {np.shape(_data(a))} and {np.shape(_data(b))} cannot "
                         "be broadcast together") from None


def eq(a, b) -> Tensor:
    """a == b elementwise (bool tensor)."""
    return _compare("eq", np.equal, a, b)


def ne(a, b) -> Tensor:
    """a != b elementwise (bool tensor)."""
    return _compare("ne", np.not_equal, a, b)


def lt(a, b) -> Tensor:
    """a < b elementwise (bool tensor)."""
    return _compare("lt", np.less, a, b)


def le(a, b) -> Tensor:
    """a <= b elementwise (bool tensor)."""
    return _compare("le", np.less_equal, a, b)


def gt(a, b) -> Tensor:
    """a > b elementwise (bool tensor)."""
    return _compare("gt", np.greater, a, b)


def ge(a, b) -> Tensor:
    """a >= b elementwise (bool tensor)."""
    return _compare("ge", np.greater_equal, a, b)


def _arg(name, fn, x: Tensor, axis, keepdims, dim, keepdim) -> Tensor:
    axes, keepdims = _axes(name, x, axis, keepdims, dim, keepdim)
    if x.size == 0:
        raise ValueError(f"{name}: cannot take {name} of an empty tensor (shape {x.shape})")
    if axes is not None and len(axes) > 1:
        raise ValueError(f"{name}: expected a single axis or None, got {axis}")
    index = fn(x.data, axis=None if axes is None else axes[0], keepdims=keepdims)
    return Tensor._from_op(np.asarray(index, dtype=np.int64), False)


def argmax(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the largest value (over the flattened tensor when axis is None)."""
    return _arg("argmax", np.argmax, x, axis, keepdims, dim, keepdim)


def argmin(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the smallest value (over the flattened tensor when axis is None)."""
    return _arg("argmin", np.argmin, x, axis, keepdims, dim, keepdim)


def one_hot(indices, num_classes: int = -1, dtype=None) -> Tensor:
    """Encode integer class labels as one-hot rows: shape ``indices.shape + (num_classes,)``.

    ``num_classes=-1`` uses max(indices) + 1. The result has the default float dtype (PyTorch
    returns int64; floats are what losses need).

    >>> import autograd_core as ag
    >>> ag.one_hot(ag.tensor([0, 2]), 3)
    tensor([[1., 0., 0.],
            [0., 0., 1.]])
    """
    labels = np.asarray(_data(indices))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class labels, got {labels.dtype}")
    if num_classes < 0:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}); got values from "
                         f"{labels.min()} to {labels.max()}")
    out = np.zeros(labels.shape + (num_classes,), dtype=dtype or get_default_dtype())
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return Tensor._from_op(out, False)
