"""Default floating dtype and the conversion of Python values to arrays.

Python floats and lists of floats become the default dtype (float32, as in PyTorch); numpy arrays
keep their own dtype. ``set_default_dtype(np.float64)`` switches the default, e.g. for gradient
checks.
"""
from __future__ import annotations

import numbers

import numpy as np

_default_dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors made from Python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype given to tensors made from Python floats; it must be a floating dtype.

    >>> import numpy as np; set_default_dtype(np.float64); get_default_dtype()
    dtype('float64')
    >>> set_default_dtype(np.float32)
    """
    global _default_dtype
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"set_default_dtype: expected a floating dtype (float32/float64), "
                        f"got {dtype}")
    _default_dtype = dtype


def is_floating(dtype) -> bool:
    """True for float16/32/64 (the dtypes that can carry gradients)."""
    return np.issubdtype(dtype, np.floating)


def to_array(value, dtype=None, *, copy: bool = False) -> np.ndarray:
    """Convert ``value`` to an ndarray.

    Python floats (and lists holding any float) become the default dtype; Python ints stay int64,
    bools stay bool; numpy arrays and numpy scalars keep their dtype unless ``dtype`` is given.
    """
    if isinstance(value, np.ndarray):
        if dtype is not None and value.dtype != dtype:
            return value.astype(dtype)
        return value.copy() if copy else value
    if isinstance(value, np.generic):
        return np.array(value, dtype=dtype)
    array = np.array(value, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(_default_dtype)
    elif array.dtype == object:
        raise TypeError(f"tensor: cannot convert {type(value).__name__} to a numeric array")
    return array


def scalar_array(value: numbers.Number, like: np.dtype) -> np.ndarray:
    """A 0-d array for a Python scalar operand, as a *weak* scalar (numpy 2 / PyTorch promotion).

    ``float32_tensor * 2.0`` stays float32, ``int_tensor * 2.5`` becomes the default float dtype and
    ``int_tensor * 2`` stays integer.
    """
    if isinstance(value, bool):
        return np.array(value, dtype=like if like != np.bool_ else np.bool_)
    if isinstance(value, numbers.Integral):
        return np.array(value, dtype=like)
    if isinstance(value, numbers.Real):
        return np.array(value, dtype=like if is_floating(like) else _default_dtype)
    raise TypeError(f"unsupported operand type {type(value).__name__}; expected a Tensor, "
                    "numpy array or Python number")
