"""Seedable random tensors: one global generator (``manual_seed``) or an explicit ``Generator``."""
from __future__ import annotations

import numpy as np

from .dtypes import get_default_dtype
from .tensor import Tensor


class Generator:
    """A source of random numbers (numpy's PCG64) that can be seeded and passed around."""

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        """Restart the stream from ``seed``; returns self."""
        self.initial_seed = seed
        self.numpy = np.random.default_rng(seed)
        return self


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator used by rand/randn/randint/randperm and nn initializers."""
    return default_generator.manual_seed(seed)


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy


def rand(*shape, dtype=None, requires_grad: bool = False, generator: Generator | None = None
         ) -> Tensor:
    """Uniform samples in [0, 1).

    >>> import autograd_core as ag
    >>> _ = ag.manual_seed(0); ag.rand(2).shape
    (2,)
    """
    data = _rng(generator).random(_shape(shape), dtype=np.float64)
    return Tensor(data.astype(dtype or get_default_dtype()), requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False, generator: Generator | None = None
          ) -> Tensor:
    """Standard normal samples."""
    data = _rng(generator).standard_normal(_shape(shape))
    return Tensor(data.astype(dtype or get_default_dtype()), requires_grad=requires_grad)


def randint(low: int, high: int, size, *, generator: Generator | None = None) -> Tensor:
    """Integers uniformly drawn from [low, high) (int64)."""
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(_rng(generator).integers(low, high, size=size, dtype=np.int64))


def randperm(n: int, *, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n−1 (int64)."""
    return Tensor(_rng(generator).permutation(n).astype(np.int64))


def rand_like(t: Tensor, *, dtype=None, requires_grad: bool = False) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randn_like(t: Tensor, *, dtype=None, requires_grad: bool = False) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)
