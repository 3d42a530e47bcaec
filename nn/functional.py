"""Functional forms of the layers and activations (``import nn.functional as F``).

Activations are autograd_core's ops under PyTorch's names (``dim`` for softmax); ``dropout``,
``batch_norm`` and ``gaussian_noise`` are composites of autograd_core ops, so their gradients come
from the engine. The loss functions of ``nn.losses`` (``cross_entropy``, ``mse_loss``, ...) are
re-exported here, so ``F.cross_entropy(logits, labels)`` works as in PyTorch.
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

sigmoid = ag.sigmoid
tanh = ag.tanh
relu = ag.relu
leaky_relu = ag.leaky_relu
elu = ag.elu
selu = ag.selu
softplus = ag.softplus
silu = ag.silu
swish = ag.silu
gelu = ag.gelu
linear = ag.linear


def identity(x: Tensor) -> Tensor:
    """Returns x."""
    return x


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_j = e^{x_j} / Σ_l e^{x_l} along ``dim``."""
    return ag.softmax(x, axis=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log softmax(x)_j = x_j − log Σ_l e^{x_l} along ``dim`` (stable)."""
    return ag.log_softmax(x, axis=dim)


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    return x.flatten(start_dim, end_dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            generator: ag.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` (the DROP probability) and
    scale the others by 1/(1 − p); identity when not ``training`` or p = 0; zeros when p = 1.

    >>> import autograd_core as ag
    >>> _ = ag.manual_seed(0)
    >>> out = dropout(ag.ones(1000), 0.5)
    >>> sorted(set(out.numpy().tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is a probability and must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros((), dtype=x.dtype)
    return x * dropout_mask(x.shape, p, x.dtype, generator)


def dropout_mask(shape: tuple, p: float, dtype, generator: ag.Generator | None = None
                 ) -> np.ndarray:
    """The factor of inverted dropout for 0 < p < 1: m / (1 − p) with m_i = [u_i ≥ p] and u_i
    uniform in [0, 1) drawn in float64 from ``generator`` (the default one when None). The
    compiled training step draws its masks through this function, so they equal eager's."""
    keep = ag.rand(*shape, dtype=np.float64, generator=generator).data >= p
    return (keep / (1.0 - p)).astype(dtype)


def gaussian_noise(x: Tensor, std: float, training: bool = True,
                   generator: ag.Generator | None = None) -> Tensor:
    """x + ε with ε ~ N(0, std²) when ``training``; x otherwise."""
    if not training or std == 0:
        return x
    noise = ag.randn(*x.shape, dtype=np.float64, generator=generator).data * std
    return x + noise.astype(x.dtype)


def _channel_shape(x: Tensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(axes reduced over, shape that broadcasts a per-channel vector) for (N, C[, L]) input."""
    if x.ndim == 2:
        return (0,), (x.shape[1],)
    if x.ndim == 3:
        return (0, 2), (x.shape[1], 1)
    raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L), got {x.shape}")


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of (N, C) or (N, C, L) input per channel C:

        out = γ ⊙ (x − μ) / √(σ² + eps) + β

    With ``training`` μ, σ² are the batch mean and biased variance, and the running statistics
    (if given) are updated in place with ``momentum``, the variance unbiased by n/(n − 1).
    Otherwise the running statistics are used.
    """
    axes, shape = _channel_shape(x)
    if training:
        count = int(np.prod([x.shape[a] for a in axes]))
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel in training, "
                             f"got input of shape {x.shape}")
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            with ag.no_grad():
                batch_mean = mean.data.reshape(-1).astype(running_mean.dtype)
                unbiased = (var.data.reshape(-1) * (count / (count - 1))).astype(running_var.dtype)
                running_mean.mul_(1.0 - momentum).add_(batch_mean * momentum)
                running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        mean = running_mean.data.reshape(shape)
        var = running_var.data.reshape(shape)
    if training:
        out = (x - mean) / ag.sqrt(var + eps)
    else:               # constants: one scale per channel, computed in numpy
        out = (x - mean.astype(x.dtype)) * (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


# NOTE: imported last: nn.losses needs nn.module only, so there is no cycle through this module
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: E402,F401
                     categorical_hinge, cross_entropy, hinge_loss, mse_loss, multi_margin_loss,
                     nll_loss, squared_error)
