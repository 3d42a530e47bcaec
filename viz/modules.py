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

from .graph_model import (GraphModel, VEdge, VNode, _check_root, _summary, _walk,
                          fused_activation, run_backward, tensor_names)
from .labels import format_array, format_shape, words


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
    """``{name: parameter}`` for the traced modules' parameters (``0.weight`` for one traced
    model; ``Sequential.0.weight`` when several were traced), for the pictures' labels."""
    if len(trace.roots) == 1:
        return dict(trace.roots[0].named_parameters())
    found = {}
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


def module_model(output, *, view: str = "forward", trace: ModuleTrace | None = None, model=None,
                 names=None, lang: str = "en", max_elements: int = 6,
                 max_nodes: int | None = 300, checks: bool = False,
                 max_inputs: int = 2000) -> GraphModel:
    """The collapsed graph: one box per module call (``view`` "forward" or "backward").

    Needs a ``trace`` (from :func:`trace_modules`) or a ``model`` (parameters only). The box
    says the module's name, class, how many ops it ran (by kind) and its output's shape; its
    parameters sit next to it in the same cluster. Edges between boxes carry the tensor's shape
    (forward) or the gradient's (backward, from the cost's unit 1 back to the parameters, with
    ∂J/∂p values for small parameters).

    The backward model's ``order`` lists the boxes in the order the engine ran their ops (a box
    appears again if the engine came back to it after another one), for
    :func:`~viz.render_graphviz.backprop_steps`. With ``checks=True`` (forward view) every box
    is coloured by :func:`~viz.graph_model.check_ops` of its ops: red if any op's backward
    disagrees with finite differences (the box names it), orange at the first NaN/Inf, grey
    when every op was too large to check, green otherwise.
    """
    _check_root(output)
    w = words(lang)
    if trace is None and model is None:
        raise ValueError("collapse='module' needs trace= (from viz.trace_modules(model)) or "
                         "model= (an nn.Module, to map ops through their parameters)")
    if view not in ("forward", "backward"):
        raise ValueError(f"module_model: view must be 'forward' or 'backward', not {view!r}")
    if view == "backward" and output.grad_fn is None:
        raise RuntimeError("viz.draw_backward: the output has no grad_fn")
    order = _walk(output)
    owner = assign_ops(order, trace, model)
    tnames = tensor_names(names, model if model is not None else
                          (trace.roots[0] if trace is not None and len(trace.roots) == 1
                           else None))
    if trace is not None and len(trace.roots) > 1 and model is None:
        for name, module in _named_modules(trace.roots):
            for pname, p in module.named_parameters(recurse=False):
                tnames.setdefault(id(p), f"{name}.{pname}")

    def unit(node) -> str:
        call = owner.get(id(node))
        return f"mod{id(call)}" if call is not None else f"op{id(node)}"

    units = {unit(n) for n in order}
    if max_nodes is not None and len(units) > max_nodes:
        return _summary(view, lang, order, len(units), max_nodes)
    steps, leaf_grads = run_backward(output, order) if view == "backward" else ({}, {})
    status = ag.checks.check_ops(order, max_inputs) if checks else {}
    fmt = lambda a: format_array(a, max_elements)      # noqa: E731

    g = GraphModel(view, lang)
    ops_of: dict[str, list] = {}
    for node in order:
        ops_of.setdefault(unit(node), []).append(node)
    calls = {f"mod{id(c)}": c for c in owner.values()}
    params_of: dict[str, list] = {}
    own_cache: dict[int, set[int]] = {}
    edges: dict[tuple[str, str], list[str]] = {}
    tensors = []                                        # keep ids valid while in use

    def add_edge(src: str, dst: str, label: str) -> None:
        labels = edges.setdefault((src, dst), [])
        if label not in labels:
            labels.append(label)

    def leaf_node(t) -> str:
        tid = f"t{id(t)}"
        if tid in leaf_ids:
            return tid
        leaf_ids.add(tid)
        tensors.append(t)
        name = tnames.get(id(t)) or getattr(t, "name", None)
        kind = "parameter" if t.requires_grad else ("input" if t.ndim > 0 or name else
                                                    "constant")
        lines = [name] if name else []
        lines.append(format_shape(t.shape))
        if view == "forward" and t.size <= max_elements:
            lines.append(fmt(t.data))
        if view == "backward" and t.requires_grad:
            kind = "leaf_grad"
            lg = leaf_grads.get(id(t), (t, None))[1]
            lines = [f"∂J/∂{name}" if name else w["leaf_grad"], format_shape(t.shape)]
            if lg is not None and t.size <= max_elements:
                lines.append(fmt(lg))
        g.nodes.append(VNode(tid, kind, lines, {"name": name, "shape": t.shape}))
        return tid

    leaf_ids: set[str] = set()
    for uid, nodes in ops_of.items():
        call = calls.get(uid)
        if call is not None:
            own = own_cache.setdefault(id(call.module), _own_params(call.module))
        for node in nodes:
            for t in node.inputs:
                if t.grad_fn is not None:
                    src = unit(t.grad_fn)
                    if src != uid:
                        add_edge(src, uid, format_shape(t.shape))
                    continue
                if call is not None and t.requires_grad and id(t) in own:
                    if all(p is not t for p in params_of.get(uid, ())):
                        params_of.setdefault(uid, []).append(t)
                    continue
                if call is not None and not t.requires_grad and t.size == 1 \
                        and id(t) not in tnames:
                    continue                            # a module's internal constant
                if view == "backward" and not t.requires_grad:
                    continue                            # no gradient flows to it
                add_edge(leaf_node(t), uid, format_shape(t.shape))

    for uid, nodes in ops_of.items():
        call = calls.get(uid)
        # a fused layer counts as its two drawn steps, linear and ψ (graph_model.fused_activation)
        counts = Counter(name for n in nodes for name in _step_names(n))
        if call is not None:
            out_shape = format_shape(nodes[0].output.shape) if nodes else ""
            ops_text = ", ".join(f"{k}×{v}" if v > 1 else k for k, v in counts.most_common())
            lines = [call.label, f"({type(call.module).__name__})",
                     f"{sum(counts.values())} {w['ops']}: {ops_text}"]
            if view == "forward":
                lines.append(f"→ {out_shape}")
            else:
                lines.insert(0, w["inverse_module"])
            kind = "module"
            if status:
                kind, check_line = _box_check(nodes, status, w["ops"])
                lines.append(check_line)
            g.nodes.append(VNode(uid, kind, lines,
                                 {"module": call.label, "class": type(call.module).__name__,
                                  "n_ops": sum(counts.values()), "ops": dict(counts)}))
            params = params_of.get(uid, [])
            if params:
                pid = f"params{uid}"
                plines = [w["parameters"]]
                param_lines = {}
                for p in params:
                    param_lines[id(p)] = len(plines)
                    pname = tnames.get(id(p)) or "?"
                    text = f"{pname} {format_shape(p.shape)}"
                    if view == "backward":
                        text = "∂J/∂" + text
                    lg = leaf_grads.get(id(p), (p, None))[1] if view == "backward" else None
                    if lg is not None and p.size <= max_elements:
                        text += f" = {fmt(lg)}"
                    plines.append(text)
                g.nodes.append(VNode(pid, "parameter" if view == "forward" else "leaf_grad",
                                     plines, {"params": [tnames.get(id(p)) for p in params],
                                              "param_lines": param_lines}))
                add_edge(pid, uid, "")
                g.groups.append((f"cluster_{uid}", call.label, [uid, pid]))
        else:
            (node,) = nodes
            kind, lines = "op", [" → ".join(_step_names(node))]
            if node in status:
                kind = "op_" + status[node]
                lines.append(_CHECK_TEXT[status[node]])
            g.nodes.append(VNode(uid, kind, lines, {"op": node.op.__name__}))

    root_unit = unit(output.grad_fn) if output.grad_fn is not None else None
    if view == "forward":
        out_lines = [tnames.get(id(output)) or w["output"], format_shape(output.shape)]
        if output.size <= max_elements:
            out_lines.append(fmt(output.data))
        g.nodes.append(VNode("output", "output", out_lines, {"shape": output.shape}))
        if root_unit is not None:
            add_edge(root_unit, "output", format_shape(output.shape))
        for (src, dst), labels in edges.items():
            g.edges.append(VEdge(src, dst, labels if labels != [""] else []))
    else:
        for node in steps:                              # engine order, runs of one box merged
            if not g.order or g.order[-1] != unit(node):
                g.order.append(unit(node))
        seed = np.ones(output.shape, dtype=output.dtype)
        g.nodes.append(VNode("unit", "unit", ["1", w["unit"]], {"value": seed}))
        g.edges.append(VEdge("unit", root_unit, [f"δ = {fmt(seed)}"], "grad"))
        for (src, dst), labels in edges.items():       # reversed: the gradient flows back
            g.edges.append(VEdge(dst, src, [f"δ {x}" for x in labels if x], "grad"))
    return g


def _step_names(node) -> list[str]:
    """The op names drawn for ``node``: ``["linear", "tanh"]`` for a fused layer."""
    act = fused_activation(node)
    return [node.op.name] if act is None else ["linear", act]


_CHECK_TEXT = {"ok": "✓ gradcheck", "fail": "✗ gradcheck", "skipped": "(not checked)",
               "nonfinite": "NaN/Inf origin"}


def _box_check(nodes: list, status: dict, ops_word: str) -> tuple[str, str]:
    """A module box's colour and line from its ops' check results (worst first)."""
    found = [status[n] for n in nodes if n in status]
    for worst in ("nonfinite", "fail"):
        bad = ["+".join(_step_names(n)) for n in nodes if status.get(n) == worst]
        if bad:
            return f"module_{worst}", f"{_CHECK_TEXT[worst]}: {', '.join(dict.fromkeys(bad))}"
    if found and all(x == "skipped" for x in found):
        return "module_skipped", _CHECK_TEXT["skipped"]
    checked = sum(x == "ok" for x in found)
    return "module_ok", f"{_CHECK_TEXT['ok']} ({checked}/{len(nodes)} {ops_word})"


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
    members: dict[int, list[str]] = {}
    uses: dict[int, set] = {}                          # id(parameter) → calls of its module
    module_calls: dict[int, list] = {}
    for c in calls.values():
        module_calls.setdefault(id(c.module), []).append(c)
    own: dict[int, set[int]] = {}
    for node in order:
        call = owner.get(id(node))
        if call is None:
            continue
        for t in node.inputs:
            if t.grad_fn is None and t.requires_grad:
                params = own.setdefault(id(call.module), {
                    id(p) for p in call.module.parameters(recurse=False)})
                if id(t) in params:
                    uses.setdefault(id(t), set()).add(id(call))
    present = {n.id for n in g.nodes}
    _adopt_between(order, owner, parent)

    def put(node_id: str, call) -> None:
        if call is not None and node_id in present:
            members.setdefault(id(call), []).append(node_id)

    consumers = _consumers(order)
    for node in order:
        call = owner.get(id(node))
        # a fused layer's two steps (graph_model.fused_activation): the linear step goes with
        # the node's module, the activation step where act(linear(...)) would put its own op
        act_call = _fused_activation_owner(node, call, owner, parent, consumers) \
            if fused_activation(node) is not None else call
        # ids of viz.graph_model / viz.backward_model: a fused layer's linear step is
        # "oplin<id>" / "invlin<id>", every other step "op<id>" / "inv<id>"
        if g.view == "forward":
            put(f"oplin{id(node)}", call)
            put(f"op{id(node)}", act_call)
        else:
            put(f"invlin{id(node)}", call)
            put(f"inv{id(node)}", act_call)
            put(f"sumt{id(node.output)}", act_call)
    for pid, users in uses.items():
        if len(users) == 1:
            (cid,) = users
            call = calls[cid]
            for prefix in ("t", "leaft", "sumt"):
                put(f"{prefix}{pid}", call)
    # constants of a single module call (the 2.0 in "relu(fc(x)) * 2.0") go with it
    if g.view == "forward":
        consumers: dict[int, set] = {}
        for node in order:
            for t in node.inputs:
                if t.grad_fn is None and not t.requires_grad and t.size == 1:
                    consumers.setdefault(id(t), set()).add(id(owner.get(id(node))))
        for tid, cids in consumers.items():
            if len(cids) == 1 and next(iter(cids)) in calls:
                node_id = f"t{tid}"
                if node_id in present and g.node(node_id).kind == "constant":
                    put(node_id, calls[next(iter(cids))])
    # keep a cluster if it or one of its descendants holds a node
    keep: set[int] = set()
    for cid in members:
        c = calls[cid]
        while c is not None and id(c) not in keep:
            keep.add(id(c))
            c = parent.get(id(c))
    name = lambda c: f"cluster_m{id(c)}"               # noqa: E731
    ordered = [c for c in _all_calls(calls, parent) if id(c) in keep]
    for c in ordered:
        g.groups.append((name(c), f"{c.label} ({type(c.module).__name__})",
                         members.get(id(c), [])))
        up = parent.get(id(c))
        if up is not None:
            g.group_parent[name(c)] = name(up)
    return g


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
