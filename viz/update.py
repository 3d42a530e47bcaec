"""The update step of course 001, wₜ₊₁ = wₜ − α·∇J, for the user's own parameters and optimizer.

:func:`update_preview` computes, for each parameter, what ``optimizer.step()`` would do from the
current gradients: wₜ, ∂J/∂w (its ``.grad``), the optimizer's own terms (momentum buffers, Adam's
m, v, m̂, v̂ and step count t, …) and wₜ₊₁. It asks the optimizer (``record_step``), which runs
its real ``_update`` on copies of the parameter arrays and of its state: the numbers are exactly
``step()``'s, and nothing changes — parameters, ``.grad``, ``optimizer.state``, step counts —
unless ``apply=True``, which performs the real step and records it. Which terms an optimizer
has, their formulas and how each is read from the state after the step are declared by the
optimizer (``update_rule``, ``TERMS`` beside its ``_update``), so nothing is re-implemented here.

:func:`draw_update` draws it: one cluster per parameter, from wₜ and ∂J/∂w through the terms to
wₜ₊₁ (``view="graph"``), or on ``draw_network``'s picture of a dense network, each edge and bias
labelled wₜ → wₜ₊₁ (``view="network"``, see :mod:`viz.update_network`). The learning rate is
written η, as in ``optim`` and course 002 (course 001 writes α).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import autograd_core as ag
import nn

from .graph_model import GraphModel, VEdge, VNode, tensor_names
from .labels import check_count, format_number, format_shape, value_lines, words


@dataclass
class TermValue:
    """One term of the update for one parameter: its symbol, name (a vocabulary key), formula,
    value after the step, and the symbols it is computed from."""

    symbol: str
    word: str
    formula: str
    value: np.ndarray | float
    uses: tuple[str, ...]


@dataclass
class ParamUpdate:
    """One parameter's step: wₜ, ∂J/∂w, the terms (by symbol, in the optimizer's order), wₜ₊₁.

    ``formula`` is the optimizer's rule for wₜ₊₁ and ``rule_uses`` the symbols it reads;
    ``options`` the hyperparameters the formulas use, as (vocabulary key, symbol, value), with
    the current learning rate (a scheduler's, if one changed it); ``group`` the index of the
    parameter's param group; ``applied`` whether the real step was taken.
    """

    name: str
    param: ag.Tensor
    w_t: np.ndarray
    grad: np.ndarray
    terms: dict[str, TermValue]
    w_next: np.ndarray
    formula: str
    rule_uses: list[str]
    options: list[tuple[str, str, float]]
    optimizer: str
    group: int
    applied: bool


def update_preview(model_or_params, optimizer, *, apply: bool = False,
                   closure=None) -> list[ParamUpdate]:
    """What ``optimizer.step()`` does to each parameter of ``model_or_params``, computed on
    copies (nothing changes) or, with ``apply=True``, by the real step.

    ``model_or_params``: an ``nn.Module`` (its parameters that require grad) or Tensors; each
    must be in the optimizer and have a ``.grad``. ``closure`` is for ``optim.Newton``, whose
    step recomputes the loss. Parameters are named as ``nn`` names them (W⁽ᵏ⁾, b⁽ᵏ⁾ for the
    dense layers, else their attribute path), bare tensors by ``tensor.name`` or w1, w2, ….

    >>> import autograd_core as ag, optim
    >>> w = ag.tensor([0.1, -0.3], dtype="float64", requires_grad=True)
    >>> w.grad = ag.tensor([0.125, 0.245], dtype="float64")
    >>> [u.w_next.round(4).tolist() for u in update_preview([w], optim.SGD([w], lr=0.1))]
    [[0.0875, -0.3245]]
    >>> w.tolist()
    [0.1, -0.3]
    """
    params, names = _params_and_names(model_or_params)
    _check_optimizer(optimizer)
    if not isinstance(apply, (bool, np.bool_)):
        raise TypeError(f"draw_update: apply must be True (take the real step) or False (a "
                        f"preview), got {type(apply).__name__} {apply!r}")
    if getattr(optimizer, "needs_closure", False) and closure is None:
        raise ValueError(f"draw_update: {type(optimizer).__name__}'s step recomputes the loss "
                         "and its gradients: pass closure= (the function given to its step)")
    group_of = {id(p): k for k, group in enumerate(optimizer.param_groups)
                for p in group["params"]}
    for p, name in zip(params, names):
        if id(p) not in group_of:
            raise ValueError(f"draw_update: parameter {name} (shape {format_shape(p.shape)}) is "
                             f"not in the optimizer's param_groups ({type(optimizer).__name__}); "
                             "pass the parameters the optimizer updates")
        if closure is None and p.grad is None:
            raise ValueError(f"draw_update: parameter {name} (shape {format_shape(p.shape)}) has "
                             "no .grad: call loss.backward() first (step() would skip it)")
    records = {id(r.param): r for r in optimizer.record_step(apply=apply, closure=closure)}
    return [_param_update(optimizer, records[id(p)], name, group_of[id(p)], apply)
            for p, name in zip(params, names)]


def _check_optimizer(optimizer) -> None:
    if not all(hasattr(optimizer, a) for a in ("record_step", "param_groups", "update_rule")):
        raise TypeError(f"draw_update: expected an optim optimizer (optim.SGD, optim.Adam, …), "
                        f"got {type(optimizer).__name__}")


def _params_and_names(model_or_params) -> tuple[list[ag.Tensor], list[str]]:
    """The parameters to show and their names (nn's names, tensor.name, or w1, w2, …)."""
    if isinstance(model_or_params, nn.Module):
        params = [p for p in model_or_params.parameters() if p.requires_grad]
        known = tensor_names(model=model_or_params)
    else:
        items = [model_or_params] if isinstance(model_or_params, ag.Tensor) else \
            list(model_or_params)
        for k, p in enumerate(items):
            if not isinstance(p, ag.Tensor):
                raise TypeError(f"draw_update: expected an nn.Module or Tensors, got a "
                                f"{type(p).__name__} at position {k}")
        params, known = items, {}
        for root in {id(r): r for r in map(_root_module, params) if r is not None}.values():
            known.update(tensor_names(model=root))
    if not params:
        raise ValueError("draw_update: no parameters to show (the model has none that "
                         "require grad)")
    names = [known.get(id(p)) or p.name or f"w{k}" for k, p in enumerate(params, 1)]
    first: dict[int, int] = {}
    for k, p in enumerate(params):
        if first.setdefault(id(p), k) != k:
            raise ValueError(f"draw_update: the parameter at positions {first[id(p)]} and {k} "
                             f"(shape {format_shape(p.shape)}) is the same tensor; pass each "
                             "parameter once")
    return params, names


def _root_module(p: ag.Tensor):
    """The outermost module ``p`` belongs to (``nn.owner_of`` followed up), or None."""
    module = nn.owner_of(p)
    while module is not None and nn.owner_of(module) is not None:
        module = nn.owner_of(module)
    return module


def _param_update(optimizer, record, name: str, group: int, applied: bool) -> ParamUpdate:
    terms = {t.symbol: TermValue(t.symbol, t.word, t.formula, _value(t.read(record)), t.uses)
             for t in optimizer.update_terms(record.group)}
    return ParamUpdate(name, record.param, record.w, record.grad, terms, record.w_next,
                       optimizer.update_rule(record.group), optimizer.rule_uses(record.group),
                       optimizer.shown_options(record.group), type(optimizer).__name__, group,
                       applied)


def _value(v) -> np.ndarray | float:
    """A term's value, detached from the optimizer (arrays copied, numbers as float)."""
    return np.array(v, copy=True) if np.ndim(v) > 0 else float(v)


# --- the picture --------------------------------------------------------------------------------
def draw_update(model_or_params, optimizer, *, apply: bool = False, lang: str = "en",
                view: str = "graph", closure=None, max_elements: int = 6,
                rankdir: str = "LR", max_units: int = 12):
    """The update step drawn for each parameter: wₜ, ∂J/∂w, the optimizer's terms, wₜ₊₁.

    The numbers are :func:`update_preview`'s: what ``optimizer.step()`` would do from the current
    gradients, computed on copies, so nothing changes unless ``apply=True`` (then the real step
    is taken and drawn). ``view="graph"``: one cluster per parameter, arrows from what each
    quantity is computed from (values shown when a tensor has at most ``max_elements``);
    ``view="network"``: the neuron-level picture of a dense ``nn.Sequential`` (as
    ``draw_network``) with wₜ → wₜ₊₁ on every edge and bias, and one table per layer.

    Returns a ``graphviz.Digraph`` whose ``updates`` attribute is the list of
    :class:`ParamUpdate` (the numbers drawn). ``closure``: for ``optim.Newton`` only.

    >>> import autograd_core as ag, optim, viz
    >>> w = ag.tensor(0.1, dtype="float64", requires_grad=True)
    >>> w.grad = ag.tensor(0.125, dtype="float64")
    >>> g = viz.draw_update([w], optim.SGD([w], lr=0.1))
    >>> "wₜ₊₁ = 0.0875" in g.source, w.item()
    (True, 0.1)
    """
    words(lang)
    check_count("draw_update", "max_elements", max_elements)
    if view not in ("graph", "network"):
        raise ValueError(f"draw_update: view must be 'graph' or 'network', got {view!r}")
    if view == "network" and not isinstance(model_or_params, nn.Module):
        raise ValueError("draw_update: view='network' needs the model (a dense nn.Sequential), "
                         f"got {type(model_or_params).__name__}")
    if view == "network":
        from .neuron_values import parse_layers

        parse_layers(model_or_params, max_units)        # refuse what it cannot draw, first
    updates = update_preview(model_or_params, optimizer, apply=apply, closure=closure)
    if view == "network":
        from .update_network import network_picture

        _check_network_updates(model_or_params, updates)
        graph = network_picture(model_or_params, updates, lang, max_units)
    else:
        from .render_graphviz import to_digraph

        model = update_model(updates, lang, max_elements)
        if rankdir in ("LR", "RL"):
            _first_cluster_on_top(model)
        graph = to_digraph(model, rankdir=rankdir, legend=False, wrap=False)
        graph.attr(label=_header_table(updates, lang), labelloc="t", labeljust="l")
    graph.updates = updates
    return graph


def _check_network_updates(model, updates: list[ParamUpdate]) -> None:
    """The network view labels every weight and bias with its step: each must have one."""
    stepped = {id(u.param) for u in updates}
    names = tensor_names(model=model)
    frozen = [names.get(id(p), "?") for p in model.parameters() if id(p) not in stepped]
    if frozen:
        raise ValueError(f"draw_update: view='network' labels every weight and bias with its "
                         f"update, but some do not require grad (frozen): {', '.join(frozen)}; "
                         "use view='graph', which shows the parameters that are updated")


def update_model(updates: list[ParamUpdate], lang: str = "en",
                 max_elements: int = 6) -> GraphModel:
    """The graph view's model: per parameter a cluster wₜ, ∂J/∂w → terms → wₜ₊₁."""
    w = words(lang)
    g = GraphModel("update", lang)
    for k, u in enumerate(updates):
        prefix = f"u{k}_"
        ids = {"wₜ": prefix + "w", "∂J/∂w": prefix + "grad"}
        g.nodes.append(VNode(ids["wₜ"], "parameter", value_lines("wₜ", u.w_t, max_elements),
                             {"name": u.name, "value": u.w_t}))
        head = f"∂J/∂{u.name}" if "g" in u.terms else f"g = ∂J/∂{u.name}"
        g.nodes.append(VNode(ids["∂J/∂w"], "update_grad", value_lines(head, u.grad, max_elements),
                             {"name": u.name, "value": u.grad}))
        ids["g"] = ids["∂J/∂w"]                   # unless the step uses another gradient
        for j, term in enumerate(u.terms.values()):
            ids[term.symbol] = f"{prefix}t{j}"
            g.nodes.append(VNode(ids[term.symbol], "update_term",
                                 [w[term.word], term.formula]
                                 + value_lines(term.symbol, term.value, max_elements),
                                 {"symbol": term.symbol, "value": term.value}))
        for term in u.terms.values():
            g.edges += [VEdge(ids[s], ids[term.symbol]) for s in term.uses if s in ids]
        nid = prefix + "next"
        g.nodes.append(VNode(nid, "update_next",
                             [u.formula] + value_lines("wₜ₊₁", u.w_next, max_elements),
                             {"name": u.name, "value": u.w_next}))
        g.edges += [VEdge(ids[s], nid) for s in u.rule_uses if s in ids]
        g.same_rank.append([ids["wₜ"], ids["∂J/∂w"]])
        g.groups.append((f"cluster_u{k}", f"{u.name}  {format_shape(u.w_t.shape)}",
                         [n.id for n in g.nodes if n.id.startswith(prefix)]))
    return g


def _first_cluster_on_top(model: GraphModel) -> None:
    # NOTE: left to right, dot stacks unconnected clusters from the bottom up in the order they
    # are written: write the last parameter's first, so the first parameter is drawn on top
    model.groups.reverse()
    rank = {node_id: k for k, (_, _, ids) in enumerate(model.groups) for node_id in ids}
    model.nodes.sort(key=lambda n: rank[n.id])


def header_lines(updates: list[ParamUpdate], lang: str) -> list[str]:
    """The title (optimizer, previewed or applied) and each param group's hyperparameters."""
    w = words(lang)
    first = updates[0]
    status = w["update.applied"] if first.applied else w["update.previewed"]
    lines = [f"{w['update.title']}: {first.optimizer} ({status})"]
    groups = {u.group: u for u in updates}
    for index, u in sorted(groups.items()):
        options = ",  ".join(f"{symbol} = {format_number(value)} ({w['update.option.' + key]})"
                             for key, symbol, value in u.options)
        head = f"{w['update.group']} {index}: " if len(groups) > 1 else ""
        if head or options:
            lines.append(head + options)
    return lines


def _header_table(updates: list[ParamUpdate], lang: str) -> str:
    import html

    lines = header_lines(updates, lang)
    rows = [f'<tr><td align="left"><b>{html.escape(lines[0])}</b></td></tr>']
    rows += [f'<tr><td align="left">{html.escape(line)}</td></tr>' for line in lines[1:]]
    return '<<table border="0" cellspacing="2">' + "".join(rows) + "</table>>"
