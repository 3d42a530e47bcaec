"""The inverse network (course 001, "Backpropagation (resumen)") as a graph model.

From the cost's *unidad 1* back to the leaves, every course step (:mod:`viz.steps`) becomes its
inverse: the loss L its derivative L', an activation ψ the product by ψ'(z), a weighted input the
*salida ponderada doble*, a bias the *salida constante*, a sum of inputs a *punto de
bifurcación*, and a value used more than once a *suma de salidas*. The gradients come from a
backward pass of our own (``ag.grad`` with ``retain_graph=True``, ``hooks=False`` and an engine
observer), so the user's ``.grad`` and hooks are untouched.

One rule makes the labels true: a label names the quantity whose value it shows.

* The gradient arriving at a box is ∂J/∂(its output), named as the forward picture names that
  value; δ⁽ᵏ⁾ is written only for ∂J/∂z⁽ᵏ⁾ (course 000: δ = ∂J/∂z, before the activation).
* An edge towards a value used once carries ∂J/∂(that value); towards a value used several
  times it carries one use's share, labelled "use k of w" — the *suma de salidas* node adds the
  shares and only it (or the leaf's own node) says ∂J/∂w, with the value of ``w.grad``.
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag

from .graph_model import (MAX_NODES, Drawing, GraphModel, VEdge, VNode, _check_root, _summary,
                          _tensor_count, _walk, check_sizes, drawing, run_backward)
from .labels import format_axes_sum, format_shape, value_lines, words
from .steps import Step

R = ag.InverseRule
_TITLES = {R.ACTIVATION: "derivative", R.ELEMENTWISE: "derivative", R.LOSS: "derivative",
           R.WEIGHTED_INPUT: "weighted", R.SUM_OF_INPUTS: "branch"}


def _text(key: str, lang: str) -> str:
    return ag.vocabulary.text(key, lang)


class _Pass:
    """The numbers of one backward pass, per step: ∂J/∂output and what goes to each input."""

    def __init__(self, output, d: Drawing):
        self.records, self.leaf_grads = run_backward(output, d.order)
        self.incoming: dict[str, np.ndarray] = {}
        self.outgoing: dict[str, list] = {}
        self.raw: dict[str, list] = {}
        engine_rank = {id(n): k for k, n in enumerate(self.records)}
        seed = np.ones(output.shape, dtype=output.dtype)
        for step in d.steps:                          # consumers first: δ of a fused ψ is ready
            self._fill(step, seed, d)
        self.rank = {s.id: (max(engine_rank.get(id(n), -1) for n in s.nodes),
                            0 if s.kind != "fused_linear" else 1) for s in d.steps}

    def _fill(self, step: Step, seed, d: Drawing) -> None:
        top = step.nodes[0]
        if step.kind == "loss":
            self.incoming[step.id] = seed
        elif step.kind == "fused_linear":
            self.incoming[step.id] = self.outgoing[_act_step(step, d).id][0]
        elif top in self.records:
            self.incoming[step.id] = self.records[top].grad
        if step.kind == "fused_activation":
            self.outgoing[step.id] = [_through_activation(step, self.incoming.get(step.id))]
            self.raw[step.id] = [step.inputs[0].shape]
            return
        grads, raws = [], []
        for sources in step.sources:
            parts = [self.records[n].input_grads[i] for n, i in sources if n in self.records]
            parts = [p for p in parts if p is not None]
            grads.append(sum(parts[1:], parts[0]) if parts else None)
            raws.append(self.records[sources[0][0]].raw_shapes[sources[0][1]]
                        if len(sources) == 1 and sources[0][0] in self.records else None)
        self.outgoing[step.id], self.raw[step.id] = grads, raws

    def grad_of(self, t) -> np.ndarray | None:
        return self.leaf_grads.get(id(t), (None, None))[1]


def _act_step(linear: Step, d: Drawing) -> Step:
    return next(s for s in d.steps if s.kind == "fused_activation" and s.nodes == linear.nodes)


def _through_activation(step: Step, grad) -> np.ndarray | None:
    """δ = ∂J/∂a ⊙ ψ'(z) for a fused layer's ψ step, by the engine on the step's own op."""
    if grad is None:
        return None
    z = ag.tensor(step.inputs[0].data, requires_grad=True)
    with ag.enable_grad():
        a = step.op.apply(z, **step.kwargs)
        (g,) = ag.grad(a, [z], grad_outputs=ag.tensor(grad), hooks=False)
    return g.data


def local_derivative(step: Step) -> np.ndarray | None:
    """f'(x) elementwise, for a one-input elementwise step: the engine's backward of ones."""
    if len(step.inputs) != 1 or step.output.shape != step.inputs[0].shape or step.op is None:
        return None
    x = ag.tensor(step.inputs[0].data, requires_grad=True)
    try:
        with ag.enable_grad():
            y = step.op.apply(x, **step.kwargs)
            (g,) = ag.grad(y, [x], grad_outputs=ag.ones_like(y), hooks=False, allow_unused=True)
    except Exception:                                   # noqa: BLE001 — a label, never an error
        return None
    return None if g is None else g.data


def gradient_name(name: str) -> str:
    """``δ⁽ᵏ⁾ = ∂J/∂z⁽ᵏ⁾`` for a weighted sum z⁽ᵏ⁾ (course 000), ``∂J/∂name`` otherwise."""
    if name.startswith("z⁽"):
        return f"δ{name[1:]} = ∂J/∂{name}"
    return f"∂J/∂{name}"


def short_gradient(name: str) -> str:
    """The symbol of ∂J/∂name inside a formula: δ⁽ᵏ⁾ for z⁽ᵏ⁾, else ∂J/∂name."""
    return f"δ{name[1:]}" if name.startswith("z⁽") else f"∂J/∂{name}"


# --- the model -----------------------------------------------------------------------------------
def backward_model(output, *, names=None, model=None, lang: str = "en", max_elements: int = 6,
                   max_nodes: int | None = MAX_NODES) -> GraphModel:
    """The inverse network: unit 1 → inverse steps → sums of outputs → ∂J/∂leaf."""
    _check_root(output)
    words(lang)
    check_sizes("viz.draw_backward", max_elements, max_nodes)
    if output.grad_fn is None:
        raise RuntimeError("viz.draw_backward: the output has no grad_fn (it is a leaf, or was "
                           "computed under no_grad / from tensors that do not require grad)")
    order = _walk(output)
    if max_nodes is not None and len(order) > max_nodes:
        return _summary("backward", lang, order, _tensor_count(order), max_nodes)
    d = drawing(output, names, model)
    bp = _Pass(output, d)
    g = GraphModel("backward", lang)
    root = d.steps[0]
    g.nodes.append(VNode("unit", "unit", ["1", _text("inverse.cost_seed", lang)],
                         {"value": np.ones(output.shape)}))
    g.edges.append(VEdge("unit", f"inv{root.id}", [f"∂J/∂{d.names.get(root.output.key, 'J')}"
                                                    " = 1"], "grad"))
    uses = _uses(d, bp)
    for step in d.steps:
        if step.id in bp.incoming:
            g.nodes.append(_inverse_node(step, d, bp, lang, max_elements))
            g.edges.extend(_edges_of(step, d, bp, uses, lang, max_elements))
    _sums_and_leaves(g, d, bp, uses, lang, max_elements)
    g.order = [f"inv{s.id}" for s in sorted((s for s in d.steps if s.id in bp.incoming),
                                            key=lambda s: bp.rank[s.id])]
    g.groups.extend(_neuron_groups(d, bp, lang))
    g.same_rank.extend(_beside_their_step(g))
    return g


def _beside_their_step(g: GraphModel) -> list[list[str]]:
    """A leaf's gradient sent by one step is drawn beside that step (the course's a·δ → ∂J/∂w
    leaving the inverse neuron), not in a column of its own: the picture stays as wide as the
    network is deep."""
    senders: dict[str, list] = {}
    for e in g.edges:
        senders.setdefault(e.dst, []).append(e)
    beside: dict[str, list[str]] = {}
    for dst, edges in senders.items():
        if dst.startswith("leaf") and len(edges) == 1:
            ids = beside.setdefault(edges[0].src, [edges[0].src])
            # NOTE: the second leaf of one step goes below it (the first above), so neither
            # arrow has to go around the other
            edges[0].data["below"] = len(ids) > 1
            ids.append(dst)
    return list(beside.values())


def _uses(d: Drawing, bp: _Pass) -> dict[str, list]:
    """value key → [(step, input index)] for every use that sends a gradient back."""
    uses: dict[str, list] = {}
    for step in d.steps:
        for i, v in enumerate(step.inputs):
            grads = bp.outgoing.get(step.id)
            if grads is not None and grads[i] is not None and v.requires_grad:
                uses.setdefault(v.key, []).append((step, i))
    return uses


def _inverse_node(step: Step, d: Drawing, bp: _Pass, lang: str, max_elements: int) -> VNode:
    rule = step.rule
    out = d.names.get(step.output.key, "?")
    lines = [rule.label(lang)[1], f"{out} = {step.formula}"]
    derivative = step.derivative(d.names)
    if rule is R.ACTIVATION:
        z = d.names.get(step.inputs[0].key, "z")
        if derivative:
            lines += _formula_lines(f"ψ'({z})", derivative)
    elif rule is R.LOSS:
        h = d.names.get(step.inputs[0].key, "h")
        lines += _formula_lines(f"L' = ∂J/∂{h}", derivative) if derivative else \
            [f"L' = ∂J/∂{h}"]
    elif rule is R.ELEMENTWISE and derivative:
        lines += _formula_lines("f'", derivative)
    if rule is not R.LOSS:
        lines += value_lines(gradient_name(out), bp.incoming[step.id], max_elements, lang)
    if rule in (R.ACTIVATION, R.ELEMENTWISE):
        dpsi = local_derivative(step)
        if dpsi is not None:
            symbol = "ψ'" if rule is R.ACTIVATION else "f'"
            lines += value_lines(f"× {symbol}({d.names.get(step.inputs[0].key, 'z')})", dpsi,
                                 max_elements, lang)
    data = {"op": step.op.__name__ if step.op is not None else "loss", "rule": rule.value,
            "grad": bp.incoming[step.id], "output": out, "step": step.kind}
    if step.kind.startswith("fused"):
        data["fused"] = step.nodes[0].op.__name__
    return VNode(f"inv{step.id}", _TITLES.get(rule, "inverse"), lines, data)


def _formula_lines(left: str, right: str, width: int = 24) -> list[str]:
    """``left = right`` on one line, or broken before "=" when longer than a box's ``width``
    (so a formula is never split inside, e.g. σ(z)(1 − σ(z)))."""
    line = f"{left} = {right}"
    return [line] if len(line) <= width else [left, f"= {right}"]


def _edges_of(step: Step, d: Drawing, bp: _Pass, uses: dict, lang: str, max_elements: int
              ) -> list[VEdge]:
    """One edge per input that gets a gradient: the rule that makes it and what it is.

    The value itself is written where it arrives (the producer's box, the leaf's box, or the
    *suma de salidas* that lists every use's share), so the arrows stay short.
    """
    edges = []
    grads = bp.outgoing[step.id]
    for i, v in enumerate(step.inputs):
        if grads[i] is None or not v.requires_grad:
            continue
        name = d.names.get(v.key, "?")
        value_uses = uses.get(v.key, [])
        if len(value_uses) > 1:
            k = value_uses.index((step, i)) + 1
            what = f"{_text('use', lang)} {k} {_text('of', lang)} {name}"
            dst = f"sum{v.key}"
        else:
            what = short_gradient(name) if name.startswith("z⁽") else f"∂J/∂{name}"
            dst = _target(v, d)
        batch = _batch_sum_line(step, i, d, lang)
        lines = batch + [f"= {what}"] if batch else _rule_lines(step, i, d, lang, what)
        raw = _summed_shape(step, i, bp.raw[step.id][i])
        # a sum over broadcast axes, when it adds anything up (one sample: nothing to add)
        if raw is not None and int(np.prod(raw)) != int(np.prod(v.shape)):
            is_bias = step.roles[i] == "bias" if i < len(step.roles) else False
            lines.append(f"{_text('sum_over_batch', lang)}: {format_shape(raw)}→"
                         f"{format_shape(v.shape)}" if is_bias else
                         format_axes_sum(raw, v.shape, lang))
        edges.append(VEdge(f"inv{step.id}", dst, lines, "grad",
                           {"value": grads[i], "quantity": what, "to": v.key}))
    return edges


def _batch_sum_line(step: Step, i: int, d: Drawing, lang: str) -> list[str]:
    """A weight's gradient on a batch is a sum over the samples, δᵀ·a (course: Σₓ δₓ aₓᵀ):
    ``Σ over the batch: δ⁽¹⁾ᵀ·x (m = 4)`` (written instead of the one-sample product x·δ⁽¹⁾).
    Empty for one sample or for another input."""
    if step.rule is not R.WEIGHTED_INPUT or i != _weight_index(step):
        return []
    g = short_gradient(d.names.get(step.output.key, "?"))
    if step.roles[:2] == ["activation", "weight"]:              # z = x·Wᵀ + b
        x = step.inputs[0]
        m, expr = int(np.prod(x.shape[:-1])), f"{g}ᵀ·{d.names.get(x.key, '?')}"
    else:                                                       # a product of two factors
        other = step.inputs[1 - i]
        if len(other.shape) != 2 or len(step.inputs[i].shape) != 2:
            return []
        name = d.names.get(other.key, "?")
        if i == 1:                                              # x·W: ∂J/∂W = xᵀ·δ
            m, expr = other.shape[0], f"{name}ᵀ·{g}"
        else:                                                   # W·X: ∂J/∂W = δ·Xᵀ
            m, expr = other.shape[1], f"{g}·{name}ᵀ"
    if m <= 1:
        return []
    return [f"{_text('sum_over_batch', lang)}: {expr} (m = {m})"]


def _target(v, d: Drawing) -> str:
    producer = d.producer().get(v.key)
    return f"inv{producer.id}" if producer is not None else f"leaf{v.key}"


def _weight_index(step: Step) -> int | None:
    """Which input plays w: declared ("weight"), or of two factors the parameter one."""
    if "weight" in step.roles:
        return step.roles.index("weight")
    if step.roles[:2] != ["factor", "factor"]:
        return None
    params = [i for i, v in enumerate(step.inputs) if v.is_leaf and v.requires_grad]
    if len(params) == 1:
        return params[0]
    consts = [i for i, v in enumerate(step.inputs) if not v.requires_grad]
    return 1 - consts[0] if len(consts) == 1 else 1


def _rule_lines(step: Step, i: int, d: Drawing, lang: str, what: str) -> list[str]:
    """``<the inverse rule's product> = <what it is>``, e.g. ``x·δ⁽¹⁾ = ∂J/∂W1``."""
    g = short_gradient(d.names.get(step.output.key, "?"))
    rule, role = step.rule, step.roles[i] if i < len(step.roles) else "input"
    if role == "bias" or (rule is R.SUM_OF_INPUTS and step.inputs[i].is_leaf
                          and step.inputs[i].requires_grad and _has_product(step, d)):
        return [_text("inverse.constant_input", lang)] + ([g, f"= {what}"] if g != what else [g])
    expr = None
    if rule is R.WEIGHTED_INPUT:
        widx = _weight_index(step)
        if widx is not None:
            others = [j for j in range(len(step.inputs)) if j != widx and role != "bias"
                      and (j >= len(step.roles) or step.roles[j] != "bias")]
            factor = step.inputs[others[0] if i == widx else widx]
            expr = f"{d.names.get(factor.key, '?')}·{g}"
    elif rule is R.SUM_OF_INPUTS:
        sign = step.signs[i] if step.signs else ("−" if role == "negated_term" else "+")
        mean = step.op is not None and step.op.formula_text(step.kwargs).startswith("1/N")
        expr = ("−" if sign == "−" else "") + g + ("/N" if mean else "")
    elif rule is R.ACTIVATION:
        expr = f"ψ'·{g}"
    elif rule is R.LOSS:
        expr = "L'"
    elif rule is R.ELEMENTWISE:
        expr = f"f'·{g}"
    if expr is None or expr == what:
        return [what]
    return [expr, f"= {what}"]


def _has_product(step: Step, d: Drawing) -> bool:
    producers = d.producer()
    return any(v.key in producers and producers[v.key].rule is R.WEIGHTED_INPUT
               for v in step.inputs)


def _summed_shape(step: Step, i: int, raw):
    """The shape of input ``i``'s gradient before the sum over broadcast axes. A layer's bias
    gradient comes back already summed over the batch, so its shape is read from the input."""
    if raw is not None and i < len(step.roles) and step.roles[i] == "bias":
        x, b = step.inputs[0], step.inputs[i]
        if tuple(raw) == tuple(b.shape) and len(x.shape) > 1:
            return tuple(x.shape[:-1]) + tuple(b.shape)
    return raw


def _sums_and_leaves(g: GraphModel, d: Drawing, bp: _Pass, uses: dict, lang: str,
                     max_elements: int) -> None:
    """A *suma de salidas* for every value used more than once; a node per leaf's gradient."""
    for key, value_uses in uses.items():
        v = next(s.inputs[i] for s, i in value_uses[:1])
        name = d.names.get(key, "?")
        if len(value_uses) > 1:
            shares = [bp.outgoing[s.id][i] for s, i in value_uses]
            total = sum(shares[1:], shares[0])
            lines = [_text("inverse.branch_point", lang)]
            for k, share in enumerate(shares, 1):
                lines += value_lines(f"{_text('use', lang)} {k}", share, max_elements, lang)
            lines += value_lines(f"Σ = {gradient_name(name)}", total, max_elements, lang)
            g.nodes.append(VNode(f"sum{key}", "sum_of_outputs", lines,
                                 {"contributions": shares, "total": total, "name": name}))
            g.edges.append(VEdge(f"sum{key}", _target(v, d),
                                 value_lines(gradient_name(name), total, max_elements, lang)
                                 if not v.is_leaf else [gradient_name(name)], "grad"))
        if v.is_leaf:
            lg = bp.grad_of(v.tensor)
            lines = value_lines(gradient_name(name), lg, max_elements, lang) \
                if lg is not None else \
                [gradient_name(name), "—"]
            g.nodes.append(VNode(f"leaf{key}", "leaf_grad", lines, {"grad": lg, "name": name}))


def _neuron_groups(d: Drawing, bp: _Pass, lang: str) -> list[tuple[str, str, list[str]]]:
    """One *neurona inversa* per activation: its ψ' box, the box of its weighted sum z and, when
    z is a sum of inputs, the weighted inputs summed there (the course's neuron, inverted)."""
    producers = d.producer()
    groups = []
    for step in d.steps:
        if step.rule is not R.ACTIVATION or step.id not in bp.incoming or not step.inputs:
            continue
        z = producers.get(step.inputs[0].key)
        if z is None or z.rule not in (R.WEIGHTED_INPUT, R.SUM_OF_INPUTS) \
                or z.id not in bp.incoming:
            continue
        ids = [f"inv{step.id}", f"inv{z.id}"]
        if z.rule is R.SUM_OF_INPUTS:                  # w₁x₁ + w₂x₂ + b: its weighted inputs
            for v in z.inputs:
                term = producers.get(v.key)
                if term is not None and term.rule is R.WEIGHTED_INPUT and \
                        term.id in bp.incoming and _used_once(v, d):
                    ids.append(f"inv{term.id}")
        groups.append((f"cluster_neuron{len(groups)}", _text("inverse.neuron", lang), ids))
    return groups


def _used_once(v, d: Drawing) -> bool:
    return sum(1 for s in d.steps for u in s.inputs if u is v) == 1
