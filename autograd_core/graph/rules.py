"""The course's table "Backpropagation (resumen)": each forward element and its inverse.

Every op declares one ``InverseRule``; viz labels nodes with it (``lang="en"`` or ``"es"``).

=========================  ==============================================
forward                    backward (the inverse network)
=========================  ==============================================
cost J                     unit 1 (the seed of backward)
loss function L            its derivative L'
activation ψ               multiply by ψ'(z)
weighted input w·a         double weighted output: w·δ to a, a·δ → ∂J/∂w
constant input b           constant output: δ → ∂J/∂b
sum of inputs              branch point (δ copied to every input)
branch point               sum of outputs (gradients of all uses added)
=========================  ==============================================
"""
from __future__ import annotations

import enum


class InverseRule(enum.Enum):
    """How an op appears in the inverse network."""

    COST_SEED = "cost_seed"
    ACTIVATION = "activation"
    WEIGHTED_INPUT = "weighted_input"
    CONSTANT_INPUT = "constant_input"
    SUM_OF_INPUTS = "sum_of_inputs"
    BRANCH_POINT = "branch_point"
    SUM_OF_OUTPUTS = "sum_of_outputs"
    ROUTING = "routing"
    LOSS = "loss"
    ELEMENTWISE = "elementwise"

    def label(self, lang: str = "en") -> tuple[str, str]:
        """(forward name, inverse name) in English (``"en"``) or the course's Spanish (``"es"``)."""
        try:
            return LABELS[lang][self]
        except KeyError:
            raise ValueError(f"InverseRule.label: unknown language {lang!r}; expected 'en' or "
                             "'es'") from None


LABELS = {
    "en": {
        InverseRule.COST_SEED: ("Cost J", "Unit 1"),
        InverseRule.ACTIVATION: ("Activation ψ", "Derivative ψ'"),
        InverseRule.WEIGHTED_INPUT: ("Weighted input w·a", "Double weighted output"),
        InverseRule.CONSTANT_INPUT: ("Constant input b", "Constant output"),
        InverseRule.SUM_OF_INPUTS: ("Sum of inputs", "Branch point"),
        InverseRule.BRANCH_POINT: ("Branch point", "Sum of outputs"),
        InverseRule.SUM_OF_OUTPUTS: ("Sum of outputs", "Branch point"),
        InverseRule.ROUTING: ("Routing (shape/index)", "Routing back"),
        InverseRule.LOSS: ("Loss function L", "Derivative L'"),
        InverseRule.ELEMENTWISE: ("Elementwise function", "Local derivative"),
    },
    "es": {
        InverseRule.COST_SEED: ("Coste J", "Unidad 1"),
        InverseRule.ACTIVATION: ("Función de activación ψ", "Derivada ψ'"),
        InverseRule.WEIGHTED_INPUT: ("Entrada ponderada w·a", "Salida ponderada doble"),
        InverseRule.CONSTANT_INPUT: ("Entrada constante b", "Salida constante"),
        InverseRule.SUM_OF_INPUTS: ("Suma de entradas", "Punto de bifurcación"),
        InverseRule.BRANCH_POINT: ("Punto de bifurcación", "Suma de salidas"),
        InverseRule.SUM_OF_OUTPUTS: ("Suma de salidas", "Punto de bifurcación"),
        InverseRule.ROUTING: ("Enrutado (forma/índice)", "Enrutado inverso"),
        InverseRule.LOSS: ("Función de pérdida L", "Derivada L'"),
        InverseRule.ELEMENTWISE: ("Función elemento a elemento", "Derivada local"),
    },
}
