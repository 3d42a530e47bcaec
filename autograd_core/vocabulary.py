"""Every word the project shows to a student, in English and in the course's Spanish: one table.

The course's table "Backpropagation (resumen)" (001) pairs each forward element with its
inverse; those names (``Unidad 1``, ``Derivada L'``, ``Neurona inversa``, ``Punto de
bifurcación``, ``Suma de salidas``, ``Salida ponderada doble``, ``Salida constante``…) are the
rows ``rule.*`` and ``inverse.*`` below. The engine's rule labels (``InverseRule.label``), the op
graphs, the neuron-level picture, the legends and the checks all read their text from here, so
a picture in ``lang="es"`` can be checked word by word against the Spanish column.

>>> text("inverse.branch_point", "es")
'Suma de salidas'
>>> count(1, "op", "es"), count(3, "op", "es")
('1 operación', '3 operaciones')
"""
from __future__ import annotations

LANGUAGES = ("en", "es")

#: key → (English, Spanish)
VOCABULARY: dict[str, tuple[str, str]] = {
    # --- the course's table: forward element (rule.*) and its inverse (inverse.*) -------------
    "rule.cost_seed": ("Cost J", "Coste J"),
    "inverse.cost_seed": ("Unit 1", "Unidad 1"),
    "rule.loss": ("Loss function L", "Función de pérdida L"),
    "inverse.loss": ("Derivative L'", "Derivada L'"),
    "rule.activation": ("Activation function ψ", "Función de activación ψ"),
    "inverse.activation": ("Derivative ψ'", "Derivada ψ'"),
    "rule.weighted_input": ("Weighted input w·a", "Entrada ponderada w·a"),
    "inverse.weighted_input": ("Double weighted output", "Salida ponderada doble"),
    "rule.constant_input": ("Constant input b", "Entrada constante b"),
    "inverse.constant_input": ("Constant output", "Salida constante"),
    "rule.sum_of_inputs": ("Sum of inputs", "Suma de entradas"),
    "inverse.sum_of_inputs": ("Branch point", "Punto de bifurcación"),
    "rule.branch_point": ("Branch point", "Punto de bifurcación"),
    "inverse.branch_point": ("Sum of outputs", "Suma de salidas"),
    "rule.sum_of_outputs": ("Sum of outputs", "Suma de salidas"),
    "inverse.sum_of_outputs": ("Branch point", "Punto de bifurcación"),
    "rule.routing": ("Routing (shape/index)", "Enrutado (forma/índice)"),
    "inverse.routing": ("Routing back", "Enrutado inverso"),
    "rule.elementwise": ("Elementwise function f", "Función elemento a elemento f"),
    "inverse.elementwise": ("Derivative f'", "Derivada f'"),
    "rule.neuron": ("Neuron", "Neurona"),
    "inverse.neuron": ("Inverse neuron", "Neurona inversa"),
    # --- pictures: nodes, edges, legends -------------------------------------------------------
    "unit": ("Unit 1", "Unidad 1"),
    "cost": ("Cost J", "Coste J"),
    "use": ("use", "uso"),
    "shape": ("shape", "forma"),
    "of": ("of", "de"),
    "from": ("from", "de"),
    "sum_over_axis": ("Σ over axis", "Σ sobre el eje"),
    "sum_over_axes": ("Σ over axes", "Σ sobre los ejes"),
    "sum_over_batch": ("Σ over the batch", "Σ sobre el lote"),
    "legend": ("Legend", "Leyenda"),
    "parameter": ("parameter (requires grad)", "parámetro (requiere gradiente)"),
    "input": ("input (leaf)", "entrada (hoja)"),
    "constant": ("constant", "constante"),
    "output": ("output", "salida"),
    "intermediate": ("intermediate", "intermedio"),
    "operation": ("operation", "operación"),
    "grad": ("grad", "grad"),
    "summary": ("Graph too large to draw", "Grafo demasiado grande para dibujarlo"),
    "summary_hint": ("pass max_nodes=None to draw it all",
                     "usa max_nodes=None para dibujarlo entero"),
    "op.one": ("op", "operación"),
    "op.many": ("ops", "operaciones"),
    "tensor.one": ("tensor", "tensor"),
    "tensor.many": ("tensors", "tensores"),
    "gradient_edge": ("gradient (edge)", "gradiente (arista)"),
    "leaf_grad": ("gradient of a leaf", "gradiente de una hoja"),
    "module": ("module (nn)", "módulo (nn)"),
    "parameters": ("parameters", "parámetros"),
    "inverse_of": ("inverse of", "inversa de"),
    "layer": ("Layer", "Capa"),
    "input_layer": ("Input", "Entrada"),
    # --- checks ----------------------------------------------------------------------------------
    "check.ok": ("✓ gradcheck", "✓ gradcheck"),
    "check.fail": ("✗ gradcheck", "✗ gradcheck"),
    "check.skipped": ("(not checked: too large)", "(sin comprobar: demasiado grande)"),
    "check.downstream": ("(not checked: NaN/Inf in its inputs)",
                         "(sin comprobar: NaN/Inf en sus entradas)"),
    "check.nonfinite": ("NaN/Inf appears here", "aquí aparece NaN/Inf"),
    "legend.ok": ("gradcheck ✓", "gradcheck ✓"),
    "legend.fail": ("gradcheck ✗", "gradcheck ✗"),
    "legend.skipped": ("not checked", "sin comprobar"),
    "legend.nonfinite": ("NaN/Inf origin", "origen de NaN/Inf"),
    "legend.downstream": ("after a NaN/Inf (not checked)", "tras un NaN/Inf (sin comprobar)"),
    "end_to_end": ("end-to-end", "de extremo a extremo"),
    "agrees": ("agrees with finite differences", "coincide con diferencias finitas"),
    "disagrees": ("disagrees with finite differences", "no coincide con diferencias finitas"),
    "unused": ("not used by the output", "la salida no lo usa"),
    "max_error": ("max |Δ|", "máx |Δ|"),
    "projected": ("random projections", "proyecciones aleatorias"),
    # --- the neuron-level picture ----------------------------------------------------------------
    "network.forward": ("Forward network", "Red (propagación hacia delante)"),
    "network.backward": ("Inverse network", "Red neuronal inversa"),
    "network.sample": ("sample", "ejemplo"),
    "network.batch_mean": ("mean over the batch", "media sobre el lote"),
    # --- draw_network (viz/neuron_view.py): every visible string of the neuron-level picture ------
    # Names of the course's table are the rule.*/inverse.* rows above; these are the rest. Entries
    # whose two columns are equal are formulas: kept here so that every string drawn comes from
    # this table.
    "network.sum_over_batch": ("sum over the batch", "suma sobre el lote"),
    "network.per_sample": ("z and ψ'(z) change from sample to sample: δ = ∂J/∂a·ψ'(z) holds "
                           "for each one separately",
                           "z y ψ'(z) cambian de un ejemplo a otro: δ = ∂J/∂a·ψ'(z) se cumple "
                           "en cada uno por separado"),
    "network.act.sigmoid": ("σ", "σ"),
    "network.act.tanh": ("tanh", "tanh"),
    "network.act.relu": ("ReLU", "ReLU"),
    "network.act.leaky_relu": ("LeakyReLU", "LeakyReLU"),
    "network.act.elu": ("ELU", "ELU"),
    "network.act.selu": ("SELU", "SELU"),
    "network.act.softplus": ("softplus", "softplus"),
    "network.act.silu": ("SiLU", "SiLU"),
    "network.act.gelu": ("GELU", "GELU"),
    "network.act.softmax": ("softmax", "softmax"),
    "network.act.linear": ("linear", "lineal"),
    "network.formula.seed": ("∂J/∂J = 1", "∂J/∂J = 1"),
    "network.formula.loss": ("∂J/∂a⁽ᴷ⁾ = L'(a⁽ᴷ⁾, t)", "∂J/∂a⁽ᴷ⁾ = L'(a⁽ᴷ⁾, t)"),
    "network.formula.activation": ("ψ'(z) = dψ/dz", "ψ'(z) = dψ/dz"),
    "network.formula.neuron": ("δ = ∂J/∂z = ∂J/∂a · ψ'(z)", "δ = ∂J/∂z = ∂J/∂a · ψ'(z)"),
    "network.formula.weighted": ("wᵢⱼ·δᵢ → unit j; aⱼ·δᵢ = ∂J/∂wᵢⱼ",
                                 "wᵢⱼ·δᵢ → unidad j; aⱼ·δᵢ = ∂J/∂wᵢⱼ"),
    "network.formula.sum": ("∂J/∂aⱼ = Σᵢ wᵢⱼ·δᵢ", "∂J/∂aⱼ = Σᵢ wᵢⱼ·δᵢ"),
    "network.formula.constant": ("δᵢ = ∂J/∂bᵢ", "δᵢ = ∂J/∂bᵢ"),
    "network.loss_edge": ("L'", "L'"),
    "network.plus_one": ("+1", "+1"),
    # --- viz.explain: the chain rule with numbers -------------------------------------------------
    "explain.title": ("the chain rule with numbers", "la regla de la cadena con números"),
    "explain.one_path": ("One path leads from {w} to {J}: ∂{J}/∂{w} is the product of the local "
                         "derivatives on it.",
                         "De {w} a {J} lleva un solo camino: ∂{J}/∂{w} es el producto de sus "
                         "derivadas locales."),
    "explain.paths": ("{n} paths lead from {w} to {J}: ∂{J}/∂{w} is the sum over the paths of "
                      "the product of the local derivatives on each.",
                      "De {w} a {J} llevan {n} caminos: ∂{J}/∂{w} es la suma, sobre los "
                      "caminos, del producto de las derivadas locales de cada uno."),
    "explain.too_many": ("{n} paths lead from {w} to {J}: too many to list one by one; the delta "
                         "recursion below adds them up layer by layer.",
                         "De {w} a {J} llevan {n} caminos: demasiados para listarlos uno a uno; "
                         "la recursión de las deltas, abajo, los suma capa a capa."),
    "explain.uncounted": ("The graph is too large to follow from {w} to {J} element by element; "
                          "the delta recursion below adds the paths up layer by layer.",
                          "El grafo es demasiado grande para seguirlo de {w} a {J} elemento a "
                          "elemento; la recursión de las deltas, abajo, suma los caminos capa "
                          "a capa."),
    "explain.too_many_alone": ("{n} paths lead from {w} to {J}: too many to list one by one "
                               "(a larger max_paths lists them).",
                               "De {w} a {J} llevan {n} caminos: demasiados para listarlos uno "
                               "a uno (un max_paths mayor los lista)."),
    "explain.uncounted_alone": ("The graph is too large to follow from {w} to {J} element by "
                                "element.",
                                "El grafo es demasiado grande para seguirlo de {w} a {J} "
                                "elemento a elemento."),
    "explain.by_engine": ("the engine's backward gives this value",
                          "es el valor que da el backward del motor"),
    "explain.local": ("Local derivatives (each one's inverse-neuron rule)",
                      "Derivadas locales (con la regla de la neurona inversa de cada una)"),
    "explain.path": ("Path", "Camino"),
    "explain.sum": ("Sum over the paths", "Suma sobre los caminos"),
    "explain.agrees": ("✓ the engine's backward gives the same",
                       "✓ el backward del motor da lo mismo"),
    "explain.and_grad": (", as does {w}.grad", ", igual que {w}.grad"),
    "explain.grad_differs": ("; {w}.grad holds {v} (backward adds to .grad: was it run more "
                             "than once without zero_grad()?)",
                             "; {w}.grad vale {v} (backward suma en .grad: ¿se ejecutó más de "
                             "una vez sin zero_grad()?)"),
    "explain.differs": ("✗ the engine's backward gives {v}", "✗ el backward del motor da {v}"),
    "explain.delta": ("The delta recursion (course 000), from the output layer down",
                      "La recursión de las deltas (curso 000), desde la capa de salida"),
    # --- viz.export_lesson: the offline lesson page ---------------------------------------------
    "lesson.title": ("Backpropagation, step by step", "Retropropagación, paso a paso"),
    "lesson.forward": ("1. The forward graph", "1. El grafo hacia delante"),
    "lesson.backward": ("2. The backward pass, step by step (the inverse network)",
                        "2. El paso hacia atrás, paso a paso (la red neuronal inversa)"),
    "lesson.keys": ("Move the slider or press ← and →.", "Mueve el deslizador o pulsa ← y →."),
    "lesson.frame_unit": ("Unit 1: ∂J/∂J = 1", "Unidad 1: ∂J/∂J = 1"),
    "lesson.explain": ("3. ∂J/∂w written out: the chain rule with numbers",
                       "3. ∂J/∂w desarrollada: la regla de la cadena con números"),
    "lesson.choose": ("Parameter:", "Parámetro:"),
    "lesson.update": ("4. The update step", "4. El paso de actualización"),
    "explain.batch": ("A batch of m = {m} samples: one row per sample; ∂J/∂W and ∂J/∂b add the "
                      "samples up (Σₓ).",
                      "Un lote de m = {m} ejemplos: una fila por ejemplo; ∂J/∂W y ∂J/∂b suman "
                      "los ejemplos (Σₓ)."),
    # --- draw_update (viz/update.py): the update step wₜ₊₁ = wₜ − η·g and the optimizer's terms --
    "update.title": ("Update step", "Paso de actualización"),
    "update.previewed": ("what step() would do: nothing has changed",
                         "lo que haría step(): nada ha cambiado"),
    "update.applied": ("step() applied", "step() aplicado"),
    "update.group": ("group", "grupo"),
    "update.w_next": ("parameter after the step", "parámetro tras el paso"),
    "update.terms": ("Terms of the update", "Términos de la actualización"),
    "update.term.gradient": ("gradient used by the step", "gradiente que usa el paso"),
    "update.term.momentum_buffer": ("momentum buffer", "búfer de momento"),
    "update.term.moving_average": ("moving average of g", "media móvil de g"),
    "update.term.sum_of_squares": ("sum of g²", "suma de g²"),
    "update.term.step": ("step count", "número de paso"),
    "update.term.decayed_lr": ("decayed learning rate", "tasa de aprendizaje con decaimiento"),
    "update.term.square_average": ("moving average of g²", "media móvil de g²"),
    "update.term.first_moment": ("first moment (mean of g)", "primer momento (media de g)"),
    "update.term.second_moment": ("second moment (mean of g²)", "segundo momento (media de g²)"),
    "update.term.max_second_moment": ("largest v so far (AMSGrad)",
                                      "mayor v hasta ahora (AMSGrad)"),
    "update.term.first_moment_hat": ("bias-corrected first moment", "primer momento corregido"),
    "update.term.second_moment_hat": ("bias-corrected second moment",
                                      "segundo momento corregido"),
    "update.term.direction": ("step direction", "dirección del paso"),
    "update.term.delta_average": ("moving average of Δ²", "media móvil de Δ²"),
    "update.term.infinity_norm": ("infinity norm (largest |g|)", "norma infinito (mayor |g|)"),
    "update.term.momentum_coefficient": ("momentum coefficient", "coeficiente de momento"),
    "update.term.momentum_product": ("product of the momentum coefficients",
                                     "producto de los coeficientes de momento"),
    "update.term.linear": ("linear term", "término lineal"),
    "update.term.denominator": ("denominator", "denominador"),
    "update.term.newton_direction": ("Newton direction", "dirección de Newton"),
    "update.option.lr": ("learning rate", "tasa de aprendizaje"),
    "update.option.momentum": ("momentum", "momento"),
    "update.option.dampening": ("dampening", "amortiguación"),
    "update.option.weight_decay": ("weight decay", "decaimiento de pesos"),
    "update.option.eps": ("stability term", "término de estabilidad"),
    "update.option.beta": ("coefficient β", "coeficiente β"),
    "update.option.betas.0": ("decay of m", "decaimiento de m"),
    "update.option.betas.1": ("decay of v", "decaimiento de v"),
    "update.option.alpha": ("smoothing constant", "constante de suavizado"),
    "update.option.rho": ("smoothing constant", "constante de suavizado"),
    "update.option.lr_decay": ("learning-rate decay", "decaimiento de la tasa de aprendizaje"),
    "update.option.initial_accumulator_value": ("initial sum", "suma inicial"),
    "update.option.momentum_decay": ("momentum decay", "decaimiento del momento"),
    "update.option.learning_rate_power": ("learning-rate power",
                                          "potencia de la tasa de aprendizaje"),
    "update.option.l1_regularization_strength": ("L1 strength", "intensidad L1"),
    "update.option.l2_regularization_strength": ("L2 strength", "intensidad L2"),
    "update.option.l2_shrinkage_regularization_strength": ("L2 shrinkage", "contracción L2"),
    "update.option.damping": ("damping", "amortiguamiento"),
}


def _check_lang(lang: str) -> int:
    try:
        return LANGUAGES.index(lang)
    except ValueError:
        raise ValueError(f"unknown language {lang!r}; expected 'en' or 'es'") from None


def text(key: str, lang: str = "en") -> str:
    """The text of ``key`` in ``lang`` ("en" or "es")."""
    index = _check_lang(lang)
    try:
        return VOCABULARY[key][index]
    except KeyError:
        raise KeyError(f"vocabulary: no entry {key!r}") from None


def count(n: int, key: str, lang: str = "en") -> str:
    """``n`` and the noun ``key`` in the right number (``count(1, "op", "es")``: 1 operación)."""
    return f"{n} {text(key + ('.one' if n == 1 else '.many'), lang)}"


def words(lang: str) -> dict[str, str]:
    """Every entry in ``lang``, as a mapping key → text."""
    index = _check_lang(lang)
    return {key: pair[index] for key, pair in VOCABULARY.items()}
