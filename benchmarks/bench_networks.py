"""Training-step speed of neurona vs PyTorch eager vs numpy (+ Numba) by hand, on the course's nets.

Run: .venv/bin/python benchmarks/bench_networks.py [--quick]

What is timed is one training step — forward, backward and an SGD update, float32 — of a
multilayer perceptron written the way a user writes it (``nn.Sequential`` of Linear and
activation modules, the library's loss module, ``optim.SGD``), for the points of issue 3's table:

- 2-8-8-1 with tanh hidden layers and a mean-squared-error loss, batch 4 (the teaching size);
- 784-512-256-256-128-10 with ReLU hidden layers and softmax cross-entropy on integer labels, at
  batch 1, 16, 128 and 1024;
- one epoch over 60,000 × 784 synthetic samples at batch 128 (469 steps, the last of 96 rows;
  each engine first takes one untimed step at each of the two batch sizes, so the compiled
  step's traces and compilations are not in the epoch; median of 5 epochs; ``--quick`` runs a
  tenth of the batches, 3 times, and extrapolates by the number of batches, and says so).

Five engines run the same step on the same data from the same initial weights (each engine gets
its own copy of one seeded draw): neurona, "neurona compiled" (column ``compiled``: the same
model, loss and optimizer through ``optim.compile_step``, one generated Numba call per step after
a first traced eager step), PyTorch eager when torch is installed
(``torch.set_num_threads(2)``), "numpy by hand", a hand-written numpy forward / backward /
update of the same network, which is the floor an engine on top of numpy can hope to reach, and
"numpy + Numba by hand" (column ``numba``), the same math fused into ``@njit(cache=True)``
functions — per layer, the BLAS product with bias and activation in one pass, forward and
backward, the loss with its δ in one pass, the SGD update in place, all in one compiled call per
step (see the notes above ``make_numba``) — which is what an engine built on numpy and Numba
kernels can approach. The step code is the same in both autodiff engines: ``opt.zero_grad()``,
the loss of ``model(x)``, ``loss.backward()``, ``opt.step()``; neurona's ``Sequential`` runs each
Linear + activation as one fused node, PyTorch's eager mode runs them as two.

Method: everything runs in one process. Each engine first does warm-up steps; then, for each
repeat, every engine times a block of consecutive steps, the engines taking turns (round-robin,
with the starting engine rotating from one repeat to the next) so that a slow phase of the machine
hits them all alike. Each block starts after a pause (``--settle``, 0.15 s): numpy's OpenBLAS
threads busy-wait about 0.1 s after each call before they sleep, and torch's OpenMP threads spin
too, so without the pause an engine's idle thread pool takes one of the two cores from the engine
that runs next (measured here: PyTorch's step about 2× slower at batch 16-1024 right after numpy
blocks; ``--settle 0`` shows it). The figure reported is the median over the repeats of the
per-step time of a block; ratios are of medians. Before timing, a check runs two steps of each
engine from the same weights on the same batch and compares the losses (the second loss depends
on the gradients and the update of the first step), so the engines are known to do equal work.

Also printed: per-op overhead on a 1-element tensor (the chain of ``bench_overhead.py``, whose
functions are reused, neurona and PyTorch taking turns), the backward of a 10,000-op chain, and
the time from a fresh interpreter to the end of the first training step (``python -c``), warm
(Numba's cache filled) and cold (``NUMBA_CACHE_DIR`` pointed at an empty temporary directory);
then the first two calls of ``optim.compile_step``'s step on both nets in a fresh interpreter,
three ways: an empty cache, the kernels cached but not the generated steps (a new network on a
machine that has compiled steps before: the usual case), and everything cached.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit

import autograd_core as ag
import bench_overhead  # same directory: sys.path[0] when run as a script
import nn
import optim

try:
    import torch
except ImportError:      # PyTorch is optional: its columns are left out
    torch = None

LR = 0.01
SEED = 0
MNIST_SIZES = (784, 512, 256, 256, 128, 10)
EPOCH_SAMPLES = 60_000
EPOCH_BATCH = 128
OVERHEAD_OPS = ("mul", "tanh", "sigmoid", "exp", "relu")
CHAIN_OPS = 10_000
# Pause before each timed block, longer than OpenBLAS's idle spin (2^28 cycles, ~0.1 s), so
# one engine's spinning BLAS / OpenMP threads do not steal the 2 cores from the next engine.
SETTLE = 0.15

Step = Callable[[], object]


@dataclass(frozen=True)
class Case:
    """One point of the table: a network, its hidden activation and loss, a batch size."""

    label: str
    sizes: tuple[int, ...]
    activation: str          # "tanh" or "relu"
    loss: str                # "mse" or "ce" (softmax cross-entropy on integer labels)
    batch: int
    block: int               # steps per timed block
    repeats: int             # timed blocks per engine


def cases(quick: bool) -> list[Case]:
    r = 3 if quick else 15
    return [
        Case("2-8-8-1 tanh MSE, batch 4", (2, 8, 8, 1), "tanh", "mse", 4, 100, r + 4),
        Case("784-…-10 ReLU CE, batch 1", MNIST_SIZES, "relu", "ce", 1, 40, r),
        Case("same, batch 16", MNIST_SIZES, "relu", "ce", 16, 30, r),
        Case("same, batch 128", MNIST_SIZES, "relu", "ce", 128, 10, r),
        Case("same, batch 1024", MNIST_SIZES, "relu", "ce", 1024, 3, r if quick else 11),
    ]


# --- initial weights and data -------------------------------------------------------------------

def init_params(sizes: tuple[int, ...], seed: int = SEED) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...], float32, W of shape (out, in), uniform ±1/√fan_in (PyTorch's)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def make_batch(sizes: tuple[int, ...], loss: str, rows: int, seed: int = SEED + 1
               ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (rows, in) float32 and targets: (rows, out) float32 for MSE, int64 labels for CE."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, sizes[0]), dtype=np.float32)
    if loss == "mse":
        return x, rng.standard_normal((rows, sizes[-1]), dtype=np.float32)
    return x, rng.integers(0, sizes[-1], rows)


# --- the four engines: make_*(params, activation, loss) -> step(x, t) --------------------------

def make_neurona(params: list[np.ndarray], activation: str, loss: str):
    model = nn.Sequential(*_layers(params, activation, nn.Linear, nn.Tanh, nn.ReLU))
    for layer, (w, b) in zip(model[0::2], zip(params[0::2], params[1::2])):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    loss_fn = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=LR)

    def step(x: np.ndarray, t: np.ndarray):
        opt.zero_grad()
        cost = loss_fn(model(ag.Tensor(x)), ag.Tensor(t))
        cost.backward()
        opt.step()
        return cost

    return step


def make_compiled(params: list[np.ndarray], activation: str, loss: str):
    """make_neurona's model, loss and optimizer run by ``optim.compile_step``: the first call
    traces an eager step, the next ones run the generated step as one compiled call."""
    model = nn.Sequential(*_layers(params, activation, nn.Linear, nn.Tanh, nn.ReLU))
    for layer, (w, b) in zip(model[0::2], zip(params[0::2], params[1::2])):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    loss_fn = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    return optim.compile_step(model, loss_fn, optim.SGD(model.parameters(), lr=LR))


def make_torch(params: list[np.ndarray], activation: str, loss: str):
    tnn = torch.nn
    model = tnn.Sequential(*_layers(params, activation, tnn.Linear, tnn.Tanh, tnn.ReLU))
    with torch.no_grad():
        for layer, (w, b) in zip(model[0::2], zip(params[0::2], params[1::2])):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    loss_fn = tnn.CrossEntropyLoss() if loss == "ce" else tnn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def step(x: np.ndarray, t: np.ndarray):
        opt.zero_grad()
        cost = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(t))
        cost.backward()
        opt.step()
        return cost

    return step


def _layers(params: list[np.ndarray], activation: str, linear, tanh, relu) -> list:
    """Linear, activation, …, Linear for the shapes of ``params`` (one library's classes)."""
    act = tanh if activation == "tanh" else relu
    layers = []
    for w in params[0::2]:
        layers += [linear(w.shape[1], w.shape[0]), act()]
    return layers[:-1]


def make_numpy(params: list[np.ndarray], activation: str, loss: str):
    """The same network written out by hand: forward, backward (chain rule), SGD in place."""
    ps = [p.copy() for p in params]
    weights, biases = ps[0::2], ps[1::2]

    def step(x: np.ndarray, t: np.ndarray):
        # forward, keeping each layer's input a and activation output for the backward
        inputs, outputs = [], []
        a = x
        for w, b in zip(weights[:-1], biases[:-1]):
            inputs.append(a)
            z = a @ w.T
            z += b
            a = np.tanh(z, out=z) if activation == "tanh" else np.maximum(z, 0, out=z)
            outputs.append(a)
        inputs.append(a)
        out = a @ weights[-1].T
        out += biases[-1]
        # loss and δ = ∂loss/∂out
        n = out.shape[0]
        if loss == "ce":
            shifted = out - out.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            total = exp.sum(axis=1, keepdims=True)
            rows = np.arange(n)
            cost = np.mean(np.log(total[:, 0]) - shifted[rows, t])
            delta = exp / total
            delta[rows, t] -= 1
            delta /= n
        else:
            diff = out - t
            cost = np.mean(diff * diff)
            delta = diff * np.float32(2 / diff.size)
        # backward, from the last layer to the first, then the update
        grads = []
        for i in range(len(weights) - 1, -1, -1):
            grads.append((delta.T @ inputs[i], delta.sum(axis=0)))
            if i:
                delta = delta @ weights[i]
                a = outputs[i - 1]
                if activation == "tanh":
                    delta *= 1 - a * a
                else:
                    delta *= a > 0
        for w, b, (gw, gb) in zip(weights, biases, reversed(grads)):
            w -= LR * gw
            b -= LR * gb
        return cost

    return step


# --- numpy + Numba by hand: the same step as make_numpy, fused into @njit(cache=True) code --------
#
# One compiled call per training step (_step_mse / _step_ce): the forward of each layer
# (np.dot → BLAS, then bias + activation in one pass), the loss with its δ in one pass, the
# backward of each layer (δ @ W, then ⊙ ψ' in one pass; δᵀ @ a into a reused gradient buffer, then
# the SGD update of W in place; the bias gradient summed row by row and applied in place).
# Products too small for a BLAS call to pay (n·in·out ≤ _SMALL_PRODUCT) are written as loops.
# Buffers are kept per batch size, so a step allocates only the bias-gradient rows. np.dot in
# @njit calls SciPy's OpenBLAS (numpy's is another copy, with its own threads).
# Whole-step call vs one compiled call per layer and direction driven from Python (µs per step,
# round-robin medians, 2-core VM): 2-8-8-1 batch 4: 4.1 vs 5.3; 784-…-10 batch 1: 203 vs 236,
# batch 16: 920 vs 998, batch 128: 3,021 vs 4,325 (noisy), batch 1024: 20,180 vs 19,210 (equal
# within noise): the whole-step call is kept. tanh: Numba's scalar float32 tanh costs ~6 ns per
# element, numpy's SIMD ufunc ~0.3 µs per call + ~0.3 ns per element, but calling numpy means
# leaving the compiled step (one call per layer and direction); measured equal at 1,024
# elements per hidden layer (2-64-64-1, batch 16), so tanh runs inside the compiled step up to
# _TANH_INLINE elements per hidden layer (the 2-8-8-1 net at batch 4: 32) and by np.tanh between
# per-layer compiled calls beyond. No parallel=True: see the docstring of
# autograd_core/kernels/elementwise.py.

_SMALL_PRODUCT = 4096      # n·in·out up to which a product is a loop, not a BLAS call
_TANH_INLINE = 1024        # rows × units of a hidden layer up to which tanh is compiled inline
_NONE, _TANH, _RELU = 0, 1, 2


@njit(cache=True)
def _bias_act(z, b, act):
    """z ← ψ(z + b) in place, row by row (ψ: identity, tanh or ReLU)."""
    n, m = z.shape
    if act == _TANH:
        for r in range(n):
            for o in range(m):
                z[r, o] = math.tanh(z[r, o] + b[o])
    elif act == _RELU:
        for r in range(n):
            for o in range(m):
                s = z[r, o] + b[o]
                z[r, o] = s if s > 0 else np.float32(0.0)
    else:
        for r in range(n):
            for o in range(m):
                z[r, o] += b[o]


@njit(cache=True)
def _linear_forward(a, w, b, z, act):
    """z ← ψ(a @ wᵀ + b): a (n, in), w (out, in), z (n, out)."""
    n, k = a.shape
    m = w.shape[0]
    if n * k * m <= _SMALL_PRODUCT:
        for r in range(n):
            for o in range(m):
                s = np.float32(0.0)
                for j in range(k):
                    s += a[r, j] * w[o, j]
                z[r, o] = s
    else:
        np.dot(a, w.T, z)
    _bias_act(z, b, act)


@njit(cache=True)
def _linear_backward(a, w, b, delta, gw, dprev, act, lr):
    """Backward of z = a @ wᵀ + b given δ = ∂loss/∂z (n, out), then SGD on w and b in place.

    With act ≠ 0, also dprev ← (δ @ w) ⊙ ψ'(a), the δ of the layer below, whose activation
    output is a (ψ' from the output: 1 − a² for tanh, a > 0 for ReLU); computed before w moves.
    """
    n, k = a.shape
    m = w.shape[0]
    small = n * k * m <= _SMALL_PRODUCT
    if act != _NONE:
        if small:
            for r in range(n):
                for j in range(k):
                    s = np.float32(0.0)
                    for o in range(m):
                        s += delta[r, o] * w[o, j]
                    dprev[r, j] = s
        else:
            np.dot(delta, w, dprev)
        if act == _TANH:
            for r in range(n):
                for j in range(k):
                    y = a[r, j]
                    dprev[r, j] *= 1 - y * y
        else:
            for r in range(n):
                for j in range(k):
                    dprev[r, j] = dprev[r, j] if a[r, j] > 0 else np.float32(0.0)
    if small:
        for o in range(m):
            for j in range(k):
                s = np.float32(0.0)
                for r in range(n):
                    s += delta[r, o] * a[r, j]
                w[o, j] -= lr * s
    else:
        np.dot(delta.T, a, gw)
        for o in range(m):
            for j in range(k):
                w[o, j] -= lr * gw[o, j]
    gb = np.zeros(m, np.float32)
    for r in range(n):
        for o in range(m):
            gb[o] += delta[r, o]
    for o in range(m):
        b[o] -= lr * gb[o]


@njit(cache=True)
def _mse_delta(out, t, delta):
    """mean((out − t)²); delta ← 2(out − t)/size."""
    n, m = out.shape
    scale = np.float32(2.0 / (n * m))
    cost = 0.0
    for r in range(n):
        for c in range(m):
            d = out[r, c] - t[r, c]
            cost += d * d
            delta[r, c] = d * scale
    return cost / (n * m)


@njit(cache=True)
def _ce_delta(out, t, delta):
    """Mean softmax cross-entropy of the rows of out on labels t; delta ← (softmax − onehot)/n."""
    n, m = out.shape
    cost = 0.0
    for r in range(n):
        top = out[r, 0]
        for c in range(1, m):
            top = max(top, out[r, c])
        total = 0.0
        for c in range(m):
            e = math.exp(out[r, c] - top)
            delta[r, c] = e
            total += e
        cost += math.log(total) - (out[r, t[r]] - top)
        scale = 1.0 / (total * n)
        for c in range(m):
            delta[r, c] *= scale
        delta[r, t[r]] -= 1.0 / n
    return cost / n


@njit(cache=True)
def _forward_all(x, ws, bs, zs, act):
    last = len(ws) - 1
    for i in range(len(ws)):
        _linear_forward(x if i == 0 else zs[i - 1], ws[i], bs[i], zs[i],
                        act if i < last else _NONE)


@njit(cache=True)
def _backward_all(x, ws, bs, zs, deltas, gws, act, lr):
    for i in range(len(ws) - 1, -1, -1):
        _linear_backward(x if i == 0 else zs[i - 1], ws[i], bs[i], deltas[i], gws[i],
                         deltas[i - 1] if i else deltas[i], act if i else _NONE, lr)


@njit(cache=True)
def _step_mse(x, t, ws, bs, zs, deltas, gws, act, lr):
    _forward_all(x, ws, bs, zs, act)
    cost = _mse_delta(zs[-1], t, deltas[-1])
    _backward_all(x, ws, bs, zs, deltas, gws, act, lr)
    return cost


@njit(cache=True)
def _step_ce(x, t, ws, bs, zs, deltas, gws, act, lr):
    _forward_all(x, ws, bs, zs, act)
    cost = _ce_delta(zs[-1], t, deltas[-1])
    _backward_all(x, ws, bs, zs, deltas, gws, act, lr)
    return cost


def make_numba(params: list[np.ndarray], activation: str, loss: str):
    """make_numpy's step as compiled code: one @njit call per step (see the notes above)."""
    ps = [p.copy() for p in params]
    ws, bs = tuple(ps[0::2]), tuple(ps[1::2])
    gws = tuple(np.empty_like(w) for w in ws)          # δᵀ @ a, reused
    act = _TANH if activation == "tanh" else _RELU
    lr = np.float32(LR)
    whole_step = _step_ce if loss == "ce" else _step_mse
    loss_delta = _ce_delta if loss == "ce" else _mse_delta
    widest = max(w.shape[0] for w in ws[:-1])
    buffers: dict[int, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = {}

    def step(x: np.ndarray, t: np.ndarray):
        n = x.shape[0]
        if n not in buffers:          # layer outputs z (the last one: the logits) and their δ
            buffers[n] = (tuple(np.empty((n, w.shape[0]), np.float32) for w in ws),
                          tuple(np.empty((n, w.shape[0]), np.float32) for w in ws))
        zs, deltas = buffers[n]
        x = np.ascontiguousarray(x)
        if act == _RELU or n * widest <= _TANH_INLINE:
            return whole_step(x, t, ws, bs, zs, deltas, gws, act, lr)
        # wide tanh layers: one compiled call per layer and direction, tanh by numpy's SIMD ufunc
        last = len(ws) - 1
        for i in range(len(ws)):
            _linear_forward(x if i == 0 else zs[i - 1], ws[i], bs[i], zs[i], _NONE)
            if i < last:
                np.tanh(zs[i], out=zs[i])
        cost = loss_delta(zs[-1], t, deltas[-1])
        for i in range(last, -1, -1):
            _linear_backward(x if i == 0 else zs[i - 1], ws[i], bs[i], deltas[i], gws[i],
                             deltas[i - 1] if i else deltas[i], act if i else _NONE, lr)
        return cost

    return step


def engines() -> dict[str, Callable]:
    found = {"neurona": make_neurona, "compiled": make_compiled}
    if torch is not None:
        found["torch"] = make_torch
    found["numpy"] = make_numpy
    found["numba"] = make_numba
    return found


def loss_value(cost) -> float:
    if torch is not None and isinstance(cost, torch.Tensor):
        return cost.item()
    return float(cost.data if isinstance(cost, ag.Tensor) else cost)


# --- timing -------------------------------------------------------------------------------------

def round_robin(steps: dict[str, Step], block: int, repeats: int, warmup: int
                ) -> dict[str, float]:
    """Median seconds per step: blocks of ``block`` steps, engines taking turns, each block
    after a pause of SETTLE seconds."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    names = list(steps)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step = steps[name]
            time.sleep(SETTLE)
            start = time.perf_counter()
            for _ in range(block):
                step()
            times[name].append((time.perf_counter() - start) / block)
    return {name: statistics.median(t) for name, t in times.items()}


def check_equal_work(case: Case, makers: dict[str, Callable]) -> str:
    """Two steps of every engine from the same weights on the same batch: the losses agree."""
    params = init_params(case.sizes)
    x, t = make_batch(case.sizes, case.loss, case.batch)
    losses = {}
    for name, make in makers.items():
        step = make(params, case.activation, case.loss)
        losses[name] = (loss_value(step(x, t)), loss_value(step(x, t)))
    ref = losses.get("torch", losses["numpy"])
    worst = max(abs(a - b) / max(abs(b), 1e-6)
                for pair in losses.values() for a, b in zip(pair, ref))
    status = "OK" if worst < 1e-4 else "MISMATCH"
    shown = ", ".join(f"{name} {a:.6f}→{b:.6f}" for name, (a, b) in losses.items())
    return f"  check {case.label}: loss step 1→2 {shown}  (max rel. diff {worst:.1e}) {status}"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


ENGINES = ("neurona", "compiled", "torch", "numpy", "numba")


def table_row(label: str, medians: dict[str, float]) -> str:
    row = f"{label:<32}"
    for name in ENGINES:
        row += f" {fmt_time(medians[name]) if name in medians else '—':>9}"
    if "torch" in medians:
        row += " " + "".join(f" {medians[name] / medians['torch']:>10.2f}"
                             for name in ENGINES if name != "torch")
    if "compiled" in medians and "numba" in medians:
        row += f" {medians['compiled'] / medians['numba']:>12.2f}"
    return row


TABLE_HEAD = (f"{'network, batch':<32}" + "".join(f" {name:>9}" for name in ENGINES)
              + " " + "".join(f" {name + '/pt':>10}" for name in ENGINES if name != "torch")
              + f" {'compiled/nb':>12}")


def bench_steps(quick: bool) -> list[str]:
    makers = engines()
    rows, checks = [], []
    for case in cases(quick):
        checks.append(check_equal_work(case, makers))
        params = init_params(case.sizes)
        x, t = make_batch(case.sizes, case.loss, case.batch)
        steps = {name: functools.partial(make(params, case.activation, case.loss), x, t)
                 for name, make in makers.items()}
        medians = round_robin(steps, case.block, case.repeats, warmup=max(case.block, 5))
        rows.append(table_row(case.label, medians))
        print(rows[-1], flush=True)
    for line in checks:
        print(line)
    return rows


def bench_epoch(quick: bool) -> str:
    """One epoch of 60,000 × 784 at batch 128 (a tenth of it with --quick, extrapolated)."""
    makers = engines()
    rng = np.random.default_rng(SEED + 2)
    data = rng.standard_normal((EPOCH_SAMPLES, MNIST_SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, MNIST_SIZES[-1], EPOCH_SAMPLES)
    starts = range(0, EPOCH_SAMPLES, EPOCH_BATCH)
    run = starts[:len(starts) // 10] if quick else starts
    params = init_params(MNIST_SIZES)
    steps = {}
    for name, make in makers.items():
        step = make(params, "relu", "ce")
        # NOTE: before timing, one step at each batch size the epoch meets (128 and the last,
        # 96): the first step of a size is the compiled step's trace and compilation, which
        # the start-up lines below report; a timed epoch is the steady state, as in the rows
        for i in (0, starts[-1]):
            step(data[i:i + EPOCH_BATCH], labels[i:i + EPOCH_BATCH])

        def epoch(step=step) -> None:
            for i in run:
                step(data[i:i + EPOCH_BATCH], labels[i:i + EPOCH_BATCH])

        steps[name] = epoch
    medians = round_robin(steps, 1, 3 if quick else 5, warmup=0)
    medians = {name: m * len(starts) / len(run) for name, m in medians.items()}
    label = "one epoch 60,000×784, batch 128"
    if quick:
        label = f"epoch ({len(run)}/{len(starts)} batches ×{len(starts) / len(run):.1f})"
    return table_row(label, medians)


# --- per-op overhead and the 10,000-op chain (bench_overhead's chain and timer) -----------------

@contextlib.contextmanager
def overhead_settings(n: int, repeats: int) -> Iterator[None]:
    """Run bench_overhead's functions with another chain length / repeat count."""
    saved = bench_overhead.N, bench_overhead.REPEATS
    bench_overhead.N, bench_overhead.REPEATS = n, repeats
    try:
        yield
    finally:
        bench_overhead.N, bench_overhead.REPEATS = saved


def _leaves() -> dict[str, Callable]:
    leaves = {"neurona": lambda: ag.tensor(np.array([0.5], dtype=np.float32),
                                           requires_grad=True)}
    if torch is not None:
        leaves["torch"] = lambda: torch.tensor([0.5], requires_grad=True)
    return leaves


def chain_times(op: str, rounds: int) -> dict[str, tuple[float, float]]:
    """(forward, backward) µs per op, median over rounds in which the engines take turns."""
    leaves = _leaves()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in leaves}
    for r in range(rounds):
        names = list(leaves)[r % len(leaves):] + list(leaves)[:r % len(leaves)]
        for name in names:
            runs[name].append(bench_overhead._time(
                lambda leaf=leaves[name]: bench_overhead._chain(leaf, op)))
    return {name: (statistics.median(f for f, _ in t), statistics.median(b for _, b in t))
            for name, t in runs.items()}


def bench_overhead_ops(quick: bool) -> list[str]:
    lines = [f"per-op overhead, µs per op on a 1-element float32 tensor (chain of "
             f"{bench_overhead.N}; forward / backward)"]
    per_op = {}
    with overhead_settings(bench_overhead.N, 3 if quick else 5):
        for op in OVERHEAD_OPS:
            per_op[op] = times = chain_times(op, 2 if quick else 3)
            line = f"  {op:<8}" + "".join(f" {name} {f:5.2f} / {b:5.2f}"
                                          for name, (f, b) in times.items())
            if "torch" in times:
                (nf, nb), (tf, tb) = times["neurona"], times["torch"]
                line += f"   ratio {nf / tf:.2f} / {nb / tb:.2f}"
            lines.append(line)
    summary = "  median over ops:" + "".join(
        f" {name} {statistics.median(t[name][0] for t in per_op.values()):5.2f}"
        f" / {statistics.median(t[name][1] for t in per_op.values()):5.2f}"
        for name in per_op[OVERHEAD_OPS[0]])
    lines.append(summary)
    return lines


def bench_long_chain(quick: bool) -> str:
    with overhead_settings(CHAIN_OPS, 1):
        times = chain_times("tanh", 3 if quick else 5)
    parts = [f"{name} forward {f * CHAIN_OPS / 1e3:.1f} ms, backward {b * CHAIN_OPS / 1e3:.1f} ms"
             for name, (f, b) in times.items()]
    line = f"{CHAIN_OPS:,}-op tanh chain: " + "; ".join(parts)
    if "torch" in times:
        line += f"  (backward ratio {times['neurona'][1] / times['torch'][1]:.2f})"
    return line


# --- start-up: a fresh interpreter to the end of the first training step ------------------------

STARTUP_PROBE = """
import time
t0 = time.perf_counter()
import numpy as np
import autograd_core as ag
import nn
import optim
t1 = time.perf_counter()
rng = np.random.default_rng(0)
for sizes, act, loss_fn, batch in (((2, 8, 8, 1), nn.Tanh, nn.MSELoss(), 4),
                                   ((784, 512, 256, 256, 128, 10), nn.ReLU,
                                    nn.CrossEntropyLoss(), 128)):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), act()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = ag.Tensor(rng.standard_normal((batch, sizes[0]), dtype=np.float32))
    t = (ag.zeros(batch, 1) if sizes[-1] == 1 else rng.integers(0, 10, batch))
    opt.zero_grad()
    loss_fn(model(x), t).backward()
    opt.step()
t2 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "step": t2 - t1}))
"""


COMPILE_PROBE = """
import time, json
import numpy as np
import autograd_core as ag
import nn
import optim
rng = np.random.default_rng(0)
times = {}
for name, sizes, act, loss_fn, batch in (("2-8-8-1", (2, 8, 8, 1), nn.Tanh, nn.MSELoss(), 4),
                                         ("784-10", (784, 512, 256, 256, 128, 10), nn.ReLU,
                                          nn.CrossEntropyLoss(), 128)):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), act()]
    model = nn.Sequential(*layers[:-1])
    step = optim.compile_step(model, loss_fn, optim.SGD(model.parameters(), lr=0.01))
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    t = (np.zeros((batch, 1), np.float32) if sizes[-1] == 1 else rng.integers(0, 10, batch))
    t0 = time.perf_counter()
    step(x, t)
    t1 = time.perf_counter()
    step(x, t)
    t2 = time.perf_counter()
    times[name] = {"trace": t1 - t0, "compile": t2 - t1}
print(json.dumps(times))
"""


def startup_run(cache_dir: str, probe: str = STARTUP_PROBE) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe], env=env, check=True,
                          capture_output=True, text=True)
    total = time.perf_counter() - start
    inner = json.loads(done.stdout.strip().splitlines()[-1])
    return {"total": total, **inner}


def bench_startup(quick: bool) -> list[str]:
    """Cold: a new empty NUMBA_CACHE_DIR per run. Warm: the cache the cold runs filled."""
    lines = ["start-up, fresh `python -c`: import autograd_core, nn, optim + first training step "
             "(Sequential, loss, SGD) of the 2-8-8-1 and "
             "784-…-10 (batch 128) nets"]
    with tempfile.TemporaryDirectory(prefix="neurona-bench-") as tmp:
        cold = []
        for i in range(1 if quick else 2):
            cache = os.path.join(tmp, f"cold{i}")
            os.mkdir(cache)
            cold.append(startup_run(cache))
        warm = [startup_run(os.path.join(tmp, "cold0")) for _ in range(1 if quick else 3)]
        fresh = os.path.join(tmp, "fresh")
        os.mkdir(fresh)
        compiled_fresh = startup_run(fresh, COMPILE_PROBE)
        # the kernels the generated steps call stay cached; the steps themselves (their
        # sources and Numba's cache of them) are removed: a new network on this machine
        for name in os.listdir(fresh):
            if name.startswith("neurona_steps"):
                shutil.rmtree(os.path.join(fresh, name))
        compiled_cold = startup_run(fresh, COMPILE_PROBE)
        compiled_warm = startup_run(fresh, COMPILE_PROBE)
    for label, runs in (("warm (Numba cache filled)", warm),
                        ("cold (empty NUMBA_CACHE_DIR)", cold)):
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        lines.append(f"  {label:<28} total {med['total']:.2f} s  (import {med['import']:.2f} s, "
                     f"first step {med['step']:.2f} s; interpreter start-up is the rest; "
                     f"median of {len(runs)})")
    lines.append("compiled step (optim.compile_step), fresh `python -c`: first call = traced "
                 "eager step (with Numba's import), second = Numba compile of the generated step "
                 "+ run")
    for label, run in (("cold (empty NUMBA_CACHE_DIR)", compiled_fresh),
                       ("kernels cached, new step", compiled_cold),
                       ("warm (step cached)", compiled_warm)):
        lines.append(f"  {label:<28} " + ", ".join(
            f"{net}: trace {run[net]['trace']:.2f} s + compile {run[net]['compile']:.2f} s"
            for net in ("2-8-8-1", "784-10")))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and a tenth of the epoch (extrapolated): about 40 s")
    parser.add_argument("--settle", type=float, default=SETTLE, metavar="SECONDS",
                        help=f"pause before each timed block (default {SETTLE})")
    args = parser.parse_args()
    quick = args.quick
    globals()["SETTLE"] = args.settle
    if torch is not None:
        torch.set_num_threads(2)
    began = time.perf_counter()
    versions = f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else
                                             ", torch not installed")
    print(f"neurona training step (forward + backward + SGD), float32, {versions}, "
          f"{os.cpu_count()} CPUs{' — QUICK' if quick else ''}")
    print(f"median time per step over round-robin repeats ({SETTLE} s pause before each block); "
          "ratios to PyTorch eager\n")
    print(TABLE_HEAD)
    rows = bench_steps(quick)
    rows.append(bench_epoch(quick))
    print(rows[-1])
    if quick:
        print("  (quick: the epoch time is extrapolated from a tenth of the batches)")
    print()
    for line in bench_overhead_ops(quick):
        print(line, flush=True)
    print(bench_long_chain(quick))
    print()
    for line in bench_startup(quick):
        print(line)
    print(f"\n(total benchmark time {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
