"""Wall time of a 16-trial random search: serial, n_jobs=2 processes (joblib), a 2-worker Dask
LocalCluster. Each trial trains a 2-64-64-2 tanh MLP for 30 epochs on 2,000 points.

    python benchmarks/bench_search.py [--trials 16] [--jobs 2] [--no-dask]

The parallel runs include starting the workers (processes import numpy, Numba, neurona); the
tables are checked to be equal to the serial one.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import nn
import optim
from optim.search import choice, log_uniform, random_search

SPACE = {"lr": log_uniform(-2, 0), "hidden": choice([32, 64]), "epochs": 30}


def build_and_train(lr, hidden, epochs):
    x, y = nn.datasets.spiral(2000, noise=0.2, seed=0)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                          nn.Linear(hidden, 2))
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return optim.fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=epochs, batch_size=100,
                     validation_data=(x, y), verbose=False)


def _same(a, b) -> bool:
    """Equal tables, NaN equal to NaN (a diverged trial's loss)."""
    def cells(trials):
        return [[(k, "nan" if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in row.items()] for row in trials]
    return cells(a) == cells(b)


def _timed(label: str, run, reference=None):
    start = time.perf_counter()
    trials = run()
    seconds = time.perf_counter() - start
    same = "" if reference is None else f"   same table: {_same(trials, reference)}"
    print(f"{label:<28} {seconds:7.2f} s{same}", flush=True)
    return trials, seconds


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    search = lambda n_jobs: random_search(build_and_train, SPACE, args.trials, seed=0,  # noqa: E731
                                          n_jobs=n_jobs)
    build_and_train(0.1, 32, 1)                                  # compile the kernels once
    serial, t_serial = _timed("serial (n_jobs=1)", lambda: search(1))
    _, t_jobs = _timed(f"joblib processes (n_jobs={args.jobs})", lambda: search(args.jobs), serial)
    print(f"speed-up: {t_serial / t_jobs:.2f}x   (load average before: {_load()})")
    if args.no_dask:
        return
    import joblib
    from dask.distributed import Client, LocalCluster
    start = time.perf_counter()
    with LocalCluster(n_workers=args.jobs, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        print(f"{'(cluster start)':<28} {time.perf_counter() - start:7.2f} s")
        with joblib.parallel_config(backend="dask"):
            _, t_dask = _timed(f"dask LocalCluster ({args.jobs} workers)", lambda: search(-1),
                               serial)
    print(f"speed-up: {t_serial / t_dask:.2f}x (cluster start not included)")


if __name__ == "__main__":
    main()
