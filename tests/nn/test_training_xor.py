"""End to end: a 2-4-1 MLP built from nn parts learns XOR with plain SGD (course 001)."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
T = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)


def _train(seed: int, epochs: int = 1500, lr: float = 0.5):
    ag.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    x, t = ag.tensor(X), ag.tensor(T)
    losses = []
    for _ in range(epochs):
        model.zero_grad()
        loss = ag.binary_cross_entropy_with_logits(model(x), t)     # fused σ + cross-entropy
        loss.backward()
        with ag.no_grad():
            for param in model.parameters():
                param.sub_(param.grad * lr)
        losses.append(loss.item())
    with ag.no_grad():
        predictions = (model(x).numpy() > 0).astype(np.float32)
    return model, losses, predictions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_reaches_full_accuracy(seed):
    # NOTE: how fast is measured by benchmarks/bench_networks.py, never by a timed unit test
    model, losses, predictions = _train(seed)
    assert (predictions == T).all(), (seed, predictions.ravel(), losses[-1])
    assert losses[-1] < 0.05 < losses[0]
    assert nn.summary(model, (2,), print_fn=None).total_params == 4 * 3 + 1 * 5


def test_xor_training_is_deterministic():
    _, losses_a, _ = _train(0, epochs=50)
    _, losses_b, _ = _train(0, epochs=50)
    assert losses_a == losses_b


def test_trained_model_survives_save_and_load(tmp_path):
    model, _, predictions = _train(0)
    nn.save(model.state_dict(), tmp_path / "xor.npz")
    ag.manual_seed(99)
    fresh = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    fresh.load_state_dict(nn.load(tmp_path / "xor.npz"))
    with ag.no_grad():
        np.testing.assert_array_equal(fresh(ag.tensor(X)).numpy(), model(ag.tensor(X)).numpy())
