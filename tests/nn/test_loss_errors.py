"""Every loss names itself in its errors, with the shapes or dtypes involved (the standard's
"a clear error naming the operation"): a bad reduction, an input that is not a floating tensor,
a target of another shape, a 0-d input where a class axis is needed."""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
from nn import functional as F

LOSSES = ["mse_loss", "squared_error", "binary_cross_entropy", "binary_cross_entropy_with_logits",
          "cross_entropy", "nll_loss", "hinge_loss", "multi_margin_loss", "categorical_hinge"]
#: losses whose target is a float tensor of the input's shape
SAME_SHAPE = ["mse_loss", "squared_error", "binary_cross_entropy",
              "binary_cross_entropy_with_logits"]
#: losses of class scores, with integer labels
CLASSES = ["cross_entropy", "nll_loss", "hinge_loss", "multi_margin_loss", "categorical_hinge"]


def _good_call(name):
    loss = getattr(F, name)
    if name in SAME_SHAPE:
        return loss, ag.tensor([[0.25, 0.5]]), ag.tensor([[0.0, 1.0]])
    return loss, ag.tensor([[0.25, 0.5, -1.0]]), ag.tensor(np.array([1]))


@pytest.mark.parametrize("name", LOSSES)
def test_a_bad_reduction_is_named(name):
    loss, x, t = _good_call(name)
    message = (f"{name}: reduction must be one of ('mean', 'sum', 'none'), got 'average'")
    with pytest.raises(ValueError, match=re.escape(message)):
        loss(x, t, reduction="average")


@pytest.mark.parametrize("name", LOSSES)
def test_an_input_that_is_not_a_floating_tensor_is_named(name):
    loss, x, t = _good_call(name)
    with pytest.raises(TypeError, match=re.escape(f"{name}: input must be a Tensor, got list")):
        loss(x.numpy().tolist(), t)
    integer = ag.tensor(np.ones(x.shape, dtype=np.int64))
    with pytest.raises(TypeError,
                       match=re.escape(f"{name}: input must be a floating tensor, got int64")):
        loss(integer, t)


@pytest.mark.parametrize("name", SAME_SHAPE)
def test_a_target_of_another_shape_is_named_with_both_shapes(name):
    loss, x, _ = _good_call(name)
    message = (f"{name}: input of shape (1, 2) and target of shape (2, 1) must have the same "
               "shape")
    with pytest.raises(ValueError, match=re.escape(message)):
        loss(x, ag.tensor([[0.0], [1.0]]))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_a_0d_input_has_no_class_axis(name):
    with pytest.raises(ValueError,
                       match=re.escape(f"{name}: input needs a class axis, got a 0-d tensor")):
        getattr(F, name)(ag.tensor(0.5), ag.tensor(np.array(0)))


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_label_smoothing_outside_0_1_is_named(smoothing):
    x, t = ag.tensor([[0.25, 0.5, -1.0]]), ag.tensor(np.array([1]))
    with pytest.raises(ValueError, match=re.escape(
            f"cross_entropy: label_smoothing must be in [0, 1], got {smoothing}")):
        F.cross_entropy(x, t, label_smoothing=smoothing)


def test_label_smoothing_of_1_is_allowed_and_gives_the_uniform_target():
    # ε = 1: t = 1/C for every class, so ℓ = −mean_c ln softmax(z)_c, whatever the label
    z = np.array([[0.25, 0.5, -1.0]])
    expected = -np.mean(z - np.log(np.exp(z).sum()))
    got = F.cross_entropy(ag.tensor(z), ag.tensor(np.array([1])), label_smoothing=1.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
