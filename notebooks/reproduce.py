"""Reproduce course 002's two result tables on Fashion-MNIST with neurona (notebook 11).

    python -m notebooks.reproduce --study activations  # → results/course002_activations.json
    python -m notebooks.reproduce --study optimizers   # → results/course002_optimizers.json
    make results                                       # both, niced, side by side (make -j2)

Both studies train the course's ``BaseNetwork`` (784-512-256-256-128-10) on 50,000 of the 60,000
training images, choose the epoch by accuracy on the other 10,000 (validation), and report the
accuracy of that epoch's weights on the 10,000 test images (``EarlyStopping(
restore_best_weights=True)``):

* activation study: sigmoid, tanh, ReLU, LeakyReLU(0.1), ELU, Swish; ``nn.Linear``'s default
  initialization; inputs (x − 0.5)/0.5; SGD lr 1e-2 with momentum 0.9 (PyTorch's form
  v ← μv + g); batch 256; at most 50 epochs, stopped after 7 epochs without a better validation
  accuracy;
* optimizer study: ReLU with the course's Kaiming initialization (first layer N(0, 1/n_in), the
  others N(0, 2/n_in), biases 0); inputs (x − 0.2861)/0.3530; batch 256; 40 epochs; SGD lr 0.1,
  the course's momentum m ← βm + (1 − β)g with lr 0.1 and β 0.9 (``optim.SGDMomentum``),
  Adam lr 1e-3.

The results file records the command, the date, the machine and every run's validation curve,
and is rewritten (atomically) after every run, with ``"complete": false`` until the last one.
The notebook imports ``run_study`` to compute a reduced run of the same code in CI.
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")   # one BLAS thread: small matrices, shared cores

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import autograd_core as ag  # noqa: E402
import nn  # noqa: E402
import optim  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HIDDEN = (512, 256, 256, 128)

# The course's published test accuracies (course 002 and the UvA tutorials it follows), in %.
PUBLISHED = {
    "activations": {"sigmoid": 10.00, "tanh": 87.59, "ReLU": 88.62, "LeakyReLU": 88.92,
                    "ELU": 87.27, "Swish": 88.73},
    "optimizers": {"SGD": 89.09, "SGDMomentum": 88.83, "Adam": 89.46},
}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU,
               "LeakyReLU": lambda: nn.LeakyReLU(0.1), "ELU": nn.ELU, "Swish": nn.Swish}
# optimizer name → (class, keyword arguments); the activation study uses ACTIVATION_OPTIMIZER
OPTIMIZERS = {"SGD": (optim.SGD, {"lr": 0.1}),
              "SGDMomentum": (optim.SGDMomentum, {"lr": 0.1, "beta": 0.9}),
              "Adam": (optim.Adam, {"lr": 1e-3})}
ACTIVATION_OPTIMIZER = (optim.SGD, {"lr": 1e-2, "momentum": 0.9})
# study → (input mean, input std, initialization, max epochs, patience or None)
SETUPS = {"activations": (0.5, 0.5, "default", 50, 7),
          "optimizers": (0.2861, 0.3530, "kaiming", 40, None)}
BATCH_SIZE = 256


def load_data(mean: float, std: float, n_train: int = 50_000, n_val: int = 10_000,
              n_test: int = 10_000, seed: int = 42) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST from ``$NEURONA_DATA``: a seeded random train/validation split of the 60,000
    training images (the first ``n_train`` / next ``n_val`` of one permutation) and the first
    ``n_test`` test images, standardised as (x − mean)/std."""
    X, y = (t.numpy() for t in nn.datasets.load_fashion_mnist("train", download=False,
                                                               flatten=True))
    X_test, y_test = (t.numpy() for t in nn.datasets.load_fashion_mnist("test", download=False,
                                                                         flatten=True))
    if n_train + n_val > len(X):
        raise ValueError(f"load_data: n_train + n_val = {n_train + n_val} exceeds the "
                         f"{len(X)} training images")
    order = np.random.default_rng(seed).permutation(len(X))
    train, val = order[:n_train], order[n_train:n_train + n_val]

    def scale(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    return {"train": (scale(X[train]), y[train]), "val": (scale(X[val]), y[val]),
            "test": (scale(X_test[:n_test]), y_test[:n_test])}


def base_network(act_fn, init: str = "default", seed: int = 0) -> nn.Sequential:
    """The course's BaseNetwork: Linear + act for each of HIDDEN, then Linear(128 → 10).

    ``init="kaiming"`` is the course's Kaiming initialization: W ~ N(0, 1/n_in) for the first
    layer (its input has not gone through a ReLU), N(0, 2/n_in) for the others, b = 0."""
    ag.manual_seed(seed)
    sizes = (784, *HIDDEN)
    layers: list = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), act_fn()]
    layers.append(nn.Linear(sizes[-1], 10))
    model = nn.Sequential(*layers)
    if init == "kaiming":
        linears = [m for m in model if isinstance(m, nn.Linear)]
        with ag.no_grad():
            for index, layer in enumerate(linears):
                gain = 1.0 if index == 0 else 2.0
                nn.init.normal_(layer.weight, 0.0, math.sqrt(gain / layer.in_features))
                nn.init.zeros_(layer.bias)
    elif init != "default":
        raise ValueError(f"base_network: init must be 'default' or 'kaiming', got {init!r}")
    return model


def train_one(study: str, name: str, data: dict, max_epochs: int, seed: int = 0) -> dict:
    """One run of ``study`` for ``name`` (an activation or an optimizer): train, keep the
    best-validation-accuracy epoch's weights, test them. Returns the run's record."""
    _, _, init, _, patience = SETUPS[study]
    if study == "activations":
        model = base_network(ACTIVATIONS[name], init, seed)
        make, kwargs = ACTIVATION_OPTIMIZER
    else:
        model = base_network(nn.ReLU, init, seed)
        make, kwargs = OPTIMIZERS[name]
    optimizer = make(model.parameters(), **kwargs)
    stopper = optim.EarlyStopping(monitor="val_accuracy", mode="max",
                                  patience=patience if patience is not None else max_epochs + 1,
                                  restore_best_weights=True)
    start = time.time()
    history = optim.fit(model, nn.CrossEntropyLoss(), optimizer, data["train"],
                        epochs=max_epochs, batch_size=BATCH_SIZE, validation_data=data["val"],
                        callbacks=[stopper], seed=seed, verbose=False)
    test = optim.evaluate(model, data["test"], nn.CrossEntropyLoss(), batch_size=2000)
    return {"test_accuracy": 100 * test["accuracy"], "test_loss": test["loss"],
            "best_epoch": stopper.best_epoch + 1, "epochs_run": len(history.epoch),
            "best_val_accuracy": 100 * stopper.best,
            "val_accuracy": [100 * v for v in history.history["val_accuracy"]],
            "train_loss": history.history["loss"], "seconds": time.time() - start}


def run_study(study: str, names=None, n_train: int = 50_000, n_val: int = 10_000,
              n_test: int = 10_000, max_epochs: int | None = None, seed: int = 0,
              on_run=None) -> dict:
    """Train every run of ``study`` ("activations" or "optimizers"), or those in ``names``;
    ``max_epochs`` defaults to the course's. ``on_run(name, record)`` is called after each."""
    if study not in SETUPS:
        raise ValueError(f"run_study: study must be one of {sorted(SETUPS)}, got {study!r}")
    mean, std, _, epochs, _ = SETUPS[study]
    choices = ACTIVATIONS if study == "activations" else OPTIMIZERS
    names = list(choices) if names is None else list(names)
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise ValueError(f"run_study: unknown {study} {unknown}; expected some of {list(choices)}")
    data = load_data(mean, std, n_train, n_val, n_test)
    records = {}
    for name in names:
        records[name] = train_one(study, name, data, max_epochs or epochs, seed)
        if on_run is not None:
            on_run(name, records[name])
    return records


def results_path(study: str) -> Path:
    """Where the full run of ``study`` is stored."""
    return RESULTS_DIR / f"course002_{study}.json"


def machine() -> dict:
    """What the results file says about where it was computed."""
    return {"node": platform.node(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}


def _write(path: Path, payload: dict) -> None:
    """Write JSON atomically: a reader sees the previous file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notebooks.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", choices=list(SETUPS), required=True)
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default notebooks/results/course002_<study>.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--names", nargs="+", default=None,
                        help="only these runs of the study (to split a study over processes, "
                             "give each its own --out results/course002_<study>_<part>.json; "
                             "notebook 11 merges them)")
    args = parser.parse_args(argv)
    studies = [args.study]
    args.out = args.out or results_path(args.study)
    arguments = sys.argv[1:] if argv is None else argv
    payload = {"command": "python -m notebooks.reproduce " + " ".join(arguments),
               "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "machine": machine(), "seed": args.seed, "published": PUBLISHED,
               "setups": {s: dict(zip(("mean", "std", "init", "max_epochs", "patience"),
                                      SETUPS[s])) for s in studies},
               "complete": False, "results": {s: {} for s in studies}}
    for study in studies:
        def record(name, run, study=study):
            payload["results"][study][name] = run
            payload["finished"] = datetime.datetime.now().astimezone().isoformat(
                timespec="seconds")
            _write(args.out, payload)
            print(f"{study:>11} {name:<11} test {run['test_accuracy']:.2f}% (published "
                  f"{PUBLISHED[study][name]:.2f}%), best epoch {run['best_epoch']}/"
                  f"{run['epochs_run']}, {run['seconds']:.0f} s", flush=True)
        run_study(study, names=args.names, seed=args.seed, on_run=record)
    payload["complete"] = True
    _write(args.out, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
