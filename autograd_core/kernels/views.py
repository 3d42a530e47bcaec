"""Views that compiled code takes of its arrays, compiled once and cached like the kernels.

``optim.compile_step``'s generated step cuts its buffers out of one work array and hands the
optimizer kernels flat views of the parameters. Written inline (``a.reshape(shape)``,
``a.ravel()``), Numba compiles the implementation of ``reshape`` and ``ravel`` again inside
each generated step, every time one is compiled (0.7 s of a 3.5 s compile on the 2-8-8-1 net);
called through these functions, it loads them from the on-disk cache. The slice of the buffer
is taken inside ``shaped`` too: written in the step, each ``work[a:b]`` costs ~30 ms of the
step's compilation, a call ~10 ms (measured on 1 to 60 views: the 784-…-10 step has 27). They
are plain numpy code, so they need no separate numpy twin: with JIT off they run as written.
"""
from __future__ import annotations

import numpy as np

from ._kernel import njit


def shaped_signatures(dtype, ranks) -> tuple:
    """``shaped``'s signatures for a buffer of ``dtype`` and shapes of these ``ranks``: a 1-D
    C-contiguous array, an int64 offset, a shape of int64s. A generated step asks for
    ``shaped.dispatcher(shaped_signatures(F, ranks))``, the ranks of its own arrays.

    NOTE: declared, so that Numba compiles ``shaped`` once per rank: called with the literal
    shape a generated step spells out, ``(4, 8)``, it would otherwise compile (and cache) one
    copy per shape value. Only the ranks a step uses: compiling float32/float64 × ranks 0-4
    took 1.7 s on an empty cache, where a step of linear layers needs two.
    """
    from numba import from_dtype, types
    array = types.Array(from_dtype(np.dtype(dtype)), 1, "C")
    return tuple((array, types.int64, types.UniTuple(types.int64, rank))
                 for rank in sorted(set(ranks)))


@njit()
def shaped(buffer, offset, shape):
    """The ``prod(shape)`` elements of the 1-D ``buffer`` from ``offset`` on, seen with
    ``shape``; no copy."""
    size = 1
    for extent in shape:
        size *= extent
    return buffer[offset:offset + size].reshape(shape)


@njit()
def flat(array):
    """``array`` (C-contiguous) seen as 1-D; no copy."""
    return array.reshape(array.size)
