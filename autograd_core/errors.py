"""Helpers that format error messages as ``op: what, shapes/dtypes, expected``."""
from __future__ import annotations


def describe(value) -> str:
    """``shape (2, 3), float32`` for arrays and tensors, the type name otherwise."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        return type(value).__name__
    return f"shape {tuple(shape)}, {dtype}"


def op_error(kind: type[Exception], op: str, message: str) -> Exception:
    """Build ``kind(f"{op}: {message}")``; raise the result."""
    return kind(f"{op}: {message}")


def normalize_axis(op: str, axis, ndim: int) -> tuple[int, ...] | None:
    """Turn ``axis`` (None, int or tuple of ints, negatives allowed) into a sorted tuple.

    Raises a ValueError naming ``op`` when an axis is out of range or repeated. A 0-d tensor accepts
    axis 0 / -1 (as PyTorch) and reduces over nothing.
    """
    if axis is None:
        return None
    axes = (axis,) if hasattr(axis, "__index__") else tuple(axis)
    result = []
    for a in axes:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} "
                             "dimension(s)")
        if ndim:
            result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(result))
