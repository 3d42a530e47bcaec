"""Shared test set-up: every test starts from float32 default dtype, grad mode on and seed 0."""
from __future__ import annotations

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
