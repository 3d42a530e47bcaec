"""The graph model behind the pictures: nodes, edges and their labels, without Graphviz.

Two views of one recorded computation, both drawn in the course's steps (:mod:`viz.steps`: a
fused layer as z = W·a + b then ψ, a neuron's sum of inputs as one box, a loss as one box L):

* :func:`forward_model` — the values (name, shape, small values, ``.grad``) and the ops between
  them, each op with its formula and its forward rule;
* :func:`viz.backward_model.backward_model` — the course's *red neuronal inversa*.

Every label names the quantity whose value it shows, and every name is one the forward picture
shows (the user's names, or the course's symbols z⁽ᵏ⁾, a⁽ᵏ⁾, J, t, v₁…).
Both walk the graph with ``autograd_core.graph.walk.topological_order`` (no recursion), and both
summarize instead of drawing when the graph has more than ``max_nodes`` ops.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
from autograd_core.graph.walk import topological_order

from .labels import check_count, format_shape, value_lines, words
from .steps import Step, build_steps, fill_formula, name_values, sup

MAX_NODES = 300

R = ag.InverseRule


@dataclass
class VNode:
    """One box of the picture: ``kind`` picks its style, ``lines`` are its label."""

    id: str
    kind: str
    lines: list[str]
    data: dict = field(default_factory=dict)


@dataclass
class VEdge:
    """One arrow; ``lines`` label it (empty for no label)."""

    src: str
    dst: str
    lines: list[str] = field(default_factory=list)
    kind: str = "data"
    #: what the label names and its value (backward view: tests read the truth from here)
    data: dict = field(default_factory=dict)


@dataclass
class GraphModel:
    """What a renderer draws: ``view`` is "forward", "backward" or "summary"."""

    view: str
    lang: str
    nodes: list[VNode] = field(default_factory=list)
    edges: list[VEdge] = field(default_factory=list)
    #: backward view: the inverse nodes' ids in the order the engine ran them
    order: list[str] = field(default_factory=list)
    #: (cluster id, label, node ids) drawn as one Graphviz cluster each: a module and its
    #: parameters (collapsed views) or the ops of one module call (nested module clusters)
    groups: list[tuple[str, str, list[str]]] = field(default_factory=list)
    #: nested clusters: cluster id → the id of the cluster drawn around it
    group_parent: dict[str, str] = field(default_factory=dict)
    #: node ids drawn in one rank (one column): a parameter's gradient beside the step sending it
    same_rank: list[list[str]] = field(default_factory=list)
    #: extra legend rows: (node kind for the colour swatch, text), e.g. end-to-end checks
    notes: list[tuple[str, str]] = field(default_factory=list)

    def node(self, node_id: str) -> VNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def nodes_of_kind(self, kind: str) -> list[VNode]:
        return [n for n in self.nodes if n.kind == kind]


# --- naming -------------------------------------------------------------------------------------
def tensor_names(names=None, model=None) -> dict[int, str]:
    """``id(tensor) → name`` from a ``locals()``-style mapping and/or a module's parameters."""
    found: dict[int, str] = {}
    if model is not None and not callable(getattr(model, "named_parameters", None)):
        raise TypeError(f"viz: model= must be an nn.Module (it names the parameters), got "
                        f"{type(model).__name__}")
    if names is not None and not isinstance(names, Mapping):
        raise TypeError(f"viz: names= must be a mapping of names to Tensors, such as locals() "
                        f"or {{'w': w}}, got {type(names).__name__}")
    if model is not None:
        found.update(layer_parameter_names(model))
        for name, p in model.named_parameters():
            found.setdefault(id(p), name)
    if names:
        for name, value in dict(names).items():
            if isinstance(value, ag.Tensor) and not str(name).startswith("_"):
                found.setdefault(id(value), str(name))
    return found


def layer_parameter_names(model) -> dict[int, str]:
    """The course's names of the dense layers' parameters: W⁽ᵏ⁾ and b⁽ᵏ⁾ for the k-th layer with
    a weight matrix and a bias (``nn.Linear``), in the order ``model.modules()`` gives them."""
    found, k = {}, 0
    for module in model.modules():
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        if isinstance(weight, ag.Tensor) and weight.ndim == 2 and hasattr(module, "in_features"):
            k += 1
            found[id(weight)] = "W" + sup(k)
            if isinstance(bias, ag.Tensor):
                found[id(bias)] = "b" + sup(k)
    return found


# --- the walk -----------------------------------------------------------------------------------
def _check_root(output) -> None:
    if not isinstance(output, ag.Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(output).__name__}")


def check_sizes(who: str, max_elements, max_nodes) -> None:
    """The size options every view takes: values shown up to ``max_elements`` per tensor, a
    summary above ``max_nodes`` ops (None: never)."""
    check_count(who, "max_elements", max_elements)
    check_count(who, "max_nodes", max_nodes, optional=True)


def _freed_error(node) -> RuntimeError:
    return RuntimeError(
        f"viz: the graph was freed by a backward pass ({node.op.name} has released its inputs "
        "and saved values), so it can no longer be drawn; call loss.backward(retain_graph=True) "
        "(or draw before the backward)")


def _walk(output) -> list:
    """The op nodes reachable from ``output``, consumers first; raises if the graph was freed."""
    root = output.grad_fn
    if root is None:
        return []
    order = list(topological_order([root]))
    for node in order:
        if node.released:
            raise _freed_error(node)
    return order


def _summary(view: str, lang: str, order: list, n_tensors: int, max_nodes: int) -> GraphModel:
    w = words(lang)
    counts = Counter(node.op.__name__ for node in order)
    lines = [w["summary"], f"{ag.vocabulary.count(len(order), 'op', lang)} (> {max_nodes}), "
             f"{ag.vocabulary.count(n_tensors, 'tensor', lang)}"]
    lines += [f"{name}: {count}" for name, count in counts.most_common()]
    lines.append(w["summary_hint"])
    return GraphModel("summary", lang, [VNode("summary", "summary", lines,
                                              {"counts": dict(counts), "view": view})])


def _tensor_count(order: list) -> int:
    seen = set()
    for node in order:
        for t in node.inputs:
            seen.add(id(t))
    return len(seen) + 1


# --- the course's steps and the names of the values --------------------------------------------
@dataclass
class Drawing:
    """What both views draw: the boxes (steps, consumers first), every value and its name."""

    order: list
    steps: list[Step]
    values: dict
    names: dict[str, str]

    def producer(self) -> dict[str, Step]:
        return {s.output.key: s for s in self.steps}


def drawing(output, names=None, model=None) -> Drawing:
    """The steps of ``output``'s graph (see :mod:`viz.steps`) with every value named."""
    order = _walk(output)
    if model is None:                  # parameters of an nn model: W⁽ᵏ⁾, b⁽ᵏ⁾ without model=
        from .modules import owning_model
        model = owning_model(order)
    steps, values = build_steps(order, output)
    symbols = name_values(steps, values, output, tensor_names(names, model))
    for step in steps:
        step.formula = fill_formula(step, symbols)
    return Drawing(order, steps, values, symbols)


def fused_activation(node) -> str | None:
    """The activation op's name when ``node`` stands for two course steps (linear, then ψ)."""
    declared = node.op.steps(node)
    return declared[-1][0].name if len(declared) > 1 else None


def _value_kind(v, output, named: bool) -> str:
    if v.tensor is output:
        return "output"
    if not v.is_leaf:
        return "intermediate"
    if v.tensor.requires_grad:
        return "parameter"
    return "input" if v.tensor.ndim > 0 or named else "constant"


# --- forward ------------------------------------------------------------------------------------
def forward_model(output, *, values: bool = True, grads: bool = False, names=None, model=None,
                  lang: str = "en", max_elements: int = 6,
                  max_nodes: int | None = MAX_NODES, checks: bool = False,
                  max_inputs: int = 2000) -> GraphModel:
    """The forward graph: value nodes (name, shape, values, grad) and one op node per step.

    With ``checks=True`` each op node's kind says what ``ag.checks.check_ops`` found for its
    ops: "op_ok", "op_fail", "op_skipped" (too large), "op_downstream" (an input already holds
    NaN/Inf: not checked) or "op_nonfinite" (NaN/Inf first appears here).
    """
    _check_root(output)
    words(lang)
    check_sizes("viz.draw_forward", max_elements, max_nodes)
    check_count("viz.draw_forward", "max_inputs", max_inputs)
    order = _walk(output)
    if max_nodes is not None and len(order) > max_nodes:
        return _summary("forward", lang, order, _tensor_count(order), max_nodes)
    d = drawing(output, names, model)
    status = ag.checks.check_ops(order, max_inputs) if checks else {}
    g = GraphModel("forward", lang)
    drawn: set[str] = set()
    shown = _ValueText(values, grads, max_elements)
    for step in d.steps:
        oid = f"op{step.id}"
        g.nodes.append(_op_node(oid, step, d, status, lang, shown, output))
        for v in step.inputs:
            source = d.producer().get(v.key)
            if source is None and v.key not in drawn:
                drawn.add(v.key)
                g.nodes.append(_value_node(v, d.names, output, shown))
            g.edges.append(VEdge(f"op{source.id}" if source is not None else v.key, oid))
    g.nodes.reverse()                               # producers first reads better in DOT
    g.edges.reverse()
    return g


@dataclass
class _ValueText:
    """How a value is written in a box: name, shape (and dtype), values when small, grad."""

    values: bool
    grads: bool
    max_elements: int

    def body(self, v) -> list[str]:
        """Its values (one line per element of a vector, per row of a matrix), shape, grad."""
        dtype = v.data.dtype
        lines = []
        if self.values and v.data.size <= self.max_elements:
            lines += value_lines("", v.data, self.max_elements)
            lines[0] = lines[0].lstrip(" =")
        lines = [ln for ln in lines if ln]
        lines.append(format_shape(v.shape) + ("" if dtype == np.float32 else f" {dtype}"))
        tensor = v.tensor
        if self.grads and tensor is not None and tensor.grad is not None \
                and v.data.size <= self.max_elements:
            lines += value_lines("grad", tensor.grad.data, self.max_elements)
        return lines


def _value_node(v, names: dict, output, shown: _ValueText) -> VNode:
    name = names.get(v.key)
    named = bool(name) and not name.replace(".", "").lstrip("−-").isdigit()
    return VNode(v.key, _value_kind(v, output, named), ([name] if name else []) + shown.body(v),
                 {"name": name, "shape": v.shape})


_STATUS_LINE = {"ok": "check.ok", "fail": "check.fail", "skipped": "check.skipped",
                "downstream": "check.downstream", "nonfinite": "check.nonfinite"}
_STATUS_ORDER = ("fail", "nonfinite", "downstream", "skipped", "ok")


def _op_node(oid: str, step: Step, d: Drawing, status: dict, lang: str, shown: _ValueText,
             output) -> VNode:
    """One step and the value it makes: ``z⁽¹⁾ = W1·x + b1``, its forward rule, its values."""
    out = d.names.get(step.output.key, "")
    lines = [f"{out} = {step.formula}" if out else step.formula, step.rule.label(lang)[0]]
    lines += shown.body(step.output)
    kind = "op"
    found = [status[n] for n in step.nodes if n in status]
    if found:
        worst = min(found, key=_STATUS_ORDER.index)
        kind = "op_" + worst
        lines.append(ag.vocabulary.text(_STATUS_LINE[worst], lang))
    data = {"op": step.op.__name__ if step.op is not None else "loss", "step": step.kind,
            "nodes": [id(n) for n in step.nodes], "name": out, "shape": step.output.shape,
            "output": step.output.tensor is output}
    if step.kind.startswith("fused"):
        data["fused"] = step.nodes[0].op.__name__
    if step.output.tensor is output:
        data["attrs"] = dict(color="#b03030", penwidth="2")
    return VNode(oid, kind, lines, data)


# --- backward pass of our own -----------------------------------------------------------------
@dataclass
class _Step:
    grad: np.ndarray
    raw_shapes: list
    input_grads: list


def run_backward(output, order: list) -> tuple[dict, dict]:
    """Our own backward pass: ``{node: _Step}`` from an engine observer, and leaf gradients.

    Uses ``ag.grad(..., retain_graph=True, hooks=False)`` on the requires-grad leaves, so no
    ``.grad`` changes and the user's ``register_hook`` hooks are neither called nor allowed to
    change what is drawn.
    A non-scalar output is seeded with ones (the picture of ``J = output.sum()``).
    """
    leaves, seen = [], set()
    for node in order:
        for t in node.inputs:
            if t.grad_fn is None and t.requires_grad and id(t) not in seen:
                seen.add(id(t))
                leaves.append(t)
    steps: dict = {}
    wanted = {id(node) for node in order}

    def record(step) -> None:
        node = step.node
        if id(node) not in wanted:
            return
        steps[node] = _Step(
            np.array(step.grad.data, copy=True),
            [None if g is None else tuple(np.shape(getattr(g, "data", g)))
             for g in step.raw_input_grads],
            [None if g is None else np.array(g.data, copy=True) for g in step.input_grads])

    seed = None if output.size == 1 else ag.ones_like(output)
    if not leaves:
        return steps, {}
    with ag.add_observer(record):
        results = ag.grad(output, leaves, grad_outputs=seed, retain_graph=True,
                          allow_unused=True, hooks=False)
    leaf_grads = {id(t): (t, None if g is None else np.array(g.data, copy=True))
                  for t, g in zip(leaves, results)}
    return steps, leaf_grads


#: how an input's end-to-end result marks its node (added to the node's own style)
CHECK_ATTRS = {"ok": dict(color="#1f7a35", penwidth="3"),
               "fail": dict(color="#b00000", penwidth="3.5"),
               "unused": dict(color="#888888", penwidth="2", style="dashed,filled")}


def input_check_text(c, lang: str = "en") -> str:
    """One line for an end-to-end check (``ag.checks.InputCheck``), in ``lang``."""
    w = words(lang)
    if c.status == "unused":
        return f"∂J/∂{c.name}: {w['unused']}"
    mark, verdict = ("✓", w["agrees"]) if c.status == "ok" else ("✗", w["disagrees"])
    how = f", {w['projected']}" if c.method == "projected" else ""
    return (f"∂J/∂{c.name} {w['end_to_end']}: {mark} {verdict} "
            f"({w['max_error']} = {c.max_error:.1e}{how})")


def annotate_input_checks(g: GraphModel, checks: list) -> GraphModel:
    """Write each end-to-end result into the picture: on the input's own node (per-op views:
    ``t<id>``; collapsed views: the line of its parameter group or leaf node), its border
    coloured green/red, and as a legend row."""
    by_id = {f"t{id(c.tensor)}": c for c in checks}
    for n in g.nodes:
        if n.id in by_id:
            c = by_id[n.id]
            n.lines.append(("✓" if c.status == "ok" else "✗" if c.status == "fail" else "—")
                           + f" {words(g.lang)['end_to_end']}")
            n.data["input_check"] = c.status
            n.data["attrs"] = dict(CHECK_ATTRS[c.status])
        for pid, index in n.data.get("param_lines", {}).items():
            c = by_id.get(f"t{pid}")
            if c is not None:
                n.lines[index] += " ✓" if c.status == "ok" else " ✗" if c.status == "fail" else ""
                n.data.setdefault("input_checks", {})[c.name] = c.status
                if c.status == "fail" or "attrs" not in n.data:
                    n.data["attrs"] = dict(CHECK_ATTRS[c.status])
        if n.kind == "summary":
            n.lines[-1:-1] = [input_check_text(c, g.lang) for c in checks]
    for c in checks:
        g.notes.append(({"ok": "op_ok", "fail": "op_fail", "unused": "op_skipped"}[c.status],
                        input_check_text(c, g.lang)))
    return g


