"""``draw_update(model, optimizer, view="network")``: the update step on the neuron-level picture.

The units and edges of ``draw_network``'s forward view (:mod:`viz.neuron_view`), each edge j → i
of layer k labelled wᵢⱼ⁽ᵏ⁾: wₜ → wₜ₊₁ and each bias edge bᵢ⁽ᵏ⁾: wₜ → wₜ₊₁; below the units one
table per layer (every weight's wₜ, ∂J/∂w, the optimizer's terms and wₜ₊₁) and one table of the
terms' formulas. A layer whose edge labels do not all fit keeps its numbers in its table only.
Every number is :func:`viz.update.update_preview`'s; every word comes from the vocabulary.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from autograd_core.vocabulary import text

from .graphviz_io import digraph
from .neuron_layout import Canvas, html_table, text_size
from .neuron_values import parse_layers
from .neuron_view import (_TABLE_FONT, _UNIT_FONT, _bias_node, _color, _fmt, _forward_units,
                          _Geometry, _headers, _layer_edges, _place_layer, _sym, _tables)
from .update import ParamUpdate, header_lines


def network_picture(model, updates: list[ParamUpdate], lang: str, max_units: int = 12):
    """The neuron-level picture of ``model`` with the update of ``updates`` on its edges."""
    layers = parse_layers(model, max_units)
    by_param = {id(u.param): u for u in updates}
    words = partial(text, lang=lang)
    sizes = [layers[0].linear.in_features] + [la.linear.out_features for la in layers]
    unit_h = max(1.0, text_size("\n".join(["x"] * 4), _UNIT_FONT)[1] + 0.12)
    geo = _Geometry(sizes, unit_h + 0.3, unit_h)
    canvas = Canvas()                  # ids as draw_network's forward view: f<k>_u<i>, …
    title, *lines = header_lines(updates, lang)
    _headers(canvas, "f", geo, title, f"{updates[0].optimizer}: {updates[0].formula}", *lines)
    _forward_units(canvas, layers, None, words, geo)
    tables = []
    for k, layer in enumerate(layers, start=1):
        weight = by_param[id(layer.linear.weight)]
        bias = by_param.get(id(layer.linear.bias)) if layer.linear.bias is not None else None
        labels = {(i, j): f"{_sym('w', i + 1, k, j + 1)}: {_fmt(weight.w_t[i, j])} → "
                          f"{_fmt(weight.w_next[i, j])}"
                  for i in range(weight.w_t.shape[0]) for j in range(weight.w_t.shape[1])}
        if bias is not None:
            _bias_node(canvas, "f", k, geo, words, "rule.constant_input")
            labels.update({(i, -1): f"{_sym('b', i + 1, k)}: {_fmt(bias.w_t[i])} → "
                                    f"{_fmt(bias.w_next[i])}" for i in range(bias.w_t.size)})
        _place_layer(canvas, "f", k, geo, labels, _color)    # else: the numbers are in the table
        _layer_edges(canvas, "f", k, geo, weight.w_t.shape, bias is not None, _color, {})
        tables.append((f"u_table{k}", _layer_table(k, weight, bias)))
    tables.append(("u_terms", _terms_table(updates[0], words)))
    _tables(canvas, geo, tables)
    g = digraph("update_network", engine="neato")
    g.attr(splines="false", overlap="true", outputorder="edgesfirst", fontname="Helvetica",
           pad="0.2")
    g.attr("node", fontname="Helvetica", fontsize=str(_UNIT_FONT))
    g.attr("edge", arrowsize="0.6", penwidth="1.1")
    canvas.emit(g)
    return g


def _cell(value, index) -> str:
    """A term's value for one element (a number shared by the whole tensor, such as t, as is)."""
    return _fmt(value[index]) if np.ndim(value) else _fmt(value)


def _layer_table(k: int, weight: ParamUpdate, bias: ParamUpdate | None):
    """Layer k: one row per weight and bias, columns wₜ, ∂J/∂w, the terms, wₜ₊₁."""
    symbols = list(weight.terms)
    rows = [[""] + ["wₜ", "∂J/∂w"] + symbols + ["wₜ₊₁"]]
    for i, j in np.ndindex(*weight.w_t.shape):
        rows.append(_row(_sym("w", i + 1, k, j + 1), weight, (i, j), symbols))
    if bias is not None:
        rows += [_row(_sym("b", i + 1, k), bias, (i,), symbols) for i in range(bias.w_t.size)]
    title = f"{weight.name}" + ("" if bias is None else f", {bias.name}")
    return html_table(f"{title}: wₜ → wₜ₊₁", rows, _TABLE_FONT)


def _row(name: str, u: ParamUpdate, index: tuple, symbols: list[str]) -> list[str]:
    terms = [_cell(u.terms[s].value, index) if s in u.terms else "" for s in symbols]
    return [name, _fmt(u.w_t[index]), _fmt(u.grad[index])] + terms + [_fmt(u.w_next[index])]


def _terms_table(u: ParamUpdate, words):
    """The rule and each term's formula and name (the legend of the tables' columns)."""
    rows = [["wₜ₊₁", u.formula, words("update.w_next")]]
    if "g" not in u.terms:                             # the step uses ∂J/∂w itself
        rows.append(["g", "g = ∂J/∂w", words("update.term.gradient")])
    rows += [[t.symbol, t.formula, words(t.word)] for t in u.terms.values()]
    return html_table(words("update.terms"), rows, _TABLE_FONT, header=False)
