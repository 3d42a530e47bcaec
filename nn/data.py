"""Datasets and batching: ``TensorDataset`` and ``DataLoader`` (PyTorch's names).

The batch size selects the course's three ways of estimating the gradient:

- ``batch_size=1``: online (stochastic) learning, one example per update;
- ``batch_size=m``: mini-batches of m examples;
- ``batch_size=None``: full batch, the whole training set in every update.

>>> import numpy as np
>>> data = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
>>> [x.shape for x, y in DataLoader(data, batch_size=2)]
[(2, 2), (2, 2), (1, 2)]
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """Anything with ``__len__`` and ``__getitem__(i)`` returning a tuple of arrays/Tensors."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _array(value, position: int) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"TensorDataset: argument {position} cannot be turned into an array")
    if array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(ag.get_default_dtype())      # Python floats → default dtype
    return array


class TensorDataset(Dataset):
    """Samples along the first axis of several tensors: item i is (t₁[i], t₂[i], ...).

    Accepts Tensors, numpy arrays or nested lists (lists of floats become the default float
    dtype, float32). All must have the same first dimension, the number of samples.
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.arrays = tuple(_array(t, i) for i, t in enumerate(tensors))
        for i, array in enumerate(self.arrays):
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d (a single value); each "
                                 "argument needs a first axis of samples")
        sizes = [array.shape[0] for array in self.arrays]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: all tensors must have the same first dimension "
                             f"(number of samples), got shapes {shapes}")
        self.tensors = tuple(Tensor(array) for array in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(Tensor(array[index]) for array in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The samples at ``indices`` as one batch (a single fancy index per tensor)."""
        return tuple(Tensor(array[indices]) for array in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return f"TensorDataset({shapes})"


def _collate(items: list) -> tuple[Tensor, ...]:
    """Stack a list of samples (tuples of arrays/Tensors, or single values) into a batch."""
    first = items[0]
    if not isinstance(first, (tuple, list)):
        items = [(item,) for item in items]
    fields = zip(*items)
    return tuple(Tensor(np.stack([v.data if isinstance(v, Tensor) else np.asarray(v)
                                  for v in field])) for field in fields)


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled, yielding tuples of Tensors.

    batch_size   1 (online), m (mini-batch) or None (full batch: one batch per epoch)
    shuffle      a new random order every epoch (each ``iter()``)
    drop_last    skip the last batch when it is smaller than ``batch_size``
    seed         the shuffles come from their own generator seeded with ``seed``, so the
                 sequence of epochs is reproducible; with None they come from autograd_core's
                 global generator (``ag.manual_seed``)
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None (full "
                             f"batch), got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self._generator = ag.Generator(seed) if seed is not None else None
        self.epoch = 0

    def _size(self) -> int:
        n = len(self.dataset)
        return n if self.batch_size is None else int(self.batch_size)

    def __len__(self) -> int:
        n, size = len(self.dataset), self._size()
        if n == 0:
            return 0
        return n // size if self.drop_last else math.ceil(n / size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        generator = self._generator or ag.random.default_generator
        return generator.numpy.permutation(n)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = self._order()
        self.epoch += 1
        size = self._size()
        for start in range(0, len(order), max(size, 1)):
            indices = order[start:start + size]
            if self.drop_last and len(indices) < size:
                return
            if isinstance(self.dataset, TensorDataset):
                yield self.dataset.batch(indices)
            else:
                yield _collate([self.dataset[int(i)] for i in indices])

    def __repr__(self) -> str:
        return (f"DataLoader(samples={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
