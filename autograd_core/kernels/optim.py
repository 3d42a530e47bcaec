"""In-place optimizer updates (PyTorch's rules, as ``optim/optimizers.py`` states them), each a
numpy reference beside a Numba body with the same signature (see ``_kernel.py`` for the dispatch).

Every kernel updates ``param`` and its state buffers in place and returns None; ``grad`` is only
read. Scalar hyperparameters are Python floats (``step`` an int, flags bools), so each body
compiles once per dtype. Notation: g the gradient, η the learning rate, t the step count (1 at
the first update), ⊙ and √· elementwise. References update with numpy ``out=`` arguments (and a
few temporaries). Compiled bodies make one pass and do the reference's float operations in the
same order and in the array's dtype (scalars cast to it first, as numpy casts a Python float
for a float32 array), so they give the reference's bits (no FMA contraction without fastmath).

Dispatch: these are ``Kernel(..., inplace=True)``: the compiled body runs only when every array
argument is a C-contiguous, writeable ndarray of the parameter's shape and float dtype (it then
gets flat views of the caller's own memory); any other call runs the reference, which writes
through whatever views it is given. No copy is ever written to.

Thresholds: ``benchmarks/bench_kernels.py``, µs per raw call on float32 (state buffers updated
on every call), 2-core VM shared with other jobs, numba 0.68, numpy 2.4, best of 5 (numpy /
serial njit / parallel njit; "stall": the parallel call waited 4-8 ms for the second vCPU in
every repeat):

    kernel                       64              4,096           65,536           1,000,000
    sgd                        1.1/0.4/stall    2.0/0.7/stall    12/5.9/stall     219/121/stall
    sgd_momentum               4.2/0.6/stall    5.4/1.0/stall    32/12/stall      507/171/stall
    adam                       6.7/0.6/stall     13/2.2/stall    96/29/stall    1,919/448/stall
    adam_amsgrad              12.9/1.3/stall     22/3.0/8.6     102/37/28       2,224/606/274
    rmsprop                   14.0/1.4/5.2       11/2.0/7.7      89/22/17       4,014/309/152
    rmsprop_momentum           5.2/0.6/10        11/1.7/6.9      83/28/51       4,613/348/576
    rmsprop_centered           6.7/0.5/4.0       22/2.0/11      133/27/68       5,185/365/672
    rmsprop_centered_momentum 12.7/1.0/stall     25/2.8/7.6     144/39/36       4,424/907/stall
    adagrad                    6.3/0.9/stall    6.7/3.1/5.8      67/22/17       1,305/294/stall

The serial body beats numpy's chain of 3-12 ufunc passes at every size (3-10×; a Kernel call
adds ~1 µs of checks for its 3-5 arrays): it makes one pass over memory, and with
``error_model="numpy"`` (no zero-divisor test) LLVM vectorizes its sqrt and division. Parallel
bodies gained 1.2-2.2× over serial at 65,536-1,000,000 when they did not stall (a quieter
run: sgd 98/60, sgd_momentum 243/110, rmsprop 287/150, adagrad 289/152 µs at 1,000,000), short
of the 2× this package asks of a parallel kernel on these VMs every time (see elementwise.py),
so every optimizer kernel runs serial at every size: ``Kernel(min_size=∞, compiled_below=∞)``,
except plain ``sgd``: numpy below 4,096 elements, where its multiply and subtract cost about what
a Kernel call adds to the body (~1 µs), serial from there.
"""
from __future__ import annotations

import math

import numpy as np

from ._kernel import Kernel, njit

_NEVER = math.inf


# --- SGD -----------------------------------------------------------------------------------------
def sgd_reference(param, grad, lr):
    """p ← p − η·g."""
    param -= np.multiply(grad, lr, dtype=param.dtype)


@njit(error_model="numpy")
def sgd_numba(param, grad, lr):
    lr = param.dtype.type(lr)
    for i in range(param.size):
        param[i] = param[i] - grad[i] * lr


def sgd_momentum_reference(param, grad, momentum_buffer, lr, momentum, dampening, nesterov,
                           first_step):
    """v ← g at the first step, else v ← μ·v + (1 − dampening)·g;
    p ← p − η·v   (nesterov: p ← p − η·(g + μ·v))."""
    buf = momentum_buffer
    if first_step:
        np.copyto(buf, grad)
    else:
        np.multiply(buf, momentum, out=buf)
        buf += np.multiply(grad, 1.0 - dampening, dtype=buf.dtype)
    if nesterov:
        direction = np.multiply(buf, momentum, dtype=param.dtype)
        direction += grad
    else:
        direction = buf
    param -= np.multiply(direction, lr, dtype=param.dtype)


@njit(error_model="numpy")
def sgd_momentum_numba(param, grad, momentum_buffer, lr, momentum, dampening, nesterov,
                       first_step):
    cast = param.dtype.type
    lr, mu, keep = cast(lr), cast(momentum), cast(1.0 - dampening)
    for i in range(param.size):
        g = grad[i]
        v = g if first_step else momentum_buffer[i] * mu + g * keep
        momentum_buffer[i] = v
        if nesterov:
            v = v * mu + g
        param[i] = param[i] - v * lr


# --- Adam / AdamW --------------------------------------------------------------------------------
def adam_reference(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    """p ← (1 − η·λ)·p (AdamW's decoupled decay; λ = 0 for Adam);
    m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²;
    p ← p − η/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)."""
    if weight_decay:
        param *= 1.0 - lr * weight_decay
    _moments_reference(grad, exp_avg, exp_avg_sq, beta1, beta2)
    _adam_step_reference(param, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, step)


def _moments_reference(grad, exp_avg, exp_avg_sq, beta1, beta2):
    # NOTE: temporaries are np.empty_like arrays used as out=: numpy returns a scalar, not a
    # 0-d array, for an operation on 0-d arrays, and a scalar cannot be an out= argument
    work = np.empty_like(exp_avg_sq)
    np.multiply(exp_avg, beta1, out=exp_avg)
    exp_avg += np.multiply(grad, 1.0 - beta1, out=work)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    np.multiply(grad, grad, out=work)
    exp_avg_sq += np.multiply(work, 1.0 - beta2, out=work)


def _adam_step_reference(param, exp_avg, second, lr, beta1, beta2, eps, step):
    # NOTE: the bias corrections fold into two scalars: η/(1 − β₁ᵗ) and √(1 − β₂ᵗ)
    step_size = lr / (1.0 - beta1 ** step)
    denom = np.sqrt(second, out=np.empty_like(second))
    denom /= math.sqrt(1.0 - beta2 ** step)
    denom += eps
    np.divide(exp_avg, denom, out=denom)
    param -= np.multiply(denom, step_size, out=denom)


@njit(error_model="numpy")
def adam_numba(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    cast = param.dtype.type
    b1, b2, keep1, keep2 = cast(beta1), cast(beta2), cast(1.0 - beta1), cast(1.0 - beta2)
    step_size = cast(lr / (1.0 - beta1 ** float(step)))
    correction2 = cast(math.sqrt(1.0 - beta2 ** float(step)))
    decay, eps = cast(1.0 - lr * weight_decay), cast(eps)
    for i in range(param.size):
        g = grad[i]
        m = exp_avg[i] * b1 + g * keep1
        v = exp_avg_sq[i] * b2 + (g * g) * keep2
        exp_avg[i], exp_avg_sq[i] = m, v
        p = param[i] * decay if weight_decay else param[i]
        param[i] = p - (m / (math.sqrt(v) / correction2 + eps)) * step_size


def adam_amsgrad_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                           eps, weight_decay, step):
    """Adam (above) with v_max ← max(v_max, v) in the denominator in place of v."""
    if weight_decay:
        param *= 1.0 - lr * weight_decay
    _moments_reference(grad, exp_avg, exp_avg_sq, beta1, beta2)
    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    _adam_step_reference(param, exp_avg, max_exp_avg_sq, lr, beta1, beta2, eps, step)


@njit(error_model="numpy")
def adam_amsgrad_numba(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                       eps, weight_decay, step):
    cast = param.dtype.type
    b1, b2, keep1, keep2 = cast(beta1), cast(beta2), cast(1.0 - beta1), cast(1.0 - beta2)
    step_size = cast(lr / (1.0 - beta1 ** float(step)))
    correction2 = cast(math.sqrt(1.0 - beta2 ** float(step)))
    decay, eps = cast(1.0 - lr * weight_decay), cast(eps)
    for i in range(param.size):
        g = grad[i]
        m = exp_avg[i] * b1 + g * keep1
        v = exp_avg_sq[i] * b2 + (g * g) * keep2
        v_max = max(max_exp_avg_sq[i], v)
        exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i] = m, v, v_max
        p = param[i] * decay if weight_decay else param[i]
        param[i] = p - (m / (math.sqrt(v_max) / correction2 + eps)) * step_size


# --- RMSprop -------------------------------------------------------------------------------------
def _rmsprop_direction_reference(grad, square_avg, grad_avg, alpha, eps):
    """v ← α·v + (1 − α)·g², then g/(√v + ε); or, centered (a ``grad_avg`` ḡ given),
    ḡ ← α·ḡ + (1 − α)·g and g/(√(v − ḡ²) + ε)."""
    denom = np.empty_like(square_avg)              # NOTE: out= arrays, see _moments_reference
    np.multiply(square_avg, alpha, out=square_avg)
    np.multiply(grad, grad, out=denom)
    square_avg += np.multiply(denom, 1.0 - alpha, out=denom)
    if grad_avg is None:
        np.sqrt(square_avg, out=denom)
    else:
        np.multiply(grad_avg, alpha, out=grad_avg)
        grad_avg += np.multiply(grad, 1.0 - alpha, out=denom)
        np.multiply(grad_avg, grad_avg, out=denom)
        np.subtract(square_avg, denom, out=denom)
        np.sqrt(denom, out=denom)
    denom += eps
    return np.divide(grad, denom, out=denom)


def _rmsprop_step_reference(param, direction, momentum_buffer, lr, momentum):
    """p ← p − η·d, or b ← μ·b + d, p ← p − η·b."""
    if momentum_buffer is not None:
        np.multiply(momentum_buffer, momentum, out=momentum_buffer)
        momentum_buffer += direction
        direction = momentum_buffer
    param -= np.multiply(direction, lr, dtype=param.dtype)


def rmsprop_reference(param, grad, square_avg, lr, alpha, eps):
    """v ← α·v + (1 − α)·g²;   p ← p − η·g/(√v + ε)."""
    direction = _rmsprop_direction_reference(grad, square_avg, None, alpha, eps)
    _rmsprop_step_reference(param, direction, None, lr, 0.0)


@njit(error_model="numpy")
def rmsprop_numba(param, grad, square_avg, lr, alpha, eps):
    cast = param.dtype.type
    lr, a, keep, eps = cast(lr), cast(alpha), cast(1.0 - alpha), cast(eps)
    for i in range(param.size):
        g = grad[i]
        v = square_avg[i] * a + (g * g) * keep
        square_avg[i] = v
        param[i] = param[i] - (g / (math.sqrt(v) + eps)) * lr


def rmsprop_momentum_reference(param, grad, square_avg, momentum_buffer, lr, alpha, eps,
                               momentum):
    """v ← α·v + (1 − α)·g²;   b ← μ·b + g/(√v + ε);   p ← p − η·b."""
    direction = _rmsprop_direction_reference(grad, square_avg, None, alpha, eps)
    _rmsprop_step_reference(param, direction, momentum_buffer, lr, momentum)


@njit(error_model="numpy")
def rmsprop_momentum_numba(param, grad, square_avg, momentum_buffer, lr, alpha, eps, momentum):
    cast = param.dtype.type
    lr, a, keep, eps, mu = cast(lr), cast(alpha), cast(1.0 - alpha), cast(eps), cast(momentum)
    for i in range(param.size):
        g = grad[i]
        v = square_avg[i] * a + (g * g) * keep
        b = momentum_buffer[i] * mu + g / (math.sqrt(v) + eps)
        square_avg[i], momentum_buffer[i] = v, b
        param[i] = param[i] - b * lr


def rmsprop_centered_reference(param, grad, square_avg, grad_avg, lr, alpha, eps):
    """v ← α·v + (1 − α)·g²,  ḡ ← α·ḡ + (1 − α)·g;   p ← p − η·g/(√(v − ḡ²) + ε)."""
    direction = _rmsprop_direction_reference(grad, square_avg, grad_avg, alpha, eps)
    _rmsprop_step_reference(param, direction, None, lr, 0.0)


@njit(error_model="numpy")
def rmsprop_centered_numba(param, grad, square_avg, grad_avg, lr, alpha, eps):
    cast = param.dtype.type
    lr, a, keep, eps = cast(lr), cast(alpha), cast(1.0 - alpha), cast(eps)
    for i in range(param.size):
        g = grad[i]
        v = square_avg[i] * a + (g * g) * keep
        mean = grad_avg[i] * a + g * keep
        square_avg[i], grad_avg[i] = v, mean
        param[i] = param[i] - (g / (math.sqrt(v - mean * mean) + eps)) * lr


def rmsprop_centered_momentum_reference(param, grad, square_avg, grad_avg, momentum_buffer, lr,
                                        alpha, eps, momentum):
    """v ← α·v + (1 − α)·g,  ḡ ← α·ḡ + (1 − α)·g;   b ← μ·b + g/(√(v − ḡ²) + ε);
    p ← p − η·b."""
    direction = _rmsprop_direction_reference(grad, square_avg, grad_avg, alpha, eps)
    _rmsprop_step_reference(param, direction, momentum_buffer, lr, momentum)


@njit(error_model="numpy")
def rmsprop_centered_momentum_numba(param, grad, square_avg, grad_avg, momentum_buffer, lr,
                                    alpha, eps, momentum):
    cast = param.dtype.type
    lr, a, keep, eps, mu = cast(lr), cast(alpha), cast(1.0 - alpha), cast(eps), cast(momentum)
    for i in range(param.size):
        g = grad[i]
        v = square_avg[i] * a + (g * g) * keep
        mean = grad_avg[i] * a + g * keep
        b = momentum_buffer[i] * mu + g / (math.sqrt(v - mean * mean) + eps)
        square_avg[i], grad_avg[i], momentum_buffer[i] = v, mean, b
        param[i] = param[i] - b * lr


# --- Adagrad -------------------------------------------------------------------------------------
def adagrad_reference(param, grad, state_sum, lr, lr_decay, eps, step):
    """s ← s + g²;   p ← p − η/(1 + (t − 1)·lr_decay) · g/(√s + ε)."""
    clr = lr / (1.0 + (step - 1) * lr_decay)
    denom = np.empty_like(state_sum)               # NOTE: out= arrays, see _moments_reference
    state_sum += np.multiply(grad, grad, out=denom)
    np.sqrt(state_sum, out=denom)
    denom += eps
    np.divide(grad, denom, out=denom)
    param -= np.multiply(denom, clr, out=denom)


@njit(error_model="numpy")
def adagrad_numba(param, grad, state_sum, lr, lr_decay, eps, step):
    cast = param.dtype.type
    clr, eps = cast(lr / (1.0 + (step - 1) * lr_decay)), cast(eps)
    for i in range(param.size):
        g = grad[i]
        s = state_sum[i] + g * g
        state_sum[i] = s
        param[i] = param[i] - (g / (math.sqrt(s) + eps)) * clr


# NOTE: serial at every size (see the module docstring), never numpy unless the call needs it
_SERIAL = dict(compiled_below=_NEVER, inplace=True)
# NOTE: below 4,096 elements numpy's two passes cost no more than a Kernel call's checks (~1 µs)
sgd = Kernel(sgd_reference, sgd_numba, 4096, "sgd", inplace=True)
sgd_momentum = Kernel(sgd_momentum_reference, sgd_momentum_numba, _NEVER, "sgd_momentum",
                      **_SERIAL)
adam = Kernel(adam_reference, adam_numba, _NEVER, "adam", **_SERIAL)
adam_amsgrad = Kernel(adam_amsgrad_reference, adam_amsgrad_numba, _NEVER, "adam_amsgrad",
                      **_SERIAL)
rmsprop = Kernel(rmsprop_reference, rmsprop_numba, _NEVER, "rmsprop", **_SERIAL)
rmsprop_momentum = Kernel(rmsprop_momentum_reference, rmsprop_momentum_numba, _NEVER,
                          "rmsprop_momentum", **_SERIAL)
rmsprop_centered = Kernel(rmsprop_centered_reference, rmsprop_centered_numba, _NEVER,
                          "rmsprop_centered", **_SERIAL)
rmsprop_centered_momentum = Kernel(rmsprop_centered_momentum_reference,
                                   rmsprop_centered_momentum_numba, _NEVER,
                                   "rmsprop_centered_momentum", **_SERIAL)
adagrad = Kernel(adagrad_reference, adagrad_numba, _NEVER, "adagrad", **_SERIAL)
