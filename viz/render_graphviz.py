"""Graphviz renderers of the graph model: ``draw_forward``, ``draw_backward`` and ``render``.

Drawing builds a ``graphviz.Digraph`` (DOT text; ``.source`` works without the ``dot`` binary, and
Jupyter shows it inline through its ``_repr_mimebundle_``). Rendering to a file needs ``dot``;
without it :func:`render` raises a RuntimeError that says how to install Graphviz.
"""
from __future__ import annotations

import os
import shutil

from .graph_model import MAX_NODES, GraphModel, backward_model, forward_model
from .labels import words

GRAPHVIZ_HELP = ("Graphviz 'dot' not found: install it with 'sudo apt-get install graphviz' "
                 "(Debian/Ubuntu), 'brew install graphviz' (macOS) or from "
                 "https://graphviz.org/download/ and make sure 'dot' is on the PATH")

FONT = "Helvetica"

#: kind → Graphviz node attributes
STYLES = {
    "output": dict(shape="box", style="rounded,filled,bold", fillcolor="#f4b6b6",
                   color="#b03030", penwidth="2"),
    "parameter": dict(shape="box", style="rounded,filled", fillcolor="#c9e7c0", color="#3a7d2c"),
    "input": dict(shape="box", style="filled", fillcolor="#dde6f5", color="#4a6fa5"),
    "constant": dict(shape="box", style="filled,dashed", fillcolor="#eeeeee", color="#888888"),
    "intermediate": dict(shape="box", style="rounded", color="#555555"),
    "op": dict(shape="ellipse", style="filled", fillcolor="#fff3c4", color="#b08a00"),
    "unit": dict(shape="doublecircle", style="filled", fillcolor="#f4b6b6", color="#b03030",
                 fontsize="11"),
    "derivative": dict(shape="box", style="rounded,filled", fillcolor="#fde0c5",
                       color="#c06000"),
    "weighted": dict(shape="box", style="rounded,filled", fillcolor="#e3d7f5", color="#6a4a9c"),
    "branch": dict(shape="box", style="rounded,filled", fillcolor="#d6eef2", color="#2a7f8f"),
    "inverse": dict(shape="box", style="rounded,filled", fillcolor="#eeeeee", color="#666666"),
    "sum_of_outputs": dict(shape="box", style="filled", fillcolor="#fff3c4", color="#b08a00",
                           penwidth="1.5"),
    "leaf_grad": dict(shape="box", style="filled", fillcolor="#c9e7c0", color="#3a7d2c"),
    "summary": dict(shape="note", style="filled", fillcolor="#fff3c4"),
}


def _label(lines: list[str]) -> str:
    text = "\n".join(lines)
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def to_digraph(model: GraphModel, *, rankdir: str = "LR", legend: bool = True):
    """A ``graphviz.Digraph`` for a :class:`GraphModel` (any view)."""
    import graphviz

    g = graphviz.Digraph(name=f"neurona_{model.view}")
    g.attr(rankdir=rankdir, fontname=FONT, nodesep="0.3", ranksep="0.45")
    g.attr("node", fontname=FONT, fontsize="10", margin="0.08,0.04")
    g.attr("edge", fontname=FONT, fontsize="9", color="#555555", arrowsize="0.7")
    for n in model.nodes:
        g.node(n.id, _label(n.lines), **STYLES.get(n.kind, {}))
    for e in model.edges:
        attrs = {}
        if e.lines:
            attrs["label"] = _label(e.lines)
        if e.kind == "grad":
            attrs.update(color="#b03030", fontcolor="#7a1f1f")
        g.edge(e.src, e.dst, **attrs)
    if legend and model.view in ("forward", "backward"):
        _legend(g, model)
    return g


def _legend(g, model: GraphModel) -> None:
    w = words(model.lang)
    present = {n.kind for n in model.nodes}
    if model.view == "forward":
        entries = [("output", w["output"]), ("parameter", w["parameter"]),
                   ("input", w["input"]), ("constant", w["constant"]),
                   ("intermediate", w["intermediate"]), ("op", w["operation"])]
    else:
        entries = [("unit", w["unit"]), ("derivative", "ψ' / L' / f'"),
                   ("weighted", w["double_weighted_output"]), ("branch", w["branch_point"]),
                   ("sum_of_outputs", w["sum_of_outputs"]), ("leaf_grad", "∂J/∂w, ∂J/∂b")]
    entries = [(k, text) for k, text in entries if k in present]
    rows = [f'<tr><td colspan="2"><b>{_html(w["legend"])}</b></td></tr>']
    for kind, text in entries:
        style = STYLES[kind]
        fill = style.get("fillcolor", "white")
        border = style.get("color", "#555555")
        rows.append(f'<tr><td bgcolor="{fill}" color="{border}" width="18"> </td>'
                    f'<td align="left">{_html(text)}</td></tr>')
    table = ('<<table border="0" cellborder="1" cellspacing="2" cellpadding="3" color="#999999">'
             + "".join(rows) + "</table>>")
    g.node("legend", table, shape="plaintext", fontsize="9")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def draw_forward(output, *, values: bool = True, grads: bool = False, names=None, model=None,
                 lang: str = "en", rankdir: str = "LR", max_elements: int = 6,
                 max_nodes: int | None = MAX_NODES, legend: bool = True):
    """The forward graph of ``output`` as a ``graphviz.Digraph``.

    Tensor nodes show their name (from ``names``, e.g. ``locals()``, from ``model``'s
    ``named_parameters()``, or ``tensor.name``), shape, their values when they have at most
    ``max_elements`` (4 significant digits) and, with ``grads=True``, their ``.grad``. Parameters,
    inputs, constants and the output have distinct styles, explained in a legend. Above
    ``max_nodes`` ops a single summary node is drawn (``max_nodes=None`` draws everything).

    >>> import autograd_core as ag, viz
    >>> w = ag.tensor(0.5, requires_grad=True)
    >>> viz.draw_forward(w * 2.0, names={"w": w}).source.count("->") > 0
    True
    """
    m = forward_model(output, values=values, grads=grads, names=names, model=model, lang=lang,
                      max_elements=max_elements, max_nodes=max_nodes)
    return to_digraph(m, rankdir=rankdir, legend=legend)


def draw_backward(output, *, names=None, model=None, lang: str = "en", rankdir: str = "LR",
                  max_elements: int = 6, max_nodes: int | None = MAX_NODES,
                  legend: bool = True):
    """The inverse network of ``output`` as a ``graphviz.Digraph`` (course 001's table).

    Runs its own backward pass (``ag.grad(..., retain_graph=True)`` with an engine observer), so
    it works before or after the user's ``backward`` as long as the graph was not freed, and
    leaves every ``.grad`` untouched. Edges run from "1" (unit 1, the cost's seed) back to the
    leaves, each labelled with the gradient it carries (values when small, otherwise the shape)
    and with the axes backward summed over where the forward broadcast.
    """
    m = backward_model(output, names=names, model=model, lang=lang, max_elements=max_elements,
                       max_nodes=max_nodes)
    return to_digraph(m, rankdir=rankdir, legend=legend)


def render(graph, path, format: str = "svg") -> str:
    """Write ``graph`` to ``path`` (the extension is added if missing); return the file's path.

    ``format`` is "svg", "png" or "pdf". Raises RuntimeError when Graphviz's ``dot`` is missing.
    """
    import graphviz

    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"render: unknown format {format!r}; expected 'svg', 'png' or 'pdf'")
    if shutil.which("dot") is None:
        raise RuntimeError(GRAPHVIZ_HELP)
    path = os.fspath(path)
    if not path.endswith("." + format):
        path = f"{path}.{format}"
    try:
        data = graph.pipe(format=format)
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(GRAPHVIZ_HELP) from exc
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path
