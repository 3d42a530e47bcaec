"""The course's neuron layer as two compiled calls: forward a = ψ(x·Wᵀ + b), backward all three
gradients, each a numpy reference beside a Numba body with the same signature.

    forward    z = x·Wᵀ + b,   a = ψ(z)                       x: (n, in), W: (out, in), b: (out,)
    backward   δ = grad ⊙ ψ'(z)   (from a: tanh 1 − a², sigmoid a(1 − a), relu [a > 0])
               grad_x = δ·W,   grad_W = δᵀ·x,   grad_b = Σ_rows δ

Each compiled body ``<name>_numba`` allocates its results and calls ``<name>_into``, which writes
them into C-contiguous arrays it is given (``optim.compile_step`` calls these with buffers it
keeps from one step to the next).

``activation`` is a code from ``ACTIVATIONS`` (0 = none). ``np.dot`` inside ``@njit`` calls
BLAS (through SciPy's), so the products cost what numpy's do, while the bias, the activation,
ψ' and the bias gradient are compiled loops over the arrays (no temporaries; one loop for the
bias, one for ψ or ψ'), and a layer costs one Python call per direction instead of five to
eight numpy calls.

Measured with ``/tmp``-style prototypes on the 2-core VM, float32, µs per call (numpy sequence
``x @ w.T; z += b; ψ`` and ``d = grad ⊙ ψ'; d @ w; d.T @ x; d.sum(0)`` / compiled):

    layer (batch × in → out, ψ)      forward        backward
    4 × 2 → 8, tanh                  2.3 / 1.2      4.2 / 1.7
    4 × 8 → 1, none                  1.8 / 0.8      2.9 / 2.0
    1 × 784 → 512, relu             24 / 21        473 / 45     (numpy's matmul of the
    128 × 784 → 512, relu          819 / 704     1,642 / 1,658   (1, n)ᵀ·(1, m) outer product
    1024 × 784 → 512, relu       4,818 / 4,418  13,410 / 13,388  misses BLAS: 10× slower)

so the compiled pair runs at every size. One exception, measured the same way: Numba's scalar
``tanh`` is ~30× slower than numpy's SIMD float32 ufunc (128 × 512 → 256: 830 vs 528 µs), so
from 64 outputs the tanh forward applies ``np.tanh`` in place after the compiled product and
bias (below, the extra numpy call costs more than the scalar loop).
The references run when JIT is off, for dtypes other than float32/float64, mixed dtypes and
empty arrays; the callers pass 2-D arrays (the op flattens leading axes first), copied to C order
when they are not.
"""
from __future__ import annotations

import math

import numpy as np

from ._kernel import _REFERENCE_THREADS, jit_enabled, njit, use_references

#: activation name → code passed to the kernels (None: the affine layer alone)
ACTIVATIONS = {None: 0, "relu": 1, "tanh": 2, "sigmoid": 3}
_NONE, _RELU, _TANH, _SIGMOID = 0, 1, 2, 3


# --- forward -------------------------------------------------------------------------------------
def linear_forward_reference(x, w, b, activation):
    """ψ(x·Wᵀ + b) with numpy (``b`` may be None)."""
    z = x @ w.T
    if b is not None:
        z += b
    if activation == _RELU:
        np.maximum(z, 0, out=z)
    elif activation == _TANH:
        np.tanh(z, out=z)
    elif activation == _SIGMOID:
        # NOTE: stable: e = exp(−|z|) ≤ 1 never overflows; σ = 1/(1 + e) for z ≥ 0, e/(1 + e) below
        e = np.exp(-np.abs(z))
        z = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
    return z


@njit()
def linear_forward_into(x, w, b, activation, out):
    # NOTE: b is an empty array when the layer has no bias (Numba has no Optional array here).
    # The bias and ψ are two passes, each loop with one body: LLVM copies a loop for each way
    # through the branches inside it, and the fused loop compiled 40 % more code (see
    # ``linear_backward_into``); the extra pass reads what the product just wrote
    np.dot(x, w.T, out)
    rows, width = out.shape
    if b.shape[0] == width:
        for i in range(rows):
            for j in range(width):
                out[i, j] += b[j]
    if activation != 0:
        for i in range(rows):
            for j in range(width):
                v = out[i, j]
                if activation == 1:
                    if not v > 0.0:
                        v = v if math.isnan(v) else 0.0  # nan stays nan, as np.maximum
                elif activation == 2:
                    v = math.tanh(v)                     # (the dispatch uses numpy's: faster)
                else:
                    e = math.exp(-abs(v))
                    v = (1.0 if v >= 0.0 else e) / (1.0 + e)
                out[i, j] = v


@njit()
def linear_forward_numba(x, w, b, activation):
    z = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    linear_forward_into(x, w, b, activation, z)
    return z


# --- backward ------------------------------------------------------------------------------------
def linear_backward_reference(grad, x, w, y, activation, need_x, need_w, need_b):
    """(grad_x, grad_W, grad_b) with numpy; None for the gradients not needed.

    ``y`` is the forward's output ψ(z), read for ψ' (ignored without an activation).
    """
    if activation == _RELU:
        delta = np.where(y > 0, grad, np.zeros((), grad.dtype))
    elif activation == _TANH:
        delta = grad * (1 - y * y)
    elif activation == _SIGMOID:
        delta = grad * y * (1 - y)
    else:
        delta = grad
    return (delta @ w if need_x else None,
            delta.T @ x if need_w else None,
            delta.sum(axis=0) if need_b else None)


@njit()
def linear_backward_into(grad, x, w, y, activation, grad_x, grad_w, grad_b, delta):
    # NOTE: an output of size 0 is not computed; delta is the scratch array of δ when there is
    # an activation (grad may be read-only, e.g. a broadcast seed), unused without one.
    # δ and Σ_rows δ are two passes, each loop with one body: with ψ', the δ store and the bias
    # sum fused in one loop, LLVM copied it for each way through its branches (281 KB of IR
    # with the products, 1.5 s to compile on an empty cache); apart, 141 KB and 1.2 s. The bias
    # gradient sums the δ the products read, as stored in the array's dtype (fused, it summed
    # the unrounded float64 δ of tanh and sigmoid layers: their float32 bias gradients moved by
    # rounding only, ≤ 7e-6 relative on a 64-row batch)
    rows, width = grad.shape
    if activation != 0:
        for i in range(rows):
            for j in range(width):
                d = grad[i, j]
                if activation == 1:
                    d = d if y[i, j] > 0.0 else 0.0
                elif activation == 2:
                    d = d * (1.0 - y[i, j] * y[i, j])
                else:
                    d = d * y[i, j] * (1.0 - y[i, j])
                delta[i, j] = d
    dj_dz = delta if activation != 0 else grad          # δ = ∂J/∂z: grad itself without ψ
    if grad_b.size > 0:
        grad_b[:] = 0.0
        for i in range(rows):
            for j in range(width):
                grad_b[j] += dj_dz[i, j]
    if grad_x.size > 0:
        np.dot(dj_dz, w, grad_x)
    if grad_w.size > 0:
        np.dot(dj_dz.T, x, grad_w)


@njit()
def linear_backward_numba(grad, x, w, y, activation, need_x, need_w, need_b):
    rows, width = grad.shape
    grad_x = np.empty((rows, w.shape[1]) if need_x else (0, 0), dtype=grad.dtype)
    grad_w = np.empty((width, x.shape[1]) if need_w else (0, 0), dtype=grad.dtype)
    grad_b = np.empty(width if need_b else 0, dtype=grad.dtype)
    delta = np.empty((rows, width) if activation != 0 else (0, 0), dtype=grad.dtype)
    linear_backward_into(grad, x, w, y, activation, grad_x, grad_w, grad_b, delta)
    return grad_x, grad_w, grad_b


# --- dispatch ------------------------------------------------------------------------------------
#: the Numba dispatchers once JIT is known to be on (False: JIT off; None: not asked yet, as
#: asking imports Numba). NOTE: calling the dispatchers directly saves the ``Compiled`` wrapper's
#: Python call (~0.5 µs), which counts on the course's small layers.
_dispatchers: tuple | bool | None = None
#: below this many outputs the tanh runs inside the compiled body: Numba's scalar tanh costs
#: ~9 ns an element, one more numpy call ~0.6 µs
_TANH_INSIDE_BELOW = 64


def _compiled() -> tuple | bool:
    global _dispatchers
    if _dispatchers is None:
        _dispatchers = jit_enabled() and (linear_forward_numba.dispatcher(),
                                          linear_backward_numba.dispatcher())
    return _dispatchers


def _compilable(arrays) -> bool:
    """One float dtype (float32 or float64) for all, and no empty array: what the bodies take."""
    dtype = arrays[0].dtype
    if dtype.char not in "fd" or not dtype.isnative:      # Numba cannot type swapped bytes
        return False
    if _REFERENCE_THREADS and use_references():
        return False
    for a in arrays:
        if (a.dtype is not dtype and a.dtype != dtype) or a.size == 0:
            return False
    return bool(_compiled())


def _c_order(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def linear_forward(x, w, b, activation: int):
    """ψ(x·Wᵀ + b) for 2-D ``x`` and ``w``: the compiled body where it applies, else numpy."""
    arrays = (x, w) if b is None else (x, w, b)
    if not _compilable(arrays):
        return linear_forward_reference(x, w, b, activation)
    forward = _dispatchers[0]
    bias = np.empty(0, x.dtype) if b is None else _c_order(b)
    x, w = _c_order(x), _c_order(w)
    if activation == _TANH and x.shape[0] * w.shape[0] >= _TANH_INSIDE_BELOW:
        z = forward(x, w, bias, _NONE)
        return np.tanh(z, out=z)
    return forward(x, w, bias, activation)


def linear_backward(grad, x, w, y, activation: int, need_x: bool, need_w: bool, need_b: bool):
    """(grad_x, grad_W, grad_b) for 2-D ``grad``, ``x``, ``w`` (and ``y``, the forward's output,
    when there is an activation): compiled where it applies; None where not needed."""
    arrays = (grad, x, w) if activation == _NONE else (grad, x, w, y)
    if not _compilable(arrays):
        return linear_backward_reference(grad, x, w, y, activation, need_x, need_w, need_b)
    grad, x, w = _c_order(grad), _c_order(x), _c_order(w)
    # NOTE: y is not read without an activation; grad stands in for it to keep one signature
    y = grad if activation == _NONE else _c_order(y)
    gx, gw, gb = _dispatchers[1](grad, x, w, y, activation, need_x, need_w, need_b)
    return (gx if need_x else None, gw if need_w else None, gb if need_b else None)
