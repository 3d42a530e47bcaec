"""The graphs a teacher draws (course 000/001 examples and the cases that trip labels up).

Each case returns ``(J, names, model)``: the cost J, the ``names=`` mapping for viz and the
``nn`` model when there is one. Values are float64 so the pictures can be checked to 4 digits.
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag
import nn

# course 000's 2-3-2 example (W⁽¹⁾, W⁽²⁾ from the notes; x, t chosen as in test_course_examples)
W1 = np.array([[1.0, -2.0], [0.0, 1.0], [3.0, 4.0]])
W2 = np.array([[6.0, -2.0, 1.0], [5.0, -3.0, 2.0]])
X = np.array([0.5, -0.25])
T = np.array([1.0, -0.5])


def _leaf(values, name=None):
    t = ag.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    return t


def course_232_model(fuse: bool = True, output_sigmoid: bool = False):
    """nn.Sequential(Linear(2, 3), Sigmoid, Linear(3, 2)[, Sigmoid]) with the course's weights."""
    layers = [nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2)]
    if output_sigmoid:
        layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    model.fuse_layers = fuse
    for layer, w in ((model[0], W1), (model[2], W2)):
        layer.weight.data = w.copy()
        layer.bias.data = np.zeros(w.shape[0])
    return model


def course_232_nn(fuse: bool = True):
    model = course_232_model(fuse)
    x = ag.tensor(X[None, :])
    J = nn.SquaredError()(model(x), ag.tensor(T[None, :]))
    return J, {"x": x}, model


def course_232_batch():
    """The 2-3-2 net on a batch of 3 samples: weight gradients are sums over the batch."""
    model = course_232_model()
    x = ag.tensor(np.stack([X, -X, 2 * X]))
    J = nn.SquaredError()(model(x), ag.tensor(np.stack([T, T, T])))
    return J, {"x": x}, model


def course_232_columns():
    """The 2-3-2 net written as the course writes it: column vectors, W·a + b."""
    W1_, W2_ = _leaf(W1), _leaf(W2)
    b1, b2 = _leaf(np.zeros((3, 1))), _leaf(np.zeros((2, 1)))
    x, t = ag.tensor(X[:, None]), ag.tensor(T[:, None])
    a1 = ag.sigmoid(W1_ @ x + b1)
    y = W2_ @ a1 + b2
    J = 0.5 * ((y - t) ** 2).sum()
    return J, {"W1": W1_, "W2": W2_, "b1": b1, "b2": b2, "x": x, "t": t}, None


def single_neuron():
    """Course 001: h = σ(w·x + b), J = (h − y)² written by hand."""
    w, b = _leaf(0.1), _leaf(-0.3)
    x, y = ag.tensor(np.float64(1.5)), ag.tensor(np.float64(1.0))
    h = ag.sigmoid(w * x + b)
    J = (h - y) ** 2
    return J, {"w": w, "b": b, "x": x, "y": y}, None


def xor_221():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid())
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    x = ag.tensor(np.array([[0.0, 1.0]]))
    J = nn.BCELoss()(model(x), ag.tensor(np.array([[1.0]])))
    return J, {"x": x}, model


def shared_weight():
    w = _leaf(0.7)
    x1, x2 = ag.tensor(np.float64(2.0)), ag.tensor(np.float64(-0.5))
    J = ag.tanh(w * x1 + w * x2)
    return J, {"w": w, "x1": x1, "x2": x2}, None


def square_plus_linear():
    y = _leaf(1.5)
    J = y * y + 3 * y
    return J, {"y": y}, None


def transposed_weight():
    W, b = _leaf(np.array([[0.5, -1.0], [2.0, 0.25]])), _leaf(np.array([0.1, -0.2]))
    x = ag.tensor(np.array([[1.0, 2.0]]))
    J = ag.tanh(x @ W.T + b).sum()
    return J, {"W": W, "b": b, "x": x}, None


def bias_over_batch():
    W, b = _leaf(np.array([[0.5, -1.0]])), _leaf(np.array([0.3]))
    x = ag.tensor(np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]))
    t = ag.tensor(np.array([[1.0], [0.0], [2.0]]))
    J = ag.mse_loss(x @ W.T + b, t)
    return J, {"W": W, "b": b, "x": x, "t": t}, None


def _loss_case(loss, prediction, target):
    ag.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3))
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    x = ag.tensor(np.array([[0.5, -1.0], [1.0, 2.0]]))
    z = model(x)
    return loss(prediction(z), target), {"x": x}, model


LOSSES = {
    "MSELoss": lambda: _loss_case(nn.MSELoss(), lambda z: z, ag.tensor(np.ones((2, 3)))),
    "SquaredError": lambda: _loss_case(nn.SquaredError(), lambda z: z, ag.tensor(np.ones((2, 3)))),
    "BCELoss": lambda: _loss_case(nn.BCELoss(), ag.sigmoid, ag.tensor(np.eye(2, 3))),
    "BCEWithLogitsLoss": lambda: _loss_case(nn.BCEWithLogitsLoss(), lambda z: z,
                                            ag.tensor(np.eye(2, 3))),
    "CrossEntropyLoss": lambda: _loss_case(nn.CrossEntropyLoss(), lambda z: z,
                                           ag.tensor(np.array([0, 2]))),
    "(y - t)**2": lambda: _loss_case(lambda y, t: ((y - t) ** 2).mean(), lambda z: z,
                                     ag.tensor(np.ones((2, 3)))),
    "0.5*||y - t||^2": lambda: _loss_case(lambda y, t: 0.5 * ((y - t) ** 2).sum(), lambda z: z,
                                          ag.tensor(np.ones((2, 3)))),
}

CASES = {
    "course_232_nn": course_232_nn,
    "course_232_unfused": lambda: course_232_nn(fuse=False),
    "course_232_columns": course_232_columns,
    "course_232_batch": course_232_batch,
    "single_neuron": single_neuron,
    "xor_221": xor_221,
    "shared_weight": shared_weight,
    "square_plus_linear": square_plus_linear,
    "transposed_weight": transposed_weight,
    "bias_over_batch": bias_over_batch,
    **{f"loss_{k}": v for k, v in LOSSES.items()},
}
