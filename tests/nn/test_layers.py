"""Layers: gradients (float64 gradcheck), values against PyTorch (skipped without it) or the
closed-form formulas, train/eval behaviour, seeding and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import nn


def _double(x) -> ag.Tensor:
    return ag.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


def _check_module_gradients(module: nn.Module, x: ag.Tensor, reseed: bool = False) -> None:
    params = tuple(module.parameters())

    def run(x, *_params):
        if reseed:
            ag.manual_seed(123)
        return module(x)

    assert ag.gradcheck(run, (x, *params))


# --- Linear -------------------------------------------------------------------------------------
def test_linear_shapes_dtype_and_default_init_bounds():
    layer = nn.Linear(400, 30)
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    bound = 1 / math.sqrt(400)
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    # U(−b, b) has variance b²/3
    assert abs(w.var() - bound ** 2 / 3) < 0.05 * bound ** 2 / 3
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64


def test_linear_init_is_seedable():
    ag.manual_seed(7)
    a = nn.Linear(5, 3).weight.numpy().copy()
    ag.manual_seed(7)
    np.testing.assert_array_equal(a, nn.Linear(5, 3).weight.numpy())


def test_linear_initializer_by_name_and_callable():
    layer = nn.Linear(4, 3, weight_init="zeros", bias_init="ones")
    assert not layer.weight.numpy().any() and (layer.bias.numpy() == 1).all()
    layer = nn.Linear(1000, 500, weight_init="he_normal")
    assert abs(layer.weight.numpy().var() / (2 / 1000) - 1) < 0.05
    layer = nn.Linear(2, 2, weight_init=lambda t: nn.init.constant_(t, 0.5))
    assert (layer.weight.numpy() == 0.5).all()
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        nn.Linear(2, 2, weight_init="nope")


def test_linear_forward_is_x_wt_plus_b_and_gradcheck():
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = _double(np.random.default_rng(0).normal(size=(4, 3)))
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12)
    _check_module_gradients(layer, x)
    _check_module_gradients(nn.Linear(3, 2, bias=False, dtype=np.float64), x)


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    layer = nn.Linear(5, 3)
    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.numpy()))
        ref.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    out = layer(ag.tensor(x))
    out.sum().backward()
    ref_out = ref(torch.from_numpy(x))
    ref_out.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-5)


def test_linear_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"input of shape \(4, 3\) does not fit a weight of "
                                         r"shape \(2, 5\)"):
        nn.Linear(5, 2)(ag.zeros(4, 3))


# --- Maxout -------------------------------------------------------------------------------------
def test_maxout_is_max_of_affine_pieces_and_gradcheck():
    layer = nn.Maxout(3, 2, pieces=3, dtype=np.float64)
    x = _double(np.random.default_rng(2).normal(size=(5, 3)))
    w, b = layer.weight.numpy(), layer.bias.numpy()
    pieces = [x.numpy() @ w[k * 2:(k + 1) * 2].T + b[k * 2:(k + 1) * 2] for k in range(3)]
    np.testing.assert_allclose(layer(x).numpy(), np.max(pieces, axis=0), rtol=1e-12)
    _check_module_gradients(layer, x)
    assert sum(p.size for p in layer.parameters()) == 3 * 2 * (3 + 1)
    assert repr(layer) == "Maxout(in_features=3, out_features=2, pieces=3)"
    with pytest.raises(ValueError, match="pieces must be at least 1"):
        nn.Maxout(2, 2, pieces=0)


# --- Flatten, Identity --------------------------------------------------------------------------
def test_flatten_and_identity():
    x = _double(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert ag.gradcheck(nn.Flatten(), (x,))
    assert nn.Identity(54, unused=1)(x) is x


# --- Dropout ------------------------------------------------------------------------------------
def test_dropout_preserves_the_mean_and_scales_kept_units():
    x = ag.ones(100_000)
    out = nn.Dropout(0.3)(x).numpy()
    assert abs(out.mean() - 1.0) < 0.01
    assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.01


def test_dropout_eval_p0_p1():
    x = ag.randn(20, 5)
    drop = nn.Dropout(0.5)
    assert drop.eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    zeros = nn.Dropout(1.0)(x)
    assert zeros.shape == x.shape and not zeros.numpy().any()
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_dropout_seedable_and_gradient_is_the_mask():
    x = ag.ones(50, requires_grad=True)
    ag.manual_seed(3)
    a = nn.Dropout(0.5)(x)
    ag.manual_seed(3)
    b = nn.Dropout(0.5)(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a.numpy())      # d(x·m/(1−p))/dx = m/(1−p)
    gen = ag.Generator(5)
    c = nn.Dropout(0.5, generator=gen)(x)
    np.testing.assert_array_equal(c.numpy(), nn.Dropout(0.5, generator=ag.Generator(5))(x).numpy())
    _check_module_gradients(nn.Dropout(0.4), _double(np.linspace(-1, 1, 12)), reseed=True)


# --- GaussianNoise ------------------------------------------------------------------------------
def test_gaussian_noise_statistics_and_eval():
    noise = nn.GaussianNoise(0.5)
    out = noise(ag.zeros(100_000)).numpy()
    assert abs(out.mean()) < 0.01 and abs(out.std() - 0.5) < 0.01
    x = ag.ones(3)
    assert noise.eval()(x) is x
    _check_module_gradients(nn.GaussianNoise(0.1), _double(np.ones(4)), reseed=True)
    with pytest.raises(ValueError, match="std must be non-negative"):
        nn.GaussianNoise(-1)


# --- BatchNorm1d --------------------------------------------------------------------------------
def _bn_reference(x, gamma, beta, eps):
    axes = (0,) if x.ndim == 2 else (0, 2)
    shape = (-1,) if x.ndim == 2 else (-1, 1)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batchnorm_matches_formula_and_running_stats(shape):
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3, momentum=0.2, dtype=np.float64)
    with ag.no_grad():
        bn.weight.copy_(rng.normal(size=3))
        bn.bias.copy_(rng.normal(size=3))
    mean, var = np.zeros(3), np.ones(3)
    axes = (0,) if len(shape) == 2 else (0, 2)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=shape)
        out = bn(ag.tensor(x))
        np.testing.assert_allclose(out.numpy(), _bn_reference(x, bn.weight.numpy(),
                                                              bn.bias.numpy(), 1e-5), rtol=1e-10)
        n = x.size // 3
        mean = 0.8 * mean + 0.2 * x.mean(axis=axes)
        var = 0.8 * var + 0.2 * x.var(axis=axes) * n / (n - 1)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = rng.normal(size=shape)
    bshape = (-1,) if len(shape) == 2 else (-1, 1)
    expected = ((x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5)
                * bn.weight.numpy().reshape(bshape) + bn.bias.numpy().reshape(bshape))
    np.testing.assert_allclose(bn(ag.tensor(x)).numpy(), expected, rtol=1e-10)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_gradcheck_train_and_eval():
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    x = _double(np.random.default_rng(4).normal(size=(6, 3)))
    _check_module_gradients(bn, x)
    bn.eval()
    _check_module_gradients(bn, x)
    _check_module_gradients(nn.BatchNorm1d(2, dtype=np.float64),
                            _double(np.random.default_rng(5).normal(size=(3, 2, 4))))


def test_batchnorm_matches_torch_over_three_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    bn, ref = nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    with ag.no_grad(), torch.no_grad():
        w, b = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
        bn.weight.copy_(w), bn.bias.copy_(b)
        ref.weight.copy_(torch.from_numpy(w)), ref.bias.copy_(torch.from_numpy(b))
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=(10, 4)).astype(np.float32)
        out, ref_out = bn(ag.tensor(x)), ref(torch.from_numpy(x))
        np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-5)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    xa = ag.tensor(x, requires_grad=True)
    out, ref_out = bn(xa), ref(xt)
    (out * out).sum().backward()
    (ref_out * ref_out).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-3)
    bn.eval(), ref.eval()
    np.testing.assert_allclose(bn(ag.tensor(x)).numpy(), ref(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_batchnorm_options_and_errors():
    bn = nn.BatchNorm1d(2, affine=False, momentum=None)
    assert list(bn.parameters()) == []
    x1, x2 = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[4.0, 1.0], [6.0, 1.0]])
    bn(ag.tensor(x1, dtype=np.float32)), bn(ag.tensor(x2, dtype=np.float32))
    np.testing.assert_allclose(bn.running_mean.numpy(), (x1.mean(0) + x2.mean(0)) / 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2\) or \(N, 2, L\), got "
                                         r"\(4, 3\)"):
        bn(ag.zeros(4, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ag.zeros(1, 2))
    assert "running_mean" in nn.BatchNorm1d(2).state_dict()
    assert repr(nn.BatchNorm1d(2)) == ("BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, "
                                       "track_running_stats=True)")
