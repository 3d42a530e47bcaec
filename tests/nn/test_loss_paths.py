"""nn.losses behaviours that mutation testing found unchecked, each checked without PyTorch.

Expected values are computed by hand with numpy in float64 (or come from a documented
equivalent call); errors are matched on their full message. The cases cover the less common
paths: classes on axis 1 with (N, C, d) inputs, one sample given as 1-D scores, one class with
ignored labels, soft targets (as lists, as tensors that require grad, of another dtype), the
dtype a float32 input keeps, the module options and their repr.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.losses as L

LN2 = math.log(2.0)
#: two samples of three class scores, and their labels
Z = np.array([[0.25, 0.5, -1.0], [1.5, -0.5, 0.0]])
LABELS = np.array([1, 2])
#: one row of class probabilities per sample
PROBS = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])


def leaf(values, dtype=np.float64):
    """A tensor that requires grad, of the given dtype."""
    return ag.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def log_softmax(z, axis=-1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def hinge_by_hand(z, labels, margin=1.0):
    """Σ_{j≠o} max(0, z_j − z_o + Δ) for each row of z (the course's multi-class hinge)."""
    z = np.atleast_2d(z)
    true = z[np.arange(len(z)), np.atleast_1d(labels)][:, None]
    terms = np.maximum(0.0, z - true + margin)
    terms[np.arange(len(z)), np.atleast_1d(labels)] = 0.0
    return terms.sum(axis=1)


# --- cross_entropy --------------------------------------------------------------------------------
def test_cross_entropy_with_class_weights_refuses_label_smoothing_above_one():
    """label_smoothing = 1.5 is refused by name on the weighted path too (not only fused)."""
    message = "cross_entropy: label_smoothing must be in [0, 1], got 1.5"
    with pytest.raises(ValueError, match=re.escape(message)):
        L.cross_entropy(ag.tensor(Z), LABELS, weight=[1.0, 2.0, 1.0], label_smoothing=1.5)


def test_cross_entropy_with_class_axis_1_and_soft_targets_gives_the_target_its_gradient():
    """(N, C, d) logits with (N, C, d) probability tensors: the loss, ∂J/∂z = (softmax − t)/(N·d)
    and ∂J/∂t = −ln softmax(z)/(N·d), classes on axis 1."""
    rng = np.random.default_rng(1)
    z_values = rng.normal(size=(2, 3, 4))
    t_values = rng.dirichlet(np.ones(3), size=(2, 4)).transpose(0, 2, 1)
    z, t = leaf(z_values), leaf(t_values)
    loss = L.cross_entropy(z, t)
    log_p = log_softmax(z_values, axis=1)
    np.testing.assert_allclose(loss.item(), -(t_values * log_p).sum(axis=1).mean(), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(z.grad.numpy(), (np.exp(log_p) - t_values) / 8, atol=1e-15)
    assert t.grad is not None
    np.testing.assert_allclose(t.grad.numpy(), -log_p / 8, rtol=1e-12)


def test_cross_entropy_takes_soft_targets_as_nested_lists():
    """Probabilities given as a plain nested list give −mean Σ_c t_c ln softmax(z)_c."""
    loss = L.cross_entropy(ag.tensor(Z), PROBS.tolist())
    expected = -(PROBS * log_softmax(Z)).sum(axis=1).mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)


def test_float32_logits_with_float64_soft_targets_and_class_weights_give_a_float32_loss():
    """float64 numpy probabilities are cast to the logits' float32; the mean divides by N."""
    weight = [0.5, 2.0, 1.0]
    loss = L.cross_entropy(ag.tensor(Z.astype(np.float32)), PROBS, weight=weight)
    assert loss.dtype == np.float32
    expected = -(np.array(weight) * PROBS * log_softmax(Z)).sum(axis=1).mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)


def test_cross_entropy_smooths_soft_targets():
    """With probabilities and no weight, ε = 0.3 still uses t ← (1 − ε)t + ε/C."""
    loss = L.cross_entropy(ag.tensor(Z), ag.tensor(PROBS), label_smoothing=0.3)
    smoothed = 0.7 * PROBS + 0.3 / 3
    np.testing.assert_allclose(loss.item(), -(smoothed * log_softmax(Z)).sum(axis=1).mean(),
                               rtol=1e-12)


@pytest.mark.parametrize("weight", [None, [2.0]])
def test_cross_entropy_with_one_class_and_ignored_labels(weight):
    """One class: softmax is 1, every kept sample costs 0; the ignored one is skipped, the mean
    (÷ Σ w of the kept) is 0 and so is the gradient."""
    z = leaf([[0.5], [1.5], [-2.0]])
    loss = L.cross_entropy(z, np.array([0, -100, 0]), weight=weight)
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((3, 1)))


def test_the_error_for_wrong_shape_probabilities_names_the_label_shape_for_n_c_d_input():
    """For (N, C, d) logits the error says both shapes and that labels would be (N, d)."""
    message = ("cross_entropy: target probabilities of shape (2, 3, 5) must have the shape of "
               "the input (2, 3, 4) (or pass integer labels of shape (2, 4))")
    with pytest.raises(ValueError, match=re.escape(message)):
        L.cross_entropy(ag.tensor(np.zeros((2, 3, 4))), np.full((2, 3, 5), 0.2))


# --- integer labels -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss", "hinge_loss"])
def test_a_label_equal_to_the_number_of_classes_is_refused(name):
    """Labels run from 0 to C − 1: label C is out of range, named with the function."""
    with pytest.raises(ValueError,
                       match=re.escape(f"{name}: label 3 is out of range for 3 classes")):
        getattr(L, name)(ag.tensor(Z), np.array([0, 3]))


def test_a_negative_label_is_the_one_named_in_the_error():
    """With labels [2, −1] (−1 not ignored) the error names −1, not the largest label."""
    with pytest.raises(ValueError,
                       match=re.escape("nll_loss: label -1 is out of range for 3 classes")):
        L.nll_loss(ag.tensor(Z), np.array([2, -1]))


def test_nll_loss_takes_labels_as_a_python_list():
    """nll_loss(x, [1, 2]) is −mean of x[i, o_i]."""
    loss = L.nll_loss(ag.tensor(Z), [1, 2])
    np.testing.assert_allclose(loss.item(), -(Z[0, 1] + Z[1, 2]) / 2, rtol=1e-6)


def test_nll_loss_refuses_a_float_target_that_requires_grad_by_name():
    """A float target is refused as 'not integer labels', even one that requires grad."""
    message = "nll_loss: target must hold integer class labels, got float32"
    with pytest.raises(TypeError, match=re.escape(message)):
        L.nll_loss(ag.tensor(Z), ag.tensor([1.0, 2.0], requires_grad=True))


def test_the_label_shape_error_for_one_sample_expects_a_0d_label():
    """For 1-D scores (C,), labels of shape (2,) are refused: the expected shape is ()."""
    message = ("hinge_loss: integer labels of shape (2,) do not match input of shape (3,): "
               "expected ()")
    with pytest.raises(ValueError, match=re.escape(message)):
        L.hinge_loss(ag.tensor(Z[0]), np.array([0, 1]))


# --- nll_loss -------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_weighted_nll_loss_with_classes_on_axis_1(reduction):
    """(N, C, d) log-probabilities with (N, d) labels: ℓ_ik = −w_o · x[i, o, k]; one label is
    ignored; "mean" divides by Σ w of the kept labels."""
    rng = np.random.default_rng(2)
    x = log_softmax(rng.normal(size=(2, 3, 4)), axis=1)
    labels = np.array([[0, 2, 1, 2], [1, -100, 0, 2]])
    weight = np.array([0.5, 2.0, 4.0])
    kept = np.where(labels == -100, 0, labels)
    picked = np.take_along_axis(x, kept[:, None, :], axis=1)[:, 0, :]
    scale = weight[kept] * (labels != -100)
    per = -picked * scale
    expected = per if reduction == "none" else per.sum() / scale.sum()
    loss = L.nll_loss(ag.tensor(x), labels, weight=weight, reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


def test_nll_loss_with_one_class_and_ignored_labels():
    """One class: the kept samples cost −x[i, 0], the ignored one nothing; mean over the kept."""
    loss = L.nll_loss(ag.tensor([[-0.5], [-1.5], [-2.0]]), np.array([0, -100, 0]))
    np.testing.assert_allclose(loss.item(), (0.5 + 2.0) / 2, rtol=1e-6)


@pytest.mark.parametrize("name", ["nll_loss", "multi_margin_loss"])
def test_a_weight_of_the_wrong_length_is_refused_naming_the_function(name):
    """Two weights for three classes: the error names the function and both shapes."""
    message = f"{name}: weight must have one value per class, shape (3,), got (2,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(L, name)(ag.tensor(Z), np.array([0, 1]), weight=[1.0, 2.0])


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_nll_loss_of_float32_log_probabilities_is_float32(reduction):
    """A float32 input gives a float32 loss (no promotion to float64 by the ignore mask)."""
    loss = L.nll_loss(ag.tensor(Z.astype(np.float32)), LABELS, reduction=reduction)
    assert loss.dtype == np.float32


def test_weighted_nll_mean_of_equal_losses_is_exactly_that_loss_in_float32():
    """Every −x[i, o_i] = 1: the weighted mean Σ w·1 / Σ w is exactly 1, the weights taken in
    the input's float32 for both sums."""
    x = ag.tensor(np.full((4, 3), -1.0, dtype=np.float32))
    loss = L.nll_loss(x, np.array([0, 0, 1, 2]), weight=[0.1, 0.2, 0.3])
    assert loss.dtype == np.float32
    assert loss.item() == 1.0


def test_a_class_weight_tensor_that_requires_grad_is_used_as_constants():
    """weight may be a tensor that requires grad: its values weight the samples."""
    weight = ag.tensor([0.5, 2.0, 4.0], requires_grad=True)
    loss = L.nll_loss(ag.tensor(Z), LABELS, weight=weight, reduction="sum")
    np.testing.assert_allclose(loss.item(), -(2.0 * Z[0, 1] + 4.0 * Z[1, 2]), rtol=1e-6)


# --- hinge_loss, multi_margin_loss ----------------------------------------------------------------
@pytest.mark.parametrize("target", [np.array(0), np.array([1.0, 0.0, 0.0])],
                         ids=["0d-label", "one-hot-vector"])
def test_hinge_loss_accepts_one_sample_as_1d_scores(target):
    """Scores (C,) with a 0-d label or a one-hot vector: max(0, 5 − 3 + 1) + max(0, −2 − 3 + 1)
    = 3, gradient [−1, 1, 0]; multi_margin_loss divides by C = 3."""
    z = leaf([3.0, 5.0, -2.0])
    loss = L.hinge_loss(z, target)
    assert loss.shape == () and loss.item() == 3.0
    loss.backward()
    np.testing.assert_array_equal(z.grad.numpy(), [-1.0, 1.0, 0.0])
    assert L.multi_margin_loss(ag.tensor([3.0, 5.0, -2.0]), target).item() == 1.0


@pytest.mark.parametrize("requires_grad", [False, True])
def test_hinge_loss_takes_one_hot_rows_for_n_samples_of_c_classes(requires_grad):
    """(2, 3) one-hot rows (N ≠ C) give the loss of their argmax labels, also when the rows are
    held in a tensor that requires grad."""
    one_hot = ag.tensor(np.eye(3)[LABELS], requires_grad=requires_grad)
    loss = L.hinge_loss(ag.tensor(Z), one_hot, reduction="none")
    np.testing.assert_allclose(loss.numpy(), hinge_by_hand(Z, LABELS), rtol=1e-12)


def test_hinge_loss_refuses_3d_scores_by_name():
    message = "hinge_loss: input must be (C,) or (N, C) scores, got shape (2, 3, 4)"
    with pytest.raises(ValueError, match=re.escape(message)):
        L.hinge_loss(ag.tensor(np.zeros((2, 3, 4))), np.zeros((2, 3), dtype=np.int64))


def test_multi_margin_loss_refuses_p_3_by_name():
    with pytest.raises(ValueError, match=re.escape("multi_margin_loss: p must be 1 or 2, got 3")):
        L.multi_margin_loss(ag.tensor(Z), LABELS, p=3)


@pytest.mark.parametrize("name, options", [("hinge_loss", {}),
                                           ("multi_margin_loss", {"weight": [0.5, 2.0, 1.0]})])
def test_margin_losses_keep_a_float32_input_dtype(name, options):
    """float32 scores (with list class weights for multi_margin_loss) give a float32 loss."""
    z = ag.tensor(Z.astype(np.float32))
    loss = getattr(L, name)(z, LABELS, **options)
    assert loss.dtype == np.float32
    per = hinge_by_hand(Z, LABELS)
    if name == "multi_margin_loss":
        per = per * np.array(options["weight"])[LABELS] / 3
    np.testing.assert_allclose(loss.item(), per.mean(), rtol=1e-6)


# --- binary cross-entropy, same-shape targets -----------------------------------------------------
@pytest.mark.parametrize("values", [[0.25, 1.5], [-0.5, 0.5]])
def test_binary_cross_entropy_refuses_values_outside_0_1(values):
    """One value above 1 (or below 0) is enough; the error points to the logits version."""
    low, high = min(values), max(values)
    message = (f"binary_cross_entropy: input must hold probabilities in [0, 1], got values in "
               f"[{low}, {high}]; for logits use binary_cross_entropy_with_logits")
    with pytest.raises(ValueError, match=re.escape(message)):
        L.binary_cross_entropy(ag.tensor(np.array(values)), np.array([1.0, 0.0]))


@pytest.mark.parametrize("weight", [None, [1.0, 1.0]])
def test_binary_cross_entropy_clamps_each_log_at_minus_100_per_element(weight):
    """y = e^−100.5 with t = 1 costs exactly 100 (ln y clamped at −100) per element, as the
    fused mean/sum op does."""
    y = np.array([math.exp(-100.5), 0.5])
    t = np.array([1.0, 1.0])
    per = L.binary_cross_entropy(ag.tensor(y), t, weight=weight, reduction="none")
    np.testing.assert_allclose(per.numpy(), [100.0, LN2], rtol=1e-15)
    fused = ag.binary_cross_entropy(ag.tensor(y), ag.tensor(t), "sum")
    np.testing.assert_allclose(per.numpy().sum(), fused.item(), rtol=1e-15)


def test_float32_probabilities_with_a_list_weight_give_a_float32_loss():
    """The weight list is taken in the input's dtype: ℓ = −w·[t ln y + (1 − t) ln(1 − y)]."""
    y, t, w = np.array([[0.25, 0.5]]), np.array([[1.0, 0.0]]), [2.0, 0.5]
    loss = L.binary_cross_entropy(ag.tensor(y.astype(np.float32)), t, weight=w)
    assert loss.dtype == np.float32
    expected = np.mean(-np.array(w) * (t * np.log(y) + (1 - t) * np.log(1 - y)))
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)


def test_float32_logits_with_a_list_weight_give_a_float32_loss():
    """binary_cross_entropy_with_logits: ℓ = w·[max(z, 0) − z·t + ln(1 + e^−|z|)], float32."""
    z, t, w = np.array([[0.25, -2.0]]), np.array([[1.0, 0.0]]), [2.0, 0.5]
    loss = L.binary_cross_entropy_with_logits(ag.tensor(z.astype(np.float32)), t, weight=w)
    assert loss.dtype == np.float32
    per = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    np.testing.assert_allclose(loss.item(), np.mean(np.array(w) * per), rtol=1e-6)


@pytest.mark.parametrize("name, scale", [("mse_loss", 1.0), ("squared_error", 0.5)])
def test_a_float64_target_tensor_is_cast_to_a_float32_input(name, scale):
    """reduction="none": a float32 input and a float64 target tensor give float32 values."""
    y, t = np.array([[1.0, 2.0]]), np.array([[0.5, 0.0]])
    loss = getattr(L, name)(ag.tensor(y.astype(np.float32)), ag.tensor(t), reduction="none")
    assert loss.dtype == np.float32
    expected = scale * (y - t) ** 2
    np.testing.assert_allclose(loss.numpy(), expected if name == "mse_loss" else
                               expected.sum(axis=1), rtol=1e-6)


# --- categorical_hinge ----------------------------------------------------------------------------
def test_categorical_hinge_refuses_a_0d_input_by_name():
    message = "categorical_hinge: input needs a class axis, got a 0-d tensor"
    with pytest.raises(ValueError, match=re.escape(message)):
        L.categorical_hinge(ag.tensor(0.5), np.array(0))


@pytest.mark.parametrize("target", [np.array(1), np.array([0.0, 1.0, 0.0])],
                         ids=["0d-label", "one-hot-vector"])
def test_categorical_hinge_accepts_one_sample_as_1d_scores(target):
    """z = [2, 1, −1], true class 1: pos = 1, neg = max(2, 0, −1) = 2, ℓ = 2 − 1 + 1 = 2."""
    loss = L.categorical_hinge(ag.tensor([2.0, 1.0, -1.0]), target)
    assert loss.shape == () and loss.item() == 2.0


def test_categorical_hinge_gives_a_target_that_requires_grad_its_gradient():
    """ℓ = max_c (1 − t_c) z_c − Σ t_c z_c + 1 (active): ∂ℓ/∂t = −z, plus −z_0 at the max c = 0."""
    z = np.array([[2.0, 1.0, -1.0]])
    t = leaf([[0.0, 1.0, 0.0]])
    loss = L.categorical_hinge(ag.tensor(z), t, reduction="sum")
    assert loss.item() == 2.0
    loss.backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[-4.0, -1.0, 1.0]])


def test_categorical_hinge_with_labels_keeps_a_float32_input_under_a_float64_default():
    """The one-hot rows made from integer labels take the input's dtype, not the default."""
    ag.set_default_dtype(np.float64)
    loss = L.categorical_hinge(ag.tensor(Z.astype(np.float32)), LABELS)
    assert loss.dtype == np.float32


def test_categorical_hinge_names_itself_in_label_and_target_errors():
    with pytest.raises(ValueError, match=re.escape(
            "categorical_hinge: label 3 is out of range for 3 classes")):
        L.categorical_hinge(ag.tensor(Z), np.array([0, 3]))
    with pytest.raises(ValueError, match=re.escape(
            "categorical_hinge: input of shape (2, 3) and target of shape (2, 2) must have the "
            "same shape")):
        L.categorical_hinge(ag.tensor(Z), np.zeros((2, 2)))


# --- the loss modules -----------------------------------------------------------------------------
def test_a_list_weight_becomes_a_buffer_of_the_default_dtype():
    """BCELoss(weight=[…]) and BCEWithLogitsLoss(pos_weight=[…]) store float32 buffers."""
    assert nn.BCELoss(weight=[0.5, 2.0]).weight.dtype == np.float32
    assert nn.BCEWithLogitsLoss(pos_weight=[3.0, 1.0]).pos_weight.dtype == np.float32


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_mse_loss_module_passes_its_reduction(reduction):
    y, t = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[0.0, 0.0], [0.5, 1.0]])
    loss = nn.MSELoss(reduction=reduction)(ag.tensor(y), t)
    expected = (y - t) ** 2
    np.testing.assert_allclose(loss.numpy(), expected.sum() if reduction == "sum" else expected,
                               rtol=1e-12)


def test_cross_entropy_loss_accepts_label_smoothing_1_and_refuses_1_5_by_name():
    """ε = 1 is the uniform target, ℓ = −mean_c ln softmax(z)_c; ε = 1.5 is refused."""
    loss = nn.CrossEntropyLoss(label_smoothing=1.0)(ag.tensor(Z), LABELS)
    np.testing.assert_allclose(loss.item(), -log_softmax(Z).mean(), rtol=1e-12)
    message = "CrossEntropyLoss: label_smoothing must be in [0, 1], got 1.5"
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.CrossEntropyLoss(label_smoothing=1.5)


@pytest.mark.parametrize("module, text", [
    (nn.CrossEntropyLoss(reduction="sum"), "CrossEntropyLoss(reduction='sum')"),
    (nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1),
     "CrossEntropyLoss(reduction='none', label_smoothing=0.1)"),
    (nn.HingeLoss(margin=2.0, reduction="sum"), "HingeLoss(margin=2.0, reduction='sum')"),
])
def test_the_repr_of_a_loss_module_shows_its_non_default_options(module, text):
    assert repr(module) == text


def test_nll_loss_module_passes_its_ignore_index():
    """NLLLoss(ignore_index=−1) skips the label −1: the mean runs over the two others."""
    x = np.array([[-0.5, -1.0], [-2.0, -0.25], [-1.5, -3.0]])
    loss = nn.NLLLoss(ignore_index=-1)(ag.tensor(x), np.array([0, -1, 1]))
    np.testing.assert_allclose(loss.item(), (0.5 + 3.0) / 2, rtol=1e-12)


def test_multi_margin_loss_module_defaults_to_p_1_and_margin_1():
    """MultiMarginLoss() is mean of Σ_{j≠o} max(0, 1 − z_o + z_j) / C."""
    module = nn.MultiMarginLoss()
    assert (module.p, module.margin) == (1, 1.0)
    loss = module(ag.tensor(Z), LABELS)
    np.testing.assert_allclose(loss.item(), np.mean(hinge_by_hand(Z, LABELS) / 3), rtol=1e-12)
