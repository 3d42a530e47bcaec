"""Graphviz renderers of the graph model: ``draw_forward``, ``draw_backward`` and ``render``.

Drawing builds a ``graphviz.Digraph`` (DOT text; ``.source`` works without the ``dot`` binary, and
Jupyter shows it inline through its ``_repr_mimebundle_``). Rendering to a file needs ``dot``;
without it :func:`render` raises a RuntimeError that says how to install Graphviz.
"""
from __future__ import annotations

import os
import textwrap

import autograd_core as ag
from nn.serialization import write_atomic

from . import graphviz_io
from .backward_model import backward_model
from .graph_model import MAX_NODES, GraphModel, forward_model
from .labels import words

GRAPHVIZ_HELP = graphviz_io.HELP

FONT = "Helvetica"

#: kind → Graphviz node attributes
STYLES = {
    "output": dict(shape="box", style="rounded,filled,bold", fillcolor="#f4b6b6",
                   color="#b03030", penwidth="2"),
    "parameter": dict(shape="box", style="rounded,filled", fillcolor="#c9e7c0", color="#3a7d2c"),
    "input": dict(shape="box", style="filled", fillcolor="#dde6f5", color="#4a6fa5"),
    "constant": dict(shape="box", style="filled,dashed", fillcolor="#eeeeee", color="#888888"),
    "intermediate": dict(shape="box", style="rounded", color="#555555"),
    "op": dict(shape="box", style="rounded,filled", fillcolor="#fff3c4", color="#b08a00"),
    "op_ok": dict(shape="box", style="rounded,filled,bold", fillcolor="#9fe0a8",
                  color="#1f7a35"),
    "op_fail": dict(shape="box", style="rounded,filled,bold", fillcolor="#f08080",
                    color="#b00000", penwidth="2.5"),
    "op_skipped": dict(shape="box", style="rounded,filled,dashed", fillcolor="#eeeeee",
                       color="#888888"),
    "op_downstream": dict(shape="box", style="rounded,filled,dotted", fillcolor="#f4f4f4",
                          color="#999999"),
    "op_nonfinite": dict(shape="box", style="rounded,filled,bold", fillcolor="#ffb347",
                         color="#c05000", penwidth="2.5"),
    "unit": dict(shape="doublecircle", style="filled", fillcolor="#f4b6b6", color="#b03030",
                 fontsize="9", margin="0"),
    "derivative": dict(shape="box", style="rounded,filled", fillcolor="#fde0c5",
                       color="#c06000"),
    "weighted": dict(shape="box", style="rounded,filled", fillcolor="#e3d7f5", color="#6a4a9c"),
    "branch": dict(shape="box", style="rounded,filled", fillcolor="#d6eef2", color="#2a7f8f"),
    "inverse": dict(shape="box", style="rounded,filled", fillcolor="#eeeeee", color="#666666"),
    "sum_of_outputs": dict(shape="box", style="filled", fillcolor="#fff3c4", color="#b08a00",
                           penwidth="1.5"),
    "leaf_grad": dict(shape="box", style="filled", fillcolor="#c9e7c0", color="#3a7d2c"),
    "summary": dict(shape="note", style="filled", fillcolor="#fff3c4"),
    "update_grad": dict(shape="box", style="rounded,filled", fillcolor="#fde0c5",
                        color="#c06000"),
    "update_term": dict(shape="box", style="rounded,filled", fillcolor="#e3d7f5",
                        color="#6a4a9c"),
    "update_next": dict(shape="box", style="rounded,filled,bold", fillcolor="#b9dcf2",
                        color="#1f5f9f", penwidth="2"),
    "module": dict(shape="box3d", style="filled", fillcolor="#e3d7f5", color="#6a4a9c"),
    "module_ok": dict(shape="box3d", style="filled,bold", fillcolor="#9fe0a8", color="#1f7a35"),
    "module_fail": dict(shape="box3d", style="filled,bold", fillcolor="#f08080",
                        color="#b00000", penwidth="2.5"),
    "module_skipped": dict(shape="box3d", style="filled,dashed", fillcolor="#eeeeee",
                           color="#888888"),
    "module_downstream": dict(shape="box3d", style="filled,dotted", fillcolor="#f4f4f4",
                              color="#999999"),
    "module_nonfinite": dict(shape="box3d", style="filled,bold", fillcolor="#ffb347",
                             color="#c05000", penwidth="2.5"),
}

#: nested module clusters: fill by depth (outermost lightest), so the nesting reads at a glance
CLUSTER_FILLS = ["#f8f6fc", "#efeaf8", "#e5ddf3", "#dbd0ee"]


#: node label lines longer than this are wrapped (at a space), so no box is wider than a column
WRAP = 24


def _wrap(line: str) -> list[str]:
    if len(line) <= WRAP or " " not in line:
        return [line]
    return textwrap.wrap(line, WRAP, break_long_words=False, break_on_hyphens=False)


def _label(lines: list[str], wrap: bool = False) -> str:
    if wrap:
        lines = [part for line in lines for part in _wrap(line)]
    text = "\n".join(lines)
    return text.replace("\\", "\\\\").replace("\n", "\\n")


PENDING = dict(color="#cccccc", fontcolor="#b0b0b0", fillcolor="#f8f8f8")
CURRENT = dict(color="#d00000", penwidth="3")


#: Graphviz's rank directions: top to bottom, left to right, bottom to top, right to left
RANKDIRS = ("TB", "LR", "BT", "RL")


def to_digraph(model: GraphModel, *, rankdir: str = "LR", legend: bool = True,
               states: dict | None = None, wrap: bool = True):
    """A ``graphviz.Digraph`` for a :class:`GraphModel` (any view).

    ``states`` (for step-by-step frames) maps node ids and edge indices to "pending" (greyed
    out) or "current" (highlighted); anything else is drawn normally. ``wrap`` breaks label
    lines longer than ``WRAP`` characters at spaces (off: each line as given, e.g. formulas).
    """
    import graphviz

    if rankdir not in RANKDIRS:
        raise ValueError(f"viz: rankdir must be one of {', '.join(RANKDIRS)} (Graphviz's "
                         f"directions), got {rankdir!r}")
    states = states or {}
    g = graphviz.Digraph(name=f"neurona_{model.view}")
    g.attr(rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.3")
    g.attr("node", fontname=FONT, fontsize="10", margin="0.08,0.04")
    g.attr("edge", fontname=FONT, fontsize="9", color="#555555", arrowsize="0.7")
    cluster_of = {node_id: k for k, (_, _, ids) in enumerate(model.groups) for node_id in ids}
    for ids in model.same_rank:                        # a rank shared with a clustered node
        home = next((cluster_of[i] for i in ids if i in cluster_of), None)
        if home is not None:
            for i in ids:
                cluster_of.setdefault(i, home)
    clusters = _clusters(model)
    for n in model.nodes:
        target = clusters[cluster_of[n.id]] if n.id in cluster_of else g
        target.node(n.id, _label(n.lines, wrap=wrap), **_node_attrs(n, states.get(n.id)))
    for ids in model.same_rank:
        target = clusters[cluster_of[ids[0]]] if ids[0] in cluster_of else g
        with target.subgraph() as row:
            row.attr(rank="same")
            for i in ids:
                row.node(i)
    _attach_clusters(g, model, clusters)
    for index, e in enumerate(model.edges):
        _edge(g, e, states.get(index))
    if legend and model.view in ("forward", "backward"):
        _legend(g, model)
    return g


def _clusters(model: GraphModel) -> list:
    """One Graphviz cluster per group: module calls filled by depth, inverse neurons dashed."""
    import graphviz

    clusters = [graphviz.Digraph(name=cid) for cid, _, _ in model.groups]
    depth = {cid: _depth(cid, model.group_parent) for cid, _, _ in model.groups}
    for sub, (cid, label, _) in zip(clusters, model.groups):
        if cid in model.group_parent or any(p == cid for p in model.group_parent.values()) \
                or cid.startswith("cluster_m"):
            fill = CLUSTER_FILLS[min(depth[cid], len(CLUSTER_FILLS) - 1)]
            sub.attr(label=label, style="rounded,filled", fillcolor=fill, color="#9a86c0",
                     fontsize="10", fontcolor="#4a2a7c", labeljust="l")
        else:
            sub.attr(label=label, style="rounded,dashed", color="#9a86c0", fontsize="10",
                     fontcolor="#6a4a9c")
    return clusters


def _attach_clusters(g, model: GraphModel, clusters: list) -> None:
    # graphviz copies a subgraph's body when it is added: attach the innermost clusters first
    depth = {cid: _depth(cid, model.group_parent) for cid, _, _ in model.groups}
    index_of = {cid: k for k, (cid, _, _) in enumerate(model.groups)}
    for k in sorted(range(len(clusters)), key=lambda k: -depth[model.groups[k][0]]):
        up = model.group_parent.get(model.groups[k][0])
        target = clusters[index_of[up]] if up in index_of else g
        target.subgraph(clusters[k])


def _node_attrs(n, state: str | None) -> dict:
    attrs = dict(STYLES.get(n.kind, {}))
    extra = dict(n.data.get("attrs") or {})
    if "style" in extra and "filled" in attrs.get("style", ""):
        extra["style"] = ",".join(dict.fromkeys(extra["style"].split(",") + ["filled"]))
    attrs.update(extra)
    if state == "pending":
        attrs.update(PENDING)
    elif state == "current":
        attrs.update(CURRENT)
    return attrs


def _edge(g, e, state: str | None) -> None:
    attrs = {}
    if e.lines:
        attrs["label"] = _label(e.lines)
    tail, head = e.src, e.dst
    if e.kind == "grad":
        # NOTE: the inverse network keeps the forward layout (inputs left, cost right): a
        # gradient flows right to left, so the edge is laid out leaf → cost, arrow reversed
        attrs.update(color="#b03030", fontcolor="#7a1f1f")
        if not e.data.get("below"):
            attrs["dir"] = "back"
            tail, head = e.dst, e.src
    if state == "pending":
        attrs.update(color="#dddddd", fontcolor="#c8c8c8")
    elif state == "current":
        attrs.update(color="#d00000", penwidth="2.5", fontcolor="#d00000")
    g.edge(tail, head, **attrs)


def _depth(cid: str, parent: dict) -> int:
    d = 0
    while cid in parent:
        cid = parent[cid]
        d += 1
    return d


def _legend(g, model: GraphModel) -> None:
    w = words(model.lang)
    present = {n.kind for n in model.nodes}
    if model.view == "forward":
        entries = [("output", w["output"]), ("module", w["module"]),
                   ("parameter", w["parameter"]),
                   ("input", w["input"]), ("constant", w["constant"]),
                   ("intermediate", w["intermediate"]), ("op", w["operation"])]
        for prefix in ("op_", "module_"):
            entries += [(prefix + k, w["legend." + k]) for k in
                        ("ok", "fail", "skipped", "downstream", "nonfinite")]
    else:
        entries = [("unit", w["inverse.cost_seed"]), ("module", w["module"]),
                   ("derivative", f"{w['inverse.loss']} / {w['inverse.activation']}"),
                   ("weighted", w["inverse.weighted_input"]),
                   ("branch", w["inverse.sum_of_inputs"]),
                   ("sum_of_outputs", w["inverse.branch_point"]),
                   ("leaf_grad", w["leaf_grad"])]
    entries = [(k, text) for k, text in entries if k in present] + list(model.notes)
    # NOTE: the legend is the graph's label (drawn under the picture, outside the layout), a
    # few entries per row, so it makes the picture neither wider nor a column of its own
    per_row = 3 if len(entries) > 4 else max(len(entries), 1)
    cells = []
    for kind, text in entries:
        style = STYLES[kind]
        fill = style.get("fillcolor", "white")
        border = style.get("color", "#555555")
        cells.append(f'<td bgcolor="{fill}" color="{border}" width="14"> </td>'
                     f'<td align="left" border="0">{_html(text)}</td>')
    rows = [f'<tr><td colspan="{2 * per_row}" border="0"><b>{_html(w["legend"])}</b></td></tr>']
    for k in range(0, len(cells), per_row):
        rows.append("<tr>" + "".join(cells[k:k + per_row]) + "</tr>")
    table = ('<<table border="0" cellborder="1" cellspacing="3" cellpadding="2" color="#999999">'
             + "".join(rows) + "</table>>")
    g.attr(label=table, labelloc="b", labeljust="l", fontsize="9")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def draw_forward(output, *, values: bool = True, grads: bool = False, names=None, model=None,
                 lang: str = "en", rankdir: str = "LR", max_elements: int = 6,
                 max_nodes: int | None = MAX_NODES, legend: bool = True,
                 collapse: str | None = None, trace=None, clusters: bool = True):
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

    When the modules are known — ``trace=`` (recorded by ``with viz.trace_modules(model) as
    trace: ...``) and/or ``model=`` (ops that consume a module's parameters) — every module call
    is drawn as a Graphviz cluster around its ops, nested as the calls were (a ``Sequential``
    inside a module is a cluster inside that module's cluster); ``clusters=False`` turns that
    off. See :func:`viz.modules.nest_modules`.

    ``collapse="module"`` draws one box per ``nn`` module call instead (its name, class, op
    count and output shape), its parameters grouped with it in a cluster and the tensors between
    modules as edges labelled with their shape. Which module produced which op comes from
    ``trace=`` and/or ``model=``; ops outside every module are drawn as ops. With
    ``collapse="module"``, ``max_nodes`` counts boxes, not ops. See :mod:`viz.modules`.
    """
    if collapse is not None:
        return to_digraph(_collapsed_model("forward", output, collapse, trace, model, names,
                                           lang, max_elements, max_nodes),
                          rankdir=rankdir, legend=legend)
    m = forward_model(output, values=values, grads=grads,
                      names=_with_trace_names(names, trace, model), model=model, lang=lang,
                      max_elements=max_elements, max_nodes=max_nodes)
    if clusters:
        _nest(m, output, trace, model)
    return to_digraph(m, rankdir=rankdir, legend=legend)


def draw_backward(output, *, names=None, model=None, lang: str = "en", rankdir: str = "LR",
                  max_elements: int = 6, max_nodes: int | None = MAX_NODES,
                  legend: bool = True, collapse: str | None = None, trace=None,
                  clusters: bool = True):
    """The inverse network of ``output`` as a ``graphviz.Digraph`` (course 001's table).

    Runs its own backward pass (``ag.grad(..., retain_graph=True, hooks=False)`` with an engine
    observer), so it works before or after the user's ``backward`` as long as the graph was not
    freed, and leaves every ``.grad`` untouched. Hooks registered with ``register_hook`` are not
    called by this pass, and a hook that changes a gradient does not change the picture (it
    shows the gradients the backward rules compute). Edges run from "1" (unit 1, the cost's
    seed) back to the leaves, each labelled with the gradient it carries (values when small,
    otherwise the shape) and with the axes backward summed over where the forward broadcast.

    With ``trace=`` and/or ``model=`` the inverse nodes of each module call sit in a cluster,
    nested as the calls were (``clusters=False`` turns that off), as in :func:`draw_forward`.

    ``collapse="module"`` (with ``trace=`` and/or ``model=``, as in :func:`draw_forward`) draws
    the inverse network one box per module: from unit 1 back through the modules to the
    parameter groups, each edge labelled with the gradient's shape, ∂J/∂p values for small
    parameters.
    """
    if collapse is not None:
        return to_digraph(_collapsed_model("backward", output, collapse, trace, model, names,
                                           lang, max_elements, max_nodes),
                          rankdir=rankdir, legend=legend)
    m = backward_model(output, names=_with_trace_names(names, trace, model), model=model,
                       lang=lang, max_elements=max_elements, max_nodes=max_nodes)
    if clusters:
        _nest(m, output, trace, model)
    return to_digraph(m, rankdir=rankdir, legend=legend)


def _with_trace_names(names, trace, model):
    """``names`` plus the traced modules' parameter names (when no ``model`` names them)."""
    if trace is None or model is not None:
        return names
    from .modules import traced_names

    merged = dict(names or {})
    for key, p in traced_names(trace).items():
        merged.setdefault(key, p)
    return merged


def _nest(m: GraphModel, output, trace, model) -> None:
    """Module calls as clusters (see :func:`viz.modules.nest_modules`). In the inverse network
    the *neurona inversa* clusters are kept when only ``model=`` is known (it names the
    parameters); a ``trace=`` draws the module calls instead (a box sits in one cluster only)."""
    if trace is None and (model is None or m.view == "backward"):
        return
    from .modules import nest_modules

    m.groups[:] = [g for g in m.groups if not g[0].startswith("cluster_neuron")]

    nest_modules(m, output, trace=trace, model=model)


def _collapsed_model(view, output, collapse, trace, model, names, lang, max_elements,
                     max_nodes, **kwargs) -> GraphModel:
    from .modules import module_model

    if collapse != "module":
        raise ValueError(f"collapse={collapse!r}: expected None or 'module'")
    return module_model(output, view=view, trace=trace, model=model, names=names, lang=lang,
                        max_elements=max_elements, max_nodes=max_nodes, **kwargs)


def draw_gradcheck(output, inputs=None, *, names=None, model=None, lang: str = "en",
                   rankdir: str = "LR", max_elements: int = 6,
                   max_nodes: int | None = MAX_NODES, max_inputs: int = 2000,
                   max_full: int = 100, legend: bool = True, collapse: str | None = None,
                   trace=None, clusters: bool = True):
    """The forward graph with every op coloured by a gradient check of its own backward rule.

    Green: the op's backward agrees with finite differences (float64); red: it does not (the
    place to look when a hand-written backward is wrong); orange: the first op whose output
    holds NaN/Inf; grey: too large to check (more than ``max_inputs`` input elements). A fused
    layer's backward is checked as the one node the engine runs, and both of its drawn steps
    (linear and ψ) take that colour.

    ``inputs`` (a Tensor or a list of them, optional) adds an end-to-end check of ∂J/∂x for
    each input x as a whole (J = ``output``, or its sum when it is not a scalar): the engine's
    gradient through the whole graph against central finite differences of the whole graph,
    both on a float64 replay of the recorded ops (see :func:`viz.graph_model.check_inputs`;
    element by element up to ``max_full`` elements, random directions above). The input's node
    gets a green (agrees) or red (disagrees) border and a line saying so, and the legend has
    one row per input with the largest difference. The per-op colours say *where* a wrong
    backward is; the end-to-end rows say whether it matters for the gradient you use.

    >>> import autograd_core as ag, viz
    >>> w = ag.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    >>> g = viz.draw_gradcheck(ag.tanh(w * w).sum(), w, names={"w": w})
    >>> "∂J/∂w end-to-end: ✓ agrees with finite differences" in g.source
    True

    ``collapse="module"`` (with ``trace=`` and/or ``model=``) checks the same ops but draws one
    box per module call, coloured by the worst result of its ops (a red box names its failing
    ops); ``trace=``/``model=`` without ``collapse`` draw the module calls as nested clusters.
    """
    from .graph_model import _walk, annotate_input_checks, tensor_names

    if collapse is not None:
        m = _collapsed_model("forward", output, collapse, trace, model, names, lang,
                             max_elements, max_nodes, checks=True, max_inputs=max_inputs)
    else:
        m = forward_model(output, names=_with_trace_names(names, trace, model), model=model,
                          lang=lang, max_elements=max_elements, max_nodes=max_nodes,
                          checks=True, max_inputs=max_inputs)
        if clusters:
            _nest(m, output, trace, model)
    if inputs is not None:
        tnames = tensor_names(_with_trace_names(names, trace, model), model)
        if isinstance(inputs, (list, tuple)):
            for k, x in enumerate(inputs):
                if not isinstance(x, ag.Tensor):
                    raise TypeError(f"viz.draw_gradcheck: inputs must be Tensors, got "
                                    f"{type(x).__name__} at position {k}")
        results = ag.checks.check_inputs(output, inputs, _walk(output), tnames,
                                         max_full=max_full)
        annotate_input_checks(m, results)
    return to_digraph(m, rankdir=rankdir, legend=legend)


def backprop_steps(output, *, names=None, model=None, lang: str = "en", rankdir: str = "LR",
                   max_elements: int = 6, max_nodes: int | None = MAX_NODES,
                   legend: bool = True, collapse: str | None = None, trace=None,
                   clusters: bool = True) -> list:
    """The backward pass frame by frame: one ``graphviz.Digraph`` per engine step.

    Every frame has the whole inverse network (so the layout stays still); the node the engine
    just ran and the gradients it sent are highlighted, the steps still to come are greyed out.
    The first frame shows only unit 1; the last one the finished pass. A fused layer (one
    ``LinearActivation`` node, e.g. ``nn.Sequential``'s Linear + Tanh) is one engine step but
    two frames, ψ' first and then the double weighted output, as the course computes δ and as
    the unfused graph (``fuse_layers = False``) shows it: the frames are the same either way.

    ``collapse="module"`` (with ``trace=`` and/or ``model=``) makes one frame per module box
    instead: consecutive engine steps inside one module call are one frame, the box
    highlighted. ``trace=``/``model=`` without ``collapse`` keep one frame per op and draw the
    module calls as nested clusters.

    The result is a list of Digraphs (a :class:`viz.jupyter.Frames`); as the last line of a
    Jupyter cell it shows as a slider (ipywidgets when installed, otherwise an HTML/JS one),
    as does :func:`viz.frames_slider`.
    """
    from .jupyter import Frames

    if collapse is not None:
        m = _collapsed_model("backward", output, collapse, trace, model, names, lang,
                             max_elements, max_nodes)
    else:
        m = backward_model(output, names=_with_trace_names(names, trace, model), model=model,
                           lang=lang, max_elements=max_elements, max_nodes=max_nodes)
        if clusters:
            _nest(m, output, trace, model)
    if m.view == "summary":
        return Frames([to_digraph(m, rankdir=rankdir, legend=legend)])
    return Frames(to_digraph(m, rankdir=rankdir, legend=legend, states=states)
                  for states in frame_states(m))


def frame_states(m: GraphModel) -> list[dict]:
    """For each frame of :func:`backprop_steps`: ``{node id or edge index: "pending"|"current"}``.

    Frame 0 is unit 1; frame k + 1 is step ``m.order[k]`` (a node id may come back in ``order``
    when the engine returned to a module box; it is highlighted again). A node or edge is
    pending before the first step that reaches it; sums of outputs and leaves are reached when
    the last gradient they sum arrives.
    """
    position: dict[str, int] = {}
    for k, node_id in enumerate(m.order):
        position.setdefault(node_id, k)
    incoming: dict[str, list[int]] = {}
    for index, e in enumerate(m.edges):
        incoming.setdefault(e.dst, []).append(index)
    edge_step: dict[int, int] = {}                     # edge index → the step that sends it
    for index, e in enumerate(m.edges):
        if e.src == "unit":
            edge_step[index] = -1
        elif e.src in position:
            edge_step[index] = position[e.src]
    for n in m.nodes:                                  # sums and leaves: done with their inputs
        if n.kind in ("sum_of_outputs", "leaf_grad") and n.id in incoming:
            for index, e in enumerate(m.edges):
                if e.src == n.id:
                    edge_step[index] = max(edge_step.get(i, -1) for i in incoming[n.id])
    node_step = {}
    for n in m.nodes:
        if n.id in position:
            node_step[n.id] = position[n.id]
        elif n.id in incoming:
            node_step[n.id] = max(edge_step.get(i, -1) for i in incoming[n.id])
        else:
            node_step[n.id] = -1
    frames = []
    for step in range(-1, len(m.order)):
        current = "unit" if step == -1 else m.order[step]
        states: dict = {}
        for index, e in enumerate(m.edges):
            sent = edge_step.get(index)
            if sent is None:
                continue
            if e.src == current and (e.src in position or sent == step):
                states[index] = "current"
            elif sent > step:
                states[index] = "pending"
            elif sent == step and e.src not in position:
                states[index] = "current"
        for n in m.nodes:
            if n.id == current:
                states[n.id] = "current"
            elif node_step[n.id] > step:
                states[n.id] = "pending"
        frames.append(states)
    return frames


def save_frames(frames, directory, format: str = "svg", *, duration: int = 800) -> list[str]:
    """Write ``frames`` (from :func:`backprop_steps`) into ``directory``; return the paths.

    ``format`` "svg", "png" or "pdf" writes ``frame_000.svg``, ...; "html" writes one
    ``backprop.html`` with every frame and a slider (open it in a browser); "gif" writes one
    animated ``backprop.gif`` (each frame rendered to PNG by ``dot``, assembled with Pillow,
    ``duration`` milliseconds per frame, looping). Needs ``dot`` (and Pillow for "gif").
    """
    if format not in ("svg", "png", "pdf", "html", "gif"):
        raise ValueError(f"save_frames: unknown format {format!r}; expected 'svg', 'png', "
                         "'pdf', 'html' or 'gif'")
    directory = graphviz_io.file_path(directory, "save_frames")
    os.makedirs(directory, exist_ok=True)
    if format == "gif":
        return [_save_gif(frames, directory, duration)]
    if format != "html":
        return [render(f, os.path.join(directory, f"frame_{k:03d}"), format=format)
                for k, f in enumerate(frames)]
    from .jupyter import frame_svgs, slider_page

    page = slider_page(frame_svgs(frames))
    path = os.path.join(directory, "backprop.html")
    write_atomic(path, page.encode("utf-8"), who="save_frames")
    return [path]


PILLOW_HELP = ("save_frames(format='gif') needs Pillow: install it with 'pip install pillow' "
               "(it comes with matplotlib), or use format='html' or 'svg'")


def _save_gif(frames, directory, duration: int) -> str:
    """Render every frame to PNG with ``dot`` and assemble one looping animated GIF."""
    import io

    try:
        from PIL import Image
    except ImportError as exc:
        raise RuntimeError(PILLOW_HELP) from exc
    if not frames:
        raise ValueError("save_frames: no frames to write")
    pngs = [graphviz_io.pipe(f, "png") for f in frames]
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in pngs]
    width = max(im.width for im in images)        # the layout is the same; pad any odd one out
    height = max(im.height for im in images)
    canvas = []
    for im in images:
        if im.size != (width, height):
            padded = Image.new("RGB", (width, height), "white")
            padded.paste(im, (0, 0))
            im = padded
        canvas.append(im)
    path = os.path.join(directory, "backprop.gif")
    gif = io.BytesIO()
    canvas[0].save(gif, format="GIF", save_all=True, append_images=canvas[1:],
                   duration=duration, loop=0, disposal=1)
    write_atomic(path, gif.getvalue(), who="save_frames")
    return path


def render(graph, path, format: str = "svg") -> str:
    """Write ``graph`` to ``path`` (the extension is added if missing); return the file's path.

    ``format`` is "svg", "png" or "pdf". Raises RuntimeError when Graphviz's ``dot`` is missing.
    """
    return graphviz_io.render(graph, path, format)
