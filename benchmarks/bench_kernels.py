"""µs per call of every registered kernel: numpy reference vs the (serial) Numba body, by size.

Run: .venv/bin/python benchmarks/bench_kernels.py [name ...]   (float32).
The thresholds written in autograd_core/kernels/*.py come from this table: the
compiled body runs below ``compiled_below`` elements and from ``min_size`` on, numpy in between.
Each figure is the best of 5 repeats of a loop lasting ~10 ms (the VMs are noisy); every call
allocates its output, as the ops do. Row kernels get rows of 10 classes (shape (n // 10, 10)).
In-place optimizer kernels (``optim.py``) update their arguments on every call instead, with
the hyperparameters of ``OPTIM_SCALARS`` and non-negative second-moment buffers.
"""
from __future__ import annotations

import inspect
import sys
import time

import numpy as np

from autograd_core.kernels import KERNELS

SIZES = (1, 64, 1024, 4096, 16384, 65536, 1_000_000)
REPEATS = 5
SCALARS = {"negative_slope": 0.01, "alpha": 1.0, "beta": 1.0, "scale": 1.0 / 128}
#: hyperparameters of the in-place optimizer kernels (PyTorch's defaults, a later step)
OPTIM_SCALARS = {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
                 "first_step": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                 "weight_decay": 0.0, "step": 10, "alpha": 0.99, "lr_decay": 0.0}
#: buffers that hold sums or averages of g², hence never negative (and ≥ 1 > ḡ², |ḡ| < ½)
SQUARES = {"exp_avg_sq", "max_exp_avg_sq", "square_avg", "state_sum"}


def make_args(kernel, size: int, dtype=np.float32, rng=None) -> tuple:
    """Arguments for ``kernel`` by parameter name (arrays of ``size`` elements, rows of 10)."""
    rng = rng or np.random.default_rng(0)
    shape = (max(size // 10, 1), min(size, 10)) if "rows" in kernel.name else (size,)
    scalars = OPTIM_SCALARS if kernel.inplace else SCALARS
    args = []
    for name in inspect.signature(kernel.reference).parameters:
        if name in scalars:
            args.append(scalars[name])
        elif name in SQUARES:
            args.append((np.abs(rng.standard_normal(shape)) + 1).astype(dtype))
        elif name == "grad_avg":
            args.append((np.tanh(rng.standard_normal(shape)) / 2).astype(dtype))
        elif name == "target":
            t = rng.random(shape)
            args.append((t / t.sum(axis=-1, keepdims=True)).astype(dtype))
        else:
            args.append((rng.standard_normal(shape) * 3).astype(dtype))
    return tuple(args)


def time_call(fn, args) -> float:
    """Median µs per call."""
    fn(*args)
    start, loops = time.perf_counter(), 0
    while time.perf_counter() - start < 0.01:
        fn(*args)
        loops += 1
    results = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(loops):
            fn(*args)
        results.append((time.perf_counter() - start) / loops * 1e6)
    return min(results)


def main(names: list[str]) -> None:
    print("µs per call, float32; columns: numpy / njit, then the fastest")
    print(f"{'kernel':<36}" + "".join(f"{n:>20}" for n in SIZES))
    for name, kernel in KERNELS.items():
        if names and name not in names:
            continue
        compiled = kernel.compiled
        cells = []
        for size in SIZES:
            args = make_args(kernel, size)
            ref, fast = (time_call(f, args) for f in (kernel.reference, compiled))
            best = min((ref, "n"), (fast, "c"))[1]
            cells.append(f"{ref:8.1f}/{fast:7.1f} {best}")
        print(f"{name:<36}" + "".join(f"{c:>20}" for c in cells))
    print("n/c: fastest of numpy, compiled")


if __name__ == "__main__":
    main(sys.argv[1:])
