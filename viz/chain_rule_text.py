"""The text of an :class:`viz.chain_rule.Explanation`, in plain Unicode or in LaTeX/Markdown.

One function writes it, for any formatter of :mod:`viz.math_text`, so the terminal and the
notebook say the same thing. Its words come from ``autograd_core.vocabulary`` (``explain.*``).
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag

from .labels import format_shape

R = ag.InverseRule
#: arrays of the delta recursion with more elements are written as their shape
MAX_SHOWN = 36
#: the inverse rule that makes each kind of local derivative, in the course's words
_RULE_KEYS = {R.LOSS: "inverse.loss", R.ACTIVATION: "inverse.activation",
              R.ELEMENTWISE: "inverse.elementwise", R.WEIGHTED_INPUT: "inverse.weighted_input",
              R.CONSTANT_INPUT: "inverse.constant_input",
              R.SUM_OF_INPUTS: "inverse.sum_of_inputs", R.ROUTING: "inverse.routing"}


def render(expl, fmt) -> str:
    """The whole explanation: per element its paths and sum, then the delta recursion."""
    def say(key: str, **values) -> str:
        return ag.vocabulary.text(key, expl.lang).format(**values)

    blocks = [fmt.heading(f"∂{expl.output}/∂{expl.wrt} — {say('explain.title')}")]
    for element in expl.elements:
        blocks += _element(element, expl, fmt, say)
    if expl.layers:
        blocks.append(fmt.heading(say("explain.delta")))
        if expl.batch:
            blocks.append(fmt.line([("t", fmt.words(say("explain.batch", m=expl.batch)))]))
        for layer in reversed(expl.layers):
            blocks += _layer(layer, expl.layers, fmt, say, _shown(fmt, expl.lang))
    return fmt.document(blocks)


def _element(e, expl, fmt, say) -> list[str]:
    J, w = expl.output, e.name
    lines = []
    if e.paths is None:
        key = "explain.uncounted" if e.count is None else "explain.too_many"
        if not expl.layers:                    # no delta recursion below to add them up
            key += "_alone"
        lines.append(fmt.line([("t", fmt.words(say(key, n=e.count, J=J, w=w)))]))
    else:
        key = "explain.one_path" if e.count == 1 else "explain.paths"
        lines.append(fmt.line([("t", fmt.words(say(key, n=e.count, J=J, w=w)))]))
        lines += _local_derivatives(e.paths, expl.lang, fmt, say)
        for k, path in enumerate(e.paths, 1):
            lines.append(_path_line(k, path, J, fmt, say))
    total = e.total
    parts = [("m", fmt.frac(J, w) + " = " + fmt.number(total))]
    if e.paths is not None and len(e.paths) > 1:
        parts = [("t", fmt.words(say("explain.sum") + ": "))] + parts
    if e.paths is None:                        # the total is the engine's: nothing to compare
        check = say("explain.by_engine")
    elif e.agrees(e.engine):
        check = say("explain.agrees")
    else:
        check = say("explain.differs", v=fmt.number(e.engine))
    if e.grad is not None:
        check += say("explain.and_grad", w=expl.wrt) if e.agrees(e.grad) else \
            say("explain.grad_differs", w=expl.wrt, v=fmt.number(e.grad))
    lines.append(fmt.line(parts + [("t", fmt.words("   " + check))]))
    return lines


def _local_derivatives(paths, lang, fmt, say) -> list[str]:
    """Each local derivative met on the paths, once: ∂h/∂z = σ(z)(1 − σ(z)) = 0.25 (rule)."""
    seen, lines = set(), [fmt.line([("t", fmt.words(say("explain.local") + ":"))])]
    for path in paths:
        for f in path.factors:
            if (f.out, f.inp) in seen:
                continue
            seen.add((f.out, f.inp))
            math = fmt.frac(f.out, f.inp)
            if f.formula and f.formula != fmt.number(f.value):
                math += " = " + fmt.math(f.formula)
            math += " = " + fmt.number(f.value)
            rule = ag.vocabulary.text(_RULE_KEYS[f.rule], lang) if f.rule in _RULE_KEYS else ""
            lines.append(fmt.line([("t", fmt.words("  • ")), ("m", math)] +
                                  ([("t", fmt.words(f"   ({rule})"))] if rule else [])))
    return lines


def _path_line(k: int, path, J: str, fmt, say) -> str:
    """Path k: ∂J/∂h · ∂h/∂z · ∂z/∂w = 0.12 × 0.25 × 1.5 = 0.045."""
    symbols = fmt.math(" · ").join(fmt.frac(f.out, f.inp) for f in path.factors)
    numbers = fmt.math(" × ").join(fmt.number(f.value) for f in path.factors)
    math = f"{symbols} = {numbers} = {fmt.number(path.product)}" if len(path.factors) > 1 \
        else f"{symbols} = {fmt.number(path.product)}"
    return fmt.line([("t", fmt.words(f"{say('explain.path')} {k}: ")), ("m", math)])


def _delta_name(z: str) -> str:
    return "δ" + z[1:] if z.startswith("z⁽") else f"∂J/∂{z}"


def _shown(fmt, lang: str):
    """An array's numbers, or for one of more than ``MAX_SHOWN`` elements its shape (a wide
    layer or a large batch would otherwise fill pages)."""
    def array(a) -> str:
        if np.size(a) <= MAX_SHOWN:
            return fmt.array(a)
        return fmt.math(f"[{ag.vocabulary.text('shape', lang)} {format_shape(np.shape(a))}]")
    return array


def _layer(layer, layers, fmt, say, array) -> list[str]:
    """δ⁽ᵏ⁾ with its numbers, then ∂J/∂W⁽ᵏ⁾ = δ⁽ᵏ⁾ a⁽ᵏ⁻¹⁾ᵀ and ∂J/∂b⁽ᵏ⁾ = δ⁽ᵏ⁾."""
    n, A = layer.names, layer.arrays
    delta, z = _delta_name(n["z"]), n["z"]
    m = fmt.math
    if layer.last:
        dJ = fmt.frac("J", n["a"])
        source = "L'"
    else:
        nxt = layers[layer.k]                                # layer k + 1 (0-based list)
        dJ = m(f"{nxt.names['W']}ᵀ {_delta_name(nxt.names['z'])}")
        source = None
    if layer.activation:
        head = m(f"{delta} = ") + fmt.frac("J", z) + m(" = ") + \
            (f"({dJ})" if not layer.last else dJ) + m(f" ⊙ ψ'({z})")
        numbers = array(A["dJ_da"]) + m(" ⊙ ") + array(A["dpsi"])
        lines = [fmt.line([("m", f"{head} = {numbers} = {array(A['delta'])}")]),
                 fmt.line([("t", fmt.words("    ")),
                           ("m", m(f"ψ'({z}) = {layer.activation}"))])]
    else:
        head = m(f"{delta} = ") + fmt.frac("J", z) + m(" = ") + (m(source) if source else dJ)
        lines = [fmt.line([("m", f"{head} = {array(A['delta'])}")])]
    sigma = "Σₓ " if A["delta"].ndim > 1 and A["delta"].shape[0] > 1 else ""
    lines.append(fmt.line([("m", fmt.frac("J", n["W"]) + m(f" = {sigma}{delta} {n['a_prev']}ᵀ = ")
                            + array(A["dW"]))]))
    if "db" in A:
        lines.append(fmt.line([("m", fmt.frac("J", n["b"]) + m(f" = {sigma}{delta} = ")
                                + array(A["db"]))]))
    return lines
