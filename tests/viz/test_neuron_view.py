"""Neuron-level view: DOT-level checks against the engine's numbers (no `dot` needed)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import autograd_core as ag
import nn
from viz.neuron_view import _fmt, _sym, draw_network


def course_232() -> nn.Sequential:
    """The course's 2-3-2 example: sigmoid hidden layer, linear output, zero biases."""
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2)).double()
    with ag.no_grad():
        model[0].weight.data[...] = [[1, -2], [0, 1], [3, 4]]
        model[0].bias.data[...] = [0.1, -0.2, 0.3]
        model[2].weight.data[...] = [[6, -2, 1], [5, -3, 2]]
        model[2].bias.data[...] = [0.5, -0.5]
    return model


X, T = [1.0, 2.0], [1.0, 0.0]


def test_forward_labels_are_the_weights():
    model = course_232()
    source = draw_network(model).source
    for k, layer in ((1, model[0]), (2, model[2])):
        w, b = layer.weight.numpy(), layer.bias.numpy()
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                assert f"{_sym('w', i + 1, k, j + 1)} = {_fmt(w[i, j])}" in source
            assert f"{_sym('b', i + 1, k)} = {_fmt(b[i])}" in source
    assert source.count('label="+1"') == 2
    assert draw_network(model).engine == "neato"


def test_forward_shows_activations():
    model = course_232()
    source = draw_network(model, x=X).source
    a1 = 1 / (1 + np.exp(-(np.array([[1, -2], [0, 1], [3, 4]]) @ X + [0.1, -0.2, 0.3])))
    for i, v in enumerate(a1):
        assert f"{_sym('a', i + 1, 1)}\nσ\n{_fmt(v)}" in source


def test_backward_deltas_and_weight_grads_equal_the_engine():
    model = course_232()
    for p in model.parameters():
        p.grad = None
    source = draw_network(model, x=X, t=T, view="backward").source
    # the engine, the ordinary way
    x = ag.tensor(np.array([X]))
    z1 = model[0](x)
    z1.retain_grad()
    z2 = model[2](model[1](z1))
    z2.retain_grad()
    cost = nn.SquaredError()(z2, ag.tensor(np.array([T])))
    # NOTE: draw_network ran before, so .grad was None until this backward (checked below)
    assert all(p.grad is None for p in model.parameters())
    cost.backward()
    for k, z in ((1, z1), (2, z2)):
        for i, d in enumerate(z.grad.numpy()[0]):
            assert f"{_sym('δ', i + 1, k)}\n{_fmt(d)}" in source
    for k, layer in ((1, model[0]), (2, model[2])):
        gw, gb = layer.weight.grad.numpy(), layer.bias.grad.numpy()
        for i in range(gw.shape[0]):
            for j in range(gw.shape[1]):
                assert f"∂J/∂{_sym('w', i + 1, k, j + 1)} = {_fmt(gw[i, j])}" in source
            assert f"∂J/∂{_sym('b', i + 1, k)} = {_fmt(gb[i])}" in source
    # course formulas: δ2 = y − t for a linear output and C = ½‖y − t‖²
    y = z2.numpy()[0]
    assert np.allclose(z2.grad.numpy()[0], y - np.array(T))
    assert f"{_fmt(cost.item())}" in source


def test_users_grad_untouched():
    model = course_232()
    loss = nn.SquaredError()(model(ag.tensor(np.array([X]))), ag.tensor(np.array([T])))
    loss.backward()
    before = [p.grad.numpy().copy() for p in model.parameters()]
    draw_network(model, x=X, t=T, view="both")
    for p, g in zip(model.parameters(), before):
        assert np.array_equal(p.grad.numpy(), g)


def test_both_views_and_spanish():
    graph = draw_network(course_232(), x=X, t=T, view="both", lang="es")
    source = graph.source
    assert "subgraph cluster_forward" in source and "subgraph cluster_backward" in source
    assert "Red neuronal inversa" in source and "Coste J" in source and "Unidad 1" in source
    assert "dir=back" in source


def test_size_refusal_and_unsupported_modules():
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\) has 20 units, more than "
                                         r"max_units=12"):
        draw_network(nn.Sequential(nn.Linear(2, 20), nn.Tanh(), nn.Linear(20, 1)))
    with pytest.raises(ValueError, match=r"layer 2 \(Dropout\) is not supported"):
        draw_network(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.5)))
    with pytest.raises(ValueError, match="needs a target t"):
        draw_network(course_232(), x=X, view="backward")
    with pytest.raises(ValueError, match="one sample of 2 values"):
        draw_network(course_232(), x=[1.0, 2.0, 3.0])
    draw_network(nn.Sequential(nn.Linear(2, 20), nn.Linear(20, 1)), max_units=20)


def test_cross_entropy_and_relu():
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    source = draw_network(model, x=[0.5, -1.0], t=[2], view="backward",
                          loss_fn=nn.CrossEntropyLoss()).source
    assert source.count("δ") >= 7


@pytest.mark.skipif(shutil.which("neato") is None, reason="Graphviz is not installed")
def test_renders_svg(tmp_path):
    graph = draw_network(course_232(), x=X, t=T, view="both")
    svg = graph.pipe(format="svg").decode()
    assert "<svg" in svg and "Inverse network" in svg
