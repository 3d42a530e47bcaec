"""Every loss names itself in its errors, with the shapes or dtypes involved (the standard's
"a clear error naming the operation"): a bad reduction, an input that is not a floating tensor,
a target of another shape, a 0-d input where a class axis is needed."""
from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_core as ag
import nn
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


# --- the loss modules: their options reach the function, weights are buffers ----------------------
X2 = np.array([[0.25, 0.5, -1.0], [1.5, -0.5, 0.0]])
LABELS = np.array([1, 2])


def _module_cases():
    w = [0.5, 2.0, 1.0]
    probs = np.array([[0.2, 0.7, 0.4], [0.9, 0.1, 0.5]])
    binary = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    return [
        (nn.BCELoss(weight=w, reduction="sum"), F.binary_cross_entropy,
         (probs, binary), dict(weight=w, reduction="sum"), {"weight": w}),
        (nn.BCEWithLogitsLoss(weight=w, reduction="none", pos_weight=[3.0, 1.0, 0.5]),
         F.binary_cross_entropy_with_logits, (X2, binary),
         dict(weight=w, reduction="none", pos_weight=[3.0, 1.0, 0.5]),
         {"weight": w, "pos_weight": [3.0, 1.0, 0.5]}),
        (nn.CrossEntropyLoss(weight=w, ignore_index=2, reduction="sum", label_smoothing=0.2),
         F.cross_entropy, (X2, LABELS),
         dict(weight=w, ignore_index=2, reduction="sum", label_smoothing=0.2), {"weight": w}),
        (nn.NLLLoss(weight=w, ignore_index=2, reduction="sum"), F.nll_loss,
         (X2, LABELS), dict(weight=w, ignore_index=2, reduction="sum"), {"weight": w}),
        (nn.HingeLoss(margin=0.5, reduction="sum"), F.hinge_loss, (X2, LABELS),
         dict(margin=0.5, reduction="sum"), {}),
        (nn.MultiMarginLoss(p=2, margin=0.5, weight=w, reduction="sum"), F.multi_margin_loss,
         (X2, LABELS), dict(p=2, margin=0.5, weight=w, reduction="sum"), {"weight": w}),
        (nn.CategoricalHinge(reduction="none"), F.categorical_hinge, (X2, LABELS),
         dict(reduction="none"), {}),
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_loss_module_gives_its_function_every_option(case):
    module, function, (x, t), options, buffers = _module_cases()[case]
    options = {k: (ag.tensor(np.asarray(v, dtype=np.float64)) if k in buffers else v)
               for k, v in options.items()}
    x64 = ag.tensor(np.asarray(x, dtype=np.float64))
    module = module.double()
    expected = function(x64, ag.tensor(t), **options).numpy()
    np.testing.assert_allclose(module(x64, ag.tensor(t)).numpy(), expected, rtol=1e-6)
    state = module.state_dict()
    assert sorted(state) == sorted(buffers)
    for name, values in buffers.items():
        np.testing.assert_allclose(np.asarray(state[name]), values)


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.SquaredError, nn.BCELoss, nn.BCEWithLogitsLoss,
                                 nn.CrossEntropyLoss, nn.NLLLoss, nn.HingeLoss,
                                 nn.MultiMarginLoss, nn.CategoricalHinge])
def test_a_loss_module_checks_its_reduction_by_its_name_and_defaults_to_mean(cls):
    assert cls().reduction == "mean"
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: reduction must be one of ('mean', 'sum', 'none'), got 'avg'")):
        cls(reduction="avg")


@pytest.mark.parametrize("p", [0, 3])
def test_multi_margin_loss_takes_p_1_or_2(p):
    with pytest.raises(ValueError, match=re.escape(f"MultiMarginLoss: p must be 1 or 2, got {p}")):
        nn.MultiMarginLoss(p=p)


def test_the_default_ignore_index_is_pytorchs():
    assert nn.NLLLoss().ignore_index == -100 and nn.CrossEntropyLoss().ignore_index == -100


@pytest.mark.parametrize("with_weight, with_pos_weight", [(True, False), (False, True),
                                                           (True, True), (False, False)])
def test_bce_with_logits_weights_by_hand(with_weight, with_pos_weight):
    """ℓ = w·[(1 − t)·z + (1 + (p − 1)·t)·ln(1 + e^{−z})] for each combination of the element
    weight w and the positive weight p (w = 1, p = 1 when not given), summed."""
    z = np.array([[0.25, -2.0, 3.0], [1.5, -0.5, 0.0]])
    t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    w = np.array([0.5, 2.0, 1.5]) if with_weight else np.ones(3)
    p = np.array([3.0, 1.0, 0.5]) if with_pos_weight else np.ones(3)
    expected = np.sum(w * ((1 - t) * z + (1 + (p - 1) * t) * np.log1p(np.exp(-z))))
    got = F.binary_cross_entropy_with_logits(
        ag.tensor(z), ag.tensor(t), weight=ag.tensor(w) if with_weight else None,
        reduction="sum", pos_weight=ag.tensor(p) if with_pos_weight else None)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
