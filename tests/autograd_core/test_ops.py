"""Every registered op, checked from its row in ``op_cases.py`` (STYLE.md §6 and rule 8).

For each row: the forward equals the numpy reference; gradcheck passes on the full Jacobian in
float64; gradgradcheck passes where the row allows it; every input's gradient has the input's
shape and dtype (the engine's broadcast reduction, rule R4); float32 inputs give float32 outputs.
The registry itself is checked against the table, so an op without a row fails, and planted
wrong backward rules must be caught by gradcheck with the op named in the message.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.graph.walk import topological_order
from tests.autograd_core.op_cases import CASES, OpCase, Sample

DOUBLE_BACKWARD_CASES = [case for case in CASES if case.supports_double_backward]


def _ids(case: OpCase) -> str:
    return case.id


def _tensors(sample: Sample, dtype) -> tuple[ag.Tensor, ...]:
    """Floating arrays become fresh tensors of ``dtype`` that require grad; the other arrays
    (labels, conditions) become constants."""
    return tuple(ag.Tensor(a.astype(dtype), requires_grad=True) if a.dtype.kind == "f"
                 else ag.Tensor(a.copy()) for a in sample.args)


def _bound(case: OpCase, sample: Sample):
    """``case.fn`` with the sample's non-tensor arguments filled in (what gradcheck calls)."""
    def fn(*tensors):
        return case.fn(*tensors, **sample.kwargs)
    return fn


def _reference(case: OpCase, sample: Sample, dtype=np.float64) -> np.ndarray:
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in sample.args]
    return np.asarray(case.reference(*args, **sample.kwargs))


def _ops_in_graph(out: ag.Tensor) -> set[str]:
    if out.grad_fn is None:
        return set()
    return {node.op.__name__ for node in topological_order([out.grad_fn])}


def _check_grads(inputs: tuple[ag.Tensor, ...]) -> None:
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            assert x.grad is None, f"input {i} is a constant but received a gradient"
            continue
        assert x.grad is not None, f"input {i} (shape {x.shape}) received no gradient"
        assert x.grad.shape == x.shape, \
            f"input {i}: gradient shape {x.grad.shape} != input shape {x.shape}"
        assert x.grad.dtype == x.dtype, \
            f"input {i}: gradient dtype {x.grad.dtype} != input dtype {x.dtype}"


def _backward_random(out: ag.Tensor, seed: int = 0) -> None:
    """``out.backward(g)`` with a random ∂J/∂out of the output's shape and dtype."""
    rng = np.random.default_rng(seed)
    out.backward(ag.Tensor(rng.standard_normal(out.shape).astype(out.dtype)))


# --- the table checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_ids)
@given(data=st.data())
def test_forward_matches_numpy_reference(case: OpCase, data) -> None:
    sample = data.draw(case.samples, label="sample")
    inputs = _tensors(sample, np.float64)
    out = case.fn(*inputs, **sample.kwargs)
    expected = _reference(case, sample)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)
    # the row really exercises its op (or the call was an identity that returned its input)
    assert case.op in _ops_in_graph(out) or any(out is x for x in inputs), \
        f"{case.id}: {case.op} is not in the graph of the result"


@pytest.mark.parametrize("case", CASES, ids=_ids)
@given(data=st.data())
def test_gradcheck(case: OpCase, data) -> None:
    sample = data.draw(case.samples, label="sample")
    assert ag.gradcheck(_bound(case, sample), _tensors(sample, np.float64), **case.tolerances)


@pytest.mark.parametrize("case", DOUBLE_BACKWARD_CASES, ids=_ids)
@given(data=st.data())
def test_gradgradcheck(case: OpCase, data) -> None:
    sample = data.draw(case.samples, label="sample")
    assert ag.gradgradcheck(_bound(case, sample), _tensors(sample, np.float64),
                            **case.tolerances)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@given(data=st.data())
def test_grad_has_input_shape_and_dtype(case: OpCase, data) -> None:
    sample = data.draw(case.samples, label="sample")
    inputs = _tensors(sample, np.float64)
    out = case.fn(*inputs, **sample.kwargs)
    if not out.requires_grad:                  # an identity call on a constant: nothing to check
        return
    _backward_random(out)
    _check_grads(inputs)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@given(data=st.data())
def test_float32_in_float32_out(case: OpCase, data) -> None:
    sample = data.draw(case.samples, label="sample")
    inputs = _tensors(sample, np.float32)
    out = case.fn(*inputs, **sample.kwargs)
    assert out.dtype == np.float32, f"{case.id}: float32 inputs gave a {out.dtype} output"
    np.testing.assert_allclose(out.data, _reference(case, sample), rtol=1e-4, atol=1e-5)
    if out.requires_grad:
        _backward_random(out)
        _check_grads(inputs)


# --- the table covers the registry ----------------------------------------------------------------
def _registered_ops() -> set[str]:
    """The engine's public ops (custom ops that other tests define are not the engine's)."""
    return {name for name, op in ag.Op.registry.items()
            if not name.startswith("_") and op.__module__.startswith("autograd_core.")}


def test_every_registered_op_has_a_case() -> None:
    missing = _registered_ops() - {case.op for case in CASES}
    assert not missing, f"ops without a row in tests/autograd_core/op_cases.py: {sorted(missing)}"


def test_every_case_names_a_registered_op() -> None:
    unknown = {case.op for case in CASES} - _registered_ops()
    assert not unknown, f"rows in op_cases.py for unregistered ops: {sorted(unknown)}"


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# --- planted bugs: gradcheck must catch a wrong backward and name its op --------------------------
def _tanh_wrong(ctx, grad):
    return grad * (1 - ctx.output)                        # forgot the square


def _mul_swapped(ctx, grad):
    a, b = ctx.inputs
    return grad * a, grad * b                             # each input gets its own value


def _sum_wrong_axis(ctx, grad):
    x = ctx.inputs[0]
    (axis,) = ctx.kwargs["axis"]
    kept = tuple(1 if i != axis else side for i, side in enumerate(x.shape))
    return ag.broadcast_to(ag.reshape(grad, kept), x.shape)   # expanded along the wrong axis


def _mean_without_count(ctx, grad):
    x = ctx.inputs[0]
    return ag.broadcast_to(grad, x.shape)                 # forgot to divide by n


def _softmax_no_correction(ctx, grad):
    return ctx.output * grad                              # dropped the − Σ(grad ⊙ out) term


_RNG = np.random.default_rng(7)
_X33 = _RNG.standard_normal((3, 3))
_Y33 = _RNG.standard_normal((3, 3))

PLANTED = [
    ("Tanh", _tanh_wrong, lambda x: ag.tanh(x), (_X33,)),
    ("Mul", _mul_swapped, lambda a, b: (a * b).tanh().sum(axis=0), (_X33, _Y33[0])),
    ("Sum", _sum_wrong_axis, lambda x: (x.sum(axis=0) * 2.0).exp(), (_X33,)),
    ("Mean", _mean_without_count, lambda x: ag.mean(x.sin()), (_X33,)),
    ("Softmax", _softmax_no_correction, lambda x: ag.softmax(x * 1.5, axis=-1), (_X33,)),
]


@pytest.mark.parametrize("op_name, wrong_backward, fn, arrays", PLANTED,
                         ids=[p[0] for p in PLANTED])
def test_gradcheck_catches_a_planted_bug_and_names_the_op(monkeypatch, op_name, wrong_backward,
                                                          fn, arrays) -> None:
    inputs = tuple(ag.Tensor(a.copy(), requires_grad=True) for a in arrays)
    assert ag.gradcheck(fn, inputs)                       # the real rule passes
    monkeypatch.setattr(ag.Op.registry[op_name], "backward", staticmethod(wrong_backward))
    # the engine's plain backward runs an op's array-level rule when it has one: drop it, so
    # the planted Tensor rule is the one checked (planted array rules: the test below)
    monkeypatch.setattr(ag.Op.registry[op_name], "backward_arrays", None)
    with pytest.raises(ag.GradcheckError, match=op_name) as info:
        ag.gradcheck(fn, inputs)
    message = str(info.value)
    blamed = message.split("The backward rule of ")[-1].split(" disagrees")[0]
    assert blamed == op_name, f"blamed {blamed!r} instead of {op_name!r}: {message}"


def test_gradcheck_catches_a_planted_bug_in_an_array_level_rule(monkeypatch) -> None:
    x = ag.Tensor(_X33.copy(), requires_grad=True)
    monkeypatch.setattr(ag.Op.registry["Tanh"], "backward_arrays",
                        staticmethod(lambda ctx, grad: grad * (1 - ctx.output.data)))
    with pytest.raises(ag.GradcheckError, match="Tanh"):
        ag.gradcheck(lambda t: ag.tanh(t), (x,))
