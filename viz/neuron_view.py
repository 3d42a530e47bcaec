"""The neuron-level picture of a small dense network, as the course draws it.

Forward view: one column of circles per layer (left to right), an edge j → i for each weight
labelled w_ij with its value, and a "+1" constant input per layer whose edges carry the biases.
With one sample ``x`` the circles show the activations a_i.

Backward view (the course's *red neuronal inversa*, 001 "Backpropagation (resumen)"): the same
units as inverse neurons, the cost J on the right starting with "1", arrows running right to left,
each inverse neuron showing δ_i = ∂J/∂z_i (and ψ′(z_i)), and each edge labelled with
∂J/∂w_ij = a_j·δ_i (the "salida ponderada doble"), the bias edges with ∂J/∂b_i = δ_i ("salida
constante"). Every number comes from the engine (``ag.grad`` on the pre-activations captured per
layer); the user's ``.grad`` is never touched.

``graphviz`` is imported lazily inside the drawing function (STYLE.md §5).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
import nn

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")

# Activation modules drawn inside a unit (name shown as ψ); Identity means a linear unit.
_ACTIVATIONS = {
    nn.Sigmoid: "σ", nn.Tanh: "tanh", nn.ReLU: "ReLU", nn.LeakyReLU: "LeakyReLU",
    nn.ELU: "ELU", nn.SELU: "SELU", nn.Softplus: "softplus", nn.SiLU: "SiLU", nn.GELU: "GELU",
    nn.Softmax: "softmax", nn.Identity: "linear",
}

LABELS = {
    "en": {
        "forward": "Forward network", "backward": "Inverse network",
        "input": "Input", "layer": "Layer", "cost": "Cost J", "unit": "Unit 1",
        "const_in": "Constant input", "const_out": "Constant output",
        "inverse": "Inverse neuron",
    },
    "es": {
        "forward": "Red (propagación hacia delante)", "backward": "Red neuronal inversa",
        "input": "Entrada", "layer": "Capa", "cost": "Coste J", "unit": "Unidad 1",
        "const_in": "Entrada constante", "const_out": "Salida constante",
        "inverse": "Neurona inversa",
    },
}


@dataclass
class _Layer:
    """One Linear layer and the activation that follows it (None: a linear unit)."""

    linear: nn.Linear
    activation: nn.Module | None
    act_name: str


@dataclass
class _Values:
    """Numbers of one sample: activations per column, and (backward) the engine's gradients."""

    acts: list[np.ndarray]                       # a^(0) = x, a^(1), ..., a^(K)
    deltas: list[np.ndarray] = field(default_factory=list)   # δ^(k) = ∂J/∂z^(k), k = 1..K
    dpsi: list[np.ndarray | None] = field(default_factory=list)  # ψ′(z^(k))
    grad_w: list[np.ndarray] = field(default_factory=list)
    grad_b: list[np.ndarray | None] = field(default_factory=list)
    grad_x: np.ndarray | None = None
    grad_out: np.ndarray | None = None           # ∂J/∂a^(K)
    cost: float | None = None


def _fmt(v: float) -> str:
    """Compact number for a label: 4 significant digits (3 in e-notation), a true minus sign."""
    v = float(v)
    s = f"{v:.4g}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.2e}".replace("e-0", "e-")
    return ("−" + s[1:]) if s.startswith("-") else s


def _sym(letter: str, i: int, k: int | None = None, j: int | None = None) -> str:
    """a₁⁽¹⁾, w₁₂⁽²⁾ ...  (units and layers numbered from 1 as in the course; input layer 0)."""
    sub = str(i) if j is None else f"{i}{j}" if max(i, j) < 10 else f"{i},{j}"
    out = letter + sub.translate(_SUB)
    return out if k is None else out + f"({k})".translate(_SUP)


def parse_layers(model, max_units: int = 12) -> list[_Layer]:
    """Split an nn.Sequential (or one Linear) into Linear + activation pairs, checking sizes."""
    modules = list(model) if isinstance(model, nn.Sequential) else [model]
    layers: list[_Layer] = []
    for index, module in enumerate(modules):
        name = f"layer {index} ({type(module).__name__})"
        if isinstance(module, nn.Linear):
            for width, what in ((module.in_features, "inputs"), (module.out_features, "units")):
                if width > max_units:
                    raise ValueError(
                        f"draw_network: {name} has {width} {what}, more than max_units="
                        f"{max_units}; the neuron-level view is for small networks (pass a larger "
                        "max_units, or use viz.draw_forward for the op graph)")
            if layers and layers[-1].linear.out_features != module.in_features:
                raise ValueError(f"draw_network: {name} expects {module.in_features} inputs but "
                                 f"the previous layer has {layers[-1].linear.out_features} units")
            layers.append(_Layer(module, None, "linear"))
        elif type(module) in _ACTIVATIONS:
            if not layers or layers[-1].activation is not None:
                raise ValueError(f"draw_network: {name} must follow a Linear layer")
            layers[-1].activation = module
            layers[-1].act_name = _ACTIVATIONS[type(module)]
        else:
            raise ValueError(
                f"draw_network: {name} is not supported; the neuron-level view draws "
                "nn.Sequential of Linear layers each followed by at most one activation ("
                + ", ".join(sorted(c.__name__ for c in _ACTIVATIONS)) + ")")
    if not layers:
        raise ValueError("draw_network: the model has no Linear layer")
    return layers


def _as_row(value, width: int, what: str, dtype) -> np.ndarray:
    arr = np.asarray(value.numpy() if isinstance(value, ag.Tensor) else value, dtype=dtype)
    if arr.size != width:
        raise ValueError(f"draw_network: {what} must hold one sample of {width} values, "
                         f"got shape {arr.shape}")
    return arr.reshape(1, width)


def _derivative(layer: _Layer, z: np.ndarray) -> np.ndarray | None:
    """ψ′(z) by the engine (backward of the activation alone); None for softmax (not
    elementwise)."""
    if layer.activation is None:
        return np.ones_like(z)
    if isinstance(layer.activation, nn.Softmax):
        return None
    zl = ag.tensor(z, requires_grad=True)
    (g,) = ag.grad(layer.activation(zl).sum(), [zl], hooks=False)
    return g.numpy()


def compute_values(layers: list[_Layer], x, t=None, loss_fn=None, backward: bool = False
                   ) -> _Values:
    """Run one sample through the layers; with ``backward``, the engine's δ, ∂J/∂w, ∂J/∂b."""
    w0 = layers[0].linear.weight
    xa = _as_row(x, layers[0].linear.in_features, "x", w0.data.dtype)
    xt = ag.tensor(xa, requires_grad=backward)
    a, zs, acts = xt, [], [xa[0]]
    with ag.enable_grad() if backward else ag.no_grad():
        for layer in layers:
            z = layer.linear(a)
            a = z if layer.activation is None else layer.activation(z)
            zs.append(z)
            acts.append(a.numpy()[0].copy())
        values = _Values(acts=acts)
        if not backward:
            return values
        if t is None:
            raise ValueError("draw_network: the backward view needs a target t (and x)")
        loss_fn = nn.SquaredError() if loss_fn is None else loss_fn
        if isinstance(t, ag.Tensor):
            target = t
        elif np.asarray(t).dtype.kind in "iu":
            target = ag.tensor(np.asarray(t).reshape(-1))
        else:
            target = ag.tensor(_as_row(t, layers[-1].linear.out_features, "t", xa.dtype))
        cost = loss_fn(a, target)
        params = [p for layer in layers for p in (layer.linear.weight, layer.linear.bias)
                  if p is not None]
        grads = ag.grad(cost, [xt, a, *zs, *params], allow_unused=True, hooks=False)
    values.cost = float(cost.item())
    values.grad_x = grads[0].numpy()[0]
    values.grad_out = grads[1].numpy()[0]
    values.deltas = [g.numpy()[0] for g in grads[2:2 + len(zs)]]
    rest = iter(grads[2 + len(zs):])
    for layer, z in zip(layers, zs):
        values.grad_w.append(next(rest).numpy())
        values.grad_b.append(None if layer.linear.bias is None else next(rest).numpy())
        values.dpsi.append(_derivative(layer, z.numpy()[0]))
    return values


# Layout (inches). Positions are pinned and drawn by neato, so every label sits where we put it:
# the label of an edge goes on the edge, near the end at the wider layer, where the fan of edges
# is most spread out (see _label_at).
_GAP_X = 4.2            # between layer columns
_GAP_Y = 1.3            # between units of a column
_UNIT = {"shape": "circle", "fixedsize": "true", "width": "1.02", "style": "filled"}
_BIAS = {"shape": "circle", "fixedsize": "true", "width": "0.45", "style": "filled",
         "fillcolor": "#eeeeee", "fontsize": "10"}
_TEXT = {"shape": "plaintext", "fontsize": "9", "style": "filled", "fillcolor": "white",
         "margin": "0.02,0.01", "width": "0", "height": "0"}
_RED = "#b03030"


def draw_network(model, x=None, t=None, view: str = "forward", loss_fn=None, lang: str = "en",
                 max_units: int = 12):
    """Neuron-level graphviz.Digraph of a small dense ``nn.Sequential`` (Linear + activations).

    ``x``: one sample (shows the activations); ``t``: its target (needed by the backward view);
    ``view``: "forward", "backward" or "both" (two clusters, forward above backward);
    ``loss_fn``: the cost J (default the course's C = ½‖y − t‖², ``nn.SquaredError``);
    ``lang``: "en" or "es" (the course's vocabulary). Raises ValueError for layers wider than
    ``max_units`` and for modules it cannot draw. The graph uses the ``neato`` engine with
    pinned positions (part of Graphviz, like ``dot``).
    """
    import graphviz

    if view not in ("forward", "backward", "both"):
        raise ValueError("draw_network: view must be 'forward', 'backward' or 'both', "
                         f"got {view!r}")
    if lang not in LABELS:
        raise ValueError(f"draw_network: lang must be 'en' or 'es', got {lang!r}")
    layers = parse_layers(model, max_units)
    needs_grad = view != "forward"
    if needs_grad and x is None:
        raise ValueError("draw_network: the backward view needs one sample x and its target t")
    values = None if x is None else compute_values(layers, x, t, loss_fn, backward=needs_grad)
    words = LABELS[lang]
    g = graphviz.Digraph("network", engine="neato")
    g.attr(splines="false", overlap="true", outputorder="edgesfirst", fontname="Helvetica",
           pad="0.2")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", arrowsize="0.6", penwidth="1.1")
    sizes = [layers[0].linear.in_features] + [la.linear.out_features for la in layers]
    height = (max(sizes) - 1) * _GAP_Y + 3.2      # one view: units, bias row, title, margin
    if view in ("forward", "both"):
        with g.subgraph(name="cluster_forward") as sub:
            sub.attr(color="#c8c8c8", style="rounded", margin="12")
            _forward_view(sub, layers, values, words, y0=height if view == "both" else 0.0)
    if view in ("backward", "both"):
        with g.subgraph(name="cluster_backward") as sub:
            sub.attr(color="#e6b8b8", style="rounded", margin="12")
            _backward_view(sub, layers, values, words, y0=0.0)
    return g


def _positions(sizes: list[int], y0: float) -> tuple[list[list[tuple[float, float]]], float]:
    """Unit centres per column (top to bottom, unit 1 on top) and the y of the bias row."""
    top = (max(sizes) - 1) * _GAP_Y / 2
    cols = [[(k * _GAP_X, y0 + (n - 1) * _GAP_Y / 2 - i * _GAP_Y) for i in range(n)]
            for k, n in enumerate(sizes)]
    return cols, y0 + top + 1.15


def _pos(p: tuple[float, float]) -> str:
    return f"{p[0]:.3f},{p[1]:.3f}!"


def _label_at(tail, head, n_tail: int, n_head: int, spread: float) -> tuple[float, float]:
    """Where an edge's label goes: on the edge, near the end at the wider layer.

    Labels of the edges fanning out of one unit are then stacked g·_GAP_Y apart, and g is small
    enough (for the other layer's spread) that neighbouring fans do not interleave.
    """
    frac = min(0.32, max(0.22, 0.8 * _GAP_Y / (spread + 0.8 * _GAP_Y)))
    near, far = (head, tail) if n_head >= n_tail else (tail, head)
    return near[0] + frac * (far[0] - near[0]), near[1] + frac * (far[1] - near[1])


def _edge(g, a: str, b: str, text: str, where, edge_attrs: dict, text_attrs: dict) -> None:
    """An edge a → b and its label as a pinned text node at ``where`` (tooltip repeats it)."""
    g.edge(a, b, tooltip=text, **edge_attrs)
    g.node(f"{a}__{b}", text, pos=_pos(where), **_TEXT, **text_attrs)


def _dense_edges(g, prefix, k, cols, bias_at, texts, bias_texts, edge_attrs, bias_attrs):
    """All edges of layer k (column k−1 → column k), weights and biases, with their labels."""
    tails, heads = cols[k - 1], cols[k]
    narrow = tails if len(heads) >= len(tails) else heads
    spread = abs(narrow[0][1] - narrow[-1][1])
    for i, head in enumerate(heads):
        for j, tail in enumerate(tails):
            where = _label_at(tail, head, len(tails), len(heads), spread)
            _edge(g, f"{prefix}{k - 1}_u{j}", f"{prefix}{k}_u{i}", texts[i][j], where,
                  edge_attrs, {"fontcolor": edge_attrs.get("color", "black")})
        if bias_texts is not None:
            where = (bias_at[0] + 0.3 * (head[0] - bias_at[0]),
                     bias_at[1] + 0.3 * (head[1] - bias_at[1]))
            _edge(g, f"{prefix}{k - 1}_bias", f"{prefix}{k}_u{i}", bias_texts[i], where,
                  bias_attrs, {"fontcolor": bias_attrs.get("fontcolor", "#555555")})


def _title(g, name: str, text: str, x: float, y: float) -> None:
    g.node(name, text, shape="plaintext", fontsize="15", pos=_pos((x, y)))


def _forward_view(g, layers: list[_Layer], values: _Values | None, words: dict, y0: float) -> None:
    sizes = [layers[0].linear.in_features] + [la.linear.out_features for la in layers]
    cols, bias_y = _positions(sizes, y0)
    _title(g, "f_title", words["forward"], (len(sizes) - 1) * _GAP_X / 2, bias_y + 0.75)
    for k, col in enumerate(cols):
        for i, p in enumerate(col):
            head = _sym("x" if k == 0 else "a", i + 1, None if k == 0 else k)
            if k > 0:
                head += f"\n{layers[k - 1].act_name}"
            if values is not None:
                head += f"\n{_fmt(values.acts[k][i])}"
            color = "#dbe9f6" if k == 0 else "#fde9c8" if k == len(cols) - 1 else "#e2f0d9"
            g.node(f"f{k}_u{i}", head, pos=_pos(p), fillcolor=color, **_UNIT)
    for k, layer in enumerate(layers, start=1):
        w = layer.linear.weight.numpy()
        texts = [[f"{_sym('w', i + 1, k, j + 1)} = {_fmt(w[i, j])}" for j in range(w.shape[1])]
                 for i in range(w.shape[0])]
        bias_texts, bias_at = None, (cols[k - 1][0][0], bias_y)
        if layer.linear.bias is not None:
            b = layer.linear.bias.numpy()
            bias_texts = [f"{_sym('b', i + 1, k)} = {_fmt(v)}" for i, v in enumerate(b)]
            g.node(f"f{k - 1}_bias", "+1", pos=_pos(bias_at), tooltip=words["const_in"],
                   **_BIAS)
        _dense_edges(g, "f", k, cols, bias_at, texts, bias_texts, {"color": "#333333"},
                     {"color": "#999999", "style": "dashed", "fontcolor": "#666666"})


def _backward_view(g, layers: list[_Layer], values: _Values, words: dict, y0: float) -> None:
    """The inverse network: the same places, arrows right to left, starting from J with 1."""
    sizes = [layers[0].linear.in_features] + [la.linear.out_features for la in layers]
    cols, bias_y = _positions(sizes, y0)
    _title(g, "b_title", words["backward"], (len(sizes) - 1) * _GAP_X / 2, bias_y + 0.75)
    for k, col in enumerate(cols):
        for i, p in enumerate(col):
            if k == 0:
                label = f"∂J/∂{_sym('x', i + 1)}\n{_fmt(values.grad_x[i])}"
            else:
                label = f"{_sym('δ', i + 1, k)}\n{_fmt(values.deltas[k - 1][i])}"
                dpsi = values.dpsi[k - 1]
                if dpsi is not None:
                    label += f"\nψ′ {_fmt(dpsi[i])}"
            g.node(f"b{k}_u{i}", label, pos=_pos(p), fillcolor="#f8dede",
                   tooltip=words["inverse"], **_UNIT)
    last = len(sizes) - 1
    cost_at = (last * _GAP_X + 0.75 * _GAP_X, y0)
    g.node("b_cost", f"{words['cost']}\n{_fmt(values.cost)}", pos=_pos(cost_at),
           shape="doublecircle", style="filled", fillcolor="#f4c7c7", fixedsize="true",
           width="1.05")
    g.node("b_one", f"{words['unit']}", pos=_pos((cost_at[0], y0 + 1.0)), **_TEXT,
           fontcolor=_RED)
    g.edge("b_one", "b_cost", color=_RED, arrowsize="0.5", tooltip=words["unit"])
    for i, p in enumerate(cols[last]):
        where = ((p[0] + cost_at[0]) / 2, (p[1] + cost_at[1]) / 2)
        _edge(g, "b_cost", f"b{last}_u{i}",
              f"∂J/∂{_sym('a', i + 1, last)} = {_fmt(values.grad_out[i])}", where,
              {"color": _RED}, {"fontcolor": _RED})
    for k in range(1, len(layers) + 1):
        gw, gb = values.grad_w[k - 1], values.grad_b[k - 1]
        texts = [[f"∂J/∂{_sym('w', i + 1, k, j + 1)} = {_fmt(gw[i, j])}"
                  for j in range(gw.shape[1])] for i in range(gw.shape[0])]
        bias_texts, bias_at = None, (cols[k - 1][0][0], bias_y)
        if gb is not None:
            bias_texts = [f"∂J/∂{_sym('b', i + 1, k)} = {_fmt(v)}" for i, v in enumerate(gb)]
            g.node(f"b{k - 1}_bias", "+1", pos=_pos(bias_at), tooltip=words["const_out"],
                   **_BIAS)
        _dense_edges(g, "b", k, cols, bias_at, texts, bias_texts,
                     {"color": _RED, "dir": "back"},
                     {"color": "#c08080", "style": "dashed", "dir": "back",
                      "fontcolor": "#804040"})
