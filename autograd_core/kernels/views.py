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

from ._kernel import njit


def _shaped_signatures() -> list:
    """A 1-D C-contiguous float32/float64 array, an int64 offset and a shape of 0 to 4 int64s.

    NOTE: declared, so that Numba compiles ``shaped`` once per row here: called with the
    literal shape a generated step spells out, ``(4, 8)``, it would otherwise compile (and
    cache) one copy per shape value.
    """
    from numba import types
    return [(types.Array(dtype, 1, "C"), types.int64, types.UniTuple(types.int64, ndim))
            for dtype in (types.float32, types.float64) for ndim in range(5)]


@njit(signatures=_shaped_signatures)
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
