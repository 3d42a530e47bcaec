"""The check of integer class labels that ``optim.compile_step`` runs before each compiled step.

A compiled step one-hot encodes its labels with ``t[i, y[i]] = 1`` and Numba does not check the
index, so a label outside ``[0, classes)`` must be found before the call (the eager step then
takes the batch: it raises, or skips ``ignore_index``). Before dropout masks are drawn, too,
so that a refused batch leaves the generator as the eager step finds it. One compiled pass
costs ~0.5 µs; ``y.min()`` and ``y.max()`` cost ~5 µs. Plain code, so it needs no numpy twin:
with JIT off it runs as written.
"""
from __future__ import annotations

from ._kernel import njit


@njit()
def labels_in_range(labels, classes):
    """Is every element of the 1-D integer array ``labels`` in [0, classes)?"""
    for i in range(labels.shape[0]):
        if labels[i] < 0 or labels[i] >= classes:
            return False
    return True
