"""Regularizers: penalties, their gradients (L2 → 2λW, L1 → λ·sgn W), regularization_loss."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import regularizers

W = np.array([[0.5, -1.5, 0.0], [2.0, -0.25, 1.0]])


def _weight():
    return ag.tensor(W, dtype=np.float64, requires_grad=True)


def test_l2_penalty_and_gradient_is_2_lambda_w():
    w = _weight()
    penalty = regularizers.L2(0.1)(w)
    assert penalty.shape == () and np.isclose(penalty.item(), 0.1 * (W ** 2).sum())
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * 0.1 * W, rtol=1e-15)


def test_l1_penalty_and_gradient_is_lambda_sign_w():
    w = _weight()
    penalty = regularizers.L1(0.3)(w)
    assert np.isclose(penalty.item(), 0.3 * np.abs(W).sum())
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), 0.3 * np.sign(W), rtol=1e-15)


def test_l1l2_and_keras_spellings():
    w = _weight()
    penalty = regularizers.L1L2(0.1, 0.2)(w)
    penalty.backward()
    assert np.isclose(penalty.item(), 0.1 * np.abs(W).sum() + 0.2 * (W ** 2).sum())
    np.testing.assert_allclose(w.grad.numpy(), 0.1 * np.sign(W) + 0.4 * W)
    assert isinstance(regularizers.l2(0.01), regularizers.L2)
    assert regularizers.l1_l2 is regularizers.L1L2
    assert repr(regularizers.L2(0.5)) == "L2(l2=0.5)"
    assert regularizers.get("l2").l2 == 0.01
    with pytest.raises(ValueError, match="kernel_regularizer: expected None, a callable"):
        nn.Linear(2, 2, kernel_regularizer="l3")


@pytest.mark.parametrize("reg", [regularizers.L1(0.2), regularizers.L2(0.2),
                                 regularizers.L1L2(0.1, 0.3)])
def test_gradcheck(reg):
    w = ag.tensor(W + 0.1, dtype=np.float64, requires_grad=True)   # away from |w|'s kink
    assert ag.gradcheck(reg, (w,))


def test_regularization_loss_sums_every_layer():
    ag.set_default_dtype(np.float64)
    model = nn.Sequential(
        nn.Linear(3, 4, kernel_regularizer=regularizers.L2(0.1),
                  bias_regularizer=regularizers.L1(0.05)),
        nn.Tanh(),
        nn.Linear(4, 2, kernel_regularizer=regularizers.L1(0.2),
                  activity_regularizer=regularizers.L2(0.5)),
        nn.Linear(2, 1))
    x = ag.randn(5, 3)
    model(x)
    hidden = model[:3](x).numpy()
    w0, b0, w2 = model[0].weight.numpy(), model[0].bias.numpy(), model[2].weight.numpy()
    expected = (0.1 * (w0 ** 2).sum() + 0.05 * np.abs(b0).sum() + 0.2 * np.abs(w2).sum()
                + 0.5 * (hidden ** 2).sum() / 5)          # activity: divided by the batch (Keras)
    total = model.regularization_loss()
    assert np.isclose(total.item(), expected, rtol=1e-12)
    total.backward()
    assert model[3].weight.grad is None                      # no penalty on the last layer


def test_kernel_and_bias_penalty_gradients_through_the_model():
    ag.set_default_dtype(np.float64)
    model = nn.Sequential(nn.Linear(3, 4, kernel_regularizer=regularizers.L2(0.1),
                                    bias_regularizer=regularizers.L1(0.05)), nn.ReLU())
    model.regularization_loss().backward()
    w0, b0 = model[0].weight.numpy(), model[0].bias.numpy()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 * 0.1 * w0, rtol=1e-12)
    np.testing.assert_allclose(model[0].bias.grad.numpy(), 0.05 * np.sign(b0), rtol=1e-12)


def test_activity_penalty_follows_the_last_forward():
    ag.set_default_dtype(np.float64)
    layer = nn.Linear(3, 2, activity_regularizer=regularizers.L2(0.5))
    layer(ag.randn(7, 3))
    x = ag.randn(5, 3)
    out = layer(x).numpy()
    layer.regularization_loss().backward()
    # J = 0.5·Σ out² / N  →  ∂J/∂W = (2·0.5·out / N)ᵀ x
    np.testing.assert_allclose(layer.weight.grad.numpy(), (out / 5).T @ x.numpy(), rtol=1e-12)


def test_regularization_loss_is_zero_without_regularizers():
    model = nn.Sequential(nn.Linear(2, 2))
    loss = model.regularization_loss()
    assert loss.item() == 0.0 and loss.dtype == np.float32
