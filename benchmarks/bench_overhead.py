"""Per-op overhead on a 1-element tensor: forward and backward, µs per op, neurona vs PyTorch.

Run: .venv/bin/python benchmarks/bench_overhead.py   (PyTorch columns appear when torch is
installed). Each figure is the median of several repeats of a chain of N elementwise ops;
backward is timed separately from forward. The last line times a 100,000-op chain with Python's
cyclic garbage collector on and off: the GC's share grows with the number of live tracked
objects per op (a Tensor, its Node, the inputs tuple and the weak reference to the output).
"""
from __future__ import annotations

import gc
import statistics
import time

import numpy as np

import autograd_core as ag

N = 2000
REPEATS = 15


def _chain(make_leaf, op: str):
    """A leaf and a forward function applying ``op`` N times (same code for both engines)."""
    x = make_leaf()

    def forward():
        y = x
        for _ in range(N):
            y = getattr(y, op)() if op != "mul" else y * 1.0
        return y

    return x, forward


def _time(make):
    x, forward = make()
    fwd, bwd = [], []
    for _ in range(REPEATS):
        x.grad = None
        start = time.perf_counter()
        y = forward()
        mid = time.perf_counter()
        y.sum().backward()
        end = time.perf_counter()
        fwd.append((mid - start) / N * 1e6)
        bwd.append((end - mid) / N * 1e6)
    return statistics.median(fwd), statistics.median(bwd)


def main() -> None:
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    print(f"µs per op on a 1-element float32 tensor (chain of {N}, median of {REPEATS})")
    print(f"{'op':<8} {'neurona fwd':>12} {'neurona bwd':>12} {'torch fwd':>10} {'torch bwd':>10}")
    for op in ("mul", "tanh", "sigmoid", "exp", "relu"):
        f, b = _time(lambda op=op: _chain(
            lambda: ag.tensor(np.array([0.5], dtype=np.float32), requires_grad=True), op))
        row = f"{op:<8} {f:>12.2f} {b:>12.2f}"
        if torch is not None:
            tf, tb = _time(lambda op=op: _chain(
                lambda: torch.tensor([0.5], requires_grad=True), op))
            row += f" {tf:>10.2f} {tb:>10.2f}   ratio {f / tf:.2f} / {b / tb:.2f}"
        print(row)
    print(_long_chain(100_000))


def _long_chain(n: int) -> str:
    """Forward and backward µs per op of an n-op tanh chain, with the GC enabled and disabled."""
    times = {}
    for label in ("gc on", "gc off"):
        x = ag.tensor(np.array([0.5], dtype=np.float32), requires_grad=True)
        gc.collect()
        if label == "gc off":
            gc.disable()
        try:
            start = time.perf_counter()
            y = x
            for _ in range(n):
                y = y.tanh()
            mid = time.perf_counter()
            y.backward()
            end = time.perf_counter()
        finally:
            gc.enable()
        del y
        times[label] = ((mid - start) / n * 1e6, (end - mid) / n * 1e6)
    (f_on, b_on), (f_off, b_off) = times["gc on"], times["gc off"]
    return (f"tanh chain of {n:,}: fwd {f_on:.2f} µs/op (GC off {f_off:.2f}), "
            f"bwd {b_on:.2f} µs/op (GC off {b_off:.2f})")


if __name__ == "__main__":
    main()
