"""Words and number formatting for the graph pictures, in English and in the course's Spanish.

The names of the inverse rules themselves come from ``ag.InverseRule.label(lang)`` (the course's
table "Backpropagation (resumen)"); this module holds the rest of the vocabulary.
"""
from __future__ import annotations

import numpy as np

WORDS = {
    "en": {
        "unit": "Unit 1",
        "cost": "Cost J",
        "sum_of_outputs": "Sum of outputs",
        "branch_point": "Branch point",
        "double_weighted_output": "Double weighted output",
        "constant_output": "Constant output",
        "from": "from",
        "sum": "sum",
        "sum_over_axis": "Σ over axis",
        "sum_over_axes": "Σ over axes",
        "legend": "Legend",
        "parameter": "parameter (requires grad)",
        "input": "input (leaf)",
        "constant": "constant",
        "output": "output",
        "intermediate": "intermediate",
        "operation": "operation",
        "grad": "grad",
        "summary": "Graph too large to draw",
        "summary_hint": "pass max_nodes=None to draw it all",
        "ops": "ops",
        "tensors": "tensors",
        "gradient": "gradient (edge)",
        "inverse_op": "inverse op",
        "leaf_grad": "∂J/∂leaf",
        "module": "module (nn)",
        "parameters": "parameters",
        "inverse_module": "inverse of",
        "end_to_end": "end-to-end",
        "agrees": "agrees with finite differences",
        "disagrees": "disagrees with finite differences",
        "unused": "not used by the output",
        "max_error": "max |Δ|",
        "projected": "random projections",
    },
    "es": {
        "unit": "Unidad 1",
        "cost": "Coste J",
        "sum_of_outputs": "Suma de salidas",
        "branch_point": "Punto de bifurcación",
        "double_weighted_output": "Salida ponderada doble",
        "constant_output": "Salida constante",
        "from": "de",
        "sum": "suma",
        "sum_over_axis": "Σ sobre el eje",
        "sum_over_axes": "Σ sobre los ejes",
        "legend": "Leyenda",
        "parameter": "parámetro (requiere gradiente)",
        "input": "entrada (hoja)",
        "constant": "constante",
        "output": "salida",
        "intermediate": "intermedio",
        "operation": "operación",
        "grad": "grad",
        "summary": "Grafo demasiado grande para dibujarlo",
        "summary_hint": "usa max_nodes=None para dibujarlo entero",
        "ops": "operaciones",
        "tensors": "tensores",
        "gradient": "gradiente (arista)",
        "inverse_op": "operación inversa",
        "leaf_grad": "∂J/∂hoja",
        "module": "módulo (nn)",
        "parameters": "parámetros",
        "inverse_module": "inversa de",
        "end_to_end": "de extremo a extremo",
        "agrees": "coincide con diferencias finitas",
        "disagrees": "no coincide con diferencias finitas",
        "unused": "la salida no lo usa",
        "max_error": "máx |Δ|",
        "projected": "proyecciones aleatorias",
    },
}


def words(lang: str) -> dict[str, str]:
    """The vocabulary for ``lang`` ("en" or "es")."""
    try:
        return WORDS[lang]
    except KeyError:
        raise ValueError(f"viz: unknown language {lang!r}; expected 'en' or 'es'") from None


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
