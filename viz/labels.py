"""Number formatting for the pictures, and their words (read from ``autograd_core.vocabulary``,
the project's one es/en table)."""
from __future__ import annotations

import numbers

import numpy as np

import autograd_core as ag

def words(lang: str) -> dict[str, str]:
    """Every word of the pictures in ``lang`` ("en" or "es"), from the project's one table."""
    try:
        return ag.vocabulary.words(lang)
    except ValueError:
        raise ValueError(f"viz: unknown language {lang!r}; expected 'en' or 'es'") from None


def check_count(who: str, name: str, value, *, low: int = 0, optional: bool = False) -> None:
    """Raise naming ``who`` and the option unless ``value`` is an int ≥ ``low`` (or None when
    ``optional``): the pictures' size options (max_elements, max_nodes, max_paths, …)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        allowed = "an int or None" if optional else "an int"
        raise TypeError(f"{who}: {name} must be {allowed}, got {type(value).__name__} "
                        f"{value!r}")
    if value < low:
        raise ValueError(f"{who}: {name} must be at least {low}, got {value}")


def format_number(x) -> str:
    """One number with 4 significant digits (``0.2350`` → ``'0.235'``, ``-0.0`` → ``'0'``)."""
    x = float(x)
    if x == 0:
        return "0"
    return f"{x:.4g}"


def format_shape(shape) -> str:
    """``(4, 3)`` → ``'(4,3)'``; ``()`` → ``'()'``; ``(3,)`` → ``'(3,)'``."""
    shape = tuple(shape)
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ",".join(str(n) for n in shape) + ")"


def format_array(values, max_elements: int = 6) -> str:
    """Compact text for an array: its values when it has at most ``max_elements``, else its shape.

    Scalars print as a number; small arrays as nested brackets with 4 significant digits.
    """
    a = np.asarray(values)
    if a.size > max_elements:
        return "shape " + format_shape(a.shape)
    if a.size == 0:
        return "[]"
    if a.ndim == 0:
        return format_number(a)
    if a.ndim == 1:
        return "[" + ", ".join(format_number(v) for v in a) + "]"
    rows = [format_array(row, max_elements) for row in a]
    one_line = "[" + ", ".join(rows) + "]"
    if len(one_line) <= 48:
        return one_line
    return "[" + ",\n ".join(rows) + "]"


def format_axes_sum(raw_shape, shape, lang: str = "en") -> str:
    """``'Σ over axis 0: (4,3)→(3,)'``: which axes backward summed to undo a broadcast."""
    raw_shape, shape = tuple(raw_shape), tuple(shape)
    lead = len(raw_shape) - len(shape)
    axes = list(range(lead))
    for i, n in enumerate(shape):
        if n == 1 and raw_shape[lead + i] != 1:
            axes.append(lead + i)
    w = words(lang)
    which = (f"{w['sum_over_axis']} {axes[0]}" if len(axes) == 1 else
             f"{w['sum_over_axes']} {', '.join(str(a) for a in axes)}")
    return f"{which}: {format_shape(raw_shape)}→{format_shape(shape)}"


def value_lines(head: str, values, max_elements: int = 6, lang: str = "en") -> list[str]:
    """``head = v`` for a scalar; ``head =`` then one line per element (a column, as the course
    writes vectors) or per row for a small array; ``head: shape (…)`` for a large one."""
    a = np.asarray(values)
    if a.size > max_elements:
        return [f"{head}: {words(lang)['shape']} {format_shape(a.shape)}"]
    if a.size == 0:
        return [f"{head} = []"]
    if a.size == 1 and a.ndim <= 1:
        return [f"{head} = {format_number(a.reshape(-1)[0])}"]
    if a.ndim == 1:
        return [f"{head} ="] + [format_number(v) for v in a]
    return [f"{head} ="] + [format_array(row, max_elements) for row in a.reshape(-1, a.shape[-1])]
