"""draw_gradcheck(output, inputs): the end-to-end finite-difference check of ∂J/∂input, and
collapse="module" for draw_gradcheck."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import viz
from autograd_core.checks import check_inputs, replay
from viz.graph_model import _walk


def course_example(dtype="float32"):
    w, x, b = (ag.tensor(v, dtype=dtype, requires_grad=True) for v in (0.5, 1.5, -0.3))
    t = ag.tensor(1.0, dtype=dtype)
    z = w * x + b
    L = (ag.sigmoid(z) - t) ** 2
    return L, {"w": w, "x": x, "b": b, "t": t, "z": z}


@pytest.fixture
def broken_square():
    class BrokenSquare(ag.Op):
        """out = x², with a wrong backward (x instead of 2x)."""

        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.inputs[0]

    yield BrokenSquare
    ag.Op.registry.pop("BrokenSquare", None)


def test_replay_reproduces_the_output_in_float64_and_substitutes():
    L, names = course_example()
    order = _walk(L)
    out = replay(L, order, {})
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), L.numpy(), rtol=1e-6)
    w2 = ag.tensor(2.0, dtype="float64")
    s = 1 / (1 + np.exp(-(2.0 * 1.5 - 0.3)))
    np.testing.assert_allclose(replay(L, order, {id(names["w"]): w2}).numpy(), (s - 1) ** 2)
    assert names["w"].grad is None and float(names["w"].numpy()) == 0.5


def test_end_to_end_agrees_for_the_course_example():
    L, names = course_example()
    results = check_inputs(L, [names["w"], names["x"], names["b"]], _walk(L),
                           {id(v): k for k, v in names.items()})
    s = 1 / (1 + np.exp(-(0.5 * 1.5 - 0.3)))
    dz = 2 * (s - 1) * s * (1 - s)
    assert [r.name for r in results] == ["w", "x", "b"]
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    for r, exact in zip(results, (dz * 1.5, dz * 0.5, dz)):
        np.testing.assert_allclose(r.analytical, exact, rtol=1e-6)   # -0.3 in float32
        np.testing.assert_allclose(r.numerical, exact, rtol=1e-6)
        assert r.method == "full" and r.max_error < 1e-8
    source = viz.draw_gradcheck(L, [names["w"], names["b"]], names=names).source
    assert "∂J/∂w end-to-end: ✓ agrees with finite differences" in source
    assert "∂J/∂b end-to-end: ✓ agrees with finite differences" in source
    assert "∂J/∂x end-to-end" not in source                  # only the inputs asked for
    assert source.count("✓ end-to-end") == 2
    assert source.count("✓ gradcheck") == 4         # per-op colours stay (w·x + b: one box)


def test_inputs_is_optional_and_a_single_tensor_is_accepted():
    L, names = course_example()
    plain = viz.draw_gradcheck(L, names=names).source
    assert "end-to-end" not in plain and "✓ gradcheck" in plain
    one = viz.draw_gradcheck(L, names["x"], names=names).source
    assert one.count("end-to-end") == 2                       # the node's line and the legend


def test_a_wrong_backward_shows_end_to_end_and_on_its_op(broken_square):
    x = ag.tensor([0.5, -1.0], requires_grad=True)
    v = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (ag.tanh(broken_square.apply(ag.sigmoid(x))) + v * 3.0).sum()
    g = viz.draw_gradcheck(y, [x, v], names={"x": x, "v": v})
    src = g.source
    assert "∂J/∂x end-to-end: ✗ disagrees with finite differences" in src
    assert "∂J/∂v end-to-end: ✓ agrees with finite differences" in src
    assert "✗ gradcheck" in src                               # the BrokenSquare op itself
    x_line = next(line for line in src.splitlines() if line.strip().startswith(f"t{id(x)} "))
    assert "✗ end-to-end" in x_line and 'color="#b00000"' in x_line
    (r_x, r_v) = check_inputs(y, [x, v], _walk(y), {})
    assert r_x.status == "fail" and r_v.status == "ok"
    s = 1 / (1 + np.exp(-x.numpy().astype(np.float64)))
    right = (1 - np.tanh(s * s) ** 2) * 2 * s * s * (1 - s)   # d tanh(σ(x)²)/dx
    np.testing.assert_allclose(r_x.numerical, right, rtol=1e-6)
    np.testing.assert_allclose(r_x.analytical, right / 2, rtol=1e-6)   # the broken rule: x·δ
    np.testing.assert_allclose(r_x.max_error, np.max(np.abs(right / 2)), rtol=1e-6)


def test_unused_input_large_input_and_bad_inputs():
    x = ag.tensor(np.linspace(-1, 1, 300), requires_grad=True)
    u = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (ag.tanh(x) * x).sum()
    r_x, r_u = check_inputs(y, [x, u], _walk(y), {id(x): "x", id(u): "u"})
    assert r_x.status == "ok" and r_x.method == "projected" and r_x.numerical.shape == (3,)
    assert r_u.status == "unused"
    src = viz.draw_gradcheck(y, [x, u], names={"x": x, "u": u}).source
    assert "∂J/∂x end-to-end: ✓ agrees with finite differences" in src
    assert "random projections" in src and "∂J/∂u: not used by the output" in src
    with pytest.raises(TypeError, match="inputs must be Tensors"):
        viz.draw_gradcheck(y, [np.ones(3)])
    with pytest.raises(TypeError, match="dtype int64"):
        viz.draw_gradcheck(y, ag.tensor(np.arange(3)))


def test_end_to_end_in_spanish_and_in_the_summary_view():
    L, names = course_example()
    src = viz.draw_gradcheck(L, names["w"], names=names, lang="es").source
    assert "∂J/∂w de extremo a extremo: ✓ coincide con diferencias finitas" in src
    summary = viz.draw_gradcheck(L, names["w"], names=names, max_nodes=2).source
    assert "Graph too large" in summary and "∂J/∂w end-to-end: ✓" in summary


def test_collapsed_gradcheck_colours_module_boxes_and_names_the_failing_op(broken_square):
    class Squash(nn.Module):
        def forward(self, x):
            return broken_square.apply(x)

    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), Squash(), nn.Linear(4, 1)).double()
    x = ag.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    with viz.trace_modules(model) as trace:
        y = model(x).sum()
    g = viz.draw_gradcheck(y, [model[0].weight, model[3].bias], collapse="module",
                           trace=trace)
    src = g.source
    boxes = {line.strip().split(" ")[0]: line for line in src.splitlines()
             if "box3d" in line and "label=" in line and "legend" not in line}
    by_label = {line.split('label="', 1)[1].split("\\n", 1)[0]: line for line in boxes.values()}
    assert "✗ gradcheck:\\nbrokensquare" in by_label["2"]
    assert 'fillcolor="#f08080"' in by_label["2"]
    for ok in ("Layer 1", "1", "Layer 2"):
        assert "✓ gradcheck (1/1 op)" in by_label[ok] and 'fillcolor="#9fe0a8"' in by_label[ok]
    assert "∂J/∂W⁽¹⁾ end-to-end: ✗ disagrees" in src        # through the broken op
    assert "∂J/∂b⁽²⁾ end-to-end: ✓ agrees" in src           # after it: unaffected
    params = next(line for line in src.splitlines() if "b⁽²⁾ (1,) ✓" in line)
    assert "parameters" in params
    with pytest.raises(ValueError, match="collapse='layer'"):
        viz.draw_gradcheck(y, collapse="layer", trace=trace)
