"""Layers: Linear, Maxout, Flatten, Identity, Dropout, GaussianNoise, BatchNorm1d.

Every forward is written with ``autograd_core`` operations, so every gradient comes from the
engine's own backward rules; no layer here defines a backward of its own.
"""
from __future__ import annotations

import math

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

from .functional import batch_norm, dropout
from .module import Module, Parameter


def _uniform_parameter(shape: tuple[int, ...], bound: float, dtype) -> Parameter:
    """U(−bound, bound) drawn from autograd_core's seedable generator."""
    dtype = np.dtype(dtype or ag.get_default_dtype())
    data = (ag.rand(*shape, dtype=np.float64).data * 2.0 - 1.0) * bound
    return Parameter(data.astype(dtype))


def _initialize(param: Parameter, init) -> None:
    """Apply an initializer given by name ("he_normal", "zeros"...) or as a callable."""
    from . import init as initializers      # NOTE: lazy, nn.init is only needed when asked for

    with ag.no_grad():
        initializers.get_initializer(init)(param)


def _regularizer(value, what: str):
    from .regularizers import get as get_regularizer

    return get_regularizer(value, what)


class Linear(Module):
    """Fully connected layer, the course's z = W a + b on a batch: out = x·Wᵀ + b.

    ``weight`` has shape (out_features, in_features) and ``bias`` (out_features,), as PyTorch.
    Default initialisation is PyTorch's: W and b ~ U(−1/√in, 1/√in). ``weight_init`` /
    ``bias_init`` take an initializer name ("he_normal", "glorot_uniform", "zeros"...) or a
    callable f(tensor) (see ``nn.init``). Keras-style ``kernel_regularizer``,
    ``bias_regularizer`` and ``activity_regularizer`` (e.g. ``nn.regularizers.L2(0.01)``) add their
    penalties to ``model.regularization_loss()``; the activity penalty is taken on the output of
    the last forward and divided by the batch size, as Keras does.

    >>> import nn
    >>> layer = nn.Linear(784, 10)
    >>> layer.weight.shape, layer.bias.shape
    ((10, 784), (10,))
    >>> layer(ag.zeros(32, 784)).shape
    (32, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 weight_init=None, bias_init=None, kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _uniform_parameter((out_features, in_features), bound, dtype)
        if bias:
            self.bias = _uniform_parameter((out_features,), bound, dtype)
        else:
            self.register_parameter("bias", None)
        if weight_init is not None:
            _initialize(self.weight, weight_init)
        if bias_init is not None and self.bias is not None:
            _initialize(self.bias, bias_init)
        self.kernel_regularizer = _regularizer(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = _regularizer(bias_regularizer, "bias_regularizer")
        self.activity_regularizer = _regularizer(activity_regularizer, "activity_regularizer")
        self._activity_penalty: Tensor | None = None

    def fused_forward(self, x: Tensor, following: Module):
        """ψ(x·Wᵀ + b) as one node when ``following`` is ReLU, Tanh or Sigmoid (exactly those
        classes, whose ``fused_activation`` names ψ) and nothing needs z itself: no activity
        regularizer, no subclass forward."""
        activation = type(following).__dict__.get("fused_activation")
        if (activation is None or self.activity_regularizer is not None
                or type(self).forward is not Linear.forward):
            return None
        return ag.linear(x, self.weight, self.bias, activation=activation)

    def forward(self, x: Tensor) -> Tensor:
        out = ag.linear(x, self.weight, self.bias)
        if self.activity_regularizer is not None:
            batch = out.shape[0] if out.ndim > 1 else 1
            self._activity_penalty = self.activity_regularizer(out) / max(batch, 1)
        return out

    def regularization_terms(self) -> list[Tensor]:
        terms = []
        if self.kernel_regularizer is not None:
            terms.append(self.kernel_regularizer(self.weight))
        if self.bias_regularizer is not None and self.bias is not None:
            terms.append(self.bias_regularizer(self.bias))
        if self._activity_penalty is not None:
            terms.append(self._activity_penalty)
        return terms

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Maxout(Module):
    """Maxout unit (Goodfellow et al., 2013; course 000 §5): the max of ``pieces`` affine maps,

        out_j = max_k (W_k x + b_k)_j,   k = 1..pieces

    stored as one weight of shape (pieces·out_features, in_features): rows k·out .. (k+1)·out − 1
    are W_k. Initialised as Linear (U(−1/√in, 1/√in)). The gradient flows to the piece that
    wins (the engine's max rule).

    >>> import nn
    >>> nn.Maxout(4, 3, pieces=2)(ag.zeros(5, 4)).shape
    (5, 3)
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2,
                 dtype=None) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"Maxout: pieces must be at least 1, got {pieces}")
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _uniform_parameter((pieces * out_features, in_features), bound, dtype)
        self.bias = _uniform_parameter((pieces * out_features,), bound, dtype)

    def forward(self, x: Tensor) -> Tensor:
        z = ag.linear(x, self.weight, self.bias)                  # (..., pieces·out)
        z = z.reshape(*x.shape[:-1], self.pieces, self.out_features)
        return z.max(axis=-2)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}")


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one: (N, 28, 28) → (N, 784) by default.

    >>> import nn
    >>> nn.Flatten()(ag.zeros(2, 28, 28)).shape
    (2, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


def _check_probability(name: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p is a probability and must be in [0, 1], got {p}")
    return float(p)


class Dropout(Module):
    """Inverted dropout: in training each element is zeroed with probability ``p`` and the rest
    are scaled by 1/(1 − p), so E[out] = x; in evaluation mode it is the identity.

        out = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p)

    NOTE: ``p`` is the probability of DROPPING a unit (PyTorch's and Keras's ``rate``). The
    course's code (cs231n) writes ``p`` for the probability of KEEPING a unit, so its p = 0.5 is
    ours too, but its p = 0.8 is ``nn.Dropout(0.2)``. Masks come from ``autograd_core``'s
    generator (``ag.manual_seed``) or the ``generator`` given.

    >>> import nn
    >>> drop = nn.Dropout(0.5)
    >>> x = ag.ones(2, 4)
    >>> drop.eval()(x) is x
    True
    """

    def __init__(self, p: float = 0.5, generator: ag.Generator | None = None) -> None:
        super().__init__()
        self.p = _check_probability("Dropout", p)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(Module):
    """Additive Gaussian noise for regularisation (Keras's GaussianNoise), training only:

        out = x + ε,   ε ~ N(0, std²)   (identity in evaluation mode)

    >>> import nn
    >>> noise = nn.GaussianNoise(0.1)
    >>> x = ag.zeros(3)
    >>> noise.eval()(x) is x
    True
    """

    def __init__(self, std: float, generator: ag.Generator | None = None) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std = float(std)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.std == 0:
            return x
        noise = ag.randn(*x.shape, dtype=np.float64, generator=self.generator).data
        return x + (noise * self.std).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"std={self.std}"


class BatchNorm1d(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015) over the batch of (N, C) or (N, C, L) inputs:

        x̂ = (x − μ_B) / √(σ²_B + eps),   out = γ ⊙ x̂ + β

    In training μ_B and σ²_B are the batch mean and biased variance per channel, and the running
    statistics are updated as PyTorch does (the variance with the unbiased n/(n−1) factor):

        running_mean ← (1 − momentum)·running_mean + momentum·μ_B
        running_var  ← (1 − momentum)·running_var  + momentum·σ²_B·n/(n − 1)

    (``momentum=None``: cumulative average). In evaluation mode the running statistics are used.
    γ (``weight``) starts at 1 and β (``bias``) at 0; ``affine=False`` drops them.

    >>> import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> out = bn(ag.randn(8, 3))
    >>> bool(abs(out.mean(axis=0)).max() < 1e-5)
    True
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None) -> None:
        super().__init__()
        dtype = np.dtype(dtype or ag.get_default_dtype())
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            with ag.no_grad():
                self.num_batches_tracked.add_(1)
            if momentum is None:
                momentum = 1.0 / int(self.num_batches_tracked.item())
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          training=use_batch, momentum=momentum if momentum is not None else 0.0,
                          eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")
