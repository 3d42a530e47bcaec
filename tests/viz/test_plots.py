"""matplotlib plots: each returns a Figure with the expected axes and lines (Agg backend)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import autograd_core as ag  # noqa: E402
import nn  # noqa: E402
from viz import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_model(n_out: int = 1) -> nn.Sequential:
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, n_out))


def test_plot_history_dict_and_object():
    fig = plots.plot_history({"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.4]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2

    class History:
        history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]}

    fig = plots.plot_history(History())
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]
    with pytest.raises(TypeError, match="plot_history"):
        plots.plot_history([1, 2])


def test_plot_decision_boundary_binary_and_multiclass():
    X, y = nn.datasets.xor(40, seed=0)
    fig = plots.plot_decision_boundary(small_model(), X, y, resolution=30)
    assert len(fig.axes) == 2            # the plot and its colorbar
    assert len(fig.axes[0].collections) >= 2
    fig = plots.plot_decision_boundary(small_model(3), X, y.numpy() % 3, resolution=30)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plots.plot_decision_boundary(small_model(), np.zeros((3, 3)), np.zeros(3))


def test_plot_activation_functions_derivative_from_engine():
    fig = plots.plot_activation_functions(["sigmoid", "tanh", "relu"], points=101)
    assert len(fig.axes) == 3
    z, s = fig.axes[0].lines[0].get_data()
    _, ds = fig.axes[0].lines[1].get_data()
    assert np.allclose(ds, s * (1 - s), atol=1e-6)
    _, dt = fig.axes[1].lines[1].get_data()
    assert np.allclose(dt, 1 - np.tanh(z) ** 2, atol=1e-6)
    with pytest.raises(ValueError, match="unknown"):
        plots.plot_activation_functions(["nope"])


def test_plot_layer_statistics_leaves_grad_alone():
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(),
                          nn.Linear(8, 1))
    x = ag.randn(64, 3)
    fig = plots.plot_layer_statistics(model, x)
    assert len(fig.axes) == 6            # 2 rows × (ReLU, Sigmoid, output)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("dead" in t for t in titles) and any("saturated" in t for t in titles)
    assert all(p.grad is None for p in model.parameters())
    fig = plots.plot_layer_statistics(model, x, ag.zeros(64, 1), nn.MSELoss())
    assert len(fig.axes) == 6


def test_plot_optimizer_paths_precomputed_and_factories():
    def f(w1, w2):
        return w1 ** 2 + 10 * w2 ** 2

    path = np.array([[-1.5, 1.5], [-1.0, 0.5], [-0.5, 0.1]])
    fig = plots.plot_optimizer_paths(f, {"given": path}, start=(-1.5, 1.5))
    assert len(fig.axes[0].lines) == 2  # the path and the start marker

    def sgd(params):
        class GD:
            def zero_grad(self):
                for p in params:
                    p.grad = None

            def step(self):
                with ag.no_grad():
                    for p in params:
                        p.sub_(0.05 * p.grad)
        return GD()

    fig = plots.plot_optimizer_paths(f, {"gd": sgd, "given": path}, steps=10)
    gd = fig.axes[0].lines[0].get_xydata()
    assert gd.shape == (11, 2) and abs(gd[-1, 1]) < abs(gd[0, 1])
    with pytest.raises(ValueError, match="steps, 2"):
        plots.plot_optimizer_paths(f, {"bad": np.zeros((3, 3))})


def test_plot_function_fit():
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 5), nn.Tanh(), nn.Linear(5, 1))
    fig = plots.plot_function_fit(model, x, np.sin(3 * x))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2


def test_plot_optimizer_paths_with_optim_and_fit_history():
    optim = pytest.importorskip("optim")

    def f(w1, w2):
        return w1 ** 2 + 10 * w2 ** 2

    fig = plots.plot_optimizer_paths(
        f, {"SGD": lambda p: optim.SGD(p, lr=0.05),
            "Adam": lambda p: optim.Adam(p, lr=0.1)}, start=(-1.5, 1.0), steps=15)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines[:2]] == ["SGD", "Adam"]
    assert all(line.get_xydata().shape == (16, 2) for line in lines[:2])
    if hasattr(optim, "History"):
        history = optim.History()
        history.history = {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3]}
        assert len(plots.plot_history(history).axes[0].lines) == 2
