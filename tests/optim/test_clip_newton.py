"""Gradient clipping (vs torch and by hand) and Newton's method."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim


def grads_fixture():
    rng = np.random.default_rng(3)
    return [rng.normal(size=(3, 4)) * 5, rng.normal(size=4), rng.normal(size=())]


def with_grads(arrays):
    params = []
    for a in arrays:
        p = ag.tensor(np.zeros(np.shape(a)), requires_grad=True)
        p.grad = ag.tensor(np.array(a, dtype=np.float64))
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_by_hand(norm_type):
    arrays = grads_fixture()
    flat = np.concatenate([np.ravel(a) for a in arrays])
    total = np.linalg.norm(flat, ord=norm_type)
    params = with_grads(arrays)
    assert optim.clip_grad_norm_(params, 1.0, norm_type) == pytest.approx(total, rel=1e-12)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(clipped, flat / (total + 1e-6), rtol=1e-12)
    params = with_grads(arrays)                     # a large max_norm leaves them alone
    optim.clip_grad_norm_(params, 1e6, norm_type)
    np.testing.assert_array_equal(params[0].grad.numpy(), arrays[0])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_functions_match_torch(norm_type):
    torch = pytest.importorskip("torch")
    arrays = grads_fixture()
    ours = with_grads(arrays)
    theirs = [torch.zeros(np.shape(a), dtype=torch.float64, requires_grad=True) for a in arrays]
    for t, a in zip(theirs, arrays):
        t.grad = torch.tensor(np.array(a))
    total = optim.clip_grad_norm_(ours, 2.0, norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type)
    assert total == pytest.approx(float(torch_total), rel=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    optim.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


def test_clip_skips_missing_grads_and_checks_arguments():
    p = ag.tensor(np.ones(2), requires_grad=True)
    assert optim.clip_grad_norm_([p], 1.0) == 0.0
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        optim.clip_grad_value_([p], -1.0)
    with pytest.raises(TypeError, match="parameter 0 is a list"):
        optim.clip_grad_norm_([[1.0]], 1.0)


# --- Newton ---------------------------------------------------------------------------------

def test_newton_one_step_to_the_minimum_of_a_quadratic():
    """J = ½ pᵀAp − bᵀp over two tensors (cross terms between them): p* = A⁻¹b in one step."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    a_mat, b_vec = m @ m.T + 5 * np.eye(5), rng.normal(size=5)
    u = ag.tensor(rng.normal(size=(2,)), requires_grad=True)
    v = ag.tensor(rng.normal(size=(3,)), requires_grad=True)
    a_t, b_t = ag.tensor(a_mat), ag.tensor(b_vec)

    def closure():
        p = ag.cat([u, v])
        return 0.5 * (p * (a_t @ p)).sum() - (b_t * p).sum()

    opt = optim.Newton([u, v])
    opt.step(closure)
    np.testing.assert_allclose(np.concatenate([u.numpy(), v.numpy()]),
                               np.linalg.solve(a_mat, b_vec), rtol=1e-10, atol=1e-10)


def test_newton_converges_on_logistic_regression():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    y = (x @ np.array([1.5, -1.0]) + 0.3 + rng.normal(size=60) > 0).astype(float)
    xt, yt = ag.tensor(x), ag.tensor(y)
    w = ag.tensor(np.zeros(2), requires_grad=True)
    b = ag.tensor(np.zeros(1), requires_grad=True)

    def closure():
        prob = ag.sigmoid(xt @ w + b)
        return -(yt * ag.log(prob) + (1 - yt) * ag.log(1 - prob)).mean()

    opt = optim.Newton([w, b])
    losses = [opt.step(closure).item() for _ in range(8)]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:4]))
    grad = np.concatenate([w.grad.numpy(), b.grad.numpy()])
    assert np.linalg.norm(grad) < 1e-8                  # at the optimum: ∇J ≈ 0
    assert losses[-1] < losses[0] - 0.1


def test_newton_damping_and_lr_scale_the_step():
    w = ag.tensor(np.array([3.0]), requires_grad=True)
    optim.Newton([w], lr=0.5, damping=2.0).step(lambda: (w * w).sum())   # H = 2, ∇J = 6
    np.testing.assert_allclose(w.numpy(), [3.0 - 0.5 * 6 / (2 + 2)])


def test_newton_errors():
    big = nn.Parameter(np.zeros(5001))
    with pytest.raises(ValueError, match="Newton: 5,001 parameters"):
        optim.Newton([big])
    w = ag.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="needs a closure"):
        optim.Newton([w]).step()
    with pytest.raises(ValueError, match="singular"):
        optim.Newton([w]).step(lambda: w.sum() * 0 + (w[0] - w[1]) ** 2)
