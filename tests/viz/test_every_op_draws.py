"""Every op of the engine draws, forward and inverse, in both languages, with true labels.

A new op gets a correct picture by declaring its rule, roles and formula (``Op``): this walks
the op table (tests/autograd_core/op_cases.py), one drawn sample per op, and checks that both
views build and that every "∂J/∂NAME = value" in the inverse network is the engine's gradient.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_core as ag
import viz
from tests.autograd_core.op_cases import CASES
from tests.viz.test_label_truth import claims, dot_labels, expected_gradients


def _ids(case):
    return case.id


@pytest.mark.parametrize("case", CASES, ids=_ids)
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_op_draws_true_labels(case, data):
    sample = data.draw(case.samples, label="sample")
    inputs = tuple(ag.Tensor(a.astype(np.float64), requires_grad=True) if a.dtype.kind == "f"
                   else ag.Tensor(a.copy()) for a in sample.args)
    out = case.fn(*inputs, **sample.kwargs)
    if not out.requires_grad or out.dtype.kind != "f":
        return
    J = out.sum() if out.size != 1 or out.ndim else out
    if J.grad_fn is None:                      # an identity call returned its (leaf) input
        return
    names = {f"x{k}": t for k, t in enumerate(inputs)}
    expected = expected_gradients(J, names, None)
    for lang in ("en", "es"):
        assert "digraph" in viz.draw_forward(J, names=names, lang=lang).source
        source = viz.draw_backward(J, names=names, lang=lang).source
        for lines in dot_labels(source):
            for name, numbers in claims(lines):
                if name == "J" or name not in expected:
                    continue
                want = np.ravel(expected[name])
                if numbers.size == want.size:        # small enough to be written out
                    np.testing.assert_allclose(numbers, want, rtol=2e-3, atol=1e-4,
                                               err_msg=f"{case.id}: ∂J/∂{name}")
