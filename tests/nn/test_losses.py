"""nn.losses: gradcheck in float64, values against PyTorch (or closed forms), stability, errors."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn.losses as L

try:
    import torch
    import torch.nn.functional as F
except ImportError:                      # the PyTorch comparisons are skipped without it
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
REDUCTIONS = ("mean", "sum", "none")
N, C = 5, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "z": rng.normal(size=(N, C)),
        "y": rng.integers(0, C, N),
        "probs": rng.dirichlet(np.ones(C), N),
        "p": rng.uniform(0.05, 0.95, (N, 3)),
        "t": rng.uniform(0, 1, (N, 3)),
        "w": rng.uniform(0.5, 2.0, C),
    }


D = _data()
Y_IGNORED = np.where(np.arange(N) == 2, -100, D["y"])


def leaf(array):
    return ag.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


# (id, our loss on float64 leaves, inputs, torch equivalent or None)
CASES = [
    ("mse", lambda x, r: L.mse_loss(x, D["t"], r), D["p"],
     lambda x, r: F.mse_loss(x, torch.tensor(D["t"]), reduction=r)),
    ("bce", lambda x, r: L.binary_cross_entropy(x, D["t"], reduction=r), D["p"],
     lambda x, r: F.binary_cross_entropy(x, torch.tensor(D["t"]), reduction=r)),
    ("bce_weight", lambda x, r: L.binary_cross_entropy(x, D["t"], D["t"][0], r), D["p"],
     lambda x, r: F.binary_cross_entropy(x, torch.tensor(D["t"]), torch.tensor(D["t"][0]),
                                         reduction=r)),
    ("bce_logits", lambda x, r: L.binary_cross_entropy_with_logits(x, D["t"], reduction=r),
     D["z"][:, :3] * 3, lambda x, r: F.binary_cross_entropy_with_logits(
         x, torch.tensor(D["t"]), reduction=r)),
    ("bce_logits_weights", lambda x, r: L.binary_cross_entropy_with_logits(
        x, D["t"], D["p"], r, pos_weight=[2.0, 0.5, 1.0]), D["z"][:, :3] * 3,
     lambda x, r: F.binary_cross_entropy_with_logits(
         x, torch.tensor(D["t"]), torch.tensor(D["p"]), reduction=r,
         pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64))),
    ("ce_labels", lambda x, r: L.cross_entropy(x, D["y"], reduction=r), D["z"],
     lambda x, r: F.cross_entropy(x, torch.tensor(D["y"]), reduction=r)),
    ("ce_probs", lambda x, r: L.cross_entropy(x, D["probs"], reduction=r), D["z"],
     lambda x, r: F.cross_entropy(x, torch.tensor(D["probs"]), reduction=r)),
    ("ce_smoothing", lambda x, r: L.cross_entropy(x, D["y"], reduction=r, label_smoothing=0.2),
     D["z"], lambda x, r: F.cross_entropy(x, torch.tensor(D["y"]), reduction=r,
                                          label_smoothing=0.2)),
    ("ce_weight_ignore_smoothing", lambda x, r: L.cross_entropy(
        x, Y_IGNORED, D["w"], reduction=r, label_smoothing=0.1), D["z"],
     lambda x, r: F.cross_entropy(x, torch.tensor(Y_IGNORED), torch.tensor(D["w"]),
                                  reduction=r, label_smoothing=0.1)),
    ("ce_weight_probs", lambda x, r: L.cross_entropy(x, D["probs"], D["w"], reduction=r),
     D["z"], lambda x, r: F.cross_entropy(x, torch.tensor(D["probs"]), torch.tensor(D["w"]),
                                          reduction=r)),
    ("ce_spatial", lambda x, r: L.cross_entropy(x, D["y"][:4].reshape(2, 2), reduction=r),
     D["z"][:4].reshape(2, 2, C).transpose(0, 2, 1).copy(),
     lambda x, r: F.cross_entropy(x, torch.tensor(D["y"][:4].reshape(2, 2)), reduction=r)),
    ("nll", lambda x, r: L.nll_loss(x, D["y"], reduction=r), D["z"],
     lambda x, r: F.nll_loss(x, torch.tensor(D["y"]), reduction=r)),
    ("nll_weight_ignore", lambda x, r: L.nll_loss(x, Y_IGNORED, D["w"], reduction=r), D["z"],
     lambda x, r: F.nll_loss(x, torch.tensor(Y_IGNORED), torch.tensor(D["w"]), reduction=r)),
    ("multi_margin", lambda x, r: L.multi_margin_loss(x, D["y"], reduction=r), D["z"],
     lambda x, r: F.multi_margin_loss(x, torch.tensor(D["y"]), reduction=r)),
    ("multi_margin_p2_weight", lambda x, r: L.multi_margin_loss(
        x, D["y"], p=2, margin=0.7, weight=D["w"], reduction=r), D["z"],
     lambda x, r: F.multi_margin_loss(x, torch.tensor(D["y"]), p=2, margin=0.7,
                                      weight=torch.tensor(D["w"]), reduction=r)),
    ("squared_error", lambda x, r: L.squared_error(x, D["t"], r), D["p"], None),
    ("hinge", lambda x, r: L.hinge_loss(x, D["y"], reduction=r), D["z"], None),
    ("categorical_hinge", lambda x, r: L.categorical_hinge(x, D["probs"].round(), r), D["z"],
     None),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, x, _", CASES, ids=IDS)
def test_gradcheck_float64(name, ours, x, _, reduction):
    assert ag.gradcheck(lambda t: ours(t, reduction), (leaf(x),))


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, x, theirs", [c for c in CASES if c[3]],
                         ids=[c[0] for c in CASES if c[3]])
def test_values_and_gradients_match_pytorch(name, ours, x, theirs, reduction):
    mine = leaf(x)
    out = ours(mine, reduction)
    ref_x = torch.tensor(x, requires_grad=True)
    ref = theirs(ref_x, reduction)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), ref_x.grad.numpy(), rtol=1e-9, atol=1e-12)


# --- closed forms (these run with or without PyTorch) -------------------------------------------
def test_closed_forms_of_the_regression_and_binary_losses():
    y, t = D["p"], D["t"]
    assert L.mse_loss(leaf(y), t).item() == pytest.approx(((y - t) ** 2).mean())
    per_sample = 0.5 * ((y - t) ** 2).sum(axis=1)
    np.testing.assert_allclose(L.squared_error(leaf(y), t, "none").numpy(), per_sample)
    assert L.squared_error(leaf(y), t).item() == pytest.approx(per_sample.mean())
    bce = -(t * np.log(y) + (1 - t) * np.log(1 - y))
    np.testing.assert_allclose(L.binary_cross_entropy(leaf(y), t, reduction="none").numpy(), bce)
    z = D["z"][:, :3]
    np.testing.assert_allclose(
        L.binary_cross_entropy_with_logits(leaf(z), t, reduction="none").numpy(),
        -(t * np.log(1 / (1 + np.exp(-z))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z)))))


def test_squared_error_gradient_is_y_minus_t():
    y = leaf(D["p"])
    L.squared_error(y, D["t"], "sum").backward()
    np.testing.assert_allclose(y.grad.numpy(), D["p"] - D["t"])


def test_cross_entropy_closed_form_and_nll_of_log_softmax():
    z, y = D["z"], D["y"]
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(N), y]
    np.testing.assert_allclose(L.cross_entropy(leaf(z), y, reduction="none").numpy(), expected)
    np.testing.assert_allclose(L.nll_loss(leaf(log_p), y, reduction="none").numpy(), expected)
    one_hot = np.eye(C)[y]
    assert L.cross_entropy(leaf(z), one_hot).item() == pytest.approx(expected.mean())


def test_hinge_is_the_course_formula_and_multi_margin_divides_by_classes():
    z = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    labels = np.array([0, 1, 2])                     # the classic SVM example: 2.9, 0, 12.9
    np.testing.assert_allclose(L.hinge_loss(leaf(z), labels, reduction="none").numpy(),
                               [2.9, 0.0, 12.9], atol=1e-12)
    np.testing.assert_allclose(L.hinge_loss(leaf(z), np.eye(3)[labels], reduction="none").numpy(),
                               [2.9, 0.0, 12.9], atol=1e-12)          # one-hot t_j = δ_jo
    np.testing.assert_allclose(L.multi_margin_loss(leaf(z), labels, reduction="none").numpy(),
                               np.array([2.9, 0.0, 12.9]) / 3, atol=1e-12)
    assert L.hinge_loss(leaf(z), labels, margin=0.0, reduction="sum").item() == pytest.approx(
        1.9 + 0 + 10.9)


def test_categorical_hinge_matches_keras_formula():
    z, t = D["z"], np.eye(C)[D["y"]]
    pos = (t * z).sum(axis=1)
    neg = ((1 - t) * z).max(axis=1)
    expected = np.maximum(0, neg - pos + 1)
    np.testing.assert_allclose(L.categorical_hinge(leaf(z), t, "none").numpy(), expected)
    np.testing.assert_allclose(L.categorical_hinge(leaf(z), D["y"], "none").numpy(), expected)


# --- the course's δ and numerical stability -----------------------------------------------------
@pytest.mark.parametrize("target", ["labels", "probs"])
def test_softmax_cross_entropy_gradient_is_softmax_minus_t(target):
    z = ag.tensor(D["z"].astype(np.float32), requires_grad=True)
    t = np.eye(C, dtype=np.float32)[D["y"]] if target == "labels" else D["probs"].astype("f4")
    L.cross_entropy(z, D["y"] if target == "labels" else t).backward()
    softmax = ag.softmax(ag.tensor(D["z"].astype(np.float32)), axis=-1).numpy()
    # NOTE: to float32 rounding (~1 ulp), not bit for bit: the compiled backward computes
    # softmax − t in float64 and rounds once
    exact = {"rtol": 3e-7, "atol": 1e-8}   # atol: softmax − t cancels where t ≈ softmax
    np.testing.assert_allclose(z.grad.numpy(), np.float32(1 / N) * (softmax - t), **exact)
    z.grad = None
    L.CrossEntropyLoss(reduction="sum")(z, D["y"] if target == "labels" else t).backward()
    np.testing.assert_allclose(z.grad.numpy(), (softmax - t).astype(np.float32), **exact)


def test_logit_losses_are_finite_for_logits_of_plus_minus_1000_in_float32():
    z = ag.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], requires_grad=True)
    for loss in (L.cross_entropy(z, [1, 0]), L.cross_entropy(z, [1, 0], D["w"][:3]),
                 L.cross_entropy(z, [1, 0], label_smoothing=0.1),
                 L.binary_cross_entropy_with_logits(z, np.ones((2, 3), np.float32)),
                 L.binary_cross_entropy_with_logits(z, np.zeros((2, 3)), pos_weight=[3, 1, 1])):
        z.grad = None
        loss.backward()
        assert loss.dtype == np.float32 and np.isfinite(loss.item())
        assert np.all(np.isfinite(z.grad.numpy()))
    assert L.cross_entropy(z, [1, 0], reduction="none").numpy() == pytest.approx([2000, 2000.3133])


def test_bce_clamps_log_at_minus_100_with_finite_gradient():
    p = ag.tensor([0.0, 1.0, 0.5], dtype=np.float64, requires_grad=True)
    loss = L.binary_cross_entropy(p, [1.0, 0.0, 1.0], reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, np.log(2)])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.numpy()))


# --- modules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, function, target", [
    (L.MSELoss(), L.mse_loss, D["t"]), (L.SquaredError(reduction="sum"), None, D["t"]),
    (L.BCELoss(), L.binary_cross_entropy, D["t"]),
    (L.BCEWithLogitsLoss(), L.binary_cross_entropy_with_logits, D["t"]),
    (L.CrossEntropyLoss(), L.cross_entropy, D["y"][:N]), (L.NLLLoss(), L.nll_loss, D["y"]),
    (L.HingeLoss(), L.hinge_loss, D["y"]), (L.MultiMarginLoss(), L.multi_margin_loss, D["y"]),
    (L.CategoricalHinge(), L.categorical_hinge, D["y"]),
])
def test_modules_call_their_functions(module, function, target):
    x = leaf(D["p"] if np.asarray(target).dtype.kind == "f" else D["z"])
    if function is None:
        assert module(x, target).item() == pytest.approx(L.squared_error(x, target, "sum").item())
    else:
        assert module(x, target).item() == function(x, target).item()
    assert module.training and list(module.parameters()) == []


def test_module_weights_are_buffers_and_repr_shows_settings():
    loss = L.CrossEntropyLoss(weight=[1.0, 2.0, 3.0, 4.0], label_smoothing=0.1)
    assert "weight" in loss.state_dict()
    assert repr(loss) == "CrossEntropyLoss(label_smoothing=0.1)"
    assert repr(L.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert repr(L.HingeLoss()) == "HingeLoss(margin=1.0)"


# --- errors -------------------------------------------------------------------------------------
def test_bad_reduction_raises_naming_the_loss():
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of .*'avg'"):
        L.mse_loss(leaf(D["p"]), D["t"], "avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: reduction must be one of"):
        L.CrossEntropyLoss(reduction="batchmean")
    with pytest.raises(ValueError, match=r"hinge_loss: reduction"):
        L.hinge_loss(leaf(D["z"]), D["y"], reduction="max")


def test_shape_mismatch_errors_name_the_loss_and_shapes():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(5, 3\) and target of shape "
                                         r"\(5, 1\) must have the same shape"):
        L.MSELoss()(leaf(D["p"]), np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: .*\(5, 3\).*\(3,\)"):
        L.binary_cross_entropy_with_logits(leaf(D["p"]), np.zeros(3))
    with pytest.raises(ValueError, match=r"cross_entropy: integer labels of shape \(4,\) do not "
                                         r"match input of shape \(5, 4\): expected \(5,\)"):
        L.cross_entropy(leaf(D["z"]), D["y"][:4])
    with pytest.raises(ValueError, match=r"cross_entropy: target probabilities of shape \(5, 3\)"):
        L.cross_entropy(leaf(D["z"]), D["p"])
    with pytest.raises(ValueError, match=r"nll_loss: label 7 is out of range for 4 classes"):
        L.nll_loss(leaf(D["z"]), np.array([0, 1, 2, 3, 7]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one value per class"):
        L.cross_entropy(leaf(D["z"]), D["y"], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities"):
        L.binary_cross_entropy(leaf(D["z"]), np.zeros((N, C)))
    with pytest.raises(TypeError, match=r"hinge_loss: target must hold integer class labels"):
        L.hinge_loss(leaf(D["z"]), np.zeros(N))
    with pytest.raises(TypeError, match=r"mse_loss: input must be a Tensor"):
        L.mse_loss(D["p"], D["t"])
