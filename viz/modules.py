"""Module-level pictures: which ``nn`` module produced each op, and one box per module.

The engine does not record modules, so the mapping is found from the outside, in two ways:

* a **trace** — :func:`trace_modules` registers forward hooks (``register_forward_hook``) for the
  duration of a ``with`` block and records every module call: its input tensors and its output.
  The ops reached walking backward from a call's output, stopping at that call's inputs and at
  leaves, belong to the call. Hooks fire innermost first, so an op goes to the innermost module
  that produced it (a ``Sequential`` only gets the ops of its own between its children);
* **parameters** — without a trace (or for ops the trace missed), an op that consumes a
  parameter of ``model`` belongs to the innermost module owning that parameter (a ``Linear``'s op
  uses its weight and bias). Parameter-free modules (``ReLU``) are then not found; their ops
  are drawn as ops.

:func:`module_model` builds the collapsed :class:`~viz.graph_model.GraphModel`: one box per
module call (name, class, op count), its parameters grouped with it in a cluster, tensors between
modules as labelled edges (shape), ops outside every module drawn as themselves.
:func:`nest_modules` keeps every op but draws each module call as a cluster around its ops,
nested as the calls were (:func:`module_tree`).
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
import nn

from .graph_model import (GraphModel, VEdge, VNode, _check_root, _summary, _walk,
                          check_sizes, layer_parameter_names,
                          fused_activation, run_backward, tensor_names)
from .labels import check_count, format_array, format_shape, words


@dataclass
class ModuleCall:
    """One call of a module recorded by :func:`trace_modules`."""

    name: str
    module: object
    inputs: list
    output: object
    index: int = 1                    # the n-th call of this module (a module may be reused)

    @property
    def label(self) -> str:
        return self.name if self.index == 1 else f"{self.name} #{self.index}"


@dataclass
class ModuleTrace:
    """The module calls seen inside a :func:`trace_modules` block, in the order they finished."""

    roots: list
    calls: list[ModuleCall] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)


def _tensors(obj) -> list:
    if isinstance(obj, ag.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _named_modules(roots) -> list[tuple[str, object]]:
    found, seen = [], set()
    for root in roots:
        base = type(root).__name__ if len(roots) > 1 else ""
        for name, module in root.named_modules():
            if id(module) in seen:
                continue
            seen.add(id(module))
            full = ".".join(p for p in (base, name) if p) or type(module).__name__
            found.append((full, module))
    return found


@contextmanager
def trace_modules(*modules):
    """Record which module produced which tensor while the ``with`` block runs.

    >>> import autograd_core as ag, nn, viz
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> with viz.trace_modules(model) as trace:
    ...     y = model(ag.ones((5, 3)))
    >>> [c.name for c in trace.calls]
    ['0', '1', '2', 'Sequential']
    >>> g = viz.draw_forward(y, collapse="module", trace=trace)

    Several modules may be traced at once (``trace_modules(model, loss_fn)``); their names then
    start with the class name. The hooks are removed when the block ends, even on an error.
    """
    if not modules:
        raise TypeError("trace_modules: pass at least one nn.Module")
    for m in modules:
        if not hasattr(m, "register_forward_hook") or not hasattr(m, "named_modules"):
            raise TypeError(f"trace_modules: expected an nn.Module, got {type(m).__name__}")
    trace = ModuleTrace(list(modules))
    counts: Counter = Counter()
    handles = []

    def make_hook(name):
        def hook(module, inputs, output):
            counts[id(module)] += 1
            outs = _tensors(output)
            if outs:
                trace.calls.append(ModuleCall(name, module, _tensors(inputs), outs[0],
                                              counts[id(module)]))
        return hook

    for name, module in _named_modules(list(modules)):
        handles.append(module.register_forward_hook(make_hook(name)))
    try:
        yield trace
    finally:
        for h in handles:
            h.remove()


def traced_names(trace: ModuleTrace) -> dict:
    """``{name: parameter}`` for the traced modules' parameters, for the pictures' labels: the
    course's W⁽ᵏ⁾, b⁽ᵏ⁾ for dense layers, else ``0.weight`` for one traced model
    (``Sequential.0.weight`` when several were traced)."""
    found = {}
    for root in trace.roots:                      # the course's W⁽ᵏ⁾, b⁽ᵏ⁾ for dense layers
        course = layer_parameter_names(root)
        for p in root.parameters():
            if id(p) in course:
                found.setdefault(course[id(p)], p)
    if len(trace.roots) == 1:
        for name, p in trace.roots[0].named_parameters():
            if all(q is not p for q in found.values()):
                found[name] = p
        return found
    for name, module in _named_modules(trace.roots):
        for pname, p in module.named_parameters(recurse=False):
            found.setdefault(f"{name}.{pname}", p)
    return found


def assign_ops(order: list, trace: ModuleTrace | None = None, model=None) -> dict:
    """``{id(op node): ModuleCall}`` for the ops in ``order`` that a module produced."""
    owner: dict[int, ModuleCall] = {}
    for call, region in _call_regions(order, trace):
        for node_id in region:
            owner.setdefault(node_id, call)
    roots = list(trace.roots) if trace is not None else []
    if model is not None:
        roots.append(model)
    if roots:
        param_owner: dict[int, ModuleCall] = {}
        for name, module in _named_modules(roots):     # outer first; inner ones overwrite
            for p in module.parameters(recurse=False):
                param_owner[id(p)] = ModuleCall(name, module, [], None)
        calls: dict[int, ModuleCall] = {}
        for node in order:
            if id(node) in owner:
                continue
            for t in node.inputs:
                call = param_owner.get(id(t))
                if call is not None:
                    owner[id(node)] = calls.setdefault(id(call.module), call)
                    break
    return owner


def _own_params(module) -> set[int]:
    return {id(p) for p in module.parameters()}


def owning_model(order: list):
    """The one model every parameter of the graph belongs to (``nn.owner_of``, followed up to
    the outermost module), or None: what ``collapse="module"`` uses when no ``model=`` is given."""
    roots = set()
    found = None
    for node in order:
        for t in node.inputs:
            module = nn.owner_of(t) if t.grad_fn is None and t.requires_grad else None
            while module is not None and nn.owner_of(module) is not None:
                module = nn.owner_of(module)
            if module is not None:
                roots.add(id(module))
                found = module
    return found if len(roots) == 1 else None


def layer_labels(model, lang: str) -> dict[int, str]:
    """``id(module) → "Layer k"`` ("Capa k") for the dense layers, numbered as W⁽ᵏ⁾ is."""
    word = ag.vocabulary.text("layer", lang)
    found, k = {}, 0
    for module in (model.modules() if model is not None else ()):
        if isinstance(getattr(module, "weight", None), ag.Tensor) and \
                hasattr(module, "in_features"):
            k += 1
            found[id(module)] = f"{word} {k}"
    return found


def module_model(output, *, view: str = "forward", trace: ModuleTrace | None = None, model=None,
                 names=None, lang: str = "en", max_elements: int = 6,
                 max_nodes: int | None = 300, checks: bool = False,
                 max_inputs: int = 2000) -> GraphModel:
    """The collapsed graph: one box per module call (``view`` "forward" or "backward").

    Which module produced which op comes from a ``trace`` (from :func:`trace_modules`), a
    ``model`` (through its parameters) or, with neither, from the parameters themselves (each
    knows the module it was registered on: :func:`owning_model`). A dense layer's box is called
    as the course calls it ("Layer k" / "Capa k", its parameters W⁽ᵏ⁾ and b⁽ᵏ⁾), other boxes by
    their name and class; each box says how many ops it ran (by kind) and its output's shape,
    its parameters sit next to it in the same cluster. Edges between boxes carry the tensor's
    shape (forward) or the gradient's (backward, from the cost's unit 1 back to the parameters,
    with ∂J/∂p values for small parameters).

    The backward model's ``order`` lists the boxes in the order the engine ran their ops (a box
    appears again if the engine came back to it after another one), for
    :func:`~viz.render_graphviz.backprop_steps`. With ``checks=True`` (forward view) every box
    is coloured by ``ag.checks.check_ops`` of its ops: red if any op's backward disagrees with
    finite differences (the box names it), orange at the first NaN/Inf, grey when every op was
    too large to check, green otherwise.
    """
    _check_root(output)
    words(lang)
    check_sizes("viz (collapse='module')", max_elements, max_nodes)
    check_count("viz (collapse='module')", "max_inputs", max_inputs)
    if view not in ("forward", "backward"):
        raise ValueError(f"module_model: view must be 'forward' or 'backward', not {view!r}")
    if view == "backward" and output.grad_fn is None:
        raise RuntimeError("viz.draw_backward: the output has no grad_fn")
    order = _walk(output)
    if trace is None and model is None:
        model = owning_model(order)
    if trace is None and model is None:
        raise ValueError("collapse='module' needs trace= (from viz.trace_modules(model)) or "
                         "model= (an nn.Module): the graph's parameters belong to no module, "
                         "or to several unrelated ones")
    c = _Collapsed(output, order, view, trace, model, names, lang, max_elements)
    if max_nodes is not None and len(c.ops_of) > max_nodes:
        return _summary(view, lang, order, len(c.ops_of), max_nodes)
    return c.build(ag.checks.check_ops(order, max_inputs) if checks else {})


class _Collapsed:
    """Builds :func:`module_model`'s picture: boxes, parameter groups, edges between boxes."""

    def __init__(self, output, order, view, trace, model, names, lang, max_elements):
        self.output, self.order, self.view, self.lang = output, order, view, lang
        self.max_elements = max_elements
        self.owner = assign_ops(order, trace, model)
        roots = [model] if model is not None else list(trace.roots)
        self.names = tensor_names(names, roots[0] if len(roots) == 1 else None)
        self.layers = {}
        for r in roots:
            self.layers.update(layer_labels(r, lang))
            for key, name in layer_parameter_names(r).items():
                self.names.setdefault(key, name)
        if trace is not None and len(trace.roots) > 1 and model is None:
            for name, module in _named_modules(trace.roots):
                for pname, p in module.named_parameters(recurse=False):
                    self.names.setdefault(id(p), f"{name}.{pname}")
        self.ops_of: dict[str, list] = {}
        for node in order:
            self.ops_of.setdefault(self.unit(node), []).append(node)
        self.calls = {f"mod{id(c)}": c for c in self.owner.values()}
        self.records, self.leaf_grads = run_backward(output, order) if view == "backward" \
            else ({}, {})
        self.g = GraphModel(view, lang)
        self.edges: dict[tuple[str, str], list[str]] = {}
        self.params_of: dict[str, list] = {}
        self.leaf_ids: set[str] = set()
        self.keep = []                                  # keep ids valid while in use

    def unit(self, node) -> str:
        call = self.owner.get(id(node))
        return f"mod{id(call)}" if call is not None else f"op{id(node)}"

    def add_edge(self, src: str, dst: str, label: str) -> None:
        labels = self.edges.setdefault((src, dst), [])
        if label not in labels:
            labels.append(label)

    def build(self, status: dict) -> GraphModel:
        for uid, nodes in self.ops_of.items():
            self._connect(uid, nodes)
        for uid, nodes in self.ops_of.items():
            if uid in self.calls:
                self._module_box(uid, nodes, status)
            else:
                self._op_box(uid, nodes[0], status)
        if self.view == "forward":
            self._forward_ends()
        else:
            self._backward_ends()
        return self.g

    def _connect(self, uid: str, nodes: list) -> None:
        """Edges into box ``uid``: from other boxes, inputs and (backward) leaves; parameters
        of its own module are gathered for its parameter group instead."""
        call = self.calls.get(uid)
        own = _own_params(call.module) if call is not None else set()
        for node in nodes:
            for t in node.inputs:
                if t.grad_fn is not None:
                    src = self.unit(t.grad_fn)
                    if src != uid:
                        self.add_edge(src, uid, format_shape(t.shape))
                elif call is not None and t.requires_grad and id(t) in own:
                    if all(p is not t for p in self.params_of.get(uid, ())):
                        self.params_of.setdefault(uid, []).append(t)
                elif call is not None and not t.requires_grad and t.size == 1 \
                        and id(t) not in self.names:
                    continue                            # a module's internal constant
                elif self.view == "forward" or t.requires_grad:
                    self.add_edge(self._leaf_node(t), uid, format_shape(t.shape))

    def _leaf_node(self, t) -> str:
        tid = f"t{id(t)}"
        if tid in self.leaf_ids:
            return tid
        self.leaf_ids.add(tid)
        self.keep.append(t)
        name = self.names.get(id(t)) or getattr(t, "name", None)
        kind = "parameter" if t.requires_grad else ("input" if t.ndim > 0 or name else
                                                    "constant")
        lines = ([name] if name else []) + [format_shape(t.shape)]
        if self.view == "forward" and t.size <= self.max_elements:
            lines.append(format_array(t.data, self.max_elements))
        if self.view == "backward" and t.requires_grad:
            kind = "leaf_grad"
            lg = self.leaf_grads.get(id(t), (t, None))[1]
            lines = [f"∂J/∂{name}" if name else words(self.lang)["leaf_grad"],
                     format_shape(t.shape)]
            if lg is not None and t.size <= self.max_elements:
                lines.append(format_array(lg, self.max_elements))
        self.g.nodes.append(VNode(tid, kind, lines, {"name": name, "shape": t.shape}))
        return tid

    def _module_box(self, uid: str, nodes: list, status: dict) -> None:
        call = self.calls[uid]
        counts = Counter(name for n in nodes for name in _step_names(n))
        n_ops = sum(counts.values())
        ops_text = ", ".join(f"{k}×{v}" if v > 1 else k for k, v in counts.most_common())
        layer = self.layers.get(id(call.module))
        title = layer + ("" if call.index == 1 else f" #{call.index}") if layer else call.label
        lines = [title, f"({type(call.module).__name__})",
                 f"{ag.vocabulary.count(n_ops, 'op', self.lang)}: {ops_text}"]
        if self.view == "forward":
            lines.append(f"→ {format_shape(nodes[0].output.shape)}")
        else:
            lines.insert(0, words(self.lang)["inverse_of"])
        kind = "module"
        if status:
            kind, check_line = _box_check(nodes, status, self.lang)
            lines.append(check_line)
        self.g.nodes.append(VNode(uid, kind, lines,
                                  {"module": call.label, "class": type(call.module).__name__,
                                   "layer": layer, "n_ops": n_ops, "ops": dict(counts)}))
        if self.params_of.get(uid):
            self._parameter_group(uid, title, self.params_of[uid])

    def _parameter_group(self, uid: str, title: str, params: list) -> None:
        pid = f"params{uid}"
        lines, param_lines = [words(self.lang)["parameters"]], {}
        for p in params:
            param_lines[id(p)] = len(lines)
            text = f"{self.names.get(id(p)) or '?'} {format_shape(p.shape)}"
            lg = None
            if self.view == "backward":
                text = "∂J/∂" + text
                lg = self.leaf_grads.get(id(p), (p, None))[1]
            if lg is not None and p.size <= self.max_elements:
                text += f" = {format_array(lg, self.max_elements)}"
            lines.append(text)
        self.g.nodes.append(VNode(pid, "parameter" if self.view == "forward" else "leaf_grad",
                                  lines, {"params": [self.names.get(id(p)) for p in params],
                                          "param_lines": param_lines}))
        self.add_edge(pid, uid, "")
        self.g.groups.append((f"cluster_{uid}", title, [uid, pid]))

    def _op_box(self, uid: str, node, status: dict) -> None:
        kind, lines = "op", [" → ".join(_step_names(node))]
        if node in status:
            kind = "op_" + status[node]
            lines.append(ag.vocabulary.text(_CHECK_KEYS[status[node]], self.lang))
        self.g.nodes.append(VNode(uid, kind, lines, {"op": node.op.__name__}))

    def _forward_ends(self) -> None:
        out = self.output
        lines = [self.names.get(id(out)) or words(self.lang)["output"], format_shape(out.shape)]
        if out.size <= self.max_elements:
            lines.append(format_array(out.data, self.max_elements))
        self.g.nodes.append(VNode("output", "output", lines, {"shape": out.shape}))
        if out.grad_fn is not None:
            self.add_edge(self.unit(out.grad_fn), "output", format_shape(out.shape))
        for (src, dst), labels in self.edges.items():
            self.g.edges.append(VEdge(src, dst, labels if labels != [""] else []))

    def _backward_ends(self) -> None:
        for node in self.records:                       # engine order, runs of one box merged
            if not self.g.order or self.g.order[-1] != self.unit(node):
                self.g.order.append(self.unit(node))
        out = self.output
        self.g.nodes.append(VNode("unit", "unit", ["1", words(self.lang)["unit"]],
                                  {"value": np.ones(out.shape, dtype=out.dtype)}))
        self.g.edges.append(VEdge("unit", self.unit(out.grad_fn), ["∂J/∂J = 1"], "grad"))
        for (src, dst), labels in self.edges.items():  # reversed: the gradient flows back
            shapes = [f"∂J/∂· {x}" for x in labels if x]
            self.g.edges.append(VEdge(dst, src, shapes, "grad"))


def _step_names(node) -> list[str]:
    """The op names drawn for ``node``: ``["linear", "tanh"]`` for a fused layer."""
    act = fused_activation(node)
    return [node.op.name] if act is None else ["linear", act]


_CHECK_KEYS = {"ok": "check.ok", "fail": "check.fail", "skipped": "check.skipped",
               "downstream": "check.downstream", "nonfinite": "check.nonfinite"}


def _box_check(nodes: list, status: dict, lang: str) -> tuple[str, str]:
    """A module box's colour and line from its ops' check results (worst first)."""
    text = lambda key: ag.vocabulary.text(_CHECK_KEYS[key], lang)     # noqa: E731
    found = [status[n] for n in nodes if n in status]
    for worst in ("nonfinite", "fail"):
        bad = ["+".join(_step_names(n)) for n in nodes if status.get(n) == worst]
        if bad:
            return f"module_{worst}", f"{text(worst)}: {', '.join(dict.fromkeys(bad))}"
    for quiet in ("downstream", "skipped"):
        if found and all(x == quiet for x in found):
            return f"module_{quiet}", text(quiet)
    checked = sum(x == "ok" for x in found)
    return "module_ok", f"{text('ok')} ({checked}/{ag.vocabulary.count(len(nodes), 'op', lang)})"


# --- nested clusters on the per-op views ---------------------------------------------------------
def _call_regions(order: list, trace: ModuleTrace | None) -> list[tuple[ModuleCall, set[int]]]:
    """Each traced call with the ids of the op nodes between its inputs and its output."""
    in_graph = {id(n) for n in order}
    regions = []
    for call in (trace.calls if trace is not None else []):
        out = call.output
        if out.grad_fn is None or id(out.grad_fn) not in in_graph:
            continue
        stop = {id(t) for t in call.inputs}
        stack, seen = [out.grad_fn], set()
        while stack:                                    # iterative: no recursion limit
            node = stack.pop()
            if id(node) in seen or id(node) not in in_graph:
                continue
            seen.add(id(node))
            for t in node.inputs:
                if id(t) not in stop and t.grad_fn is not None:
                    stack.append(t.grad_fn)
        regions.append((call, seen))
    return regions


def module_tree(order: list, trace: ModuleTrace | None = None, model=None
                ) -> tuple[dict, dict]:
    """``(owner, parent)``: the innermost module call of each op (``{id(node): ModuleCall}``,
    as :func:`assign_ops`) and the call each call is nested in (``{id(call): ModuleCall}``).

    With a trace, call A is nested in the first call that finished after it and whose ops
    include the op that produced A's output (calls finish innermost first). Calls found through
    ``model``'s parameters are nested as the modules are (``model.block.fc`` in
    ``model.block`` in ``model``).
    """
    owner = assign_ops(order, trace, model)
    parent: dict[int, ModuleCall] = {}
    regions = _call_regions(order, trace)
    for k, (call, _) in enumerate(regions):
        produced = id(call.output.grad_fn)
        for outer, region in regions[k + 1:]:
            if outer is not call and produced in region:
                parent[id(call)] = outer
                break
    traced = {id(c) for c, _ in regions}
    roots = list(trace.roots) if trace is not None else []
    if model is not None:
        roots.append(model)
    if roots:
        named = _named_modules(roots)
        module_parent: dict[int, object] = {}
        for _, module in named:
            for child in module.children():
                module_parent.setdefault(id(child), module)
        name_of = {id(m): name for name, m in named}
        by_module: dict[int, ModuleCall] = {}
        for call in owner.values():                     # calls from parameters: by the tree
            if id(call) in traced:
                continue
            by_module.setdefault(id(call.module), call)
        pending = list(by_module.values())
        while pending:
            call = pending.pop()
            up = module_parent.get(id(call.module))
            if up is None or id(call) in parent:
                continue
            outer = by_module.get(id(up))
            if outer is None:
                outer = ModuleCall(name_of[id(up)], up, [], None)
                by_module[id(up)] = outer
                pending.append(outer)
            parent[id(call)] = outer
    return owner, parent


def nest_modules(g: GraphModel, output, *, trace: ModuleTrace | None = None,
                 model=None) -> GraphModel:
    """Draw the module calls of a per-op view as nested Graphviz clusters (in place).

    Each module call becomes a cluster (label: name and class) holding its ops and the
    tensors they produce (forward view), or their inverse nodes and sums of outputs (backward
    view), plus its own parameters when it is the only call of its module; a call made inside
    another one (a ``Sequential`` inside a module) is a cluster inside that one's cluster.
    Inputs, the cost's unit 1 and ops outside every module stay outside.
    """
    if g.view not in ("forward", "backward") or (trace is None and model is None):
        return g
    order = _walk(output)
    owner, parent = module_tree(order, trace, model)
    if not owner:
        return g
    calls: dict[int, ModuleCall] = {id(c): c for c in owner.values()}
    for c in list(parent.values()):
        calls.setdefault(id(c), c)
    _adopt_between(order, owner, parent)
    members = _members(g, order, owner, parent, calls)
    keep: set[int] = set()                 # a cluster stays if it or a descendant holds a node
    for cid in members:
        c = calls[cid]
        while c is not None and id(c) not in keep:
            keep.add(id(c))
            c = parent.get(id(c))
    name = lambda c: f"cluster_m{id(c)}"               # noqa: E731
    layers: dict[int, str] = {}                        # dense layers: "Layer k" / "Capa k"
    for root in ([model] if model is not None else []) + list(trace.roots if trace else []):
        layers.update({k: v for k, v in layer_labels(root, g.lang).items() if k not in layers})
    for c in _all_calls(calls, parent):
        if id(c) in keep:
            label = layers.get(id(c.module))
            label = (label + ("" if c.index == 1 else f" #{c.index}")) if label else \
                f"{c.label} ({type(c.module).__name__})"
            g.groups.append((name(c), label, members.get(id(c), [])))
            if parent.get(id(c)) is not None:
                g.group_parent[name(c)] = name(parent[id(c)])
    return g


def _members(g: GraphModel, order: list, owner: dict, parent: dict, calls: dict
             ) -> dict[int, list[str]]:
    """``{id(call): [node ids]}``: the picture's nodes each module call holds.

    Ids follow :mod:`viz.graph_model` / :mod:`viz.backward_model`: a fused layer's linear step
    is "oplin<id>" / "invlin<id>" (with its module), its activation step "op<id>" / "inv<id>"
    (where ``act(linear(...))`` would put its own op); parameters ("t"/"leaft"/"sumt" + id) go
    with the only call of their module; a module's scalar constants go with it (forward)."""
    present = {n.id for n in g.nodes}
    members: dict[int, list[str]] = {}

    def put(node_id: str, call) -> None:
        if call is not None and node_id in present:
            members.setdefault(id(call), []).append(node_id)

    consumers = _consumers(order)
    for node in order:
        call = owner.get(id(node))
        act_call = _fused_activation_owner(node, call, owner, parent, consumers) \
            if fused_activation(node) is not None else call
        for prefix, who in ((("oplin", call), ("op", act_call)) if g.view == "forward" else
                            (("invlin", call), ("inv", act_call))):
            put(f"{prefix}{id(node)}", who)
        put(f"sumt{id(node.output)}", act_call)
    for pid, users in _parameter_users(order, owner).items():
        if len(users) == 1:
            for prefix in ("t", "leaft", "sumt"):
                put(f"{prefix}{pid}", calls[next(iter(users))])
    if g.view == "forward":
        for tid, cids in _constant_users(order, owner).items():
            if len(cids) == 1 and next(iter(cids)) in calls and \
                    f"t{tid}" in present and g.node(f"t{tid}").kind == "constant":
                put(f"t{tid}", calls[next(iter(cids))])
    return members


def _parameter_users(order: list, owner: dict) -> dict[int, set]:
    """``{id(parameter): {id(call)}}``: the calls of the parameter's own module that use it."""
    uses: dict[int, set] = {}
    own: dict[int, set[int]] = {}
    for node in order:
        call = owner.get(id(node))
        if call is None:
            continue
        params = own.setdefault(id(call.module), _own_params(call.module))
        for t in node.inputs:
            if t.grad_fn is None and t.requires_grad and id(t) in params:
                uses.setdefault(id(t), set()).add(id(call))
    return uses


def _constant_users(order: list, owner: dict) -> dict[int, set]:
    """``{id(scalar constant): {id(call)}}`` (the 2.0 in "relu(fc(x)) * 2.0")."""
    users: dict[int, set] = {}
    for node in order:
        for t in node.inputs:
            if t.grad_fn is None and not t.requires_grad and t.size == 1:
                users.setdefault(id(t), set()).add(id(owner.get(id(node))))
    return users


def _all_calls(calls: dict, parent: dict) -> list:
    """Every call once, outer ones first (a stable order for the DOT text)."""
    found = dict(calls)
    for c in parent.values():
        found.setdefault(id(c), c)
    depth = {}
    for cid in found:
        d, up = 0, parent.get(cid)
        while up is not None:
            d += 1
            up = parent.get(id(up))
        depth[cid] = d
    return sorted(found.values(), key=lambda c: (depth[id(c)], c.label))


def _consumers(order: list) -> dict[int, list]:
    """``{id(node): [the nodes that use its output]}``."""
    consumers: dict[int, list] = {}
    for node in order:
        for t in node.inputs:
            if t.grad_fn is not None:
                consumers.setdefault(id(t.grad_fn), []).append(node)
    return consumers


def _common_call(calls: list, parent: dict):
    """The deepest module call that holds every one of ``calls`` (or None)."""
    def chain(call) -> list:
        found = []
        while call is not None:
            found.append(call)
            call = parent.get(id(call))
        return found[::-1]

    common = None
    for level in zip(*[chain(c) for c in calls]):
        if any(c is not level[0] for c in level):
            break
        common = level[0]
    return common


def _fused_activation_owner(node, call, owner: dict, parent: dict, consumers: dict):
    """The module call of a fused layer's activation step (``call`` holds its linear step).

    Inside a traced call (the user's module called ``ag.linear(..., activation=...)``) it stays
    in that call. When the layer was found through a ``Linear``'s parameters, the activation
    module (a parameter-free ``Tanh``) is not known, so the step goes where
    :func:`_adopt_between` puts such an op: the deepest call common to the layer and to every
    consumer of its output, or no cluster when a consumer is outside every module.
    """
    if call is None or call.output is not None:
        return call
    after = consumers.get(id(node), [])
    if not after or any(id(n) not in owner for n in after):
        return None
    return _common_call([call] + [owner[id(n)] for n in after], parent)


def _adopt_between(order: list, owner: dict, parent: dict) -> None:
    """An op no module claimed (a parameter-free ``Tanh`` when only ``model=`` is known) whose
    producers and consumers all sit in module calls goes to their deepest common call, so a
    cluster is not left for one op and entered again (in place on ``owner``)."""
    consumers = _consumers(order)
    for node in reversed(order):                        # producers first: a run of such ops
        if id(node) in owner:
            continue
        before = [t.grad_fn for t in node.inputs if t.grad_fn is not None]
        after = consumers.get(id(node), [])
        around = before + after
        if not before or not after or any(id(n) not in owner for n in around):
            continue
        common = _common_call([owner[id(n)] for n in around], parent)
        if common is not None:
            owner[id(node)] = common
