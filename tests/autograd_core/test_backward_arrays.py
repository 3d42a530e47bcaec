"""``Op.backward_arrays``: the array-level backward of the ops that declare one equals their
Tensor ``backward`` (float64, random inputs and seeds), and the engine runs it in a plain
backward (``create_graph=False``) but the Tensor rule when the backward is recorded.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.ops import Op

RNG = np.random.default_rng(0)


def _t(*shape, positive=False):
    data = RNG.standard_normal(shape)
    return ag.tensor(np.abs(data) + 0.1 if positive else data, dtype="float64",
                     requires_grad=True)


def _labels_one_hot(n, c):
    return ag.tensor(np.eye(c)[RNG.integers(0, c, n)], dtype="float64")


#: name → function building the op's output from fresh float64 inputs
CASES = {
    "Sigmoid": lambda: ag.sigmoid(_t(3, 4)),
    "Tanh": lambda: ag.tanh(_t(3, 4)),
    "ReLU": lambda: ag.relu(_t(3, 4)),
    "LeakyReLU": lambda: ag.leaky_relu(_t(3, 4), 0.2),
    "ELU": lambda: ag.elu(_t(3, 4), 0.7),
    "Softplus": lambda: ag.softplus(_t(3, 4), 2.0),
    "SiLU": lambda: ag.silu(_t(3, 4)),
    "GELU": lambda: ag.gelu(_t(3, 4)),
    "GELUTanh": lambda: ag.gelu(_t(3, 4), approximate="tanh"),
    "Linear": lambda: ag.linear(_t(5, 3), _t(4, 3), _t(4)),
    "Linear_no_bias_3d": lambda: ag.linear(_t(2, 5, 3), _t(4, 3)),
    "LinearActivation_relu": lambda: ag.linear(_t(5, 3), _t(4, 3), _t(4), activation="relu"),
    "LinearActivation_tanh": lambda: ag.linear(_t(5, 3), _t(4, 3), _t(4), activation="tanh"),
    "LinearActivation_sigmoid": lambda: ag.linear(_t(5, 3), _t(4, 3), _t(4),
                                                  activation="sigmoid"),
    "SoftmaxCrossEntropy_mean": lambda: ag.softmax_cross_entropy(_t(5, 3), _labels_one_hot(5, 3)),
    "SoftmaxCrossEntropy_sum_t": lambda: ag.softmax_cross_entropy(
        _t(5, 3), ag.softmax(_t(5, 3)).detach().requires_grad_(), reduction="sum"),
    "SoftmaxCrossEntropy_none": lambda: ag.softmax_cross_entropy(
        _t(2, 5, 3), _labels_one_hot(10, 3).reshape(2, 5, 3), reduction="none"),
    "MeanSquaredError": lambda: ag.mse_loss(_t(4, 2), _t(4, 2)),
    "MeanSquaredError_sum": lambda: ag.mse_loss(_t(4, 2), _t(4, 2), reduction="sum"),
}

DECLARING = sorted(name for name, op in Op.registry.items() if op.backward_arrays is not None)


def test_the_ops_declaring_it_are_all_covered():
    covered = {fn().grad_fn.op.__name__ for fn in CASES.values()}
    assert covered == set(DECLARING)


@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_arrays_equals_the_tensor_backward(case):
    out = CASES[case]()
    node = out.grad_fn
    seed = RNG.standard_normal(out.shape)
    with ag.enable_grad():
        expected = node.op.backward(node, ag.tensor(seed, dtype="float64"))
    got = node.op.backward_arrays(node, seed)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected) == len(node.inputs)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert (g is None) == (e is None), (case, i)
        if g is None:
            continue
        g = np.asarray(g)
        # the engine sums broadcast axes back (the bias's batch axis): compare what it passes on
        target = node.inputs[i].shape
        e = ag.ops.sum_to(e, target).data if e.shape != target else e.data
        g = ag.ops.sum_to(ag.tensor(g), target).data if g.shape != target else g
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13, err_msg=f"{case} input {i}")


@pytest.mark.parametrize("case", ["Tanh", "ELU", "LinearActivation_sigmoid",
                                  "SoftmaxCrossEntropy_mean"])
def test_engine_runs_arrays_in_plain_backward_and_tensors_when_recording(case, monkeypatch):
    out = CASES[case]()
    op = out.grad_fn.op
    calls = []
    arrays, tensors = op.backward_arrays, op.backward
    monkeypatch.setattr(op, "backward_arrays",
                        staticmethod(lambda ctx, g: calls.append("arrays") or arrays(ctx, g)))
    monkeypatch.setattr(op, "backward",
                        staticmethod(lambda ctx, g: calls.append("tensor") or tensors(ctx, g)))
    leaves = [t for t in out.grad_fn.inputs if t.requires_grad]
    total = out.sum()
    recorded = ag.grad(total, leaves, create_graph=True)
    assert calls == ["tensor"]
    calls.clear()
    total.backward()
    assert calls == ["arrays"]
    for leaf, r in zip(leaves, recorded):
        np.testing.assert_allclose(leaf.grad.numpy(), r.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("fn", [lambda x: ag.leaky_relu(x, 0.1), lambda x: ag.elu(x, 1.3),
                                lambda x: ag.softplus(x, 0.5), ag.silu, ag.gelu],
                         ids=["leaky_relu", "elu", "softplus", "silu", "gelu"])
def test_wired_backward_kernels_match_finite_differences(fn):
    x = ag.tensor(np.array([-2.0, -0.3, 0.4, 1.7, 3.0]), dtype="float64", requires_grad=True)
    fn(x).sum().backward()
    h = 1e-6
    numeric = (fn(ag.tensor(x.data + h)).data - fn(ag.tensor(x.data - h)).data) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-7, atol=1e-9)


def test_float32_plain_backward_keeps_the_dtype():
    x = ag.tensor(RNG.standard_normal((3, 4)), dtype="float32", requires_grad=True)
    ag.gelu(x).sum().backward()
    assert x.grad.dtype == np.float32
