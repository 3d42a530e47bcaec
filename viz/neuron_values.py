"""The numbers of ``draw_network``: a dense network run forward and backward by the engine.

For each layer k = 1..K of an ``nn.Sequential`` of Linear + activation (course 000):

    z⁽ᵏ⁾ = W⁽ᵏ⁾ a⁽ᵏ⁻¹⁾ + b⁽ᵏ⁾,   a⁽ᵏ⁾ = ψ(z⁽ᵏ⁾),   a⁽⁰⁾ = x
    δ⁽ᵏ⁾ = ∂J/∂z⁽ᵏ⁾ = ∂J/∂a⁽ᵏ⁾ ⊙ ψ'(z⁽ᵏ⁾)          (the course's "función delta")
    ∂J/∂a⁽ᵏ⁻¹⁾ = W⁽ᵏ⁾ᵀ δ⁽ᵏ⁾                        (each unit's "suma de salidas" of w·δ)
    ∂J/∂W⁽ᵏ⁾ = δ⁽ᵏ⁾ a⁽ᵏ⁻¹⁾ᵀ,   ∂J/∂b⁽ᵏ⁾ = δ⁽ᵏ⁾

Every gradient here is the engine's (``ag.grad`` on the captured tensors, hooks off, so the user's
``.grad`` and hooks are untouched); only the products w·δ shown on the edges are formed here, and
the tests check that they add up to the engine's ∂J/∂a.

A batch of m samples is drawn either one sample at a time (``sample=k``: the cost of that sample
alone) or as the batch (``sample=None``): then J is the batch cost and each unit shows the sum over
the rows of the engine's ∂J/∂a and ∂J/∂z, which is 1/m Σₓ of the per-sample values when the loss
averages over the batch (checked: the batch cost must be the mean, or the sum, of the per-sample
costs, and the picture says which).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import autograd_core as ag
import nn

# Activation modules drawn inside a unit: the vocabulary key of the name shown as ψ.
ACTIVATIONS = {
    nn.Sigmoid: "network.act.sigmoid", nn.Tanh: "network.act.tanh", nn.ReLU: "network.act.relu",
    nn.LeakyReLU: "network.act.leaky_relu", nn.ELU: "network.act.elu",
    nn.SELU: "network.act.selu", nn.Softplus: "network.act.softplus",
    nn.SiLU: "network.act.silu", nn.GELU: "network.act.gelu", nn.Softmax: "network.act.softmax",
    nn.Identity: "network.act.linear",
}


@dataclass
class Layer:
    """One Linear layer and the activation that follows it (None: a linear unit)."""

    linear: nn.Linear
    activation: nn.Module | None = None
    act_key: str = "network.act.linear"


@dataclass
class Values:
    """What the picture shows. Per-unit arrays are one sample's, or (batch) sums over the rows.

    ``reduction`` is "" for one sample, "mean" or "sum" for a batch drawn whole; ``m`` is the
    number of samples given, ``sample`` the one drawn (None: the batch).
    """

    acts: list[np.ndarray] | None                 # a⁽⁰⁾ = x, ..., a⁽ᴷ⁾ (None: a batch)
    m: int = 1
    sample: int | None = None
    reduction: str = ""
    zs: list[np.ndarray] = field(default_factory=list)          # z⁽ᵏ⁾ (one sample only)
    dpsi: list[np.ndarray | None] = field(default_factory=list)  # ψ'(z⁽ᵏ⁾) (one sample only)
    grad_a: list[np.ndarray] = field(default_factory=list)      # ∂J/∂a⁽ᵏ⁾, k = 0..K
    deltas: list[np.ndarray] = field(default_factory=list)      # δ⁽ᵏ⁾ = ∂J/∂z⁽ᵏ⁾, k = 1..K
    grad_w: list[np.ndarray] = field(default_factory=list)
    grad_b: list[np.ndarray | None] = field(default_factory=list)
    cost: float | None = None

    @property
    def batch(self) -> bool:
        return self.reduction != ""


def parse_layers(model, max_units: int = 12) -> list[Layer]:
    """Split an nn.Sequential (or one Linear) into Linear + activation pairs, checking sizes."""
    from .labels import check_count

    check_count("draw_network", "max_units", max_units, low=1)
    modules = list(model) if isinstance(model, nn.Sequential) else [model]
    layers: list[Layer] = []
    for index, module in enumerate(modules):
        name = f"layer {index} ({type(module).__name__})"
        if isinstance(module, nn.Linear):
            for width, what in ((module.in_features, "inputs"), (module.out_features, "units")):
                if width > max_units:
                    raise ValueError(
                        f"draw_network: {name} has {width} {what}, more than max_units="
                        f"{max_units}; the neuron-level view is for small networks (pass a larger "
                        "max_units, or use viz.draw_forward for the op graph)")
            if layers and layers[-1].linear.out_features != module.in_features:
                raise ValueError(f"draw_network: {name} expects {module.in_features} inputs but "
                                 f"the previous layer has {layers[-1].linear.out_features} units")
            layers.append(Layer(module))
        elif type(module) in ACTIVATIONS:
            if not layers or layers[-1].activation is not None:
                raise ValueError(f"draw_network: {name} must follow a Linear layer")
            layers[-1].activation = module
            layers[-1].act_key = ACTIVATIONS[type(module)]
        else:
            raise ValueError(
                f"draw_network: {name} is not supported; the neuron-level view draws "
                "nn.Sequential of Linear layers each followed by at most one activation ("
                + ", ".join(sorted(c.__name__ for c in ACTIVATIONS)) + ")")
    if not layers:
        raise ValueError("draw_network: the model has no Linear layer")
    return layers


def _rows(value, width: int, what: str, dtype) -> np.ndarray:
    """``value`` as an (m, width) array: one sample (width values) or a batch (m, width)."""
    arr = np.asarray(value.numpy() if isinstance(value, ag.Tensor) else value, dtype=dtype)
    if arr.ndim <= 1 and arr.size == width:
        return arr.reshape(1, width)
    if arr.ndim == 2 and arr.shape[1] == width and arr.shape[0] >= 1:
        return arr
    raise ValueError(f"draw_network: {what} must be one sample of {width} values or a batch of "
                     f"shape (m, {width}), got shape {arr.shape}")


def _targets(t, m: int, width: int, dtype) -> np.ndarray:
    """Targets as rows (m, width), or class indices (m,): integers, one per sample, for an
    output of more than one unit."""
    arr = np.asarray(t.numpy() if isinstance(t, ag.Tensor) else t)
    if arr.dtype.kind in "iu" and arr.ndim <= 1 and arr.size == m and width > 1:
        return arr.reshape(m)
    rows = _rows(arr, width, "t", dtype)
    if rows.shape[0] != m:
        raise ValueError(f"draw_network: x has {m} samples but t has {rows.shape[0]}")
    return rows


def _derivative(layer: Layer, z: np.ndarray) -> np.ndarray | None:
    """ψ'(z) by the engine (backward of the activation alone); None for softmax (not
    elementwise)."""
    if layer.activation is None or isinstance(layer.activation, nn.Identity):
        return np.ones_like(z)
    if isinstance(layer.activation, nn.Softmax):
        return None
    zl = ag.tensor(z, requires_grad=True)
    (g,) = ag.grad(layer.activation(zl).sum(), [zl], hooks=False)
    return g.numpy()


def _forward(layers: list[Layer], xs: np.ndarray, need_grad: bool):
    """Run the layers; the input tensor, the z and a tensors of each layer."""
    xt = ag.tensor(xs, requires_grad=need_grad)
    a, zs, acts = xt, [], [xt]
    with ag.enable_grad() if need_grad else ag.no_grad():
        for layer in layers:
            z = layer.linear(a)
            a = z if layer.activation is None else layer.activation(z)
            zs.append(z)
            acts.append(a)
    return xt, zs, acts


def compute_values(layers: list[Layer], x, t=None, loss_fn=None, backward: bool = False,
                   sample: int | None = None) -> Values:
    """The numbers of the picture (see the module docstring); ``x``/``t`` one sample or a batch."""
    dtype = layers[0].linear.weight.data.dtype
    xs = _rows(x, layers[0].linear.in_features, "x", dtype)
    m = xs.shape[0]
    ts = None
    if backward:
        if t is None:
            raise ValueError("draw_network: the backward view needs a target t (and x)")
        ts = _targets(t, m, layers[-1].linear.out_features, dtype)
    if sample is not None:
        if not 0 <= sample < m:
            raise ValueError(f"draw_network: sample={sample} is out of range for a batch of {m} "
                             f"sample{'s' if m > 1 else ''} (0 to {m - 1})")
        xs, ts = xs[sample:sample + 1], None if ts is None else ts[sample:sample + 1]
    single = xs.shape[0] == 1
    xt, zs, acts = _forward(layers, xs, backward)
    values = Values(acts=[a.numpy()[0].copy() for a in acts] if single else None, m=m,
                    sample=sample if m > 1 else None)
    if single:
        values.zs = [z.numpy()[0].copy() for z in zs]
        values.dpsi = [_derivative(layer, z) for layer, z in zip(layers, values.zs)]
    if backward:
        loss_fn = nn.SquaredError() if loss_fn is None else loss_fn
        _backward(values, layers, loss_fn, xt, zs, acts, ts)
    return values


def _backward(values: Values, layers, loss_fn, xt, zs, acts, ts) -> None:
    """Fill ``values`` with the engine's gradients of J = loss_fn(a⁽ᴷ⁾, t)."""
    with ag.enable_grad():
        cost = loss_fn(acts[-1], ag.tensor(ts))
    params = [p for layer in layers for p in (layer.linear.weight, layer.linear.bias)
              if p is not None]
    # NOTE: a linear unit's a⁽ᵏ⁾ is its z⁽ᵏ⁾ (the same tensor): ask for each tensor once
    wanted = list({id(v): v for v in [xt, *acts[1:], *zs, *params]}.values())
    grads = dict(zip(map(id, wanted),
                     ag.grad(cost, wanted, allow_unused=True, hooks=False)))

    def rows(tensor) -> np.ndarray:           # one sample's row, or the sum over the rows
        return grads[id(tensor)].numpy().sum(axis=0)

    values.cost = float(cost.item())
    values.grad_a = [rows(a) for a in acts]
    values.deltas = [rows(z) for z in zs]
    for layer in layers:
        values.grad_w.append(grads[id(layer.linear.weight)].numpy())
        bias = layer.linear.bias
        values.grad_b.append(None if bias is None else grads[id(bias)].numpy())
    if len(ts) > 1:
        values.reduction = _reduction(loss_fn, acts[-1], ts, values.cost)


def _reduction(loss_fn, out, ts: np.ndarray, cost: float) -> str:
    """"mean" or "sum": how the batch cost relates to the per-sample costs (checked)."""
    with ag.no_grad():
        each = np.array([float(loss_fn(out[i:i + 1], ag.tensor(ts[i:i + 1])).item())
                         for i in range(len(ts))])
    for name, value in (("mean", each.mean()), ("sum", each.sum())):
        if np.isclose(cost, value, rtol=1e-5, atol=1e-9):
            return name
    raise ValueError(f"draw_network: the batch cost {cost:.6g} is neither the mean "
                     f"({each.mean():.6g}) nor the sum ({each.sum():.6g}) of the per-sample "
                     "costs; draw one sample with sample=k")
