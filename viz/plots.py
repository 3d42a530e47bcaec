"""matplotlib pictures of training: loss curves, decision boundaries, activations and their
derivatives (by the engine), per-layer statistics, optimizer paths, function fits.

Every function returns the ``matplotlib.figure.Figure`` (shown inline in Jupyter; ``fig.savefig``
to write it). matplotlib is imported lazily; with no display the Agg backend is selected.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

import autograd_core as ag
import nn


def _pyplot():
    """matplotlib.pyplot, on the Agg backend when there is no display (and no backend chosen)."""
    import matplotlib

    if (not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND")
            and "inline" not in str(matplotlib.get_backend()).lower()):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(plt, nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (6, 4)):
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    return fig, axes


def _numpy(value) -> np.ndarray:
    return value.numpy() if isinstance(value, ag.Tensor) else np.asarray(value)


def _predict(model, points: np.ndarray) -> np.ndarray:
    """Model output on a batch of points, without recording a graph (eval mode kept as it was)."""
    dtype = next(iter(model.parameters())).data.dtype
    with ag.no_grad():
        return model(ag.tensor(points.astype(dtype))).numpy()


def plot_history(history, keys: Sequence[str] | None = None, title: str | None = None):
    """Loss (and metric) curves per epoch: ``history`` is a dict name → list of values or an
    object with a ``.history`` dict (Keras style). Losses share one axis (log scale when all
    positive); other metrics (accuracy, ...) go on a second axis at the right."""
    plt = _pyplot()
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping) or not data:
        raise TypeError("plot_history: expected a dict name → list of values (or an object "
                        f"with .history), got {type(history).__name__}")
    keys = [k for k in (keys or data) if len(data[k])]
    losses = [k for k in keys if "loss" in k]
    metrics = [k for k in keys if "loss" not in k]
    fig, axes = _figure(plt, 1, 2 if losses and metrics else 1,
                        (10, 4) if losses and metrics else (6, 4))
    for ax, names, ylabel in ((axes[0][0], losses or metrics, "loss" if losses else "metric"),
                              (axes[0][-1], metrics if losses else [], "metric")):
        for name in names:
            values = np.asarray(data[name], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, label=name)
        if names:
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.legend()
            every = np.concatenate([np.asarray(data[n], dtype=float) for n in names])
            # NOTE: log scale only when the loss spans more than a decade (else the ticks get
            # unreadable); non-positive values (e.g. a penalty) keep a linear scale
            if ylabel == "loss" and every.min() > 0 and every.max() / every.min() > 10:
                ax.set_yscale("log")
    fig.suptitle(title or "Training history")
    fig.tight_layout()
    return fig


def plot_decision_boundary(model, X, y, resolution: int = 200, margin: float = 0.5,
                           title: str | None = None):
    """TensorFlow-Playground style: the model's output over the plane (probability of class 1
    for one output — a sigmoid is applied when outputs leave [0, 1] —, or the predicted class
    for several), the 0.5 contour, and the points coloured by label."""
    plt = _pyplot()
    X, y = _numpy(X), _numpy(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2), got {X.shape}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    out = _predict(model, np.column_stack([g1.ravel(), g2.ravel()]))
    fig, axes = _figure(plt, size=(5.5, 5))
    ax = axes[0][0]
    if out.ndim == 1 or out.shape[1] == 1:
        p = out.reshape(-1)
        if p.min() < 0 or p.max() > 1:
            p = 1 / (1 + np.exp(-p))
        p = p.reshape(g1.shape)
        mesh = ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.75)
        ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=1.2)
        fig.colorbar(mesh, ax=ax, label="P(class 1)")
    else:
        classes = out.argmax(axis=1).reshape(g1.shape)
        ax.contourf(g1, g2, classes, levels=np.arange(out.shape[1] + 1) - 0.5, cmap="tab10",
                    alpha=0.35)
    cmap = "RdBu" if len(np.unique(y)) <= 2 else "tab10"
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, edgecolors="k", linewidths=0.5, s=22)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title or "Decision boundary")
    fig.tight_layout()
    return fig


_ACTIVATION_FUNCTIONS: dict[str, Callable] = {
    "sigmoid": ag.sigmoid, "tanh": ag.tanh, "relu": ag.relu, "leaky_relu": ag.leaky_relu,
    "elu": ag.elu, "selu": ag.selu, "softplus": ag.softplus, "silu": ag.silu, "gelu": ag.gelu,
}


def plot_activation_functions(names: Sequence[str] = ("sigmoid", "tanh", "relu"),
                              x_range: tuple[float, float] = (-5.0, 5.0), points: int = 401):
    """One panel per activation: ψ(z) and ψ′(z), the derivative computed by the engine (one
    backward of Σψ(z) over a grid of z)."""
    plt = _pyplot()
    unknown = [n for n in names if n not in _ACTIVATION_FUNCTIONS]
    if unknown:
        raise ValueError(f"plot_activation_functions: unknown {unknown}; choose from "
                         + ", ".join(_ACTIVATION_FUNCTIONS))
    fig, axes = _figure(plt, 1, len(names), (3.6 * len(names), 3.4))
    z = np.linspace(*x_range, points)
    for ax, name in zip(axes[0], names):
        zt = ag.tensor(z, requires_grad=True)
        out = _ACTIVATION_FUNCTIONS[name](zt)
        (dz,) = ag.grad(out.sum(), [zt], hooks=False)
        ax.plot(z, out.numpy(), label="ψ(z)")
        ax.plot(z, dz.numpy(), "--", label="ψ′(z)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _layer_outputs(model, x, target=None, loss_fn=None):
    """Activations after each activation module of an nn.Sequential and their gradients (from
    the sum of the outputs, or from loss_fn(output, target))."""
    modules = list(model) if isinstance(model, nn.Sequential) else [model]
    dtype = next(iter(model.parameters())).data.dtype
    a = ag.tensor(_numpy(x).astype(dtype))
    taken: list[tuple[str, ag.Tensor]] = []
    for index, module in enumerate(modules):
        a = module(a)
        if not isinstance(module, (nn.Linear, nn.Dropout, nn.BatchNorm1d)) or index == len(
                modules) - 1:
            taken.append((f"{index}: {type(module).__name__}", a))
    cost = a.sum() if loss_fn is None else loss_fn(a, target)
    grads = ag.grad(cost, [t for _, t in taken], hooks=False)
    return [(name, t.numpy(), g.numpy()) for (name, t), g in zip(taken, grads)]


def plot_layer_statistics(model, x, target=None, loss_fn=None, bins: int = 40):
    """Course 002's experiments: per layer, the histogram of the activations and of their
    gradients (∂J/∂a, J = loss_fn(output, target) or the sum of the outputs), with their std,
    the fraction of dead ReLUs (a = 0) and of saturated sigmoid/tanh units (|a| near its limit).
    The user's ``.grad`` is not touched. Two rows of axes, one column per layer."""
    plt = _pyplot()
    stats = _layer_outputs(model, x, target, loss_fn)
    fig, axes = _figure(plt, 2, len(stats), (3.2 * len(stats), 5.5))
    for col, (name, act, grad) in enumerate(stats):
        kind = name.split(": ")[1]
        note = ""
        if kind in ("ReLU", "LeakyReLU"):
            note = f"\ndead {np.mean(act <= 0):.0%}"
        elif kind == "Sigmoid":
            note = f"\nsaturated {np.mean((act < 0.02) | (act > 0.98)):.0%}"
        elif kind == "Tanh":
            note = f"\nsaturated {np.mean(np.abs(act) > 0.98):.0%}"
        top, bottom = axes[0][col], axes[1][col]
        top.hist(act.ravel(), bins=bins, color="tab:blue")
        top.set_title(f"{name}\nstd {act.std():.3g}{note}", fontsize=9)
        bottom.hist(grad.ravel(), bins=bins, color="tab:red")
        bottom.set_title(f"∂J/∂a  std {grad.std():.3g}", fontsize=9)
    axes[0][0].set_ylabel("activations")
    axes[1][0].set_ylabel("gradients")
    fig.tight_layout()
    return fig


def _run_optimizer(f: Callable, factory: Callable, start, steps: int) -> np.ndarray:
    """Path of an optimizer from ``factory([w])`` minimizing f(w1, w2) for ``steps`` steps."""
    w = ag.tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
    opt = factory([w])
    path = [w.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        f(w[0], w[1]).backward()
        opt.step()
        path.append(w.numpy().copy())
    return np.array(path)


def plot_optimizer_paths(f: Callable, paths_or_optimizers: Mapping, start=(-1.5, 1.5),
                         steps: int = 50, bounds: tuple[float, float, float, float] | None = None,
                         levels: int = 30):
    """Course 001's comparison: contour lines of a 2-D loss f(w1, w2) (f takes and returns
    Tensors, and must also work on numpy arrays for the contours) and one path per optimizer.

    ``paths_or_optimizers``: name → array (steps, 2) of precomputed points, or name →
    factory(params) returning an optimizer (e.g. ``lambda p: optim.Adam(p, lr=0.1)``) that is run
    from ``start`` for ``steps`` steps."""
    plt = _pyplot()
    paths = {name: (np.asarray(v, dtype=float) if not callable(v)
                    else _run_optimizer(f, v, start, steps))
             for name, v in paths_or_optimizers.items()}
    for name, path in paths.items():
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"plot_optimizer_paths: path {name!r} must have shape (steps, 2), "
                             f"got {path.shape}")
    if bounds is None:
        every = np.concatenate([p for p in paths.values()] + [np.array([start], float)])
        lo, hi = every.min(axis=0), every.max(axis=0)
        pad = np.maximum(0.2 * (hi - lo), 0.5)
        bounds = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    w1, w2 = np.meshgrid(np.linspace(bounds[0], bounds[1], 200),
                         np.linspace(bounds[2], bounds[3], 200))
    with ag.no_grad():
        zz = _numpy(f(ag.tensor(w1), ag.tensor(w2)))
    fig, axes = _figure(plt, size=(6.5, 5))
    ax = axes[0][0]
    ax.contour(w1, w2, zz, levels=levels, cmap="viridis", linewidths=0.7)
    for name, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1.2, label=name)
    ax.plot(*np.asarray(start, float)[:2], "k*", ms=10)
    ax.set_xlabel("w₁")
    ax.set_ylabel("w₂")
    ax.legend()
    ax.set_title("Optimizer paths")
    fig.tight_layout()
    return fig


def plot_function_fit(model, x, y, points: int = 400, title: str | None = None):
    """Universal approximation lesson: the training samples (x, y) of a 1-D function and the
    model's output on a fine grid over their range."""
    plt = _pyplot()
    xs, ys = _numpy(x).reshape(-1), _numpy(y).reshape(-1)
    grid = np.linspace(xs.min(), xs.max(), points).reshape(-1, 1)
    fit = _predict(model, grid).reshape(-1)
    fig, axes = _figure(plt)
    ax = axes[0][0]
    ax.plot(xs, ys, "o", ms=3, alpha=0.6, label="samples")
    ax.plot(grid[:, 0], fit, "-", lw=2, label="network")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Function fit")
    fig.tight_layout()
    return fig
