"""viz.gradient_flow / plot_gradient_flow: course 001's vanishing-gradient product, measured."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import viz


def deep(width=4, depth=6, seed=0):
    ag.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def data():
    rng = np.random.default_rng(0)
    return (ag.tensor(rng.standard_normal((8, 4)).astype(np.float32)),
            ag.tensor(rng.standard_normal((8, 1)).astype(np.float32)))


def test_the_numbers_are_the_engines_and_the_course_product():
    model, (x, t) = deep(), data()
    flow = viz.gradient_flow(model, x, t)
    loss = nn.MSELoss()(model(x), t)
    loss.backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    np.testing.assert_allclose(flow.grad_norms,
                               [np.linalg.norm(m.weight.grad.numpy()) for m in linears],
                               rtol=1e-5)
    # ψ' of the sigmoid is σ(1 − σ) ≤ 1/4: mean ψ'(z) by hand, layer by layer
    a, means = x.numpy(), []
    for m in linears[:-1]:
        z = a @ m.weight.numpy().T + m.bias.numpy()
        a = 1 / (1 + np.exp(-z))
        means.append(np.mean(a * (1 - a)))
    means.append(1.0)                                          # the linear output layer
    np.testing.assert_allclose(flow.psi_means, means, rtol=1e-5)
    np.testing.assert_allclose(flow.psi_products, np.cumprod(means[::-1])[::-1], rtol=1e-5)
    assert np.all(np.diff(flow.psi_products) > 0)             # shrinks towards the input
    assert flow.psi_products[0] < 0.25 ** 5


def test_same_weights_other_activations_and_the_figure():
    model, (x, t) = deep(), data()
    relu = viz.gradient_flow(model, x, t, activation="relu")
    sig = viz.gradient_flow(model, x, t, activation="sigmoid")
    assert relu.psi_products[0] > sig.psi_products[0]
    assert model[1].__class__ is nn.Sigmoid                    # the user's model is unchanged
    fig = viz.plot_gradient_flow(model, x, t, lang="es")
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["sigmoid", "tanh", "relu"]
    assert left.get_xlabel() == "Capa k" and left.get_yscale() == "log"
    np.testing.assert_allclose(right.get_lines()[2].get_ydata(), relu.psi_products)


def test_errors_name_the_problem():
    x, t = data()
    with pytest.raises(ValueError, match="gradient_flow: expected an nn.Sequential"):
        viz.gradient_flow(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), x, t)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        viz.gradient_flow(deep(), x, t, activation="swish")
