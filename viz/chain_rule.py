"""∂J/∂w written out for a recorded graph: the chain rule with numbers (``viz.explain``).

Course 001 expands a derivative as a sum over the paths from w to J of the product of the local
derivatives met on the way (∂J/∂a = ∂J/∂v₁·∂v₁/∂a + ∂J/∂v₂·∂v₂/∂a), each local derivative given
by its inverse-neuron rule: L' at the loss, ψ'(z) at an activation, the weight w on a weighted
input, 1 on a constant input. Course 000 writes the same sums for a dense network layer by layer:

    δ⁽ᴷ⁾ = ∂J/∂a⁽ᴷ⁾ ⊙ ψ'(z⁽ᴷ⁾),   δ⁽ᵏ⁾ = (W⁽ᵏ⁺¹⁾ᵀ δ⁽ᵏ⁺¹⁾) ⊙ ψ'(z⁽ᵏ⁾),
    ∂J/∂W⁽ᵏ⁾ = δ⁽ᵏ⁾ a⁽ᵏ⁻¹⁾ᵀ,   ∂J/∂b⁽ᵏ⁾ = δ⁽ᵏ⁾.

:func:`explain` computes both for the user's own graph, element by element. Each local
derivative is the engine's own: the step (:mod:`viz.steps`) is run again on float64 copies of its
inputs and differentiated with ``ag.grad`` (one output element at a time), so no number is
re-derived by hand here. The total is checked against the engine's ∂J/∂w and ``w.grad``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag

from .backward_model import _Pass, local_derivative
from .graph_model import _check_root, drawing
from .labels import check_count
from .math_text import Latex, Plain
from .steps import Step, Value, fill_template, sub

R = ag.InverseRule
#: more paths than this are not listed one by one (the layer view is shown instead)
MAX_PATHS = 16
#: local Jacobians with more entries than this in all are not computed (layer view only)
MAX_JACOBIAN_ENTRIES = 200_000
#: a tensor ``wrt`` with more elements needs ``index=``
MAX_ELEMENTS = 6


@dataclass
class Factor:
    """One local derivative ∂out/∂in on a path: its rule, its formula and its value."""

    out: str                    # the element it differentiates, e.g. z⁽²⁾₁
    inp: str                    # … with respect to, e.g. a⁽¹⁾₂
    rule: R | None
    formula: str                # "W⁽²⁾₁,₂", "σ(z⁽¹⁾₁)(1 − σ(z⁽¹⁾₁))", "1", "" (value only)
    value: float


@dataclass
class Path:
    """One path from w to J: its factors, J's end first (∂J/∂h · ∂h/∂z · ∂z/∂w)."""

    factors: list[Factor]

    @property
    def product(self) -> float:
        return float(np.prod([f.value for f in self.factors]))


@dataclass
class ElementPaths:
    """∂J/∂w for one element w: the paths (None when too many to list) and their sum."""

    name: str                   # w's element, e.g. W⁽¹⁾₁,₂
    index: tuple
    count: int | None           # how many paths (None: not counted, the graph is too large)
    paths: list[Path] | None
    engine: float               # the engine's ∂J/∂w (our own backward pass)
    grad: float | None          # w.grad at that element, when the user's backward has run
    eps: float = 2.0 ** -52     # the machine epsilon of the graph's lowest precision

    @property
    def total(self) -> float:
        return float(sum(p.product for p in self.paths)) if self.paths is not None \
            else self.engine

    def agrees(self, value: float) -> bool:
        """Does ``value`` (the engine's ∂J/∂w, or ``w.grad``) equal the sum over the paths, up
        to the rounding of the engine's dtype? The paths are summed in float64, the engine ran
        in the graph's dtype: large paths that cancel leave a difference of a few eps times
        their size (NaN agrees with NaN)."""
        size = max([abs(p.product) for p in self.paths or []] + [abs(self.engine)])
        atol = max(1e-7, 64 * self.eps * size) if np.isfinite(size) else 1e-7
        return bool(np.isclose(self.total, value, rtol=1e-4, atol=atol, equal_nan=True))


@dataclass
class DeltaLayer:
    """Layer k of the delta recursion, with the numbers filled in (one sample: vectors; a batch:
    one row per sample)."""

    k: int
    names: dict[str, str]       # z, a, a_prev, W, b, W_next (the forward picture's names)
    arrays: dict[str, np.ndarray]   # dJ_da, dpsi, delta, dW, db, (W_next, delta_next)
    last: bool
    activation: str             # ψ's declared derivative, e.g. σ(z)(1 − σ(z)) ("" = identity)


@dataclass
class Explanation:
    """What :func:`explain` returns: ``str()`` is plain text, Jupyter shows Markdown/LaTeX."""

    output: str
    wrt: str
    lang: str
    elements: list[ElementPaths]
    layers: list[DeltaLayer] | None = None
    batch: int | None = None    # m when the graph ran on a batch of m > 1 samples
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        from .chain_rule_text import render
        return render(self, Plain())

    def _repr_markdown_(self) -> str:
        from .chain_rule_text import render
        return render(self, Latex(markdown=True))

    def _repr_latex_(self) -> str:
        from .chain_rule_text import render
        return render(self, Latex(markdown=False))


def explain(output, wrt, *, index=None, names=None, model=None, lang: str = "en",
            max_paths: int = MAX_PATHS) -> Explanation:
    """∂output/∂wrt written out as the course does, for the recorded graph of ``output``.

    ``output``: a scalar cost J whose graph is still recorded (before ``backward()`` or after
    ``backward(retain_graph=True)``). ``wrt``: a tensor of that graph (a parameter, an input or an
    intermediate value); ``index``: one element of it (``index=(0, 1)`` for ``W[0, 1]``), needed
    when it has more than 6 elements. For each element: every path from it to J with each local
    derivative's rule, formula and value, each path's product and their sum, which equals the
    engine's ∂J/∂w (and ``wrt.grad``). When there are more than ``max_paths`` paths they are
    counted, not listed. For a dense network (``nn.Linear`` layers, each followed by at most an
    elementwise activation, then a loss) also the delta recursion, layer by layer. ``names`` and
    ``model`` name the values as in ``draw_forward``; ``lang`` is "en" or "es".
    """
    _check_root(output)
    ag.vocabulary.words(lang)
    check_count("explain", "max_paths", max_paths)
    if output.size != 1:
        raise ValueError(f"explain: the output must be a scalar cost J, got shape "
                         f"{output.shape}; explain a scalar such as its sum or mean")
    if wrt is output:
        raise ValueError("explain: wrt is the output J itself (∂J/∂J = 1, the seed of the "
                         "backward pass); pass a tensor J was computed from")
    d = drawing(output, names, model)
    target = _find_value(d, wrt)
    elements = _element_indices(target, index)
    bp = _Pass(output, d)
    engine = _engine_gradient(bp, d, target)
    jac = _Jacobians(d, target)
    eps = max(float(np.finfo(v.data.dtype).eps) for v in d.values.values()
              if np.issubdtype(v.data.dtype, np.floating))
    found = []
    for idx in elements:
        count, paths = jac.paths(target, idx, max_paths)
        user = None if target.tensor is None or target.tensor.grad is None \
            else float(target.tensor.grad.data[idx])
        found.append(ElementPaths(element_name(d.names.get(target.key, "?"), idx, target.shape),
                                  idx, count, paths, float(engine[idx]), user, eps))
    layers = dense_layers(d, bp)
    batch = _batch_size(layers)
    return Explanation(d.names.get(f"t{id(output)}", "J"), d.names.get(target.key, "?"), lang,
                       found, layers, batch)


# --- which value, which elements ---------------------------------------------------------------
def _find_value(d, wrt) -> Value:
    if not isinstance(wrt, ag.Tensor):
        raise TypeError(f"explain: wrt must be a Tensor of the output's graph, got "
                        f"{type(wrt).__name__}")
    v = d.values.get(id(wrt))
    if v is None:
        raise ValueError(f"explain: wrt (shape {wrt.shape}) is not in the recorded graph of the "
                         f"output; pass a tensor the output was computed from")
    if not wrt.requires_grad:
        raise ValueError(f"explain: wrt (shape {wrt.shape}) does not require grad, so J has no "
                         f"recorded dependence on it; create it with requires_grad=True")
    return v


def _element_indices(v: Value, index) -> list[tuple]:
    shape = v.shape
    if v.data.size == 0:
        raise ValueError(f"explain: wrt has no elements (shape {shape}), so there is no "
                         "derivative to write out")
    if index is None:
        if v.data.size > MAX_ELEMENTS:
            raise ValueError(f"explain: wrt has shape {shape} ({v.data.size} elements); pass "
                             f"index= to pick one, e.g. index={tuple(0 for _ in shape)}")
        return [tuple(int(i) for i in idx) for idx in np.ndindex(*shape)]
    idx = _as_ints(index)
    if idx is None:
        raise TypeError(f"explain: index must hold one int per axis of wrt (shape {shape}), "
                        f"e.g. index={tuple(0 for _ in shape)}; got {index!r}")
    if len(idx) != len(shape) or any(not 0 <= i < n for i, n in zip(idx, shape)):
        raise IndexError(f"explain: index {index!r} is not an element of wrt of shape {shape}")
    return [tuple(int(i) for i in idx)]


def _as_ints(index) -> tuple | None:
    """``index`` as a tuple of ints (an int, a sequence or an array of them), or None."""
    if isinstance(index, np.ndarray):
        index = index.tolist()
    items = index if isinstance(index, (tuple, list)) else (index,)
    if any(isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral)
           for i in items):
        return None
    return tuple(int(i) for i in items)


def element_name(name: str, index: tuple, shape: tuple) -> str:
    """``W⁽¹⁾`` at (0, 1) of a (3, 2) matrix → ``W⁽¹⁾₁,₂`` (1-based, as the course writes;
    axes of length 1 are left out, so one sample's x₂ is not x₁,₂)."""
    kept = [i + 1 for i, n in zip(index, shape) if n != 1]
    if not kept:
        return name
    text = ",".join(sub(i) for i in kept)
    return f"{name}[{','.join(str(i) for i in kept)}]" if name[-1:] in "₀₁₂₃₄₅₆₇₈₉" else \
        name + text


def _engine_gradient(bp: _Pass, d, v: Value) -> np.ndarray:
    """∂J/∂v from our own backward pass (the engine's rules; ``.grad`` untouched)."""
    if v.is_leaf:
        g = bp.grad_of(v.tensor)
        if g is not None:
            return np.asarray(g, dtype=np.float64)
    total = np.zeros(v.shape)
    for step in d.steps:
        for i, u in enumerate(step.inputs):
            g = bp.outgoing.get(step.id, [None] * len(step.inputs))[i]
            if u.key == v.key and g is not None:
                total = total + np.asarray(g, dtype=np.float64)
    return total


# --- local Jacobians and paths -----------------------------------------------------------------
class _Jacobians:
    """The steps downstream of w and, for each, the Jacobian of its output w.r.t. each input on a
    path from w: computed by the engine on float64 copies (one output element at a time)."""

    def __init__(self, d, target: Value):
        self.d = d
        self.uses: dict[str, list[tuple[Step, int]]] = {}
        for step in d.steps:
            for i, u in enumerate(step.inputs):
                self.uses.setdefault(u.key, []).append((step, i))
        self.downstream = self._downstream(target)
        size = sum(s.output.data.size * s.inputs[i].data.size for s, i in self._edges())
        self.too_large = size > MAX_JACOBIAN_ENTRIES
        self.cache: dict[str, list] = {}

    def _downstream(self, target: Value) -> set[str]:
        keys, stack = {target.key}, [target.key]
        while stack:
            for step, _ in self.uses.get(stack.pop(), []):
                if step.output.key not in keys:
                    keys.add(step.output.key)
                    stack.append(step.output.key)
        return keys

    def _edges(self):
        for key in self.downstream:
            yield from self.uses.get(key, [])

    def local(self, step: Step, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, structure) of ∂output/∂input_i as (output size, input size) matrices."""
        if step.id not in self.cache:
            self.cache[step.id] = _step_jacobians(step, self.d)
        return self.cache[step.id][i]

    def paths(self, target: Value, index: tuple, max_paths: int):
        """(count, paths) from w[index] to J; paths None when more than max_paths (or when the
        graph is too large to count them element by element: count None too)."""
        if self.too_large:
            return None, None
        start = (target.key, int(np.ravel_multi_index(index, target.shape)) if target.shape
                 else 0)
        counts = self._count(start)
        n = counts[start]
        if n > max_paths:
            return n, None
        return n, self._enumerate(start, counts)

    def _next(self, node):
        key, flat = node
        for step, i in self.uses.get(key, []):
            values, structure = self.local(step, i)
            for o in np.flatnonzero(structure[:, flat]):
                yield step, i, (step.output.key, int(o)), float(values[o, flat])

    def _count(self, start) -> dict:
        """Paths to J from every element reachable from start (iterative, post-order)."""
        goal = self.d.steps[0].output.key
        counts: dict = {}
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if node in counts:
                continue
            nxt = [n for _, _, n, _ in self._next(node)]
            if node[0] == goal:
                counts[node] = 1
            elif expanded:
                counts[node] = sum(counts[n] for n in nxt)
            else:
                stack.append((node, True))
                stack.extend((n, False) for n in nxt if n not in counts)
        return counts

    def _enumerate(self, start, counts) -> list[Path]:
        goal = self.d.steps[0].output.key
        found: list[Path] = []
        stack = [(start, [])]
        while stack:
            node, factors = stack.pop()
            if node[0] == goal:
                found.append(Path(list(reversed(factors))))
                continue
            for step, i, nxt, value in reversed(list(self._next(node))):
                if counts.get(nxt):
                    stack.append((nxt, factors + [_factor(step, i, node[1], nxt[1], value,
                                                          self.d)]))
        return found


def _step_jacobians(step: Step, d) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per input: ∂output/∂input at the recorded values, and where it can be non-zero (the
    recorded values or a perturbed copy give a non-zero derivative; an elementwise one-input
    step is diagonal whatever its values)."""
    actual = _jacobians_at(step, d, [u.data for u in step.inputs])
    rng = np.random.default_rng(0)
    # NOTE: moved from finite values only: a NaN/Inf input makes 0·NaN = NaN in the VJP rows of
    # other elements too, which must not read as a dependence
    moved = [np.where(np.isfinite(u.data), u.data, 0.0) + rng.uniform(0.1, 0.5, u.data.shape)
             if np.issubdtype(u.data.dtype, np.floating) else u.data for u in step.inputs]
    shifted = _jacobians_at(step, d, moved)
    found = []
    for i, u in enumerate(step.inputs):
        if actual[i] is None:
            found.append((np.zeros((step.output.data.size, u.data.size)),
                          np.zeros((step.output.data.size, u.data.size), bool)))
            continue
        structure = _nonzero(actual[i]) | _nonzero(shifted[i])
        if len(step.inputs) == 1 and step.output.shape == u.shape:
            structure |= np.eye(u.data.size, dtype=bool)
        found.append((actual[i], structure))
    return found


def _nonzero(jacobian: np.ndarray) -> np.ndarray:
    """Where a Jacobian says the output depends on the input: finite and non-zero."""
    return np.isfinite(jacobian) & (jacobian != 0)


def _jacobians_at(step: Step, d, arrays: list) -> list:
    """The engine's Jacobian of the step at ``arrays``, in float64 (one VJP per output)."""
    leaves = [ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
              if u.requires_grad and np.issubdtype(np.asarray(a).dtype, np.floating)
              else ag.tensor(a) for a, u in zip(arrays, step.inputs)]
    with ag.enable_grad():
        out = _apply_step(step, d, leaves)
    wanted = [t for t in leaves if t.requires_grad]
    rows: list[list] = [[] for _ in leaves]
    for o in range(out.size):
        seed = np.zeros(out.shape)
        seed.flat[o] = 1.0
        grads = ag.grad(out, wanted, grad_outputs=ag.tensor(seed), retain_graph=True,
                        allow_unused=True, hooks=False) if wanted else []
        by_id = {id(t): g for t, g in zip(wanted, grads)}
        for i, t in enumerate(leaves):
            g = by_id.get(id(t))
            rows[i].append(np.zeros(t.size) if g is None else np.ravel(g.data))
    return [np.array(r) if leaves[i].requires_grad else None for i, r in enumerate(rows)]


def _apply_step(step: Step, d, leaves: list):
    """Run the step again on ``leaves``: its op, or (a sum chain, a loss written by hand) its
    recorded nodes, producers first, with the step's inputs replaced."""
    if step.op is not None and (len(step.nodes) == 1 or step.kind.startswith("fused")):
        return step.op.apply(*leaves, **step.kwargs)
    rank = {id(n): k for k, n in enumerate(d.order)}
    values = {id(u.tensor): t for u, t in zip(step.inputs, leaves)}
    out = None
    for node in sorted(step.nodes, key=lambda n: -rank[id(n)]):     # producers first
        args = [values.get(id(t), t.detach() if isinstance(t, ag.Tensor) else t)
                for t in node.inputs]
        out = values[id(node.output)] = node.op.apply(*args, **(node.kwargs or {}))
    return out


def _factor(step: Step, i: int, in_flat: int, out_flat: int, value: float, d) -> Factor:
    """∂out[o]/∂in_i[e] with the rule that makes it and its formula in the course's symbols."""
    u, out = step.inputs[i], step.output
    in_idx = np.unravel_index(in_flat, u.shape) if u.shape else ()
    out_idx = np.unravel_index(out_flat, out.shape) if out.shape else ()
    names = d.names
    in_name = element_name(names.get(u.key, "?"), in_idx, u.shape)
    out_name = element_name(names.get(out.key, "?"), out_idx, out.shape)
    role = step.roles[i] if i < len(step.roles) else "input"
    rule = R.CONSTANT_INPUT if role == "bias" else step.rule
    formula = ""
    if rule is R.LOSS:
        formula = "L'" + (f" = {f}" if (f := _elementwise_formula(step, in_idx, u.shape, d))
                          else "")
    elif rule in (R.ACTIVATION, R.ELEMENTWISE) and len(step.inputs) == 1:
        formula = _elementwise_formula(step, in_idx, u.shape, d)
        symbol = "ψ'" if rule is R.ACTIVATION else "f'"
        formula = f"{symbol}({in_name}) = {formula}" if formula else ""
    elif role == "bias":
        formula = "1"
    elif rule is R.WEIGHTED_INPUT and step.op is not None:
        found = step.op.partner(i, tuple(int(k) for k in out_idx), tuple(int(k) for k in in_idx),
                                [w.shape for w in step.inputs])
        if found is not None and float(step.inputs[found[0]].data[found[1]]) == value:
            w = step.inputs[found[0]]
            formula = element_name(names.get(w.key, "?"), found[1], w.shape)
    elif rule in (R.SUM_OF_INPUTS, R.ROUTING) and value in (1.0, -1.0):
        formula = "1" if value == 1.0 else "−1"
    return Factor(out_name, in_name, rule, formula, value)


def _elementwise_formula(step: Step, index: tuple, shape: tuple, d) -> str:
    """The declared derivative with each input's element at ``index`` (inputs of one shape;
    a loss written by hand: composed from its ops, see ``Step.derivative``)."""
    if any(u.shape != shape for u in step.inputs):
        return ""
    args = [element_name(d.names.get(u.key, "?"), index, u.shape) for u in step.inputs]
    if step.op is None:
        return step.derivative({u.key: a for u, a in zip(step.inputs, args)})
    return fill_template(step.op.derivative_text(step.kwargs), args, step.kwargs) or ""


# --- the delta recursion of a dense network ----------------------------------------------------
def dense_layers(d, bp: _Pass) -> list[DeltaLayer] | None:
    """Course 000's recursion with the numbers, when the graph is a dense network: ``Linear``
    steps (z = a·Wᵀ + b), each followed by at most an elementwise activation, then the loss.
    Every δ is computed from the formula and must equal the engine's ∂J/∂z (None otherwise)."""
    chain = _dense_chain(d)
    if chain is None:
        return None
    loss, pred, pairs = chain
    dJ_da = np.asarray(bp.outgoing[loss.id][pred], dtype=np.float64)
    layers: list[DeltaLayer] = []
    for k in range(len(pairs), 0, -1):
        linear, act = pairs[k - 1]
        layer = _layer(k, linear, act, dJ_da, d, last=k == len(pairs))
        if not np.allclose(layer.arrays["delta"], _engine_delta(bp, linear, act),
                           rtol=1e-4, atol=1e-7):
            return None
        layers.append(layer)
        W = np.asarray(linear.inputs[1].data, dtype=np.float64)
        dJ_da = layer.arrays["delta"] @ W                     # W⁽ᵏ⁾ᵀ δ⁽ᵏ⁾, a row per sample
    return layers[::-1]


def _dense_chain(d):
    """(loss step, prediction input, [(linear step, activation step or None)] input first)."""
    loss = d.steps[0] if d.steps else None
    if loss is None or loss.rule is not R.LOSS:
        return None
    preds = [i for i, r in enumerate(loss.roles) if r != "target"] if loss.roles else [0]
    if len(preds) != 1:
        return None
    producer, pairs = d.producer(), []
    v = loss.inputs[preds[0]]
    while v.key in producer:
        step, act = producer[v.key], None
        if step.rule is R.ACTIVATION and len(step.inputs) == 1 and step.output.shape == \
                step.inputs[0].shape and local_derivative(step) is not None:
            act, step = step, producer.get(step.inputs[0].key)
        if step is None or step.roles[:2] != ["activation", "weight"] or \
                step.rule is not R.WEIGHTED_INPUT or not step.inputs[1].is_leaf:
            return None
        pairs.append((step, act))
        v = step.inputs[0]
    return (loss, preds[0], pairs[::-1]) if pairs else None


def _layer(k: int, linear: Step, act: Step | None, dJ_da, d, last: bool) -> DeltaLayer:
    a_prev = _one_sample(linear.inputs[0].data)
    dJ_da = _one_sample(dJ_da)
    dpsi = np.ones_like(dJ_da) if act is None else _one_sample(local_derivative(act))
    delta = dJ_da * dpsi
    rows = delta.reshape(-1, delta.shape[-1])
    dW = rows.T @ a_prev.reshape(-1, a_prev.shape[-1])       # Σₓ δₓ aₓᵀ
    names = {"z": d.names.get(linear.output.key, "z"), "a_prev": d.names.get(
        linear.inputs[0].key, "a"), "W": d.names.get(linear.inputs[1].key, "W"),
        "a": d.names.get((act or linear).output.key, "a")}
    arrays = {"dJ_da": dJ_da, "dpsi": dpsi, "delta": delta, "dW": dW, "a_prev": a_prev,
              "z": _one_sample(linear.output.data)}
    if len(linear.inputs) > 2:
        names["b"] = d.names.get(linear.inputs[2].key, "b")
        arrays["db"] = rows.sum(axis=0)
    formula = "" if act is None else act.derivative({act.inputs[0].key: names["z"]})
    return DeltaLayer(k, names, arrays, last, formula)


def _one_sample(a) -> np.ndarray:
    """float64, without a leading batch axis of length 1 (one sample reads as the course's
    vectors)."""
    a = np.asarray(a, dtype=np.float64)
    return a[0] if a.ndim > 1 and a.shape[0] == 1 else a


def _engine_delta(bp: _Pass, linear: Step, act: Step | None) -> np.ndarray:
    """The engine's ∂J/∂z⁽ᵏ⁾: what arrives at the linear step."""
    return _one_sample(bp.incoming[linear.id])


def _batch_size(layers) -> int | None:
    if not layers:
        return None
    a0 = layers[0].arrays["a_prev"]
    m = int(np.prod(a0.shape[:-1])) if a0.ndim > 1 else 1
    return m if m > 1 else None


