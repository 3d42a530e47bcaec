"""Factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``eye`` and the ``*_like``
versions. Python floats become the default dtype (float32); integers stay int64."""
from __future__ import annotations

import numpy as np

from .dtypes import get_default_dtype, to_array
from .tensor import Tensor


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a *copy* of ``data`` (number, nested list, ndarray or Tensor).

    >>> import autograd_core as ag
    >>> ag.tensor([[1.0, 2.0]]).dtype
    dtype('float32')
    >>> ag.tensor([1, 2]).dtype
    dtype('int64')
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(to_array(data, dtype, copy=True), requires_grad=requires_grad)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """Wrap ``array`` without copying: changes to one show in the other. (A byte-swapped array
    is the exception: it is copied into native byte order, which the kernels need.)"""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array, requires_grad=requires_grad)


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape(shape), dtype or get_default_dtype()),
                  requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), dtype or get_default_dtype()),
                  requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype from the value, as ``tensor``)."""
    if dtype is None:
        dtype = to_array(fill_value).dtype
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Tensor(np.full(shape, fill_value, dtype), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop): int64 for integer arguments, else default float."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if integral else get_default_dtype()
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def linspace(start, stop, num: int, dtype=None, requires_grad: bool = False) -> Tensor:
    """``num`` evenly spaced values from start to stop inclusive."""
    return Tensor(np.linspace(start, stop, num, dtype=dtype or get_default_dtype()),
                  requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Identity matrix (n × m)."""
    return Tensor(np.eye(n, m, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)
