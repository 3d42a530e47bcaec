"""Row-wise (last axis) softmax-family kernels, each a numpy reference beside a Numba body with
the same signature (see ``_kernel.py`` for the dispatch).

A "row" is one slice ``x[..., :]``; every kernel takes arrays of any rank ≥ 1. Each row is
shifted by its maximum m first (softmax is shift-invariant), so logits of ±1000 stay finite; a
row whose maximum is not finite is shifted by 0 instead, as the engine's ``_stable_max`` does.
Compiled bodies accumulate in float64 and round once to the array's dtype. The cross-entropy
bodies ``<name>_numba`` allocate their result and call ``<name>_into``, which writes it into a
C-contiguous array it is given (``optim.compile_step`` reuses such arrays from step to step).

Thresholds: ``benchmarks/bench_kernels.py``, µs per call on float32 (rows of 10 classes), 2-core
VM, numba 0.68, numpy 2.4, best of 5 (numpy / serial njit / parallel njit):

    kernel                              64        1,024        4,096       65,536     1,000,000
    softmax_rows                   6.9/1.1/2.0  13/7.3/5.8  33/27/12  427/426/165  6,674/6,449/2,491
    log_softmax_rows               8.0/1.1/2.0  15/8.3/4.6  35/32/13  425/501/185  6,629/7,620/2,849
    softmax_cross_entropy_rows     12/1.2/3.0   20/8.6/5.7  46/33/15  562/518/203  8,769/7,943/3,061
    softmax_cross_entropy_backward 7.7/1.1/2.1  15/7.5/4.4  34/28/12  431/421/168  6,687/6,489/2,518

Compiled (serial) at every size: it beats numpy everywhere above. The parallel variant was
faster alone from 4,096 elements, but inside a training step it runs right after BLAS products
whose spinning threads take the cores (elementwise.py gives the figures: 33.0 → 21.6 ms per
step at batch 1024), so no kernel is compiled parallel.
"""
from __future__ import annotations

import math

import numpy as np

from ._kernel import Kernel, njit


def _row_max(x):
    # NOTE: initial=−inf lets an empty row through; a non-finite max shifts by 0
    m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(m), m, 0)


# --- softmax -------------------------------------------------------------------------------------
def softmax_rows_reference(x):
    """softmax(x)ᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m} along the last axis."""
    e = np.exp(x - _row_max(x))
    return e / np.sum(e, axis=-1, keepdims=True)


@njit()
def softmax_rows_numba(x):
    out = np.empty_like(x)
    width = x.shape[-1]
    if width == 0:
        return out
    xs, outs = x.reshape((-1, width)), out.reshape((-1, width))
    for r in range(xs.shape[0]):
        m = float(np.max(xs[r]))
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(width):
            e = math.exp(float(xs[r, j]) - m)
            outs[r, j] = e
            total += e
        for j in range(width):
            outs[r, j] = outs[r, j] / total
    return out


# --- log softmax ---------------------------------------------------------------------------------
def log_softmax_rows_reference(x):
    """log softmax(x)ᵢ = (xᵢ − m) − ln Σⱼ e^{xⱼ − m} along the last axis."""
    shifted = x - _row_max(x)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


@njit()
def log_softmax_rows_numba(x):
    out = np.empty_like(x)
    width = x.shape[-1]
    if width == 0:
        return out
    xs, outs = x.reshape((-1, width)), out.reshape((-1, width))
    for r in range(xs.shape[0]):
        m = float(np.max(xs[r]))
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(width):
            total += math.exp(float(xs[r, j]) - m)
        log_total = np.log(total)
        for j in range(width):
            outs[r, j] = (float(xs[r, j]) - m) - log_total
    return out


# --- softmax cross-entropy -----------------------------------------------------------------------
def softmax_cross_entropy_rows_reference(logits, target):
    """Per-row loss −Σ_c t_c ln softmax(z)_c = Σ_c t_c (ln Σⱼ e^{zⱼ − m} − (z_c − m)),
    with 0·ln 0 taken as 0; shape ``logits.shape[:-1]``."""
    log_probs = log_softmax_rows_reference(logits)
    # NOTE: 0·ln 0 is taken as 0, so one-hot targets never turn a −inf log-prob into nan
    products = np.where(target == 0, 0, target * log_probs)
    return (-np.sum(products, axis=-1)).astype(logits.dtype, copy=False)


@njit()
def softmax_cross_entropy_rows_into(logits, target, out):
    width = logits.shape[-1]
    outs = out.reshape(-1)
    if width == 0:
        outs[:] = 0.0
        return
    zs, ts = logits.reshape((-1, width)), target.reshape((-1, width))
    for r in range(zs.shape[0]):
        m = float(np.max(zs[r]))
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(width):
            total += math.exp(float(zs[r, j]) - m)
        log_total = np.log(total)
        loss = 0.0
        for j in range(width):
            t = float(ts[r, j])
            if t != 0.0:
                loss -= t * ((float(zs[r, j]) - m) - log_total)
        outs[r] = loss


@njit()
def softmax_cross_entropy_rows_numba(logits, target):
    out = np.empty(logits.shape[:-1], dtype=logits.dtype)
    softmax_cross_entropy_rows_into(logits, target, out)
    return out


def softmax_cross_entropy_backward_rows_reference(logits, target, scale):
    """grad_z = scale · (softmax(z) − t), rows along the last axis (scale: ∂J/∂loss_i, the same
    for every row: 1/N for a mean, 1 for a sum)."""
    return (scale * (softmax_rows_reference(logits) - target)).astype(logits.dtype, copy=False)


@njit()
def softmax_cross_entropy_backward_rows_into(logits, target, scale, out):
    width = logits.shape[-1]
    if width == 0:
        return
    zs, ts = logits.reshape((-1, width)), target.reshape((-1, width))
    outs = out.reshape((-1, width))
    for r in range(zs.shape[0]):
        m = float(np.max(zs[r]))
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(width):
            e = math.exp(float(zs[r, j]) - m)
            outs[r, j] = e
            total += e
        for j in range(width):
            outs[r, j] = scale * (outs[r, j] / total - ts[r, j])


@njit()
def softmax_cross_entropy_backward_rows_numba(logits, target, scale):
    out = np.empty_like(logits)
    softmax_cross_entropy_backward_rows_into(logits, target, scale, out)
    return out


# --- registry: thresholds from the table in the module docstring ---------------------------------
softmax_rows = Kernel(softmax_rows_reference, softmax_rows_numba, 1, "softmax_rows",
                      rows=True)
log_softmax_rows = Kernel(log_softmax_rows_reference, log_softmax_rows_numba, 1,
                          "log_softmax_rows", rows=True)
softmax_cross_entropy_rows = Kernel(softmax_cross_entropy_rows_reference,
                                    softmax_cross_entropy_rows_numba, 1,
                                    "softmax_cross_entropy_rows", rows=True)
softmax_cross_entropy_backward_rows = Kernel(softmax_cross_entropy_backward_rows_reference,
                                             softmax_cross_entropy_backward_rows_numba, 1,
                                             "softmax_cross_entropy_backward_rows",
                                             rows=True)
