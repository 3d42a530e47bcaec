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


#: dtype kinds a tensor may hold: bool, signed/unsigned integer, floating, complex
NUMERIC_KINDS = "biufc"


def to_array(value, dtype=None, *, copy: bool = False) -> np.ndarray:
    """Convert ``value`` to a numeric ndarray in the machine's byte order.

    Python floats (and lists holding any float) become the default dtype; Python ints stay int64,
    bools stay bool; numpy arrays and numpy scalars keep their dtype unless ``dtype`` is given.
    A big-endian array on a little-endian machine (``np.zeros(4, '>f4')``, data read from a file)
    is converted to native byte order, so the compiled kernels can read it. Strings, objects
    and ragged lists are rejected with a TypeError/ValueError that says what was expected.
    """
    if isinstance(value, np.ndarray):
        if dtype is not None and value.dtype != dtype:
            value = value.astype(dtype)
            copy = False
        return _checked(value, value.copy() if copy else value)
    if isinstance(value, np.generic):
        return _checked(value, np.array(value, dtype=dtype))
    try:
        array = np.array(value, dtype=dtype)
    except ValueError as error:
        if "inhomogeneous" not in str(error) and "sequence" not in str(error):
            raise
        raise ValueError(f"tensor: cannot make a tensor from a ragged nested sequence (the "
                         f"lists at one depth have different lengths); expected a rectangular "
                         f"nested list, as for a numpy array. numpy says: {error}") from None
    if dtype is None and array.dtype == np.float64:
        array = array.astype(_default_dtype)
    return _checked(value, array)


def _checked(value, array: np.ndarray) -> np.ndarray:
    """``array`` if its dtype is numeric and native; a native-order copy if only the byte order
    differs; otherwise a TypeError naming what was given."""
    dtype = array.dtype
    if dtype.kind not in NUMERIC_KINDS:
        what = (f"a numpy array of dtype {dtype}" if isinstance(value, np.ndarray)
                else f"{type(value).__name__} {value!r:.60}")
        raise TypeError(f"tensor: cannot make a tensor from {what}: expected numbers (a bool, "
                        f"integer or floating dtype), not {_kind_name(dtype)}")
    return native_order(array)


def native_order(array: np.ndarray) -> np.ndarray:
    """``array``, or a copy in the machine's byte order when it is byte-swapped (Numba's
    kernels cannot type swapped bytes)."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def _kind_name(dtype: np.dtype) -> str:
    return {"U": "strings", "S": "bytes", "O": "Python objects", "V": "structured records",
            "M": "datetimes", "m": "timedeltas"}.get(dtype.kind, f"dtype {dtype}")


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
