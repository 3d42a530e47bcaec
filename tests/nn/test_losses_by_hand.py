"""Weighted classification losses checked by hand, without PyTorch.

Logits are chosen so that softmax is exact: the row [0, ln 2, 0] gives [¼, ½, ¼] and the row
[0, 0, 0] gives [⅓, ⅓, ⅓]. With class weights w = [0.5, 2, 4], labels [1, 2, ignored]:

    ℓ₁ = w₁·(−ln ½) = 2·ln 2,    ℓ₂ = w₂·(−ln ⅓) = 4·ln 3,    ℓ₃ = 0 (ignored)
    "sum"  = 2 ln 2 + 4 ln 3
    "mean" = (2 ln 2 + 4 ln 3) / (w₁ + w₂) = (2 ln 2 + 4 ln 3) / 6     (PyTorch: ÷ Σ w of the kept)

and the gradient of the mean with respect to the logits is w_o·(softmax(z) − onehot(o)) / 6 on
kept rows, 0 on the ignored one.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.losses as L

LN2, LN3 = math.log(2.0), math.log(3.0)
LOGITS = np.array([[0.0, LN2, 0.0], [0.0, 0.0, 0.0], [5.0, -1.0, 2.0]])
WEIGHT = np.array([0.5, 2.0, 4.0])
LABELS = np.array([1, 2, -100])
PER_SAMPLE = np.array([2 * LN2, 4 * LN3, 0.0])
MEAN = (2 * LN2 + 4 * LN3) / 6.0
# row 1: w₁·([¼, ½, ¼] − [0, 1, 0])/6;  row 2: w₂·([⅓, ⅓, ⅓] − [0, 0, 1])/6;  row 3 ignored
MEAN_GRAD = np.array([[0.25, -0.5, 0.25], [1 / 3, 1 / 3, -2 / 3], [0.0, 0.0, 0.0]]) * \
    np.array([[2.0], [4.0], [0.0]]) / 6.0


def leaf(values):
    return ag.tensor(np.array(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("reduction, expected", [("mean", MEAN), ("sum", PER_SAMPLE.sum()),
                                                 ("none", PER_SAMPLE)])
def test_weighted_cross_entropy_with_ignore_index(reduction, expected):
    loss = L.cross_entropy(leaf(LOGITS), LABELS, weight=WEIGHT, reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-14, atol=1e-15)


def test_weighted_cross_entropy_mean_gradient():
    z = leaf(LOGITS)
    L.cross_entropy(z, LABELS, weight=WEIGHT).backward()
    np.testing.assert_allclose(z.grad.numpy(), MEAN_GRAD, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("reduction, expected", [("mean", MEAN), ("sum", PER_SAMPLE.sum()),
                                                 ("none", PER_SAMPLE)])
def test_weighted_nll_with_ignore_index(reduction, expected):
    log_probs = ag.log_softmax(leaf(LOGITS), axis=-1)
    loss = L.nll_loss(log_probs, LABELS, weight=WEIGHT, reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-14, atol=1e-15)


def test_weighted_nll_mean_gradient():
    z = leaf(LOGITS)
    L.nll_loss(ag.log_softmax(z, axis=-1), LABELS, weight=WEIGHT).backward()
    np.testing.assert_allclose(z.grad.numpy(), MEAN_GRAD, rtol=1e-13, atol=1e-16)


def test_module_passes_weight_and_a_custom_ignore_index():
    # ignore_index = 0 on labels [1, 2, 0]: the same two kept rows, so the same mean
    module = nn.CrossEntropyLoss(weight=WEIGHT, ignore_index=0)
    loss = module(leaf(LOGITS), np.array([1, 2, 0]))
    np.testing.assert_allclose(loss.numpy(), MEAN, rtol=1e-6)     # the buffer is float32


def test_unweighted_mean_with_ignore_index_divides_by_the_kept_count():
    # no weight: ℓ₁ = ln 2, ℓ₂ = ln 3, mean over the 2 kept rows (not the 3 rows)
    loss = L.cross_entropy(leaf(LOGITS), LABELS)
    np.testing.assert_allclose(loss.numpy(), (LN2 + LN3) / 2, rtol=1e-14)


def test_weighted_mean_without_ignored_rows_divides_by_the_sum_of_weights():
    # labels [1, 2, 0]: ℓ₃ = w₀·(ln(e⁵ + e⁻¹ + e²) − 5); mean ÷ (2 + 4 + 0.5)
    l3 = 0.5 * (math.log(math.exp(5) + math.exp(-1) + math.exp(2)) - 5)
    loss = L.cross_entropy(leaf(LOGITS), np.array([1, 2, 0]), weight=WEIGHT)
    np.testing.assert_allclose(loss.numpy(), (2 * LN2 + 4 * LN3 + l3) / 6.5, rtol=1e-14)


def test_weighted_mean_with_class_axis_one():
    # (N, C, d) logits: the same two rows laid out as N = 1, d = 2 (classes on axis 1)
    z = leaf(LOGITS[:2].T[None])                     # shape (1, 3, 2)
    loss = L.cross_entropy(z, np.array([[1, 2]]), weight=WEIGHT)
    np.testing.assert_allclose(loss.numpy(), MEAN, rtol=1e-14)
