"""The course's steps of a recorded graph: which boxes a picture draws, what each value is called.

The engine records ops; the course draws neurons, sums of inputs and one loss. Three things
separate the two, and all three are read from the ops' own declarations (``Op.steps``,
``Op.roles``, ``Op.inverse_rule``), never from op names:

* a **fused op** stands for several course steps (``LinearActivation.steps``: z = x·Wᵀ + b, then
  a = ψ(z)): one box per step, the z between them a value of its own;
* a neuron's **sum of inputs** w₁x₁ + w₂x₂ + b is recorded as a chain of binary additions: the
  chain is one box (one *punto de bifurcación* in the inverse network);
* a **loss written by hand** ((h − t)², ½‖h − t‖², …) is several ops between the prediction h and
  the cost J: they are one box, *L*, whose inverse is *L'* = ∂J/∂h.

Values get the course's names when the user gave none: z⁽ᵏ⁾ for a weighted sum (the input of an
activation, a layer's output before ψ), a⁽ᵏ⁾ = ψ(z⁽ᵏ⁾), J for the cost, t for a target, and v₁,
v₂, … for anything else, so that every ∂J/∂· in the backward picture names a value drawn in the
forward one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag

R = ag.InverseRule
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
#: how many ops a hand-written loss may span before it is drawn op by op instead
MAX_LOSS_OPS = 24
#: a loss written by hand whose composed formula is longer is written L(h, t)
MAX_FORMULA = 40


@dataclass(eq=False)
class Value:
    """A value drawn in the picture: a recorded tensor, or the z inside a fused layer."""

    key: str                          # node id in the picture: "t<id>" or "z<id>"
    data: np.ndarray
    tensor: object = None             # the Tensor (None for a fused layer's z)

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def is_leaf(self) -> bool:
        return self.tensor is not None and self.tensor.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self.tensor is None or self.tensor.requires_grad


@dataclass(eq=False)
class Step:
    """One box: an op (or a fused op's step, a sum chain, a whole loss) and its inputs."""

    id: str                           # "<id(node)>" (+ "lin" for a fused layer's first step)
    kind: str                         # "op", "fused_linear", "fused_activation", "sum", "loss"
    op: type | None                   # the op whose rule and formula the box shows (None: a
                                      # loss written by hand, drawn from its ops' formulas)
    kwargs: dict
    nodes: list                       # the engine nodes it stands for
    inputs: list[Value]
    roles: list[str]
    output: Value
    formula: str = ""                 # the forward formula with the inputs' names filled in
    signs: list[str] = field(default_factory=list)   # "+"/"−" per input of a sum chain
    #: per input, the (engine node, input index) pairs whose gradients make its gradient
    sources: list[list[tuple]] = field(default_factory=list)

    @property
    def rule(self):
        """The course's rule of the box (a loss region is L, whatever ops it is made of)."""
        return R.LOSS if self.kind == "loss" else self.op.inverse_rule

    def derivative(self, names: dict[str, str]) -> str:
        """The declared local derivative with the inputs' names (σ(z⁽¹⁾)(1 − σ(z⁽¹⁾))…), or ""."""
        if self.op is None:
            return loss_derivative(self, names) if self.kind == "loss" else ""
        return fill_template(self.op.derivative_text(self.kwargs),
                     [names.get(v.key, "?") for v in self.inputs], self.kwargs) or ""


def sup(k: int) -> str:
    return f"({k})".translate(_SUP)


def sub(k: int) -> str:
    return str(k).translate(_SUB)


# --- grouping ----------------------------------------------------------------------------------
def build_steps(order: list, output) -> tuple[list[Step], dict[int, Value]]:
    """The boxes of the graph of ``output`` (consumers first, like ``order``) and every value."""
    values: dict[int, Value] = {}

    def value(t) -> Value:
        v = values.get(id(t))
        if v is None:
            v = values[id(t)] = Value(f"t{id(t)}", t.data, t)
        return v

    loss = _loss_region(order, output)
    in_loss = {id(n) for n in loss[0]} if loss else set()
    chains = _sum_chains(order, output, in_loss)
    steps: list[Step] = []
    if loss:
        nodes, h = loss
        steps.append(_loss_step(nodes, h, output, value))
    for node in order:
        if id(node) in in_loss or id(node) in chains["inner"]:
            continue
        if id(node) in chains["top"]:
            steps.append(_sum_step(node, chains["top"][id(node)], value))
            continue
        declared = node.op.steps(node)
        if len(declared) == 1:
            steps.append(Step(str(id(node)), "op", node.op, dict(node.kwargs or {}), [node],
                              [value(t) for t in node.inputs],
                              [node.op.role(i) for i in range(len(node.inputs))],
                              value(node.output),
                              sources=[[(node, i)] for i in range(len(node.inputs))]))
        else:
            steps.extend(_fused_steps(node, declared, value))
    return steps, values


def _fused_steps(node, declared, value) -> list[Step]:
    """The two steps of a fused layer: (Linear, {}) then (ψ, {}), z recomputed by the first."""
    (first, first_kw), (second, second_kw) = declared
    with ag.no_grad():
        z = first.apply(*node.inputs, **first_kw).data
    zv = Value(f"z{id(node)}", z)
    linear = Step(f"lin{id(node)}", "fused_linear", first, first_kw, [node],
                  [value(t) for t in node.inputs],
                  [first.role(i) for i in range(len(node.inputs))], zv,
                  sources=[[(node, i)] for i in range(len(node.inputs))])
    act = Step(str(id(node)), "fused_activation", second, second_kw, [node], [zv], ["input"],
               value(node.output), sources=[[]])
    return [act, linear]


def _target_like(t, node, index: int) -> bool:
    """Does input ``index`` of ``node`` play a target t (a constant the prediction is compared
    with)? Declared by the op (``roles``), or the subtracted/subtracting side of a difference."""
    if t.requires_grad or t.grad_fn is not None:
        return False
    role = node.op.role(index)
    return role == "target" or (node.op.inverse_rule is R.SUM_OF_INPUTS
                                and role in ("term", "negated_term") and len(node.inputs) == 2)


def _grad_inputs(node) -> list:
    return [t for t in node.inputs if t.requires_grad]


def _loss_region(order: list, output):
    """``(nodes, h)``: the ops between the prediction h and the cost (a loss written by hand,
    or one loss op), when they compare h with a target; else None.

    Starting at the cost, ops are absorbed until every gradient path leaves through one tensor
    h. Activations and weighted inputs of parameters are never absorbed (they are the network).
    """
    if not order:
        return None
    position = {id(n): k for k, n in enumerate(order)}
    region = [order[0]]
    inside = {id(order[0])}
    for _ in range(MAX_LOSS_OPS):
        frontier = {}
        for n in region:
            for t in _grad_inputs(n):
                if t.grad_fn is None or id(t.grad_fn) not in inside:
                    frontier[id(t)] = t
        has_target = any(_target_like(t, n, i) for n in region for i, t in enumerate(n.inputs))
        if len(frontier) == 1 and has_target:
            return region, next(iter(frontier.values()))
        inner = [t.grad_fn for t in frontier.values() if t.grad_fn is not None]
        if len(inner) < len(frontier) or not inner:
            return None                                   # a leaf (parameter) is in the loss
        nxt = min(inner, key=lambda n: position.get(id(n), len(order)))
        if nxt.op.inverse_rule in (R.ACTIVATION, R.LOSS) or any(
                t.grad_fn is None and t.requires_grad for t in nxt.inputs):
            return None
        region.append(nxt)
        inside.add(id(nxt))
    return None


def _loss_step(nodes: list, h, output, value) -> Step:
    op = nodes[0].op if len(nodes) == 1 else None
    targets = [t for n in nodes for i, t in enumerate(n.inputs) if _target_like(t, n, i)]
    inputs = [value(h)] + [value(t) for t in dict.fromkeys(targets)]
    step = Step(str(id(nodes[0])), "loss", op, {}, list(nodes),
                inputs, ["prediction"] + ["target"] * (len(inputs) - 1), value(output))
    step.sources = [[(n, i) for n in nodes for i, t in enumerate(n.inputs) if t is v.tensor]
                    for v in inputs]
    if op is not None:
        step.kwargs = dict(nodes[0].kwargs or {})
    return step


def _sum_chains(order: list, output, in_loss: set[int]) -> dict:
    """Chains of binary sums (w₁x₁ + w₂x₂ + b): {"top": {id(top): [nodes]}, "inner": ids}.

    A sum's result joins the sum that consumes it when nothing else uses it and it has no name.
    A sum inside the loss (``in_loss``: the ids of its nodes) heads no chain: the prediction
    h = W·a + b that (h − t) consumes keeps its own box.
    """
    consumers: dict[int, list] = {}
    for node in order:
        for t in node.inputs:
            consumers.setdefault(id(t), []).append(node)
    top: dict[int, list] = {}
    inner: set[int] = set()
    for node in order:                                    # consumers first: tops come first
        if not _binary_sum(node) or id(node) in inner or id(node) in in_loss:
            continue
        chain, stack = [node], [node]
        while stack:
            n = stack.pop()
            for t in n.inputs:
                p = t.grad_fn
                if (p is not None and _binary_sum(p) and t is not output
                        and len(consumers.get(id(t), ())) == 1 and not getattr(t, "name", None)
                        and t.shape == n.output.shape):
                    chain.append(p)
                    inner.add(id(p))
                    stack.append(p)
        if len(chain) > 1:
            top[id(node)] = chain
    return {"top": top, "inner": inner}


def _binary_sum(node) -> bool:
    return node.op.inverse_rule is R.SUM_OF_INPUTS and len(node.inputs) == 2 and \
        node.op.roles[:1] == ("term",) and len(node.op.roles) == 2


def _sum_step(top, chain: list, value) -> Step:
    """One box for a chain of sums: its inputs are the chain's outside inputs, with their signs."""
    members = {id(n) for n in chain}
    inputs = []
    stack = [(top, "+")]
    while stack:
        node, sign = stack.pop()
        for i in reversed(range(len(node.inputs))):
            t = node.inputs[i]
            s = sign if node.op.role(i) == "term" else ("−" if sign == "+" else "+")
            if t.grad_fn is not None and id(t.grad_fn) in members:
                stack.append((t.grad_fn, s))
            else:
                inputs.append((value(t), s, (node, i)))
    inputs.reverse()
    step = Step(str(id(top)), "sum", top.op, {}, list(chain), [v for v, _, _ in inputs],
                ["term"] * len(inputs), value(top.output))
    step.signs = [s for _, s, _ in inputs]
    step.sources = [[src] for _, _, src in inputs]
    return step


# --- naming --------------------------------------------------------------------------------------
def name_values(steps: list[Step], values: dict[int, Value], output, names: dict[int, str]
                ) -> dict[str, str]:
    """``Value.key → name``: the user's names first, then the course's symbols (see module)."""
    found: dict[str, str] = {}
    for v in values.values():
        given = names.get(id(v.tensor)) or getattr(v.tensor, "name", None)
        if given:
            found[v.key] = str(given)
    if output is not None and f"t{id(output)}" not in found:
        found[f"t{id(output)}"] = "J"
    layer = 0
    counters = {"v": 0, "w": 0, "x": 0, "c": 0, "t": 0}
    for step in _as_written(steps):                       # producers first, left to right
        for v, role in zip(step.inputs, step.roles):
            if v.key not in found and v.is_leaf:
                found[v.key] = _leaf_symbol(v, role, counters)
        out = step.output
        if out.key in found:
            continue
        if step.kind == "fused_linear" or _is_weighted_sum(step, steps):
            layer += 1
            found[out.key] = "z" + sup(layer)
        elif step.rule is R.ACTIVATION:
            source = found.get(step.inputs[0].key, "") if step.inputs else ""
            if source.startswith("z") and source[1:] and source[1] == "⁽":
                found[out.key] = "a" + source[1:]
            else:
                layer += 1
                found[out.key] = "a" + sup(layer)
        else:
            counters["v"] += 1
            found[out.key] = "v" + sub(counters["v"])
    return found


def _as_written(steps: list[Step]) -> list[Step]:
    """The steps producers first and, among independent ones, in the order the formula is
    written (the first input's side first): a post-order walk from the cost, without recursion."""
    producer = {s.output.key: s for s in steps}
    done: set[str] = set()
    ordered: list[Step] = []
    stack = [(steps[0], False)] if steps else []
    while stack:
        step, expanded = stack.pop()
        if step.id in done:
            continue
        if expanded:
            done.add(step.id)
            ordered.append(step)
            continue
        stack.append((step, True))
        for v in reversed(step.inputs):
            p = producer.get(v.key)
            if p is not None and p.id not in done:
                stack.append((p, False))
    return ordered + [s for s in steps if s.id not in done]


def _leaf_symbol(v: Value, role: str, counters: dict) -> str:
    if role == "target":
        counters["t"] += 1
        return "t" if counters["t"] == 1 else "t" + sub(counters["t"])
    if v.requires_grad:
        letter = "b" if role in ("bias", "term", "negated_term") else "w"
        counters[letter] = counters.get(letter, 0) + 1
        return letter + sub(counters[letter])
    if v.data.ndim == 0 or v.data.size == 1:
        return _number(v.data)
    counters["x"] += 1
    return "x" if counters["x"] == 1 else "x" + sub(counters["x"])


def _number(data) -> str:
    x = float(np.asarray(data).reshape(-1)[0])
    return f"{x:.4g}".replace("-", "−")


def _is_weighted_sum(step: Step, steps: list[Step]) -> bool:
    """Is the step's output a z: a layer's weighted sum (with its bias), before ψ or the loss?"""
    if step.rule not in (R.WEIGHTED_INPUT, R.SUM_OF_INPUTS):
        return False
    consumers = [s for s in steps if any(v is step.output for v in s.inputs)]
    if step.kind == "op" and "bias" in step.roles:
        return True
    return bool(consumers) and all(s.rule in (R.ACTIVATION, R.LOSS) for s in consumers) and (
        step.rule is R.WEIGHTED_INPUT or _has_weighted_term(step, steps))


def _has_weighted_term(step: Step, steps: list[Step]) -> bool:
    producers = {s.output.key: s for s in steps}
    return any(v.key in producers and producers[v.key].rule is R.WEIGHTED_INPUT
               for v in step.inputs)


def fill_formula(step: Step, names: dict[str, str]) -> str:
    """The step's forward formula with its inputs' names: ``z⁽¹⁾ = W1·x + b1``."""
    args = [names.get(v.key, "?") for v in step.inputs]
    if step.kind == "sum":
        text = args[0] if step.signs[0] == "+" else "−" + args[0]
        for a, s in zip(args[1:], step.signs[1:]):
            text += f" {s} {a}"
        return text
    if step.kind == "loss" and step.op is None:
        text = _composed_formula(step, names)
        if len(text) > MAX_FORMULA:
            return f"L({', '.join(args)})"
        return text
    return fill_template(step.op.formula_text(step.kwargs), args, step.kwargs) or \
        f"{step.op.name}({', '.join(args)})"


def fill_template(template: str, args: list[str], kwargs: dict) -> str | None:
    """A declared formula with the inputs' names and the keywords' values put in (or None)."""
    if not template:
        return None
    args = [f"({a})" if " " in a else a for a in args]
    try:
        text = template.format(*args, **{k: _number(v) if isinstance(v, (int, float)) else v
                                         for k, v in (kwargs or {}).items()})
    except (IndexError, KeyError, ValueError):
        return None
    return _superscripts(text)


def _superscripts(text: str) -> str:
    """``x^2`` → ``x²`` (a one-digit integer power reads as the course writes it)."""
    return re.sub(r"\^(\d)(?![\d.])", lambda m: m.group(1).translate(_SUP), text)


def _composed_formula(step: Step, names: dict[str, str]) -> str:
    """The formula of a loss written by hand, composed from its ops' declared formulas."""
    return _region_texts(step, names)[id(step.nodes[0].output)]


def _node_args(node, text: dict[int, str]) -> list[str]:
    """The text of each input of a node of a hand-written loss (a number for a constant)."""
    args = []
    for t in node.inputs:
        if id(t) in text:
            args.append(text[id(t)])
        elif t.grad_fn is None:
            args.append(_number(t.data) if t.size == 1 else "t")
        else:
            args.append("?")
    return args


def _region_texts(step: Step, names: dict[str, str]) -> dict[int, str]:
    """id(tensor) → its formula, for every value of a hand-written loss (producers first)."""
    text: dict[int, str] = {id(v.tensor): names.get(v.key, "?") for v in step.inputs}
    for node in reversed(step.nodes):                     # producers first
        args = [f"({a})" if (" " in a and node.op.inverse_rule is not R.SUM_OF_INPUTS)
                else a for a in _node_args(node, text)]
        template = node.op.formula_text(node.kwargs) or node.op.name + "({0})"
        kw = {k: _number(v) if isinstance(v, (int, float)) else v
              for k, v in (node.kwargs or {}).items()}
        try:
            text[id(node.output)] = _superscripts(template.format(*args, **kw))
        except (IndexError, KeyError):
            text[id(node.output)] = f"{node.op.name}({', '.join(args)})"
    return text


def loss_derivative(step: Step, names: dict[str, str]) -> str:
    """L' = ∂J/∂h of a loss written by hand, composed by the chain rule from its ops' declared
    derivatives (course 001: (h − y)² → 2(h − y)); "" when h is used twice on the way or an op
    on it declares no derivative."""
    texts = _region_texts(step, names)
    h = step.inputs[0].tensor
    produced = {id(n.output): n for n in step.nodes}
    depends = {id(h)}
    for node in reversed(step.nodes):                     # producers first
        if any(id(t) in depends for t in node.inputs):
            depends.add(id(node.output))
    factors, node = [], step.nodes[0]
    while node is not None:
        on_path = [i for i, t in enumerate(node.inputs) if id(t) in depends]
        factor = _local_factor(node, on_path[0], texts) if len(on_path) == 1 else None
        if factor is None:
            return ""
        factors.append(factor)
        node = produced.get(id(node.inputs[on_path[0]]))
    negative = factors.count("−1") % 2 == 1
    kept = [f for f in factors if f not in ("1", "−1")]
    return ("−" if negative else "") + ("·".join(kept) if kept else "1")


def _local_factor(node, i: int, texts: dict[int, str]) -> str | None:
    """∂out/∂input_i of one node of a hand-written loss, in text (None: not declared)."""
    args = _node_args(node, texts)
    op, kwargs = node.op, dict(node.kwargs or {})
    declared = op.derivative_text(kwargs)
    if declared and len(node.inputs) == 1:
        return fill_template(declared, args, kwargs)
    role = op.role(i)
    if op.inverse_rule is R.SUM_OF_INPUTS:
        if role == "negated_term":
            return "−1"
        return "1/N" if op.formula_text(kwargs).startswith("1/N") else "1"
    if role == "factor" and len(node.inputs) == 2:
        return args[1 - i]
    if op.formula_text(kwargs) == "{0} / {1}" and i == 0:
        return f"1/{args[1]}"
    return None
