"""Vanishing gradients as the course argues them (001, "Desvanecimiento del gradiente"):

    ∂J/∂w⁽¹⁾ = x·L'·(Π_{l≥2} w⁽ˡ⁾)·(Π_{l≥1} ψ'⁽ˡ⁾)

so the gradient reaching layer k carries the product of the activations' derivatives from the
output down to k. :func:`gradient_flow` measures, for a dense network (``nn.Sequential`` of
Linear layers, each followed by at most one activation), per layer k: ‖∂J/∂W⁽ᵏ⁾‖ (by the engine)
and Π_{l=k..K} mean ψ'(z⁽ˡ⁾) (ψ' by the engine too, averaged over the layer's units and the
batch); :func:`plot_gradient_flow` draws both for several activations side by side, the same
weights in each network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import autograd_core as ag
import nn

#: the activations a network can be rebuilt with, by name
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
_KINDS = tuple(ACTIVATIONS.values()) + (nn.LeakyReLU, nn.ELU, nn.Softplus, nn.SiLU, nn.GELU)


@dataclass
class Flow:
    """Per layer k = 1..K: ‖∂J/∂W⁽ᵏ⁾‖ and Π_{l=k..K} mean ψ'(z⁽ˡ⁾) (1 for a linear layer)."""

    activation: str
    grad_norms: np.ndarray
    psi_products: np.ndarray
    psi_means: np.ndarray


def _layers(model) -> list[tuple]:
    """(Linear, activation module or None) pairs of a dense nn.Sequential."""
    pairs: list[list] = []
    for module in (list(model) if isinstance(model, nn.Sequential) else [model]):
        if isinstance(module, nn.Linear):
            pairs.append([module, None])
        elif isinstance(module, _KINDS) and pairs and pairs[-1][1] is None:
            pairs[-1][1] = module
        else:
            raise ValueError(f"gradient_flow: expected an nn.Sequential of Linear layers, each "
                             f"followed by at most one activation; got {type(module).__name__}")
    if not pairs:
        raise ValueError("gradient_flow: the model has no Linear layer")
    return [tuple(p) for p in pairs]


def with_activation(model, name: str):
    """The same network (the same weight arrays) with every activation replaced by ``name``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"gradient_flow: unknown activation {name!r}; expected one of "
                         f"{sorted(ACTIVATIONS)}")
    modules = []
    for linear, act in _layers(model):
        modules.append(linear)
        if act is not None:
            modules.append(ACTIVATIONS[name]())
    return nn.Sequential(*modules)


def gradient_flow(model, x, t, *, loss_fn=None, activation: str | None = None) -> Flow:
    """The numbers behind :func:`plot_gradient_flow` for ``model`` (or its copy with every
    activation set to ``activation``), J = ``loss_fn(model(x), t)`` (default ``nn.MSELoss()``).
    The user's ``.grad`` is left untouched (``ag.grad``)."""
    if activation is not None:
        model = with_activation(model, activation)
    layers = _layers(model)
    loss_fn = nn.MSELoss() if loss_fn is None else loss_fn
    a = x if isinstance(x, ag.Tensor) else ag.tensor(x)
    means = []
    with ag.enable_grad():
        for linear, act in layers:
            z = linear(a)
            a = z if act is None else act(z)
            means.append(_mean_derivative(act, z))
        J = loss_fn(a, t if isinstance(t, ag.Tensor) else ag.tensor(t))
        grads = ag.grad(J, [linear.weight for linear, _ in layers], hooks=False)
    means = np.array(means)
    products = np.cumprod(means[::-1])[::-1]          # Π_{l=k..K}, from the output down
    norms = np.array([np.linalg.norm(g.numpy()) for g in grads])
    name = activation or "/".join(sorted({type(act).__name__ for _, act in layers if act}))
    return Flow(name, norms, products, means)


def _mean_derivative(act, z) -> float:
    """mean ψ'(z) over the layer's units and the batch, by the engine (1 for a linear layer)."""
    if act is None:
        return 1.0
    zl = ag.tensor(z.data, requires_grad=True)
    (d,) = ag.grad(act(zl).sum(), [zl], hooks=False)
    return float(np.mean(d.numpy()))


def plot_gradient_flow(model, x, t, *, loss_fn=None,
                       activations=("sigmoid", "tanh", "relu"), lang: str = "en"):
    """Per layer, ‖∂J/∂W⁽ᵏ⁾‖ (left) and Π_{l=k..K} mean ψ'(z⁽ˡ⁾) (right), log scale, one line per
    activation in ``activations`` (the network rebuilt with the same weights), as the course's
    vanishing-gradient argument reads: a product of ψ' below 1 shrinks towards the input.
    Returns the matplotlib Figure."""
    from .plots import _figure, _pyplot

    flows = [gradient_flow(model, x, t, loss_fn=loss_fn, activation=name)
             for name in activations]
    plt = _pyplot()
    fig, axes = _figure(plt, 1, 2, (10, 4))
    text = ag.vocabulary.words(lang)
    k = np.arange(1, len(flows[0].grad_norms) + 1)
    for flow in flows:
        axes[0][0].semilogy(k, flow.grad_norms, "o-", label=flow.activation)
        axes[0][1].semilogy(k, flow.psi_products, "o-", label=flow.activation)
    axes[0][0].set_title("‖∂J/∂W⁽ᵏ⁾‖")
    axes[0][1].set_title("Π mean ψ'(z⁽ˡ⁾),  l = k … K")
    for ax in axes[0]:
        ax.set_xlabel(f"{text['layer']} k")
        ax.set_xticks(k)
        ax.legend()
    fig.tight_layout()
    return fig
