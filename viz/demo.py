"""``neurona demo``: train a small network on XOR and write its pictures.

A 2-4-1 tanh/sigmoid network on Playground's XOR (200 points, inputs scaled by 1/5), trained by
full-batch gradient descent on the MSE written as a plain loop, then drawn: forward and backward
op graphs of one sample's loss, the neuron-level picture (both directions), the loss curve and
the decision boundary.
"""
from __future__ import annotations

import os
import time

import numpy as np

import autograd_core as ag
import nn

from . import graphviz_io


def train_xor(epochs: int, lr: float, seed: int, hidden: int = 4, report: int = 10):
    """The network trained on XOR; returns model, X, y, history (loss and accuracy per epoch)."""
    ag.manual_seed(seed)
    X, y = nn.datasets.xor(200, noise=0.0, seed=seed)
    X = ag.tensor(X.numpy() / 5.0)
    t = ag.tensor(y.numpy().reshape(-1, 1).astype(np.float32))
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Sigmoid())
    loss_fn = nn.MSELoss()
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    every = max(1, epochs // report)
    for epoch in range(1, epochs + 1):
        out = model(X)
        loss = loss_fn(out, t)
        model.zero_grad()
        loss.backward()
        with ag.no_grad():
            for p in model.parameters():
                p.sub_(lr * p.grad)
        accuracy = float(np.mean((out.numpy() > 0.5) == (t.numpy() > 0.5)))
        history["loss"].append(loss.item())
        history["accuracy"].append(accuracy)
        if epoch == 1 or epoch % every == 0 or epoch == epochs:
            print(f"  epoch {epoch:5d}   loss {loss.item():.5f}   accuracy {accuracy:.1%}",
                  flush=True)
    model.zero_grad()
    return model, X, y, history


def _graphs(model, X, y, out_dir: str, lang: str, format: str) -> list[str]:
    """forward, backward (op graphs of sample 0's loss) and network (neuron level)."""
    from . import draw_backward, draw_forward, neuron_view

    x0, t0 = X[0:1], ag.tensor(y.numpy()[0:1].reshape(1, 1).astype(np.float32))
    loss_fn = nn.MSELoss()
    loss = loss_fn(model(x0), t0)
    graphs = {"forward": draw_forward(loss, model=model, lang=lang),
              "backward": draw_backward(loss, model=model, lang=lang),
              "network": neuron_view.draw_network(model, x0, t0, view="both", loss_fn=loss_fn,
                                                  lang=lang)}
    return [graphviz_io.write(g, os.path.join(out_dir, name), format)
            for name, g in graphs.items()]


def demo(out_dir: str, epochs: int, lr: float, seed: int, lang: str = "en",
         format: str = "svg") -> int:
    """Train, draw, print what was written; returns the exit code (0)."""
    import matplotlib.pyplot as plt

    from . import plots

    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    print(f"Training a 2-4-1 tanh/sigmoid network on XOR (200 points), {epochs} epochs of "
          f"full-batch gradient descent, lr = {lr}, MSE loss")
    model, X, y, history = train_xor(epochs, lr, seed)
    written = _graphs(model, X, y, out_dir, lang, format)
    for name, fig in (("loss.png", plots.plot_history(history, title="XOR: training history")),
                      ("boundary.png", plots.plot_decision_boundary(
                          model, X, y, title="XOR: decision boundary"))):
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    print(f"\nWrote {len(written)} files into {os.path.abspath(out_dir)} "
          f"({time.perf_counter() - start:.1f} s):")
    for path in written:
        print(f"  {path}")
    if any(path.endswith(".gv") for path in written):
        print(graphviz_io.HELP)
    return 0
