"""The neuron-level picture of a small dense network, in the course's words (000, 001).

Forward view: one column of units per layer (left to right), an edge j → i for each weight w_ij
with its value, and a "+1" constant input per layer whose edges carry the biases; with one
sample the units show their activations a = ψ(z).

Backward view, the course's inverse network (001, "Backpropagation (resumen)"): the same units as
inverse neurons, the cost J on the right entering with "Unidad 1", arrows running right to left.

* The output units receive ∂J/∂a⁽ᴷ⁾ from L' (the derivative of the loss).
* Each inverse neuron shows z, ψ'(z), ∂J/∂a and δ = ∂J/∂z = ∂J/∂a · ψ'(z) (000's "función delta").
* The edge back from unit i (layer k) to unit j carries w_ij·δ_i ("salida ponderada doble": w·ψ'
  towards the previous unit), and is labelled as that product; unit j's ∂J/∂a is the sum of what
  reaches it ("suma de salidas"), so the picture can be checked by hand. The input column shows
  ∂J/∂x the same way.
* ∂J/∂W⁽ᵏ⁾ = δ⁽ᵏ⁾ a⁽ᵏ⁻¹⁾ᵀ and ∂J/∂b⁽ᵏ⁾ = δ⁽ᵏ⁾ (the other half of the double weighted output,
  and the "salida constante") are one table per layer; a legend names each rule of the course.

Edge labels are placed where their box meets no other text (``viz.neuron_layout``); when a layer's
labels do not all fit, that layer's numbers go into a table below the units (the edges stay).
With a batch, ``sample=k`` draws sample k, ``sample=None`` the batch: the units then show sums
over the rows of the engine's gradients of the batch cost, i.e. 1/m Σₓ of the per-sample values
for a loss that averages (see ``viz.neuron_values``). Every number is the engine's; every word
comes from ``autograd_core.vocabulary``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from autograd_core.vocabulary import text

from .graphviz_io import digraph
from .neuron_layout import Canvas, along, flow, html_table, text_size
from .neuron_values import Layer, Values, compute_values, parse_layers

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_PALETTE = ("#1f5f9f", "#b02a2a", "#2b7a2b", "#6a3d9a", "#8c510a", "#c0398a", "#137b86",
            "#5f5f00")
_RED = "#b03030"
_FRACTIONS = (0.3, 0.7, 0.22, 0.78, 0.4, 0.6, 0.5, 0.16, 0.84, 0.35, 0.65, 0.45, 0.55)
_GAP_X = 4.7            # inches between layer columns
_UNIT_FONT, _LABEL_FONT, _TABLE_FONT = 10, 9, 9


def _fmt(v: float) -> str:
    """Compact number for a label: 4 significant digits (3 in e-notation), a true minus sign."""
    v = float(v) + 0.0          # −0.0 → 0.0
    s = f"{v:.4g}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.2e}".replace("e-0", "e-")
    return ("−" + s[1:]) if s.startswith("-") else s


def _sym(letter: str, i: int | None = None, k: int | None = None, j: int | None = None) -> str:
    """a₁⁽¹⁾, w₁₂⁽²⁾, δ⁽²⁾ ... (units and layers numbered from 1 as in the course; input 0)."""
    sub = "" if i is None else str(i) if j is None else f"{i}{j}" if max(i, j) < 10 else f"{i},{j}"
    out = letter + sub.translate(_SUB)
    return out if k is None else out + f"({k})".translate(_SUP)


def _act(k: int, i: int | None = None) -> str:
    """The activation of unit i of column k: x for the inputs (a⁽⁰⁾ = x), a⁽ᵏ⁾ after."""
    return _sym("x", i) if k == 0 else _sym("a", i, k)


def _prefix(values: Values | None) -> str:
    """What a batch's numbers are: 1/m Σₓ (a mean over the samples) or Σₓ; "" for one sample."""
    if values is None or not values.batch:
        return ""
    return "1/m Σₓ " if values.reduction == "mean" else "Σₓ "


@dataclass
class _Geometry:
    """Where the units are: columns _GAP_X apart, units ``gap_y`` apart, centred on y = 0."""

    sizes: list[int]
    gap_y: float
    unit_h: float

    def unit(self, k: int, i: int) -> tuple[float, float]:
        return k * _GAP_X, (self.sizes[k] - 1) * self.gap_y / 2 - i * self.gap_y

    @property
    def top(self) -> float:
        return (max(self.sizes) - 1) * self.gap_y / 2 + self.unit_h / 2

    def header(self, row: int) -> float:
        """y of header row ``row`` above the units: 0 the "+1" nodes, 1 their names, then the
        captions and the title (see _headers)."""
        return self.top + 0.45 + 0.36 * row


def draw_network(model, x=None, t=None, view: str = "forward", loss_fn=None, lang: str = "en",
                 max_units: int = 12, sample: int | None = None):
    """Neuron-level ``graphviz.Digraph`` of a small dense ``nn.Sequential`` (Linear + activations).

    ``x``: one sample or a batch (m, n) (the forward view then shows the activations of one
    sample); ``t``: the target(s), needed by the backward view; ``sample``: which sample of a
    batch to draw, or None for the whole batch (gradients as 1/m Σₓ over the samples);
    ``view``: "forward", "backward" or "both" (forward above backward); ``loss_fn``: the cost J
    (default the course's C = ½‖y − t‖², ``nn.SquaredError``); ``lang``: "en" or "es".
    Raises ValueError for layers wider than ``max_units`` and for modules it cannot draw. Drawn
    by Graphviz's ``neato`` with pinned positions; ``.grad`` of the user's tensors is untouched.
    """
    if view not in ("forward", "backward", "both"):
        raise ValueError("draw_network: view must be 'forward', 'backward' or 'both', "
                         f"got {view!r}")
    if lang not in ("en", "es"):
        raise ValueError(f"draw_network: lang must be 'en' or 'es', got {lang!r}")
    layers = parse_layers(model, max_units)
    needs_grad = view != "forward"
    if needs_grad and x is None:
        raise ValueError("draw_network: the backward view needs x (one sample or a batch) "
                         "and its target t")
    values = None if x is None else compute_values(layers, x, t, loss_fn, needs_grad, sample)
    words = partial(text, lang=lang)
    sizes = [layers[0].linear.in_features] + [la.linear.out_features for la in layers]
    unit_h = max(1.0, text_size("\n".join(["x"] * 4), _UNIT_FONT)[1] + 0.12)
    geo = _Geometry(sizes, unit_h + 0.3, unit_h)
    g = digraph("network", engine="neato")
    g.attr(splines="false", overlap="true", outputorder="edgesfirst", fontname="Helvetica",
           pad="0.2")
    g.attr("node", fontname="Helvetica", fontsize=str(_UNIT_FONT))
    g.attr("edge", arrowsize="0.6", penwidth="1.1")
    back = _backward_view(layers, values, words, geo) if needs_grad else None
    front = _forward_view(layers, values, words, geo) if view != "backward" else None
    dy = 0.0 if back is None or front is None else back.bounds().y1 - front.bounds().y0 + 0.5
    for name, canvas, shift, color in (("cluster_forward", front, dy, "#c8c8c8"),
                                       ("cluster_backward", back, 0.0, "#e6b8b8")):
        if canvas is not None:
            with g.subgraph(name=name) as sub:
                sub.attr(color=color, style="rounded", margin="12")
                canvas.emit(sub, shift)
    return g


def _headers(canvas: Canvas, prefix: str, geo: _Geometry, title: str, *lines: str) -> None:
    """The title, and under it the non-empty caption ``lines`` (the last one lowest)."""
    middle = (len(geo.sizes) - 1) * _GAP_X / 2
    lines = [line for line in lines if line]
    for row, line in enumerate(reversed(lines), start=2):
        canvas.text(f"{prefix}_caption{row}", line, (middle, geo.header(row)), 10)
    canvas.text(f"{prefix}_title", title, (middle, geo.header(2 + len(lines)) + 0.1), 15)


def _caption(values: Values | None, words) -> str:
    """One sample of a batch, or the batch (and what its numbers are)."""
    if values is None or values.m == 1:
        return ""
    if values.sample is not None:
        return f"{words('network.sample')} k = {values.sample} (m = {values.m})"
    if not values.batch:
        return f"m = {values.m}"
    key = "network.batch_mean" if values.reduction == "mean" else "network.sum_over_batch"
    return f"{words(key)}: {_prefix(values)}(m = {values.m})"


def _bias_node(canvas: Canvas, prefix: str, k: int, geo: _Geometry, words, key: str) -> None:
    """The "+1" constant input of layer k (above column k−1) and its name from the table."""
    x = geo.unit(k - 1, 0)[0]
    canvas.node(f"{prefix}{k - 1}_bias", words("network.plus_one"), (x, geo.header(0)),
                (0.45, 0.45), shape="circle", fixedsize="true", width="0.42", style="filled",
                fillcolor="#eeeeee", fontsize="10")
    canvas.text(f"{prefix}{k - 1}_biasname", words(key), (x, geo.header(1)), 9,
                fontcolor="#555555")


def _place_layer(canvas: Canvas, prefix: str, k: int, geo: _Geometry, labels, color_of) -> bool:
    """Edge labels of layer k: ``labels[(i, j)]`` on the edge from unit j (k−1) to unit i (k).

    All or nothing: returns False (and places none) when one of them finds no free place.
    """
    mark = (len(canvas.nodes), len(canvas.boxes))
    ends = {(i, j): (geo.unit(k - 1, j) if j >= 0 else (geo.unit(k - 1, 0)[0], geo.header(0)),
                     geo.unit(k, i)) for (i, j) in labels}
    for key, (tail, head) in ends.items():
        if key[1] >= 0:      # the light dashed bias edges may run behind other labels
            canvas.line((prefix, k, key), tail, head)
    for (i, j), label in labels.items():
        spots = along(*ends[i, j], _FRACTIONS)
        if not canvas.try_text(f"{prefix}L{k}_{i}_{j if j >= 0 else 'b'}", label, spots,
                               _LABEL_FONT, owner=(prefix, k, (i, j)), fontcolor=color_of(i)):
            del canvas.nodes[mark[0]:], canvas.boxes[mark[1]:]
            return False
    return True


def _forward_units(canvas: Canvas, layers: list[Layer], values: Values | None, words,
                   geo: _Geometry) -> None:
    for k, n in enumerate(geo.sizes):
        for i in range(n):
            lines = [_act(k, i + 1)]
            if k > 0:
                lines.append(words(layers[k - 1].act_key))
            if values is not None and values.acts is not None:
                lines.append(_fmt(values.acts[k][i]))
            color = "#dbe9f6" if k == 0 else "#fde9c8" if k == len(geo.sizes) - 1 else "#e2f0d9"
            canvas.node(f"f{k}_u{i}", "\n".join(lines), geo.unit(k, i), (1.0, 1.0),
                        shape="circle", fixedsize="true", width="1.0", style="filled",
                        fillcolor=color)


def _forward_view(layers: list[Layer], values: Values | None, words, geo: _Geometry) -> Canvas:
    """Units with their activations, weights on the edges (or in a table when they do not fit)."""
    canvas = Canvas()
    _headers(canvas, "f", geo, words("network.forward"), _caption(values, words))
    _forward_units(canvas, layers, values, words, geo)
    tables = []
    for k, layer in enumerate(layers, start=1):
        w = layer.linear.weight.numpy()
        b = None if layer.linear.bias is None else layer.linear.bias.numpy()
        labels = {(i, j): f"{_sym('w', i + 1, k, j + 1)} = {_fmt(w[i, j])}"
                  for i in range(w.shape[0]) for j in range(w.shape[1])}
        if b is not None:
            _bias_node(canvas, "f", k, geo, words, "rule.constant_input")
            labels.update({(i, -1): f"{_sym('b', i + 1, k)} = {_fmt(v)}" for i, v in
                           enumerate(b)})
        if not _place_layer(canvas, "f", k, geo, labels, _color):
            tables.append((f"f_table{k}", _weight_table(k, w, b)))
        _layer_edges(canvas, "f", k, geo, w.shape, b is not None, _color, {})
    _tables(canvas, geo, tables)
    return canvas


def _color(i: int) -> str:
    """Edges (and their labels) of unit i of a layer share a colour."""
    return _PALETTE[i % len(_PALETTE)]


def _layer_edges(canvas: Canvas, prefix: str, k: int, geo: _Geometry, shape, bias: bool,
                 color_of, extra: dict) -> None:
    """The edges of layer k: j → i for each weight, +1 → i for each bias (dashed)."""
    for i in range(shape[0]):
        for j in range(shape[1]):
            canvas.edge(f"{prefix}{k - 1}_u{j}", f"{prefix}{k}_u{i}", color=color_of(i),
                        **extra)
        if bias:
            canvas.edge(f"{prefix}{k - 1}_bias", f"{prefix}{k}_u{i}", color="#999999",
                        style="dashed", **extra)


def _tables(canvas: Canvas, geo: _Geometry, tables) -> None:
    """The tables in rows below the units, as wide as the picture (at least 10 inches)."""
    if tables:
        box = canvas.bounds()
        flow(canvas, tables, box.x0, -geo.top - 0.35, max(box.x1 - box.x0, 10.0), _TABLE_FONT)


def _weight_table(k: int, w: np.ndarray, b: np.ndarray | None):
    """W⁽ᵏ⁾ (and b⁽ᵏ⁾) as a table: row i = unit i of layer k, column j = its input j."""
    header = [""] + [_act(k - 1, j + 1) for j in range(w.shape[1])]
    header += [] if b is None else [_sym("b", None, k)]
    rows = [header]
    for i in range(w.shape[0]):
        rows.append([_sym("z", i + 1, k)] + [_fmt(v) for v in w[i]]
                    + ([] if b is None else [_fmt(b[i])]))
    title = f"{_sym('W', None, k)}" + ("" if b is None else f", {_sym('b', None, k)}")
    return html_table(title, rows, _TABLE_FONT)


def _inverse_lines(k: int, i: int, values: Values) -> list[str]:
    """What inverse neuron i of column k shows (column 0: the inputs and ∂J/∂x)."""
    a = _act(k, i + 1)
    lines = [_prefix(values).strip() + ":"] if values.batch else []
    if k == 0:
        if not values.batch:
            lines.append(f"{a} = {_fmt(values.acts[0][i])}")
        return lines + [f"∂J/∂{a} = {_fmt(values.grad_a[0][i])}"]
    z = _sym("z", i + 1, k)
    if not values.batch:
        lines.append(f"{z} = {_fmt(values.zs[k - 1][i])}")
        if values.dpsi[k - 1] is not None:
            lines.append(f"ψ'({z}) = {_fmt(values.dpsi[k - 1][i])}")
    return lines + [f"∂J/∂{a} = {_fmt(values.grad_a[k][i])}",
                    f"{_sym('δ', i + 1, k)} = {_fmt(values.deltas[k - 1][i])}"]


def _inverse_units(canvas: Canvas, values: Values, geo: _Geometry, words) -> None:
    """The inverse neurons: boxes of one width, so that they line up as columns."""
    labels = {(k, i): "\n".join(_inverse_lines(k, i, values))
              for k, n in enumerate(geo.sizes) for i in range(n)}
    width = max(text_size(label, _UNIT_FONT)[0] for label in labels.values()) + 0.12
    for (k, i), label in labels.items():
        canvas.node(f"b{k}_u{i}", label, geo.unit(k, i), (width, geo.unit_h), shape="box",
                    style="rounded,filled", fixedsize="true", width=f"{width:.3f}",
                    height=f"{geo.unit_h:.3f}", fillcolor="#f8dede" if k else "#e4ecf6",
                    tooltip=words("inverse.neuron") if k else "")


def _cost(canvas: Canvas, values: Values, words, geo: _Geometry) -> None:
    """J on the right: "Unidad 1" enters it, L' leaves it towards each output unit."""
    last = len(geo.sizes) - 1
    at = (last * _GAP_X + 0.62 * _GAP_X, 0.0)
    canvas.node("b_cost", f"{words('cost')}\n{_fmt(values.cost)}", at, (1.1, 1.1),
                shape="doublecircle", style="filled", fillcolor="#f4c7c7", fixedsize="true",
                width="1.05")
    canvas.text("b_one", words("inverse.cost_seed"), (at[0], at[1] + 1.05), 11, fontcolor=_RED)
    canvas.edge("b_one", "b_cost", color=_RED, arrowsize="0.5")
    for i in range(geo.sizes[last]):
        canvas.edge("b_cost", f"b{last}_u{i}", color=_RED)
        spots = along(at, geo.unit(last, i), (0.45, 0.35, 0.55, 0.25, 0.65))
        canvas.try_text(f"b_loss{i}", words("network.loss_edge"), spots, 11, fontcolor=_RED)


def _backward_view(layers: list[Layer], values: Values, words, geo: _Geometry) -> Canvas:
    """The inverse network: w·δ on the edges, ∂J/∂W and ∂J/∂b in one table per layer."""
    canvas = Canvas()
    _headers(canvas, "b", geo, words("network.backward"), _caption(values, words),
             words("network.per_sample") if values.batch else "")
    _inverse_units(canvas, values, geo, words)
    _cost(canvas, values, words, geo)
    tables = [("b_legend", _legend(words))]
    for k, layer in enumerate(layers, start=1):
        w = layer.linear.weight.numpy().astype(np.float64)
        delta = values.deltas[k - 1]
        labels = {(i, j): f"{_sym('w', i + 1, k, j + 1)}·{_sym('δ', i + 1, k)} = "
                          f"{_fmt(w[i, j] * delta[i])}"
                  for i in range(w.shape[0]) for j in range(w.shape[1])}
        bias = values.grad_b[k - 1] is not None
        if bias:
            _bias_node(canvas, "b", k, geo, words, "inverse.constant_input")
        if not _place_layer(canvas, "b", k, geo, labels, _color):
            tables.append((f"b_messages{k}", _message_table(k, w, values, words)))
        _layer_edges(canvas, "b", k, geo, w.shape, bias, _color, {"dir": "back"})
        tables.append((f"b_gradients{k}", _gradient_table(k, values)))
    _tables(canvas, geo, tables)
    return canvas


def _legend(words):
    """The course's table (001, "Backpropagation (resumen)"): each inverse rule and its formula."""
    rows = [(words(f"inverse.{name}"), words(f"network.formula.{formula}")) for name, formula in (
        ("cost_seed", "seed"), ("loss", "loss"), ("neuron", "neuron"),
        ("activation", "activation"), ("weighted_input", "weighted"),
        ("constant_input", "constant"), ("branch_point", "sum"))]
    return html_table(words("legend"), [list(r) for r in rows], _TABLE_FONT, header=False)


def _message_table(k: int, w: np.ndarray, values: Values, words):
    """What each edge of layer k carries back, wᵢⱼ·δᵢ, and the column sums ∂J/∂aⱼ."""
    delta = values.deltas[k - 1]
    rows = [[""] + [_act(k - 1, j + 1) for j in range(w.shape[1])]]
    rows += [[_sym("δ", i + 1, k)] + [_fmt(w[i, j] * delta[i]) for j in range(w.shape[1])]
             for i in range(w.shape[0])]
    rows.append([f"{words('inverse.branch_point')}: ∂J/∂{_act(k - 1)}"]
                + [_fmt(v) for v in values.grad_a[k - 1]])
    layer = f"({k})".translate(_SUP)
    title = f"{words('inverse.weighted_input')}: wᵢⱼ{layer}·δᵢ{layer}"
    return html_table(title, rows, _TABLE_FONT)


def _gradient_table(k: int, values: Values):
    """∂J/∂W⁽ᵏ⁾ = δ⁽ᵏ⁾a⁽ᵏ⁻¹⁾ᵀ (row i, column j) and ∂J/∂b⁽ᵏ⁾ = δ⁽ᵏ⁾, from the engine."""
    gw, gb = values.grad_w[k - 1], values.grad_b[k - 1]
    one = not values.batch
    prev = [_act(k - 1, j + 1) + (f" = {_fmt(values.acts[k - 1][j])}" if one else "")
            for j in range(gw.shape[1])]
    rows = [[""] + prev + ([] if gb is None else [f"∂J/∂{_sym('b', None, k)}"])]
    for i in range(gw.shape[0]):
        d = _sym("δ", i + 1, k) + (f" = {_fmt(values.deltas[k - 1][i])}" if one else "")
        rows.append([d] + [_fmt(v) for v in gw[i]] + ([] if gb is None else [_fmt(gb[i])]))
    pre, delta = _prefix(values), _sym("δ", None, k)
    a_t = "xᵀ" if k == 1 else _sym("a", None, k - 1) + "ᵀ"
    title = f"∂J/∂{_sym('W', None, k)} = {pre}{delta}{a_t}"
    if gb is not None:
        title += f",   ∂J/∂{_sym('b', None, k)} = {pre}{delta}"
    return html_table(title, rows, _TABLE_FONT)
