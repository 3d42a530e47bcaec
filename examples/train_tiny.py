"""Train a tiny network with the bare engine, then check the course's worked backprop example.

This is what ``make demo`` runs until the ``viz`` package exists. It uses only ``autograd_core``
(``nn`` and ``optim`` are built on top of it later), so every step is visible:

1. A 2-8-8-1 network with tanh hidden layers learns y = sin(x1) + x2² on 64 points in [-1, 1]²,
   by full-batch gradient descent: forward, ``loss.backward()``, then ``p -= lr * p.grad`` for each
   parameter inside ``no_grad`` and ``p.grad = None`` before the next step.
2. The gradient of each parameter after the last backward is printed.
3. The course's 2-3-2 example: W1 = [[1, -2], [0, 1], [3, 4]], W2 = [[6, -2, 1], [5, -3, 2]],
   zero biases, sigmoid hidden layer, linear output, C = ½‖y − t‖², x = [1, 2], t = [1, 0].
   The engine's gradients are compared with the deltas of the course's formulas, computed with
   plain numpy:  δ2 = y − t,  δ1 = (W2ᵀ δ2) ⊙ σ'(z1),  ∂C/∂W = δ aᵀ,  ∂C/∂b = δ.

Layers follow the course's convention: W has shape (n_out, n_in), so a batch of row vectors goes
through ``z = a @ W.T + b``. Run from the repository root:  python examples/train_tiny.py
"""
from __future__ import annotations

import itertools
import math
import sys

import numpy as np

import autograd_core as ag

LAYER_SIZES = (2, 8, 8, 1)
N_POINTS = 64
EPOCHS = 1000
LEARNING_RATE = 0.1
N_REPORTS = 10


def make_data(n: int) -> tuple[ag.Tensor, ag.Tensor]:
    """n points x uniform in [-1, 1]², target t = sin(x1) + x2², shapes (n, 2) and (n, 1)."""
    x = ag.rand(n, 2) * 2 - 1
    xs = x.numpy()
    t = np.sin(xs[:, :1]) + xs[:, 1:] ** 2
    return x, ag.tensor(t)


def init_params(sizes: tuple[int, ...]) -> list[tuple[ag.Tensor, ag.Tensor]]:
    """One (W, b) pair per layer: W ~ N(0, 1/n_in) of shape (n_out, n_in), b = 0."""
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        w = ag.tensor(ag.randn(n_out, n_in).numpy() / math.sqrt(n_in), requires_grad=True)
        b = ag.zeros(n_out, requires_grad=True)
        params.append((w, b))
    return params


def forward(params: list[tuple[ag.Tensor, ag.Tensor]], x: ag.Tensor) -> ag.Tensor:
    """tanh on every hidden layer, linear output."""
    a = x
    for i, (w, b) in enumerate(params):
        z = a @ w.T + b
        a = z.tanh() if i < len(params) - 1 else z
    return a


def mse(y: ag.Tensor, t: ag.Tensor) -> ag.Tensor:
    return ((y - t) ** 2).mean()


def train() -> None:
    ag.manual_seed(0)
    x, t = make_data(N_POINTS)
    params = init_params(LAYER_SIZES)
    flat = [p for layer in params for p in layer]
    sizes = "-".join(map(str, LAYER_SIZES))
    print(f"Training a {sizes} tanh network on y = sin(x1) + x2^2 ({N_POINTS} points), "
          f"full-batch gradient descent, lr = {LEARNING_RATE}")

    every = EPOCHS // N_REPORTS
    for epoch in range(1, EPOCHS + 1):
        loss = mse(forward(params, x), t)
        loss.backward()
        if epoch == 1 or epoch % every == 0:
            print(f"  epoch {epoch:5d}   loss {loss.item():.6f}")
        with ag.no_grad():
            for p in flat:
                p.sub_(LEARNING_RATE * p.grad)
        for p in flat:
            p.grad = None

    # One more forward/backward with the trained weights, to look at the gradients themselves.
    loss = mse(forward(params, x), t)
    loss.backward()
    print(f"\nGradients after the final backward (loss {loss.item():.6f}):")
    for i, (w, b) in enumerate(params, start=1):
        for name, p in ((f"W{i}", w), (f"b{i}", b)):
            g = p.grad.numpy()
            first = " ".join(f"{v:+.2e}" for v in g.ravel()[:4])
            print(f"  {name:3s} shape {tuple(p.shape)!s:7s} |grad| = {np.linalg.norm(g):.2e}"
                  f"   first values {first}")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def show(a: np.ndarray, indent: int = 13) -> str:
    """A column vector on one line as [..]ᵀ; a matrix row by row, aligned after `indent` spaces."""
    if a.ndim == 2 and a.shape[1] == 1:
        return f"{a.ravel()}ᵀ"
    return np.array2string(a, prefix=" " * indent)


def course_example() -> bool:
    """The 2-3-2 network of the course: engine gradients vs. the delta formulas. True if equal."""
    print("\nThe course's 2-3-2 example: sigmoid hidden layer, linear output, C = ½‖y − t‖²")
    # float64 numpy arrays keep their dtype, so the comparison below can be tight
    W1 = np.array([[1.0, -2.0], [0.0, 1.0], [3.0, 4.0]])
    W2 = np.array([[6.0, -2.0, 1.0], [5.0, -3.0, 2.0]])
    b1, b2 = np.zeros((3, 1)), np.zeros((2, 1))
    x = np.array([[1.0], [2.0]])       # column vectors, as in the course
    t = np.array([[1.0], [0.0]])
    print(f"  x = {x.ravel()}ᵀ,  t = {t.ravel()}ᵀ,  b1 = 0,  b2 = 0")

    # The engine: build the graph, backward from C.
    tw1, tb1, tw2, tb2, tx = (ag.tensor(v, requires_grad=True) for v in (W1, b1, W2, b2, x))
    a1_t = (tw1 @ tx + tb1).sigmoid()
    y_t = tw2 @ a1_t + tb2
    cost = 0.5 * ((y_t - ag.tensor(t)) ** 2).sum()
    cost.backward()

    # The course's formulas, in plain numpy.
    z1 = W1 @ x + b1
    a1 = sigmoid(z1)
    y = W2 @ a1 + b2
    delta2 = y - t                                    # δ2 = ∇_y C ⊙ f'(z2), f = identity
    delta1 = (W2.T @ delta2) * a1 * (1 - a1)          # δ1 = (W2ᵀ δ2) ⊙ σ'(z1)
    formulas = {
        "∂C/∂W2 = δ2 a1ᵀ": (tw2, delta2 @ a1.T),
        "∂C/∂b2 = δ2": (tb2, delta2),
        "∂C/∂W1 = δ1 xᵀ": (tw1, delta1 @ x.T),
        "∂C/∂b1 = δ1": (tb1, delta1),
        "∂C/∂x  = W1ᵀ δ1": (tx, W1.T @ delta1),
    }
    with np.printoptions(precision=6, suppress=True):
        print(f"  z1 = {show(z1)},  a1 = σ(z1) = {show(a1)}")
        print(f"  y = {show(y)},  C = {cost.item():.6f}")
        print(f"  δ2 = y − t = {show(delta2)},  δ1 = {show(delta1)}")

        all_equal = True
        for label, (param, expected) in formulas.items():
            got = param.grad.numpy()
            equal = (got.shape == expected.shape
                     and np.allclose(got, expected, rtol=1e-9, atol=1e-12))
            all_equal &= equal
            print(f"  {label}:  {'equal' if equal else 'DIFFERENT'}")
            print(f"      engine {show(got)}")
            print(f"      course {show(expected)}")
    print("The engine's gradients equal the course's deltas." if all_equal
          else "MISMATCH between the engine's gradients and the course's formulas.")
    return all_equal


def main() -> int:
    train()
    return 0 if course_example() else 1


if __name__ == "__main__":
    sys.exit(main())
