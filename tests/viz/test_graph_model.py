"""The graph model and the DOT text of the forward and backward views (no ``dot`` needed)."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import viz
from viz.backward_model import backward_model
from viz.graph_model import forward_model
from viz.labels import format_axes_sum, format_number


def course_example(x_requires_grad: bool = True):
    """L = (σ(w·x + b) − t)², the course's one-neuron example, with scalar tensors."""
    w = ag.tensor(0.5, requires_grad=True)
    x = ag.tensor(1.5, requires_grad=x_requires_grad)
    b = ag.tensor(-0.3, requires_grad=True)
    t = ag.tensor(1.0)
    z = w * x + b
    a = ag.sigmoid(z)
    L = (a - t) ** 2
    return L, {"w": w, "x": x, "b": b, "t": t, "z": z, "a": a, "L": L}


def engine_grads(L, names):
    L.backward(retain_graph=True)
    return {k: names[k].grad.data.copy() for k in ("w", "x", "b")}


def test_backward_course_example_nodes_and_edge_gradients():
    L, names = course_example()
    m = backward_model(L, names=names)
    kinds = [n.kind for n in m.nodes]
    assert kinds.count("unit") == 1 and m.node("unit").lines[0] == "1"
    assert "Unit 1" in m.node("unit").lines
    assert kinds.count("derivative") == 2                    # L' (one box for (a − t)²) and σ'
    assert kinds.count("branch") == 1                        # the neuron's sum w·x + b
    assert kinds.count("weighted") == 1
    sigmoid = next(n for n in m.nodes if n.data.get("op") == "Sigmoid")
    a = 1 / (1 + np.exp(-(0.5 * 1.5 - 0.3)))
    assert f"× ψ'(z) = {format_number(a * (1 - a))}" in sigmoid.lines
    assert "ψ'(z) = σ(z)(1 − σ(z))" in sigmoid.lines
    loss = next(n for n in m.nodes if n.data.get("rule") == "loss")
    assert loss.lines[:2] == ["Derivative L'", "L = (a − t)²"]

    grads = engine_grads(L, names)
    src = viz.draw_backward(L, names=names).source
    for name in ("w", "x", "b"):
        leaf = next(n for n in m.nodes if n.kind == "leaf_grad" and n.data["name"] == name)
        assert leaf.lines == [f"∂J/∂{name} = {format_number(grads[name])}"]
        assert f"∂J/∂{name} = {format_number(grads[name])}" in src
    w_edge = next(e for e in m.edges if e.dst.endswith(f"t{id(names['w'])}"))
    assert w_edge.lines == ["x·∂J/∂v₁", "= ∂J/∂w"]         # a·δ: the product w·x is v₁
    b_edge = next(e for e in m.edges if e.dst.endswith(f"t{id(names['b'])}"))
    assert b_edge.lines == ["Constant output", "∂J/∂z", "= ∂J/∂b"]
    assert "1\\nUnit 1" in src


def test_backward_spanish_vocabulary():
    L, names = course_example()
    src = viz.draw_backward(L, names=names, lang="es").source
    for text in ("Unidad 1", "Salida ponderada doble", "Punto de bifurcación", "Derivada ψ'",
                 "Salida constante", "Leyenda"):
        assert text in src
    y, x = used_twice()
    assert "Suma de salidas" in viz.draw_backward(y, names={"x": x}, lang="es").source
    fwd = viz.draw_forward(L, names=names, lang="es").source
    assert "Función de activación ψ" in fwd and "Entrada ponderada w·a" in fwd


def used_twice():
    x = ag.tensor(3.0, requires_grad=True)
    y = x * x + x
    return y, x


def test_sum_of_outputs_lists_every_contribution():
    y, x = used_twice()
    m = backward_model(y, names={"x": x})
    (s,) = m.nodes_of_kind("sum_of_outputs")
    contributions = s.data["contributions"]
    assert len(contributions) == 3                   # δ from add, x·δ and x·δ from mul
    assert [float(c) for c in contributions] == [1.0, 3.0, 3.0]
    assert s.lines == ["Sum of outputs", "use 1 = 1", "use 2 = 3", "use 3 = 3", "Σ = ∂J/∂x = 7"]
    y.backward(retain_graph=True)
    assert float(s.data["total"]) == float(x.grad.data) == 7.0
    incoming = [e for e in m.edges if e.dst == s.id]
    assert [e.lines[-1] for e in incoming] == ["= use 1 of x", "= use 2 of x", "= use 3 of x"]
    assert [e for e in m.edges if e.src == s.id][0].dst.startswith("leaf")


def test_intermediate_used_twice_gets_a_sum_node():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = ag.tanh(x)
    y = (h * h + h).sum()
    m = backward_model(y, names={"h": h, "x": x})
    (s,) = m.nodes_of_kind("sum_of_outputs")
    assert s.lines[0] == "Sum of outputs" and s.lines[-3] == "Σ = ∂J/∂h ="
    (out,) = [e for e in m.edges if e.src == s.id]
    assert out.dst == f"inv{id(h.grad_fn)}"
    assert out.lines[0] == "∂J/∂h ="                  # the total goes on towards tanh


def test_user_grad_untouched():
    L, names = course_example()
    viz.draw_backward(L, names=names)
    assert all(names[k].grad is None for k in ("w", "x", "b"))
    L.backward(retain_graph=True)
    before = {k: names[k].grad.data.copy() for k in ("w", "x", "b")}
    viz.draw_backward(L, names=names)                   # after the user's backward: still works
    for k in before:
        np.testing.assert_array_equal(names[k].grad.data, before[k])


def test_freed_graph_says_retain_graph():
    L, names = course_example()
    L.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.draw_backward(L)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.draw_forward(L)


def test_broadcast_edge_says_which_axes_were_summed():
    x = ag.ones((4, 3), requires_grad=True)
    b = ag.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = (x + b).sum()
    m = backward_model(y, names={"x": x, "b": b})
    (edge,) = [e for e in m.edges if e.dst == f"leaft{id(b)}"]
    assert edge.lines == ["∂J/∂v₁", "= ∂J/∂b", "Σ over axis 0: (4,3)→(3,)"]
    assert m.node(f"leaft{id(b)}").lines == ["∂J/∂b =", "4", "4", "4"]
    assert m.node(f"leaft{id(x)}").lines == ["∂J/∂x: shape (4,3)"]     # 12 values: the shape
    (xedge,) = [e for e in m.edges if e.dst == f"leaft{id(x)}"]
    assert not any(line.startswith("Σ") for line in xedge.lines)
    assert "Σ over axis 0: (4,3)→(3,)" in viz.draw_backward(y).source
    assert format_axes_sum((4, 3), (1, 3)) == "Σ over axis 0: (4,3)→(1,3)"
    assert format_axes_sum((2, 4, 3), (1, 3), "es") == "Σ sobre los ejes 0, 1: (2,4,3)→(1,3)"


def test_forward_model_names_kinds_values_and_grads():
    L, names = course_example(x_requires_grad=False)
    m = forward_model(L, names=names)
    by_name = {n.data["name"]: n for n in m.nodes if n.kind != "op"}
    assert by_name["w"].kind == "parameter" and by_name["b"].kind == "parameter"
    assert by_name["x"].kind == "input" and by_name["t"].kind == "input"
    assert by_name["w"].lines == ["w", "0.5", "()"]
    ops = {n.data["name"]: n for n in m.nodes_of_kind("op")}
    assert [n.lines[0] for n in m.nodes_of_kind("op")] == ["v₁ = w·x", "z = v₁ + b", "a = σ(z)",
                                                           "L = (a − t)²"]
    assert ops["z"].lines[1:] == ["Sum of inputs", format_number(0.5 * 1.5 - 0.3), "()"]
    assert ops["L"].data["output"] and ops["L"].data["attrs"]["color"] == "#b03030"
    c = forward_model(ag.tensor(2.0, requires_grad=True) * 3.0)
    assert [n.kind for n in c.nodes].count("constant") == 1
    L.backward(retain_graph=True)
    src = viz.draw_forward(L, names=names, grads=True).source
    assert f"grad = {format_number(names['w'].grad.data)}" in src
    big = ag.ones((3, 4), requires_grad=True)
    src = viz.draw_forward((big * 2.0).sum(), names={"big": big}).source
    assert "label=\"big\\n(3,4)\"" in src and "[1, 1" not in src


def test_forward_from_module_parameter_names():
    import nn
    model = nn.Linear(2, 1)
    out = model(ag.tensor([[1.0, 2.0]])).sum()
    src = viz.draw_forward(out, model=model).source
    assert "W⁽¹⁾\\n" in src and "b⁽¹⁾\\n" in src                # the course's layer names
    bsrc = viz.draw_backward(out, model=model).source
    assert "= ∂J/∂W⁽¹⁾" in bsrc and "Constant output" in bsrc and "= ∂J/∂b⁽¹⁾" in bsrc


def test_size_guard_summarizes():
    x = ag.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(400):
        y = ag.tanh(y)
    for draw in (viz.draw_forward, viz.draw_backward):
        g = draw(y)
        assert "Graph too large to draw" in g.source and "Tanh: 400" in g.source
        assert "max_nodes=None" in g.source
    assert "Tanh: 400" not in viz.draw_forward(y, max_nodes=None).source


def test_deep_chain_without_recursion():
    import sys
    x = ag.tensor(0.1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)                   # a recursive walk would fail here
    try:
        assert "Mul: 5000" in viz.draw_backward(y).source
        m = backward_model(y, max_nodes=None)
        f = forward_model(y, max_nodes=None)
    finally:
        sys.setrecursionlimit(old)
    assert len(m.nodes_of_kind("weighted")) == 5000
    assert len(f.nodes_of_kind("op")) == 5000


def test_non_scalar_output_is_seeded_with_ones():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    m = backward_model(x * 3.0, names={"x": x})
    assert m.node("unit").data["value"].tolist() == [1.0, 1.0]
    (leaf,) = m.nodes_of_kind("leaf_grad")
    assert leaf.lines == ["∂J/∂x =", "3", "3"]


def test_errors():
    with pytest.raises(TypeError):
        viz.draw_forward([1.0])
    with pytest.raises(RuntimeError, match="grad_fn"):
        viz.draw_backward(ag.tensor(1.0))
    L, _ = course_example()
    with pytest.raises(ValueError, match="language"):
        viz.draw_backward(L, lang="fr")


def test_backprop_steps_follow_the_engine_order():
    L, names = course_example()
    m = backward_model(L, names=names)
    ops = [m.node(i).data["op"] for i in m.order]
    assert ops == ["loss", "Sigmoid", "Add", "Mul"]     # L' (sub and pow), σ', w·x + b, w·x
    frames = viz.backprop_steps(L, names=names)
    assert len(frames) == len(m.order) + 1
    first, last = frames[0].source, frames[-1].source
    assert "#cccccc" in first and "#cccccc" not in last          # pending steps greyed out
    for frame, node_id in zip(frames[1:], m.order):
        current = [line for line in frame.source.splitlines() if "penwidth=3" in line]
        assert len(current) == 1 and current[0].lstrip().startswith(node_id)
    assert len(frames[-1].source) > 0 and "∂J/∂w" in last


def test_gradcheck_view_finds_the_wrong_backward_and_the_nan_origin():
    class BrokenSquare(ag.Op):
        """out = x², with a wrong backward (x instead of 2x): what a student might write."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.inputs[0]

    try:
        x = ag.tensor([0.5, -1.0], requires_grad=True)
        y = ag.tanh(BrokenSquare.apply(ag.sigmoid(x))).sum()
        m = forward_model(y, checks=True)
        kinds = {n.data["op"]: n.kind for n in m.nodes if n.kind.startswith("op")}
        assert kinds == {"BrokenSquare": "op_fail", "Sigmoid": "op_ok", "Tanh": "op_ok",
                         "Sum": "op_ok"}
        src = viz.draw_gradcheck(y).source
        assert "✗ gradcheck" in src and "✓ gradcheck" in src
    finally:
        ag.Op.registry.pop("BrokenSquare", None)
    with np.errstate(all="ignore"):
        z = ag.log(ag.tensor([-1.0, 2.0], requires_grad=True) * 1.0)
        y = (z * 2.0).sum()
    m = forward_model(y, checks=True)
    kinds = {n.data["op"]: n.kind for n in m.nodes if n.kind.startswith("op")}
    # only the op where NaN appears is marked; a correct op after it is not painted red
    # (its finite differences would be NaN too): "not checked", greyed
    assert kinds["Log"] == "op_nonfinite" and kinds["Mul"] == "op_downstream"
    assert kinds["Sum"] == "op_downstream"
    src = viz.draw_gradcheck(y).source
    assert "NaN/Inf origin" in src and "op_fail" not in str(kinds) and "#f08080" not in src
    es = viz.draw_gradcheck(y, lang="es").source
    assert "aquí aparece NaN/Inf" in es and "origen de NaN/Inf" in es and "sin comprobar" in es
