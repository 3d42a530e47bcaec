"""Shared test set-up: every test starts from float32 default dtype, grad mode on and seed 0,
with Python's own Ctrl-C handler."""
from __future__ import annotations

import signal
import threading

import numpy as np
import pytest
from hypothesis import settings

import autograd_core as ag
from autograd_core.grad_mode import STATE

settings.register_profile("neurona", max_examples=15, deadline=None, derandomize=True,
                          print_blob=True)
settings.load_profile("neurona")


@pytest.fixture(autouse=True)
def _fresh_engine_state():
    ag.set_default_dtype(np.float32)
    ag.manual_seed(0)
    STATE.grad_enabled = True
    STATE.anomaly_enabled = False
    yield
    ag.set_default_dtype(np.float32)
    STATE.grad_enabled = True
    STATE.anomaly_enabled = False


@pytest.fixture(autouse=True)
def _restore_op_registry():
    """Custom ops that tests define must not stay in ``Op.registry`` (the op-table coverage test
    checks that every registered op has a row)."""
    saved = dict(ag.Op.registry)
    yield
    ag.Op.registry.clear()
    ag.Op.registry.update(saved)


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """Tests that press Ctrl-C (``_thread.interrupt_main``) expect Python's default handler. A
    shell started in the background without job control (``cmd &`` in a script, CI runners,
    mutmut's workers) gives its children SIGINT ignored or handled otherwise, and then an
    interrupt that ``deferred_interrupts`` delivers to the previous handler is — rightly —
    ignored: those tests would fail for the runner's reason, not the code's."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
