"""A fused layer ψ(x·Wᵀ + b) (one ``LinearActivation`` node) is drawn as the two steps of
``act(linear(x, w, b))``, and ``mse_loss`` (one ``MeanSquaredError`` node) as the loss L → L'."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import autograd_core as ag
import nn
import viz
from viz.backward_model import backward_model
from viz.graph_model import forward_model
from viz.labels import format_array
from viz.modules import module_model

from .dot_tree import cluster_paths

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


def step(act: str, fuse: bool):
    """The loss of ``Sequential(Linear(2, 3), act, Linear(3, 1))`` on a batch of 2, fused or not."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), ACTIVATIONS[act](), nn.Linear(3, 1))
    model.fuse_layers = fuse
    x = ag.tensor([[0.5, -1.0], [1.5, 0.25]])
    t = ag.tensor([[1.0], [0.0]])
    loss = nn.MSELoss()(model(x), t)
    return model, loss, x, t


def op_names(loss) -> list[str]:
    return [n.op.__name__ for n in ag.graph.walk.topological_order([loss.grad_fn])]


ID = re.compile(r"\b(?:op|act|z|t|inv|lin|leaf|sum|params|mod|cluster_m)\d+\b")


def canonical(source: str) -> str:
    """The DOT text with node and cluster ids renamed in order of first appearance."""
    ids: dict[str, str] = {}
    return ID.sub(lambda m: ids.setdefault(m.group(0), f"N{len(ids)}"), source)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_the_model_really_fuses(act):
    assert "LinearActivation" in op_names(step(act, True)[1])
    assert "LinearActivation" not in op_names(step(act, False)[1])


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("draw", [viz.draw_forward, viz.draw_backward])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_dot_equals_unfused_dot_up_to_ids(act, draw, lang):
    fused_model, fused, _, _ = step(act, True)
    plain_model, plain, _, _ = step(act, False)
    for kwargs in ({}, {"model": None}):
        a = draw(fused, lang=lang, model=kwargs.get("model", fused_model)).source
        b = draw(plain, lang=lang, model=kwargs.get("model", plain_model)).source
        assert canonical(a) == canonical(b)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_forward_shows_linear_then_activation_with_z(act):
    model, loss, x, _ = step(act, True)
    m = forward_model(loss, model=model)
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    lin, psi, z = m.node(f"op{id(node)}"), m.node(f"act{id(node)}"), m.node(f"z{id(node)}")
    assert lin.lines == ["linear", "Weighted input w·a"]
    assert psi.lines == [act, "Activation ψ"] and psi.data["fused"] == "LinearActivation"
    w, b = model[0].weight.data, model[0].bias.data
    assert z.kind == "intermediate" and z.lines == ["(2,3)", format_array(x.data @ w.T + b)]
    edges = {(e.src, e.dst) for e in m.edges}
    assert {(lin.id, z.id), (z.id, psi.id), (psi.id, f"t{id(node.output)}")} <= edges
    assert (f"t{id(model[0].weight)}", lin.id) in edges


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_backward_psi_step_then_double_weighted_output_with_engine_grads(act):
    model, loss, x, _ = step(act, True)
    m = backward_model(loss, model=model)
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    psi, lin = m.node(f"inv{id(node)}"), m.node(f"lin{id(node)}")
    a = node.output.data
    d = {"tanh": 1 - a * a, "sigmoid": a * (1 - a), "relu": (a > 0).astype(a.dtype)}[act]
    assert psi.kind == "derivative" and psi.lines[1] == f"× {act}'(z) = {format_array(d)}"
    delta = psi.data["delta"] * d
    assert lin.kind == "weighted" and lin.lines[-1] == f"δ = {format_array(delta)}"
    (between,) = [e for e in m.edges if e.src == psi.id]
    assert between.dst == lin.id and between.lines == ["ψ'·δ", format_array(delta)]
    # the ψ' step comes first in the engine order, then the linear one
    assert m.order.index(psi.id) + 1 == m.order.index(lin.id)

    loss.backward(retain_graph=True)
    out = {e.dst: e for e in m.edges if e.src == lin.id}
    w_edge = out[f"leaf{id(model[0].weight)}"]
    b_edge = out[f"leaf{id(model[0].bias)}"]
    assert w_edge.lines[:2] == ["a·δ = ∂J/∂0.weight", format_array(model[0].weight.grad.data)]
    assert b_edge.lines[:2] == ["Constant output: δ → ∂J/∂0.bias",
                                format_array(model[0].bias.grad.data)]
    assert b_edge.lines[2] == "Σ over axis 0: (2,3)→(3,)"
    np.testing.assert_allclose(delta.sum(axis=0), model[0].bias.grad.data, rtol=1e-5)
    np.testing.assert_allclose(delta.T @ x.data, model[0].weight.grad.data, rtol=1e-5)
    for p in model.parameters():                         # every ∂J/∂p leaf equals the engine's
        leaf = m.node(f"leaf{id(p)}")
        assert leaf.lines[1] == format_array(p.grad.data)


def test_spanish_labels_on_the_two_steps():
    model, loss, _, _ = step("tanh", True)
    src = viz.draw_backward(loss, model=model, lang="es").source
    assert "Derivada ψ'\\n× tanh'(z)" in src
    assert "Salida ponderada doble\\n(linear)" in src
    assert "Salida constante: δ → ∂J/∂0.bias" in src
    assert "Σ sobre el eje 0: (2,3)→(3,)" in src
    fwd = viz.draw_forward(loss, model=model, lang="es").source
    assert "tanh\\nFunción de activación ψ" in fwd and "linear\\nEntrada ponderada w·a" in fwd


def test_activation_step_sits_outside_the_linear_cluster():
    model, loss, _, _ = step("tanh", True)
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    fwd = cluster_paths(viz.draw_forward(loss, model=model).source)
    assert fwd[f"op{id(node)}"] == fwd[f"z{id(node)}"] == ["Sequential (Sequential)",
                                                           "0 (Linear)"]
    assert fwd[f"act{id(node)}"] == ["Sequential (Sequential)"]
    bwd = cluster_paths(viz.draw_backward(loss, model=model).source)
    assert bwd[f"lin{id(node)}"] == ["Sequential (Sequential)", "0 (Linear)"]
    assert bwd[f"inv{id(node)}"] == ["Sequential (Sequential)"]


def test_explicit_fused_op_inside_a_traced_module_stays_in_its_cluster():
    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return ag.linear(x, self.fc.weight, self.fc.bias, activation="sigmoid")

    ag.manual_seed(1)
    layer = Layer()
    with viz.trace_modules(layer) as trace:
        y = layer(ag.tensor([[1.0, 2.0]]))
    loss = y.sum()
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    paths = cluster_paths(viz.draw_forward(loss, trace=trace).source)
    assert paths[f"act{id(node)}"] == paths[f"op{id(node)}"] == ["Layer (Layer)"]


def test_backprop_steps_two_frames_for_a_fused_layer():
    model, loss, _, _ = step("tanh", True)
    plain_model, plain, _, _ = step("tanh", False)
    frames = viz.backprop_steps(loss, model=model)
    assert len(frames) == len(viz.backprop_steps(plain)) == 5   # unit, L', linear, ψ', linear
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    current = [[ln.strip().split(" ")[0] for ln in f.source.splitlines()
                if "penwidth=3" in ln and "->" not in ln] for f in frames]
    assert current[3:] == [[f"inv{id(node)}"], [f"lin{id(node)}"]]
    assert [canonical(f.source) for f in frames] == \
        [canonical(f.source) for f in viz.backprop_steps(plain, model=plain_model)]


def test_collapsed_view_counts_both_steps():
    model, loss, _, _ = step("relu", True)
    for view in ("forward", "backward"):
        m = module_model(loss, view=view, model=model)
        box = next(n for n in m.nodes if n.data.get("module") == "0")
        assert box.data["ops"] == {"linear": 1, "relu": 1} and box.data["n_ops"] == 2
        assert "2 ops: linear, relu" in box.lines
    frames = viz.backprop_steps(loss, collapse="module", model=model)
    assert len(frames) >= 3
    viz.draw_forward(loss, collapse="module", model=model)
    viz.draw_backward(loss, collapse="module", model=model)


def test_gradcheck_with_fused_layers_marks_both_steps():
    model, loss, x, _ = step("sigmoid", True)
    m = forward_model(loss, model=model, checks=True)
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    assert m.node(f"op{id(node)}").kind == m.node(f"act{id(node)}").kind == "op_ok"
    src = viz.draw_gradcheck(loss, [model[0].weight, x], model=model).source
    assert "✓ end-to-end" in src and "✗" not in src
    src = viz.draw_gradcheck(loss, [model[0].weight], collapse="module", model=model).source
    assert "gradcheck" in src


def test_fused_layer_without_bias_and_on_a_vector():
    ag.manual_seed(2)
    w = ag.randn(2, 3, requires_grad=True)
    x = ag.tensor([0.5, -1.0, 2.0])
    y = ag.linear(x, w, activation="tanh")
    with ag.no_grad():
        z = ag.linear(x, w).data
    m = forward_model(y.sum(), names={"w": w, "x": x})
    assert m.node(f"z{id(y.grad_fn)}").lines == ["(2,)", format_array(z)]
    b = backward_model(y.sum(), names={"w": w, "x": x})
    (y.sum()).backward()
    assert b.node(f"leaf{id(w)}").lines[1] == format_array(w.grad.data)


def test_mse_loss_is_a_loss_node_with_its_derivative():
    y = ag.tensor([[0.2], [0.9], [0.4]], requires_grad=True)
    t = ag.tensor([[1.0], [0.0], [0.5]])
    loss = ag.mse_loss(y, t)
    assert loss.grad_fn.op.__name__ == "MeanSquaredError"
    fwd = forward_model(loss, names={"y": y, "t": t})
    op = next(n for n in fwd.nodes if n.data.get("op") == "MeanSquaredError")
    assert "Loss function L" in op.lines and "reduction=mean" in op.lines
    m = backward_model(loss, names={"y": y, "t": t})
    inv = m.node(f"inv{id(loss.grad_fn)}")
    expected = 2 * (y.data - t.data) / y.size
    assert inv.kind == "derivative" and inv.lines[0] == "Derivative L'"
    assert f"× L'(y) = {format_array(expected)}" in inv.lines
    (edge,) = [e for e in m.edges if e.src == inv.id]
    assert edge.lines == ["L'·δ", format_array(expected)]          # no edge to the target t
    loss.backward()
    np.testing.assert_allclose(y.grad.data, expected, rtol=1e-6)
    assert m.node(f"leaf{id(y)}").lines == ["∂J/∂y", format_array(y.grad.data)]
    es = viz.draw_backward(ag.mse_loss(y, t, reduction="sum"), names={"y": y}, lang="es").source
    assert "Derivada L'" in es and format_array(2 * (y.data - t.data)) in es


@needs_dot
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_pictures_render(tmp_path, act):
    model, loss, _, _ = step(act, True)
    for draw in (viz.draw_forward, viz.draw_backward):
        path = viz.render(draw(loss, model=model), tmp_path / draw.__name__, format="svg")
        assert open(path, encoding="utf-8").read().lstrip().startswith(("<?xml", "<svg"))
