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


ID = re.compile(r"\b(?:oplin|op|act|z|t|invlin|inv|lin|leaft|leaf|sumt|sum|params|mod|"
                r"cluster_m)\d+\b")


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


def fused_node(loss):
    (node,) = [n for n in ag.graph.walk.topological_order([loss.grad_fn])
               if n.op.__name__ == "LinearActivation"]
    return node


PSI = {"tanh": "tanh", "sigmoid": "σ", "relu": "ReLU"}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_forward_shows_linear_then_activation_with_z(act):
    model, loss, x, _ = step(act, True)
    m = forward_model(loss, model=model)
    node = fused_node(loss)
    lin, psi = m.node(f"oplin{id(node)}"), m.node(f"op{id(node)}")
    w, b = model[0].weight.data, model[0].bias.data
    z = x.data @ w.T + b
    assert lin.lines[:2] == ["z⁽¹⁾ = x·W⁽¹⁾ᵀ + b⁽¹⁾", "Weighted input w·a"]
    assert lin.lines[2:-1] == [format_array(row) for row in z] and lin.lines[-1] == "(2,3)"
    assert psi.lines[:2] == [f"a⁽¹⁾ = {PSI[act]}(z⁽¹⁾)", "Activation function ψ"]
    assert psi.data["fused"] == "LinearActivation"
    edges = {(e.src, e.dst) for e in m.edges}
    assert {(lin.id, psi.id), (f"t{id(model[0].weight)}", lin.id)} <= edges


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_backward_psi_step_then_double_weighted_output_with_engine_grads(act):
    model, loss, x, _ = step(act, True)
    m = backward_model(loss, model=model)
    node = fused_node(loss)
    psi, lin = m.node(f"inv{id(node)}"), m.node(f"invlin{id(node)}")
    a = node.output.data
    d = {"tanh": 1 - a * a, "sigmoid": a * (1 - a), "relu": (a > 0).astype(a.dtype)}[act]
    assert psi.kind == "derivative" and psi.lines[0] == "Derivative ψ'"
    k = psi.lines.index("× ψ'(z⁽¹⁾) =")
    assert psi.lines[k + 1:k + 3] == [format_array(row) for row in d]
    delta = psi.data["grad"] * d
    assert lin.kind == "weighted" and lin.lines[2] == "δ⁽¹⁾ = ∂J/∂z⁽¹⁾ ="
    np.testing.assert_allclose(lin.data["grad"], delta, rtol=1e-5)
    (between,) = [e for e in m.edges if e.src == psi.id]
    assert between.dst == lin.id and between.lines == ["ψ'·∂J/∂a⁽¹⁾", "= δ⁽¹⁾"]
    # the ψ' step comes first in the engine order, then the linear one
    assert m.order.index(psi.id) + 1 == m.order.index(lin.id)

    loss.backward(retain_graph=True)
    out = {e.dst: e for e in m.edges if e.src == lin.id}
    w_edge = out[f"leaft{id(model[0].weight)}"]
    b_edge = out[f"leaft{id(model[0].bias)}"]
    assert w_edge.lines == ["Σ over the batch: δ⁽¹⁾ᵀ·x (m = 2)", "= ∂J/∂W⁽¹⁾"]
    assert b_edge.lines == ["Constant output", "δ⁽¹⁾", "= ∂J/∂b⁽¹⁾",
                            "Σ over the batch: (2,3)→(3,)"]
    np.testing.assert_allclose(delta.sum(axis=0), model[0].bias.grad.data, rtol=1e-5)
    np.testing.assert_allclose(delta.T @ x.data, model[0].weight.grad.data, rtol=1e-5)
    for p, name in zip(model.parameters(), ("W⁽¹⁾", "b⁽¹⁾", "W⁽²⁾", "b⁽²⁾")):
        leaf = m.node(f"leaft{id(p)}")                  # every ∂J/∂p leaf equals the engine's
        assert leaf.data["name"] == name
        np.testing.assert_allclose(leaf.data["grad"], p.grad.data)


def test_spanish_labels_on_the_two_steps():
    model, loss, _, _ = step("tanh", True)
    src = viz.draw_backward(loss, model=model, lang="es").source
    assert "Derivada ψ'\\na⁽¹⁾ = tanh(z⁽¹⁾)" in src
    assert "Salida ponderada doble\\nz⁽¹⁾ = x·W⁽¹⁾ᵀ + b⁽¹⁾" in src
    assert "Salida constante\\nδ⁽¹⁾\\n= ∂J/∂b⁽¹⁾\\nΣ sobre el lote: (2,3)→(3,)" in src
    assert 'label="Neurona inversa"' in src
    fwd = viz.draw_forward(loss, model=model, lang="es").source
    assert "a⁽¹⁾ = tanh(z⁽¹⁾)\\nFunción de activación ψ" in fwd
    assert "z⁽¹⁾ = x·W⁽¹⁾ᵀ + b⁽¹⁾\\nEntrada ponderada w·a" in fwd


def test_activation_step_sits_outside_the_linear_cluster():
    model, loss, _, _ = step("tanh", True)
    node = fused_node(loss)
    fwd = cluster_paths(viz.draw_forward(loss, model=model).source)
    assert fwd[f"oplin{id(node)}"] == ["Sequential (Sequential)", "Layer 1"]
    assert fwd[f"op{id(node)}"] == ["Sequential (Sequential)"]
    # the inverse network keeps its inverse neurons when only model= names the parameters
    bwd = cluster_paths(viz.draw_backward(loss, model=model).source)
    assert bwd[f"invlin{id(node)}"] == bwd[f"inv{id(node)}"] == ["Inverse neuron"]


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
    node = fused_node(loss)
    paths = cluster_paths(viz.draw_forward(loss, trace=trace).source)
    assert paths[f"oplin{id(node)}"] == paths[f"op{id(node)}"] == ["Layer (Layer)"]


def test_backprop_steps_two_frames_for_a_fused_layer():
    model, loss, _, _ = step("tanh", True)
    plain_model, plain, _, _ = step("tanh", False)
    frames = viz.backprop_steps(loss, model=model)
    assert len(frames) == len(viz.backprop_steps(plain)) == 5   # unit, L', linear, ψ', linear
    node = fused_node(loss)
    current = [[ln.strip().split(" ")[0] for ln in f.source.splitlines()
                if "penwidth=3" in ln and "->" not in ln] for f in frames]
    assert current[3:] == [[f"inv{id(node)}"], [f"invlin{id(node)}"]]
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
    node = fused_node(loss)
    assert m.node(f"oplin{id(node)}").kind == m.node(f"op{id(node)}").kind == "op_ok"
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
    lin = m.node(f"oplin{id(y.grad_fn)}")
    assert lin.lines[0] == "z⁽¹⁾ = x·wᵀ" or lin.lines[0].startswith("z⁽¹⁾ = ")
    assert lin.lines[2:] == [format_array(v) for v in z] + ["(2,)"]
    b = backward_model(y.sum(), names={"w": w, "x": x})
    (y.sum()).backward()
    np.testing.assert_allclose(b.node(f"leaft{id(w)}").data["grad"], w.grad.data)


def test_mse_loss_is_a_loss_node_with_its_derivative():
    y = ag.tensor([[0.2], [0.9], [0.4]], requires_grad=True)
    t = ag.tensor([[1.0], [0.0], [0.5]])
    loss = ag.mse_loss(y, t)
    assert loss.grad_fn.op.__name__ == "MeanSquaredError"
    fwd = forward_model(loss, names={"y": y, "t": t})
    op = next(n for n in fwd.nodes if n.data.get("op") == "MeanSquaredError")
    assert op.lines[:2] == ["J = 1/N Σ (y − t)²", "Loss function L"]
    m = backward_model(loss, names={"y": y, "t": t})
    inv = m.node(f"inv{id(loss.grad_fn)}")
    expected = 2 * (y.data - t.data) / y.size
    assert inv.kind == "derivative" and inv.lines[0] == "Derivative L'"
    assert "L' = ∂J/∂y = 2(y − t)/N" in inv.lines
    (edge,) = [e for e in m.edges if e.src == inv.id]
    assert edge.lines == ["L'", "= ∂J/∂y"]                          # no edge to the target t
    loss.backward()
    np.testing.assert_allclose(y.grad.data, expected, rtol=1e-6)
    assert m.node(f"leaft{id(y)}").lines == ["∂J/∂y ="] + [format_array(v) for v in y.grad.data]
    es = viz.draw_backward(ag.mse_loss(y, t, reduction="sum"), names={"y": y}, lang="es").source
    assert "Derivada L'" in es and "L' = ∂J/∂y = 2(y − t)" in es


@needs_dot
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_pictures_render(tmp_path, act):
    model, loss, _, _ = step(act, True)
    for draw in (viz.draw_forward, viz.draw_backward):
        path = viz.render(draw(loss, model=model), tmp_path / draw.__name__, format="svg")
        assert open(path, encoding="utf-8").read().lstrip().startswith(("<?xml", "<svg"))
