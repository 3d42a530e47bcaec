"""Issue 13 soak/fault test (about 15 s on 2 idle cores): two threads training at once, Ctrl-C
at random moments of ``fit``, and checkpoint saves killed with SIGKILL. After every fault the
model, the optimizer state, the CSV log and the checkpoint on disk must be consistent."""
from __future__ import annotations

import _thread
import csv
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from optim.callbacks import CSVLogger, EarlyStopping

pytestmark = pytest.mark.slow                       # still runs in CI (CI runs everything)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _data(seed: int, n: int = 96):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x.sum(axis=1) > 0).astype(np.int64)


def _build(seed: int):
    # NOTE: the initial weights come from the process-wide generator (as torch.manual_seed's):
    # models are built in one thread, only the training runs concurrently
    ag.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
    return model, optim.Adam(model.parameters(), lr=0.02)


def _train(seed: int, epochs: int = 4, callbacks=(), built=None):
    model, opt = built or _build(seed)
    history = optim.fit(model, nn.CrossEntropyLoss(), opt, _data(seed), epochs=epochs,
                        batch_size=8, seed=seed, validation_data=_data(seed + 100, 32),
                        callbacks=list(callbacks), verbose=False)
    return model, opt, history


def test_two_threads_train_at_once_while_a_third_toggles_no_grad():
    expected = {seed: _train(seed)[0].state_dict() for seed in (1, 2)}
    built = {seed: _build(seed) for seed in (1, 2)}
    results, errors, done = {}, [], threading.Event()

    def worker(seed):
        try:
            results[seed] = _train(seed, built=built[seed])[0].state_dict()
        except BaseException as error:            # noqa: BLE001  (reported below)
            errors.append(error)

    def evaluator():                               # inference in no_grad, all the time
        probe = nn.Linear(3, 2)
        while not done.is_set():
            with ag.no_grad():
                assert not probe(ag.zeros(1, 3)).requires_grad

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in (1, 2)]
    noisy = threading.Thread(target=evaluator)
    noisy.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    noisy.join(30)
    assert not errors, errors
    for seed in (1, 2):
        for key, value in expected[seed].items():
            np.testing.assert_allclose(results[seed][key], value, rtol=1e-6, atol=1e-7)
    assert ag.is_grad_enabled()


def _check_consistent(model, opt, logger, stopper, log_path) -> None:
    steps = {state["step"] for state in opt.state.values()}
    assert len(steps) <= 1, f"Adam step counts differ between parameters: {steps}"
    if opt.state:
        assert len(opt.state) == 4
    assert logger._file is None
    if not log_path.exists():              # the Ctrl-C came before fit opened the log: nothing
        return _check_weights(model, stopper)    # was written, and nothing is half written
    with open(log_path, newline="") as file:
        rows = list(csv.reader(file))
    if rows:
        header = rows[0]
        assert header[0] == "epoch"
        for i, row in enumerate(rows[1:]):
            assert len(row) == len(header) and int(row[0]) == i
    _check_weights(model, stopper)


def _check_weights(model, stopper) -> None:
    if stopper.best_weights is not None:
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value, stopper.best_weights[key])
    assert model.training
    assert ag.is_grad_enabled()


def test_ctrl_c_at_random_moments_of_fit_leaves_everything_consistent(tmp_path):
    rng = random.Random(13)
    start = time.perf_counter()
    _train(0, epochs=3)
    duration = time.perf_counter() - start
    interrupted = 0
    for run in range(12):
        log_path = tmp_path / f"log{run}.csv"
        logger = CSVLogger(log_path)
        stopper = EarlyStopping(patience=100, restore_best_weights=True)
        ag.manual_seed(run)
        model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
        opt = optim.Adam(model.parameters(), lr=0.02)
        timer = threading.Timer(rng.uniform(0.0, duration), _thread.interrupt_main)
        try:
            timer.start()
            optim.fit(model, nn.CrossEntropyLoss(), opt, _data(run), epochs=3, batch_size=8,
                      validation_data=_data(run + 100, 32), callbacks=[logger, stopper],
                      verbose=False)
            timer.join()
            time.sleep(0.01)                       # let a late interrupt land in this block
        except KeyboardInterrupt:
            interrupted += 1
            timer.join()
        _check_consistent(model, opt, logger, stopper, log_path)
    assert interrupted >= 3


_SAVE_LOOP = """
import sys
import numpy as np
import nn
i = 0
while True:
    nn.save({"w": np.full(200_000, float(i)), "i": i}, sys.argv[1])
    if i == 0:
        print("ready", flush=True)
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_saves_killed_at_random_moments_leave_a_loadable_checkpoint(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "ck.npz"
    env = {**os.environ, "PYTHONPATH": ROOT}
    for _ in range(2):
        process = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(path)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert process.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.5))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        state = nn.load(path)                      # whole: one iteration's values throughout
        np.testing.assert_array_equal(state["w"], np.full(200_000, float(state["i"])))
    nn.save({"w": np.zeros(1), "i": -1}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]   # orphans swept
