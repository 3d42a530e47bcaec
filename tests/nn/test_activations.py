"""Activation modules: float64 gradcheck, closed-form values, PyTorch parity when installed."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import autograd_core as ag
import nn
import nn.functional as F

X = np.array([[-3.0, -1.0, -0.2, 0.3, 1.0, 2.5], [0.7, -0.6, 1.9, -2.2, 0.05, -0.01]])
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# (module, closed form, torch module factory)
CASES = {
    "Sigmoid": (nn.Sigmoid(), _sigmoid, lambda t: t.nn.Sigmoid()),
    "Tanh": (nn.Tanh(), lambda x: (1 - np.exp(-2 * x)) / (1 + np.exp(-2 * x)),
             lambda t: t.nn.Tanh()),
    "ReLU": (nn.ReLU(), lambda x: np.maximum(x, 0), lambda t: t.nn.ReLU()),
    "LeakyReLU": (nn.LeakyReLU(0.2), lambda x: np.where(x < 0, 0.2 * x, x),
                  lambda t: t.nn.LeakyReLU(0.2)),
    "ELU": (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
            lambda t: t.nn.ELU(0.5)),
    "SELU": (nn.SELU(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
             lambda t: t.nn.SELU()),
    "Softplus": (nn.Softplus(2.0), lambda x: np.log1p(np.exp(2 * x)) / 2,
                 lambda t: t.nn.Softplus(beta=2.0, threshold=1e9)),
    "SiLU": (nn.SiLU(), lambda x: x * _sigmoid(x), lambda t: t.nn.SiLU()),
    "GELU": (nn.GELU(), lambda x: 0.5 * x * (1 + special.erf(x / math.sqrt(2))),
             lambda t: t.nn.GELU()),
    "GELUTanh": (nn.GELU(approximate="tanh"),
                 lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                  * (x + 0.044715 * x ** 3))),
                 lambda t: t.nn.GELU(approximate="tanh")),
    "Softmax": (nn.Softmax(dim=-1), _softmax, lambda t: t.nn.Softmax(dim=-1)),
    "Softmax0": (nn.Softmax(dim=0), lambda x: _softmax(x.T).T, lambda t: t.nn.Softmax(dim=0)),
    "LogSoftmax": (nn.LogSoftmax(dim=1), lambda x: np.log(_softmax(x)),
                   lambda t: t.nn.LogSoftmax(dim=1)),
    "Identity": (nn.Identity(), lambda x: x, lambda t: t.nn.Identity()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_closed_form_and_gradcheck(name):
    module, formula, _ = CASES[name]
    x = ag.tensor(X, dtype=np.float64, requires_grad=True)
    np.testing.assert_allclose(module(x).numpy(), formula(X), rtol=1e-12, atol=1e-14)
    assert ag.gradcheck(module, (x,))


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_values_and_gradients(name):
    torch = pytest.importorskip("torch")
    module, _, make_ref = CASES[name]
    x = ag.tensor(X, dtype=np.float32, requires_grad=True)
    xt = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    out, ref = module(x), make_ref(torch)(xt)
    weights = np.linspace(-1, 1, X.size).reshape(X.shape).astype(np.float32)
    (out * weights).sum().backward()
    (ref * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_swish_is_silu_and_functional_names():
    assert nn.Swish is nn.SiLU
    x = ag.tensor(X)
    np.testing.assert_array_equal(F.swish(x).numpy(), F.silu(x).numpy())
    np.testing.assert_array_equal(F.softmax(x, dim=0).numpy(), ag.softmax(x, axis=0).numpy())
    np.testing.assert_array_equal(F.log_softmax(x).numpy(), ag.log_softmax(x).numpy())
    assert F.identity(x) is x


def test_reprs():
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.ReLU()) == "ReLU()"


def test_activations_have_no_parameters():
    model = nn.Sequential(*(case[0] for case in CASES.values()))
    assert list(model.parameters()) == []
