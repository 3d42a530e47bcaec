"""Activation kernels ψ(x) and their backward rules grad ⊙ ψ'(·), each a numpy reference beside
a Numba body with the same signature (see ``_kernel.py`` for the dispatch).

Backward kernels of sigmoid, tanh and ReLU take the forward's output y (as the fused
``SigmoidBackward``/``TanhBackward``/``ReLUBackward`` ops do); the others take the input x.
Every kernel returns the dtype of its first argument and stays finite for inputs of ±1000.
Compiled bodies compute each element in float64 and round once to the array's dtype. Each body
``<name>_numba`` allocates its result and calls ``<name>_into(…, out)``, which writes into a
C-contiguous array it is given (``optim.compile_step`` reuses such arrays from step to step).

Thresholds: ``benchmarks/bench_kernels.py``, µs per call on float32, 2-core VM, numba 0.68,
numpy 2.4, best of 5 (numpy / serial njit / parallel njit); numpy's float32 ufuncs are SIMD while
Numba's scalar loops are not (no SVML here), so a compiled body wins by fusing passes and
saving call overhead, not by faster math:

    kernel                 64 elements       4,096          65,536             1,000,000
    sigmoid              3.7/0.8/2.9    8.9/10.8/7.0    620/166/72    12,527/2,505/1,023
    sigmoid_backward     1.0/0.7/2.8    1.9/1.2/3.4      16/6.9/6.6      231/105/66
    tanh                 0.3/1.2/3.1    1.1/36/21        11/789/378      160/12,523/6,307
    tanh_backward        1.0/0.7/2.9    1.9/1.2/3.4      15/7.2/6.7      202/100/66
    relu                 0.6/0.6/3.2    1.9/0.8/3.3      20/2.8/4.6      306/73/45
    relu_backward        1.5/0.7/2.9    3.6/1.0/3.3     221/5.5/5.0    3,780/100/55
    leaky_relu           1.7/0.6/3.0    4.1/1.0/3.3     220/5.0/5.3    3,755/85/44
    leaky_relu_backward  2.1/0.8/3.0    4.5/1.0/3.5     216/5.6/18     5,589/102/73
    elu                  3.0/1.2/105    10/24/13        401/693/2,953 10,351/19,632/11,949
    elu_backward         3.7/1.4/20     9.9/5.7/7.9     508/314/67     8,212/5,375/974
    softplus             2.9/1.3/3.1    15/45/25         89/727/368    1,377/11,146/13,672
    softplus_backward    4.7/1.0/3.3    11/17/10        291/276/112    5,114/4,049/1,660
    silu                 4.1/0.8/1.9    9.8/11.7/6.3    282/177/72     4,935/2,730/1,074
    silu_backward        5.6/0.9/1.9    12.9/13.6/7.1   328/211/79     5,445/3,210/(stall)
    gelu                 6.2/1.2/—      196/36/—      3,009/936/—     46,415/14,872/—
    gelu_backward        9.8/1.3/—      196/38/—      3,090/1,000/—   54,066/15,361/—

Chosen (``Kernel(min_size=…, compiled_below=…)``): the compiled body runs from ``min_size``, the
same body below ``compiled_below``, numpy in between. The calls above are raw; a Kernel call
adds ~0.45 µs (one array) or ~0.65 µs (two) for its checks, which moves the tiny-size
crossovers: relu from 2,048, sigmoid/tanh backward from 4,096 (numpy's one or two ufuncs are
as fast below), relu/leaky_relu backward, leaky_relu and gelu fwd/bwd from 1 element. tanh and
the log/exp-heavy softplus and elu forwards stay with numpy (from 256), whose float32 ufuncs
are SIMD.

No kernel is compiled with ``parallel=True`` any more, although the table shows 2-3× gains from
65,536 elements when measured alone: inside a training step a kernel runs right after BLAS
products, whose OpenBLAS threads keep spinning for ~0.1 s, and Numba's worker threads then
fight them for the 2 cores. Measured on the 784-512-256-256-128-10 network at batch 1024 (the
parallel softmax-cross-entropy kernels on 1024 × 10 logits): 33.0 ms per step with the parallel
bodies, 21.6 ms with serial ones. Standalone, a parallel call also stalls 8–32 ms now and then
("—" and "stall" above).
"""
from __future__ import annotations

import math

import numpy as np

from ._kernel import Kernel, njit

_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_C = 0.044715
_SQRT_HALF = 0.7071067811865476              # 1/√2
_INV_SQRT_2PI = 0.3989422804014327           # 1/√(2π)


# --- sigmoid -------------------------------------------------------------------------------------
def sigmoid_reference(x):
    """σ(x) = 1 / (1 + e⁻ˣ), as 1/(1 + e) for x ≥ 0 and e/(1 + e) for x < 0, e = e^{−|x|}."""
    # NOTE: e = exp(−|x|) ≤ 1 never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@njit()
def sigmoid_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        # NOTE: e = exp(−|x|) ≤ 1 never overflows; σ = 1/(1 + e) for x ≥ 0, e/(1 + e) below
        v = float(xs[i])
        e = math.exp(-abs(v))
        outs[i] = (1.0 if v >= 0.0 else e) / (1.0 + e)


@njit()
def sigmoid_numba(x):
    out = np.empty_like(x)
    sigmoid_into(x, out)
    return out


def sigmoid_backward_reference(grad, y):
    """grad ⊙ y ⊙ (1 − y), y = σ(x)."""
    return grad * y * (1 - y)


@njit()
def sigmoid_backward_into(grad, y, out):
    gs, ys, outs = grad.ravel(), y.ravel(), out.ravel()
    for i in range(gs.size):
        outs[i] = gs[i] * ys[i] * (1.0 - ys[i])


@njit()
def sigmoid_backward_numba(grad, y):
    out = np.empty_like(grad)
    sigmoid_backward_into(grad, y, out)
    return out


# --- tanh ----------------------------------------------------------------------------------------
def tanh_reference(x):
    """tanh(x)."""
    return np.tanh(x)


@njit()
def tanh_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        outs[i] = math.tanh(xs[i])


@njit()
def tanh_numba(x):
    out = np.empty_like(x)
    tanh_into(x, out)
    return out


def tanh_backward_reference(grad, y):
    """grad ⊙ (1 − y²), y = tanh(x)."""
    return grad * (1 - y * y)


@njit()
def tanh_backward_into(grad, y, out):
    gs, ys, outs = grad.ravel(), y.ravel(), out.ravel()
    for i in range(gs.size):
        outs[i] = gs[i] * (1.0 - ys[i] * ys[i])


@njit()
def tanh_backward_numba(grad, y):
    out = np.empty_like(grad)
    tanh_backward_into(grad, y, out)
    return out


# --- relu ----------------------------------------------------------------------------------------
def relu_reference(x):
    """max(x, 0)."""
    return np.maximum(x, 0)


@njit()
def relu_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = xs[i]
        outs[i] = 0.0 if v < 0.0 else v          # NOTE: nan stays nan, as np.maximum


@njit()
def relu_numba(x):
    out = np.empty_like(x)
    relu_into(x, out)
    return out


def relu_backward_reference(grad, y):
    """grad ⊙ [y > 0], y = relu(x)   (ψ'(0) taken as 0)."""
    return np.where(y > 0, grad, np.zeros((), grad.dtype))


@njit()
def relu_backward_into(grad, y, out):
    gs, ys, outs = grad.ravel(), y.ravel(), out.ravel()
    for i in range(gs.size):
        outs[i] = gs[i] if ys[i] > 0.0 else 0.0


@njit()
def relu_backward_numba(grad, y):
    out = np.empty_like(grad)
    relu_backward_into(grad, y, out)
    return out


# --- leaky relu ----------------------------------------------------------------------------------
def leaky_relu_reference(x, negative_slope):
    """x if x > 0 else α·x."""
    return np.where(x > 0, x, x * np.asarray(negative_slope, dtype=x.dtype))


@njit()
def leaky_relu_into(x, negative_slope, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = xs[i]
        outs[i] = v if v > 0.0 else v * negative_slope


@njit()
def leaky_relu_numba(x, negative_slope):
    out = np.empty_like(x)
    leaky_relu_into(x, negative_slope, out)
    return out


def leaky_relu_backward_reference(grad, x, negative_slope):
    """grad ⊙ (1 if x > 0 else α)   (ψ'(0) taken as α)."""
    return grad * np.where(x > 0, 1, negative_slope).astype(grad.dtype)


@njit()
def leaky_relu_backward_into(grad, x, negative_slope, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        outs[i] = gs[i] if xs[i] > 0.0 else gs[i] * negative_slope


@njit()
def leaky_relu_backward_numba(grad, x, negative_slope):
    out = np.empty_like(grad)
    leaky_relu_backward_into(grad, x, negative_slope, out)
    return out


# --- elu -----------------------------------------------------------------------------------------
def elu_reference(x, alpha):
    """x if x > 0 else α(eˣ − 1)."""
    # NOTE: expm1 of min(x, 0) cannot overflow for large positive x
    negative = np.asarray(alpha, dtype=x.dtype) * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, negative)


@njit()
def elu_into(x, alpha, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = xs[i]
        outs[i] = v if v > 0.0 else alpha * math.expm1(v)


@njit()
def elu_numba(x, alpha):
    out = np.empty_like(x)
    elu_into(x, alpha, out)
    return out


def elu_backward_reference(grad, x, alpha):
    """grad ⊙ (1 if x > 0 else α·eˣ)."""
    positive = x > 0
    slope = np.where(positive, 1, alpha * np.exp(np.where(positive, 0, x)))
    return (grad * slope).astype(grad.dtype, copy=False)


@njit()
def elu_backward_into(grad, x, alpha, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        v = xs[i]
        outs[i] = gs[i] if v > 0.0 else gs[i] * alpha * math.exp(v)


@njit()
def elu_backward_numba(grad, x, alpha):
    out = np.empty_like(grad)
    elu_backward_into(grad, x, alpha, out)
    return out


# --- softplus ------------------------------------------------------------------------------------
def softplus_reference(x, beta):
    """(1/β) ln(1 + e^{βx}) = (max(βx, 0) + ln(1 + e^{−|βx|})) / β."""
    bx = x * np.asarray(beta, dtype=x.dtype)
    # NOTE: ln(1 + eᶻ) = max(z, 0) + ln(1 + e^{−|z|}) stays finite for z = ±1000
    return ((np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta).astype(x.dtype)


@njit()
def softplus_into(x, beta, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        z = xs[i] * beta
        outs[i] = (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) / beta


@njit()
def softplus_numba(x, beta):
    out = np.empty_like(x)
    softplus_into(x, beta, out)
    return out


def softplus_backward_reference(grad, x, beta):
    """grad ⊙ σ(βx)."""
    return (grad * sigmoid_reference(x * np.asarray(beta, dtype=x.dtype))).astype(grad.dtype)


@njit()
def softplus_backward_into(grad, x, beta, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        z = xs[i] * beta
        e = math.exp(-abs(z))
        outs[i] = gs[i] * (1.0 if z >= 0.0 else e) / (1.0 + e)


@njit()
def softplus_backward_numba(grad, x, beta):
    out = np.empty_like(grad)
    softplus_backward_into(grad, x, beta, out)
    return out


# --- silu ----------------------------------------------------------------------------------------
def silu_reference(x):
    """x ⊙ σ(x)."""
    return x * sigmoid_reference(x)


@njit()
def silu_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = float(xs[i])
        e = math.exp(-abs(v))
        outs[i] = v * (1.0 if v >= 0.0 else e) / (1.0 + e)


@njit()
def silu_numba(x):
    out = np.empty_like(x)
    silu_into(x, out)
    return out


def silu_backward_reference(grad, x):
    """grad ⊙ σ(x) ⊙ (1 + x ⊙ (1 − σ(x)))."""
    s = sigmoid_reference(x)
    return grad * s * (1 + x * (1 - s))


@njit()
def silu_backward_into(grad, x, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        v = float(xs[i])
        e = math.exp(-abs(v))
        s = (1.0 if v >= 0.0 else e) / (1.0 + e)
        outs[i] = gs[i] * s * (1.0 + v * (1.0 - s))


@njit()
def silu_backward_numba(grad, x):
    out = np.empty_like(grad)
    silu_backward_into(grad, x, out)
    return out


# --- gelu (tanh approximation) -------------------------------------------------------------------
def gelu_reference(x):
    """½x(1 + tanh u),  u = √(2/π)(x + 0.044715x³)."""
    u = _SQRT_2_OVER_PI * (x + _GELU_C * x ** 3)
    return (0.5 * x * (1 + np.tanh(u))).astype(x.dtype, copy=False)


@njit()
def gelu_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = float(xs[i])
        outs[i] = 0.5 * v * (1.0 + math.tanh(_SQRT_2_OVER_PI * (v + _GELU_C * v * v * v)))


@njit()
def gelu_numba(x):
    out = np.empty_like(x)
    gelu_into(x, out)
    return out


def gelu_backward_reference(grad, x):
    """grad ⊙ (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))."""
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x ** 3))
    du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
    return (grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)).astype(grad.dtype, copy=False)


@njit()
def gelu_backward_into(grad, x, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        v = float(xs[i])
        t = math.tanh(_SQRT_2_OVER_PI * (v + _GELU_C * v * v * v))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * v * v)
        outs[i] = gs[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du)


@njit()
def gelu_backward_numba(grad, x):
    out = np.empty_like(grad)
    gelu_backward_into(grad, x, out)
    return out


# --- gelu (exact, erf form) -----------------------------------------------------------------------
# NOTE: numpy has no erf ufunc and the core depends on numpy and numba only (not scipy), so the
# reference applies the C library's erf (math.erf, which the compiled body calls too) element by
# element: slow (~0.1 µs an element), but it only runs with JIT off or for non-float dtypes
_erf_objects = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return np.asarray(_erf_objects(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def gelu_erf_reference(x):
    """x·Φ(x) = ½x(1 + erf(x/√2))."""
    return (0.5 * x * (1 + _erf(x * _SQRT_HALF))).astype(x.dtype, copy=False)


@njit()
def gelu_erf_into(x, out):
    xs, outs = x.ravel(), out.ravel()
    for i in range(xs.size):
        v = float(xs[i])
        outs[i] = 0.5 * v * (1.0 + math.erf(v * _SQRT_HALF))


@njit()
def gelu_erf_numba(x):
    out = np.empty_like(x)
    gelu_erf_into(x, out)
    return out


def gelu_erf_backward_reference(grad, x):
    """grad ⊙ (Φ(x) + x·φ(x)),  φ(x) = e^(−x²/2)/√(2π)."""
    cdf = 0.5 * (1 + _erf(x * _SQRT_HALF))
    pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return (grad * (cdf + x * pdf)).astype(grad.dtype, copy=False)


@njit()
def gelu_erf_backward_into(grad, x, out):
    gs, xs, outs = grad.ravel(), x.ravel(), out.ravel()
    for i in range(gs.size):
        v = float(xs[i])
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT_HALF))
        outs[i] = gs[i] * (cdf + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI)


@njit()
def gelu_erf_backward_numba(grad, x):
    out = np.empty_like(grad)
    gelu_erf_backward_into(grad, x, out)
    return out


# --- registry: thresholds from the table in the module docstring ---------------------------------
_NEVER = math.inf
sigmoid = Kernel(sigmoid_reference, sigmoid_numba, 65536, "sigmoid", compiled_below=2048)
sigmoid_backward = Kernel(sigmoid_backward_reference, sigmoid_backward_numba, 4096,
                          "sigmoid_backward")
tanh = Kernel(tanh_reference, tanh_numba, _NEVER, "tanh")
tanh_backward = Kernel(tanh_backward_reference, tanh_backward_numba, 4096, "tanh_backward")
relu = Kernel(relu_reference, relu_numba, 2048, "relu")
relu_backward = Kernel(relu_backward_reference, relu_backward_numba, 1, "relu_backward")
leaky_relu = Kernel(leaky_relu_reference, leaky_relu_numba, 1, "leaky_relu")
leaky_relu_backward = Kernel(leaky_relu_backward_reference, leaky_relu_backward_numba, 1,
                             "leaky_relu_backward")
elu = Kernel(elu_reference, elu_numba, _NEVER, "elu", compiled_below=256)
elu_backward = Kernel(elu_backward_reference, elu_backward_numba, 65536, "elu_backward",
                      compiled_below=65536)
softplus = Kernel(softplus_reference, softplus_numba, _NEVER, "softplus", compiled_below=256)
softplus_backward = Kernel(softplus_backward_reference, softplus_backward_numba, 65536,
                           "softplus_backward", compiled_below=2048)
silu = Kernel(silu_reference, silu_numba, 65536, "silu", compiled_below=2048)
silu_backward = Kernel(silu_backward_reference, silu_backward_numba, 65536, "silu_backward",
                       compiled_below=2048)
gelu = Kernel(gelu_reference, gelu_numba, 1, "gelu")
gelu_backward = Kernel(gelu_backward_reference, gelu_backward_numba, 1, "gelu_backward")
# NOTE: not in the table: the reference is an element-by-element loop (see _erf), so the
# compiled body runs from 1 element
gelu_erf = Kernel(gelu_erf_reference, gelu_erf_numba, 1, "gelu_erf")
gelu_erf_backward = Kernel(gelu_erf_backward_reference, gelu_erf_backward_numba, 1,
                           "gelu_erf_backward")
