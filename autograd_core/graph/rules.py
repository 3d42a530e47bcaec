"""The course's table "Backpropagation (resumen)": each forward element and its inverse.

Every op declares one ``InverseRule``; viz labels nodes with it (``lang="en"`` or ``"es"``).
The words themselves live in the project's one vocabulary table (``autograd_core.vocabulary``).

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

from ..vocabulary import text


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
            return (text(f"rule.{self.value}", lang), text(f"inverse.{self.value}", lang))
        except ValueError:
            raise ValueError(f"InverseRule.label: unknown language {lang!r}; expected 'en' or "
                             "'es'") from None
