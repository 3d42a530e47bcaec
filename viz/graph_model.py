"""The graph model behind the pictures: nodes, edges and their labels, without Graphviz.

Two views of one recorded computation:

* :func:`forward_model` — op nodes and tensor nodes (name, shape, small values, ``.grad``).
* :func:`backward_model` — the course's *red neuronal inversa* (001, "Backpropagation (resumen)"):
  from the cost's *unit 1* back to the leaves, each op drawn as its inverse rule and every edge
  labelled with the gradient it carries. The gradients come from a backward pass of our own
  (``ag.grad`` with ``retain_graph=True``, ``hooks=False`` and an engine observer), so the user's
  ``.grad`` is left untouched and the user's tensor hooks are not called.

Both walk the graph with ``autograd_core.graph.walk.topological_order`` (no recursion), and both
summarize instead of drawing when the graph has more than ``max_nodes`` ops.

A fused layer — one ``LinearActivation`` node ψ(x·Wᵀ + b), as ``nn.Sequential`` records a Linear
followed by ReLU/Tanh/Sigmoid — is drawn exactly as ``act(linear(x, w, b))`` would be: forward,
the op "linear" (id ``op<node>``), the weighted input z (``z<node>``, its values recomputed from the
node's inputs) and the op ψ (``act<node>``); backward, the ψ' step (``inv<node>``: × ψ'(z), read
from the output a — tanh 1 − a², sigmoid a(1 − a), relu [a > 0]) and then the double weighted
output (``lin<node>``, δ_z = grad ⊙ ψ'(z)) with the engine's own ∂J/∂x, ∂J/∂W, ∂J/∂b. The two
inverse steps are two entries of ``order``, so ``backprop_steps`` shows them as two frames, ψ'
first, as the unfused graph would.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
from autograd_core.graph.walk import topological_order

from .labels import format_array, format_axes_sum, format_number, format_shape, words

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
    if model is not None:
        for name, p in model.named_parameters():
            found.setdefault(id(p), name)
    if names:
        for name, value in dict(names).items():
            if isinstance(value, ag.Tensor) and not str(name).startswith("_"):
                found.setdefault(id(value), str(name))
    return found


def _name_of(t, names: dict[int, str]) -> str | None:
    return names.get(id(t)) or getattr(t, "name", None)


def _tensor_kind(t, root, name) -> str:
    if t is root:
        return "output"
    if t.grad_fn is not None:
        return "intermediate"
    if t.requires_grad:
        return "parameter"
    return "input" if t.ndim > 0 or name else "constant"


# --- the walk -----------------------------------------------------------------------------------
def _check_root(output) -> None:
    if not isinstance(output, ag.Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(output).__name__}")


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
    lines = [w["summary"], f"{len(order)} {w['ops']} (> {max_nodes}), {n_tensors} {w['tensors']}"]
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


# --- fused layers ---------------------------------------------------------------------------------
#: the op drawn for the activation step of a fused layer (``LinearActivation``), by ψ's name
_ACTIVATION_OPS = {"tanh": ag.ops.activations.Tanh, "relu": ag.ops.activations.ReLU,
                   "sigmoid": ag.ops.activations.Sigmoid}


def fused_activation(node) -> str | None:
    """ψ's name when ``node`` is a fused layer ψ(x·Wᵀ + b) (``LinearActivation``), else None.

    viz draws such a node as the two steps the course draws (and the user would get from
    ``act(linear(x, w, b))``): the weighted input z = x·Wᵀ + b, then the activation ψ(z).
    """
    if node.op.__name__ != "LinearActivation":
        return None
    return (node.kwargs or {}).get("activation")


def fused_z(node) -> np.ndarray:
    """z = x·Wᵀ + b of a fused layer, recomputed from its inputs (without recording a node)."""
    with ag.no_grad():
        return ag.linear(*node.inputs).data


def activation_derivative(name: str, a: np.ndarray) -> np.ndarray:
    """ψ'(z) from the activation's output a = ψ(z): tanh 1 − a², sigmoid a(1 − a), relu [a > 0]."""
    a = np.asarray(a)
    if name == "tanh":
        d = 1 - a * a
    elif name == "sigmoid":
        d = a * (1 - a)
    elif name == "relu":
        d = a > 0
    else:
        raise ValueError(f"viz: unknown activation {name!r} in a fused layer")
    return np.asarray(d, dtype=a.dtype)


# --- forward ------------------------------------------------------------------------------------
def forward_model(output, *, values: bool = True, grads: bool = False, names=None, model=None,
                  lang: str = "en", max_elements: int = 6,
                  max_nodes: int | None = MAX_NODES, checks: bool = False,
                  max_inputs: int = 2000) -> GraphModel:
    """The forward graph: tensor nodes (name, shape, values, grad) and op nodes between them.

    With ``checks=True`` each op node's kind says whether its own backward rule agrees with
    finite differences ("op_ok", "op_fail", "op_skipped": too large to check) and where a NaN or
    Inf first appeared ("op_nonfinite"); see :func:`check_ops`.
    """
    _check_root(output)
    words(lang)
    order = _walk(output)
    if max_nodes is not None and len(order) > max_nodes:
        return _summary("forward", lang, order, _tensor_count(order), max_nodes)
    names = tensor_names(names, model)
    g = GraphModel("forward", lang)
    seen: set[int] = set()
    tensors = []                                   # keep them alive while ids are in use

    def tensor_node(t) -> str:
        tid = f"t{id(t)}"
        if id(t) in seen:
            return tid
        seen.add(id(t))
        tensors.append(t)
        name = _name_of(t, names)
        kind = _tensor_kind(t, output, name)
        lines = [name] if name else []
        lines.append(format_shape(t.shape) + ("" if t.dtype == np.float32 else f" {t.dtype}"))
        small = t.size <= max_elements
        if values and small:
            lines.append(format_array(t.data, max_elements))
        if grads and t.grad is not None and small:
            lines.append(f"{words(lang)['grad']} {format_array(t.grad.data, max_elements)}")
        g.nodes.append(VNode(tid, kind, lines, {"name": name, "shape": t.shape}))
        return tid

    def op_node(oid: str, op, kwargs, node) -> None:
        lines = [op.name]
        extra = _kwargs_text(kwargs)
        if extra:
            lines.append(extra)
        lines.append(op.inverse_rule.label(lang)[0])
        kind = "op"
        if node in status:
            kind = "op_" + status[node]
            lines.append({"ok": "✓ gradcheck", "fail": "✗ gradcheck", "skipped": "(not checked)",
                          "nonfinite": "NaN/Inf origin"}[status[node]])
        data = {"op": op.__name__}
        if op is not node.op:
            data["fused"] = node.op.__name__
        g.nodes.append(VNode(oid, kind, lines, data))

    tensor_node(output)
    status = check_ops(order, max_inputs) if checks else {}
    for node in order:                              # consumers first
        oid = f"op{id(node)}"
        act = fused_activation(node)
        if act is not None:
            # NOTE: a fused layer is drawn as act(linear(x, w, b)): the activation step (its
            # own op box, "act<id>"), the weighted input z between them ("z<id>"), then the
            # linear step, which keeps the node's id "op<id>" (it receives the inputs)
            aid, zid = f"act{id(node)}", f"z{id(node)}"
            op_node(aid, _ACTIVATION_OPS[act], None, node)
            g.edges.append(VEdge(aid, tensor_node(node.output)))
            z = fused_z(node)
            zlines = [format_shape(z.shape) + ("" if z.dtype == np.float32 else f" {z.dtype}")]
            if values and z.size <= max_elements:
                zlines.append(format_array(z, max_elements))
            g.nodes.append(VNode(zid, "intermediate", zlines, {"name": None, "shape": z.shape,
                                                               "fused_z": True}))
            g.edges.append(VEdge(zid, aid))
            op_node(oid, ag.ops.linalg.Linear, None, node)
            g.edges.append(VEdge(oid, zid))
        else:
            op_node(oid, node.op, node.kwargs, node)
            g.edges.append(VEdge(oid, tensor_node(node.output)))
        for t in node.inputs:
            g.edges.append(VEdge(tensor_node(t), oid))
    g.nodes.reverse()                               # producers first reads better in DOT
    g.edges.reverse()
    return g


def _kwargs_text(kwargs: dict) -> str:
    parts = []
    for key, value in (kwargs or {}).items():
        if value is None or key in ("op_name", "input_index"):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = format_number(value) if isinstance(value, float) else value
        text = f"{key}={value}"
        if len(text) <= 24:
            parts.append(text)
    return ", ".join(parts)


# --- backward -----------------------------------------------------------------------------------
def check_ops(order: list, max_inputs: int = 2000) -> dict:
    """``{node: status}``: does each op's backward rule agree with its forward?

    Each op is re-run alone on float64 copies of its inputs and checked with ``ag.gradcheck``
    ("ok" or "fail"); ops with more than ``max_inputs`` input elements are "skipped". An op whose
    output holds NaN/Inf while none of its inputs does is "nonfinite" (where the trouble starts).
    """
    status = {}
    for node in order:
        inputs = node.inputs
        out = node.output.data
        if not np.all(np.isfinite(out)) and all(
                t.dtype.kind != "f" or np.all(np.isfinite(t.data)) for t in inputs):
            status[node] = "nonfinite"
            continue
        if sum(t.size for t in inputs) > max_inputs:
            status[node] = "skipped"
            continue
        copies = [ag.tensor(t.data.astype(np.float64), requires_grad=t.requires_grad)
                  if t.dtype.kind == "f" else t for t in inputs]
        op, kwargs = node.op, node.kwargs or {}
        try:
            ok = ag.gradcheck(lambda *xs, op=op, kw=kwargs: op.apply(*xs, **kw), copies,
                              raise_exception=False, blame=False)
        except Exception:                               # noqa: BLE001 — reported on the node
            ok = False
        status[node] = "ok" if ok else "fail"
    return status


@dataclass
class InputCheck:
    """The end-to-end check of ∂J/∂input (J = the output, or its sum) for one input tensor.

    ``status`` is "ok", "fail" or "unused" (no path from the input to the output);
    ``method`` "full" (every element perturbed) or "projected" (random directions u:
    ⟨∂J/∂x, u⟩ against (J(x + εu) − J(x − εu)) / 2ε); ``max_error`` the largest
    |analytical − numerical|.
    """

    name: str
    tensor: object
    status: str
    method: str
    max_error: float
    analytical: np.ndarray
    numerical: np.ndarray

    def text(self, lang: str = "en") -> str:
        w = words(lang)
        if self.status == "unused":
            return f"∂J/∂{self.name}: {w['unused']}"
        mark, verdict = ("✓", w["agrees"]) if self.status == "ok" else ("✗", w["disagrees"])
        how = f", {w['projected']}" if self.method == "projected" else ""
        return (f"∂J/∂{self.name} {w['end_to_end']}: {mark} {verdict} "
                f"({w['max_error']} = {self.max_error:.1e}{how})")


def replay(output, order: list, substitute: dict):
    """Run the recorded graph of ``output`` again, in float64, with some tensors replaced.

    ``substitute`` maps ``id(tensor)`` → the Tensor to use instead; every other floating leaf
    is used as a float64 copy without requires_grad (so the user's tensors and hooks are never
    touched). Each op is re-applied with its recorded keywords (``node.op.apply``), so a random
    op's mask, recorded as a constant input, is the same. Returns the new output.
    """
    values: dict[int, object] = {}

    def value(t):
        if id(t) in substitute:
            return substitute[id(t)]
        if id(t) in values:
            return values[id(t)]
        if t.dtype.kind == "f":
            v = ag.tensor(t.data.astype(np.float64))
        else:
            v = t
        values[id(t)] = v
        return v

    for node in reversed(order):                        # producers first
        out = node.output
        if id(out) in substitute:
            continue
        values[id(out)] = node.op.apply(*[value(t) for t in node.inputs], **(node.kwargs or {}))
    return value(output)


def check_inputs(output, inputs, order: list, names: dict[int, str], *, max_full: int = 100,
                 projections: int = 3, eps: float = 1e-6, atol: float = 1e-5,
                 rtol: float = 1e-3) -> list[InputCheck]:
    """End-to-end gradient check of ``output`` with respect to each of ``inputs``.

    The analytical ∂J/∂x comes from the engine (``ag.grad(..., hooks=False)``) on a float64
    :func:`replay` of the graph; the numerical one from central differences of the same replay
    (J = the output, or its sum when it is not a scalar, as in the backward view). Inputs with
    at most ``max_full`` elements are perturbed element by element, larger ones along
    ``projections`` random unit directions. Agreement: |analytical − numerical| ≤
    atol + rtol·|numerical| everywhere (``ag.gradcheck``'s tolerances).
    """
    if isinstance(inputs, ag.Tensor):
        inputs = [inputs]
    results = []
    for k, x in enumerate(inputs):
        if not isinstance(x, ag.Tensor):
            raise TypeError(f"viz.draw_gradcheck: inputs must be Tensors, got "
                            f"{type(x).__name__} at position {k}")
        if x.dtype.kind != "f":
            raise TypeError(f"viz.draw_gradcheck: input {k} has dtype {x.dtype}; only floating "
                            "tensors can be checked by finite differences")
        name = _name_of(x, names) or f"input{k}"
        base = x.data.astype(np.float64)

        def J(xv, x=x):
            with ag.no_grad():
                out = replay(output, order, {id(x): ag.tensor(xv)})
            return float(np.sum(out.data))

        x64 = ag.tensor(base.copy(), requires_grad=True)
        with ag.enable_grad():
            out = replay(output, order, {id(x): x64})
            if out.requires_grad:
                seed = None if out.size == 1 else ag.ones_like(out)
                (g,) = ag.grad(out, [x64], grad_outputs=seed, allow_unused=True, hooks=False)
            else:
                g = None
        if g is None:
            zeros = np.zeros(x.shape)
            results.append(InputCheck(name, x, "unused", "full", 0.0, zeros, zeros))
            continue
        analytical = np.asarray(g.data, dtype=np.float64)
        if x.size <= max_full:
            numerical = np.zeros(x.shape)
            flat = numerical.reshape(-1)
            for i in range(x.size):
                d = np.zeros(x.size)
                d[i] = eps
                d = d.reshape(x.shape)
                flat[i] = (J(base + d) - J(base - d)) / (2 * eps)
            method, a_cmp, n_cmp = "full", analytical, numerical
        else:
            rng = np.random.default_rng(0)
            a_cmp, n_cmp = np.zeros(projections), np.zeros(projections)
            for i in range(projections):
                u = rng.standard_normal(x.shape)
                u /= np.linalg.norm(u) or 1.0
                a_cmp[i] = np.sum(analytical * u)
                n_cmp[i] = (J(base + eps * u) - J(base - eps * u)) / (2 * eps)
            method, numerical = "projected", n_cmp
        error = np.abs(a_cmp - n_cmp)
        ok = bool(np.all(error <= atol + rtol * np.abs(n_cmp)))
        results.append(InputCheck(name, x, "ok" if ok else "fail", method,
                                  float(error.max()) if error.size else 0.0, analytical,
                                  numerical))
    return results


#: how an input's end-to-end result marks its node (added to the node's own style)
CHECK_ATTRS = {"ok": dict(color="#1f7a35", penwidth="3"),
               "fail": dict(color="#b00000", penwidth="3.5"),
               "unused": dict(color="#888888", penwidth="2", style="dashed,filled")}


def annotate_input_checks(g: GraphModel, checks: list[InputCheck]) -> GraphModel:
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
            n.lines[-1:-1] = [c.text(g.lang) for c in checks]
    for c in checks:
        g.notes.append(({"ok": "op_ok", "fail": "op_fail", "unused": "op_skipped"}[c.status],
                        c.text(g.lang)))
    return g


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


def _local_derivative(node):
    """ψ'(z) for a one-input elementwise op: its backward rule applied to ones (or None)."""
    inputs = node.inputs
    if len(inputs) != 1:
        return None
    try:
        out = node.output
        if out.shape != inputs[0].shape:
            return None
        with ag.no_grad():
            d = node.op.backward(node, ag.ones_like(out))
        if isinstance(d, tuple):
            d = d[0]
        return None if d is None else np.asarray(getattr(d, "data", d))
    except Exception:                                   # noqa: BLE001 — a label, never an error
        return None


def _loss_derivative(node):
    """L'(y) of a loss with a scalar output and a target (``mse_loss``: 2(y − t)/N): its
    backward rule applied to a seed of 1, the gradient towards the first input (or None)."""
    out = node.output
    if len(node.inputs) < 2 or out.size != 1:
        return None
    try:
        with ag.no_grad():
            d = node.op.backward(node, ag.ones_like(out))
        d = d[0] if isinstance(d, tuple) else d
        return None if d is None else np.asarray(getattr(d, "data", d))
    except Exception:                                   # noqa: BLE001 — a label, never an error
        return None


def _weight_index(node, names: dict[int, str]) -> int | None:
    """Which input of a weighted input plays w (the other is the activation a)."""
    inputs = node.inputs
    if node.op.__name__ in _LAYER_OPS:
        return 1
    if len(inputs) != 2:
        return None
    params = [i for i, t in enumerate(inputs) if t.grad_fn is None and t.requires_grad]
    if len(params) == 1:
        return params[0]
    for i, t in enumerate(inputs):
        name = _name_of(t, names) or ""
        if name[:1] in ("w", "W"):
            return i
    return 1 if node.op.__name__ == "MatMul" else 0


def backward_model(output, *, names=None, model=None, lang: str = "en", max_elements: int = 6,
                   max_nodes: int | None = MAX_NODES) -> GraphModel:
    """The inverse network: unit 1 → inverse rules → sums of outputs → ∂J/∂leaf."""
    _check_root(output)
    w = words(lang)
    if output.grad_fn is None:
        raise RuntimeError("viz.draw_backward: the output has no grad_fn (it is a leaf, or was "
                           "computed under no_grad / from tensors that do not require grad)")
    order = _walk(output)
    if max_nodes is not None and len(order) > max_nodes:
        return _summary("backward", lang, order, _tensor_count(order), max_nodes)
    names = tensor_names(names, model)
    steps, leaf_grads = run_backward(output, order)
    fmt = lambda a: format_array(a, max_elements)      # noqa: E731
    g = GraphModel("backward", lang)

    seed = np.ones(output.shape, dtype=output.dtype)
    unit_fwd, unit_inv = R.COST_SEED.label(lang)
    g.nodes.append(VNode("unit", "unit", ["1", unit_inv], {"value": seed}))
    g.edges.append(VEdge("unit", f"inv{id(output.grad_fn)}", [f"δ = {fmt(seed)}"], "grad"))

    # every use of a tensor that gets a gradient: id(t) → [(consumer node, input index)]
    uses: dict[int, list] = {}
    keep = []
    for node in order:
        for i, t in enumerate(node.inputs):
            if t.requires_grad and node in steps and steps[node].input_grads[i] is not None:
                uses.setdefault(id(t), []).append((node, i))
                keep.append(t)

    def target_of(t) -> str:
        if t.grad_fn is not None:
            return f"inv{id(t.grad_fn)}"
        return f"leaf{id(t)}"

    # a fused layer ψ(x·Wᵀ + b) is drawn as the two inverse steps of act(linear(x, w, b)): the
    # ψ' step keeps the node's id "inv<id>" (the gradient of a arrives there), then the double
    # weighted output "lin<id>"; backprop_steps shows them as two frames, ψ' first
    deltas = {}                                         # fused node → (ψ'(z), δ_z)
    for node in order:
        step = steps.get(node)
        if step is None:
            continue
        act = fused_activation(node)
        if act is None:
            g.nodes.append(_inverse_node(node, step, lang, fmt))
            continue
        d = activation_derivative(act, node.output.data)
        delta = step.grad * d
        deltas[node] = (d, delta)
        g.nodes.extend(_fused_inverse_nodes(node, act, step.grad, d, delta, lang, fmt))
    for node in steps:                                  # the observer saw them in engine order
        g.order.append(f"inv{id(node)}")
        if node in deltas:
            g.order.append(f"lin{id(node)}")
    for node in order:                                  # edges from this node to its inputs
        step = steps.get(node)
        if step is None:
            continue
        src = f"inv{id(node)}"
        if node in deltas:
            lin = f"lin{id(node)}"
            g.edges.append(VEdge(src, lin, ["ψ'·δ", fmt(deltas[node][1])], "grad"))
            src = lin
        widx = _weight_index(node, names) if node.op.inverse_rule is R.WEIGHTED_INPUT else None
        for i, t in enumerate(node.inputs):
            gi = step.input_grads[i]
            if gi is None:
                continue
            lines = _edge_lines(node, i, t, widx, names, lang) + [fmt(gi)]
            raw = _summed_shape(node, i, step.raw_shapes[i])
            if raw is not None and tuple(raw) != tuple(t.shape):
                lines.append(format_axes_sum(raw, t.shape, lang))
            dst = target_of(t)
            if len(uses.get(id(t), ())) > 1:
                dst = f"sum{id(t)}"
            g.edges.append(VEdge(src, dst, lines, "grad"))

    done: set[int] = set()
    for t in keep:                                       # sums of outputs, then the leaves
        if id(t) in done:
            continue
        done.add(id(t))
        tuses = uses[id(t)]
        name = _name_of(t, names)
        if len(tuses) > 1:
            contributions = [steps[n].input_grads[i] for n, i in tuses]
            total = contributions[0]
            for c in contributions[1:]:
                total = total + c
            lines = [w["sum_of_outputs"] + (f" ({name})" if name else "")]
            lines += [f"{w['from']} {n.op.name}: {fmt(c)}"
                      for (n, _), c in zip(tuses, contributions)]
            lines.append(f"Σ = {fmt(total)}")
            g.nodes.append(VNode(f"sum{id(t)}", "sum_of_outputs", lines,
                                 {"contributions": contributions, "total": total}))
            g.edges.append(VEdge(f"sum{id(t)}", target_of(t), [f"δ = {fmt(total)}"], "grad"))
        if t.grad_fn is None:
            _, lg = leaf_grads.get(id(t), (t, None))
            label = f"∂J/∂{name}" if name else w["leaf_grad"] + " " + format_shape(t.shape)
            lines = [label, fmt(lg) if lg is not None else "—"]
            g.nodes.append(VNode(f"leaf{id(t)}", "leaf_grad", lines, {"grad": lg, "name": name}))
    return g


def _inverse_node(node, step, lang: str, fmt) -> VNode:
    rule = node.op.inverse_rule
    w = words(lang)
    fwd, inv = rule.label(lang)
    op = node.op.name
    lines = [inv]
    kind = "inverse"
    if rule in (R.ACTIVATION, R.ELEMENTWISE, R.LOSS):
        d = _local_derivative(node)
        if node.op.__name__ == "PowScalar":
            fn = f"(x^{_kwargs_text(node.kwargs).split('=')[-1]})'"
        else:
            fn = f"{op}'(z)" if rule is R.ACTIVATION else f"{op}'(x)"
        if d is None and rule is R.LOSS:
            d, fn = _loss_derivative(node), "L'(y)"
            if d is not None:
                lines.append(f"({op})")
        if d is not None:
            lines.append(f"× {fn} = {fmt(d)}")
        else:
            lines.append(f"({op})")
        kind = "derivative"
    elif rule is R.WEIGHTED_INPUT:
        lines = [w["double_weighted_output"], f"({op})"]
        kind = "weighted"
    elif rule is R.SUM_OF_INPUTS:
        lines = [w["branch_point"], f"({op})"]
        kind = "branch"
    else:
        lines.append(f"({op})")
    lines.append(f"δ = {fmt(step.grad)}")
    return VNode(f"inv{id(node)}", kind, lines, {"op": node.op.__name__, "rule": rule.value,
                                                 "delta": step.grad})


def _fused_inverse_nodes(node, act: str, grad, d, delta, lang: str, fmt) -> tuple[VNode, VNode]:
    """The two inverse nodes of a fused layer: ψ' (δ = ``grad``, the gradient of a arriving,
    times ψ'(z) = ``d``) and the double weighted output (δ_z = ``delta`` = grad ⊙ ψ'(z))."""
    w = words(lang)
    psi = VNode(f"inv{id(node)}", "derivative",
                [R.ACTIVATION.label(lang)[1], f"× {act}'(z) = {fmt(d)}", f"δ = {fmt(grad)}"],
                {"op": _ACTIVATION_OPS[act].__name__, "rule": R.ACTIVATION.value,
                 "delta": grad, "fused": node.op.__name__})
    lin = VNode(f"lin{id(node)}", "weighted",
                [w["double_weighted_output"], "(linear)", f"δ = {fmt(delta)}"],
                {"op": "Linear", "rule": R.WEIGHTED_INPUT.value, "delta": delta,
                 "fused": node.op.__name__})
    return psi, lin


_LAYER_OPS = ("Linear", "LinearActivation")


def _summed_shape(node, i: int, raw):
    """The shape of input ``i``'s gradient before backward summed it over broadcast axes.

    A layer's bias gradient comes back already summed over the batch (one compiled call), so
    its unsummed shape (batch…, out) is read from the input instead.
    """
    if node.op.__name__ in _LAYER_OPS and i == 2 and raw is not None:
        x, b = node.inputs[0], node.inputs[2]
        if tuple(raw) == tuple(b.shape) and x.ndim > 1:
            return tuple(x.shape[:-1]) + tuple(b.shape)
    return raw


def _edge_lines(node, i: int, t, widx, names, lang: str) -> list[str]:
    """What the gradient on the edge from ``node`` to its input ``i`` is, in the course's terms."""
    rule = node.op.inverse_rule
    w = words(lang)
    name = _name_of(t, names)
    dj = f"∂J/∂{name}" if name else None
    if rule is R.WEIGHTED_INPUT and widx is not None:
        if node.op.__name__ in _LAYER_OPS and i == 2:
            return [f"{w['constant_output']}: δ → {dj or '∂J/∂b'}"]
        if i == widx:
            return [f"a·δ = {dj or '∂J/∂w'}"]
        return ["w·δ"]
    if rule is R.SUM_OF_INPUTS:
        sign = "−δ" if node.op.__name__ == "Sub" and i == 1 else "δ"
        if node.op.__name__ == "Mean":
            sign = "δ/N"
        if t.grad_fn is None and dj and _is_bias(node, i):
            return [f"{w['constant_output']}: {sign} → {dj}"]
        return [sign]
    if rule in (R.ACTIVATION, R.ELEMENTWISE, R.LOSS):
        return [{R.ACTIVATION: "ψ'·δ", R.LOSS: "L'·δ"}.get(rule, "f'·δ")]
    return []


def _is_bias(node, i: int) -> bool:
    """Input ``i`` of a sum is the course's constant input b: the other term is a weighted input."""
    others = [t for j, t in enumerate(node.inputs) if j != i]
    return len(others) == 1 and others[0].grad_fn is not None and \
        others[0].grad_fn.op.inverse_rule is R.WEIGHTED_INPUT
