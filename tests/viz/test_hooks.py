"""viz's own backward passes run with ``hooks=False``: the user's tensor hooks are not called and
cannot change what is drawn."""
from __future__ import annotations

import numpy as np

import autograd_core as ag
import nn
import viz
from viz.backward_model import backward_model
from viz.labels import format_array
from viz.neuron_view import draw_network


def hooked_example():
    """L = (σ(w·x + b) − t)², with hooks on a leaf (w) and a non-leaf (z) that scale by 100."""
    w = ag.tensor(0.5, requires_grad=True)
    x = ag.tensor(1.5, requires_grad=True)
    b = ag.tensor(-0.3, requires_grad=True)
    t = ag.tensor(1.0)
    z = w * x + b
    L = (ag.sigmoid(z) - t) ** 2
    calls = []
    w.register_hook(lambda g: calls.append("w") or g * 100.0)
    z.register_hook(lambda g: calls.append("z") or g * 100.0)
    return L, {"w": w, "x": x, "b": b, "t": t, "z": z}, calls


def expected_grads():
    s = 1 / (1 + np.exp(-(0.5 * 1.5 - 0.3)))
    dz = 2 * (s - 1.0) * s * (1 - s)
    return {"w": dz * 1.5, "x": dz * 0.5, "b": dz, "z": dz}


def test_draw_backward_does_not_call_user_hooks_nor_draw_their_changes():
    L, names, calls = hooked_example()
    source = viz.draw_backward(L, names=names).source
    assert calls == []
    m = backward_model(L, names=names)
    assert calls == []
    leaves = {n.data["name"]: float(n.data["grad"]) for n in m.nodes_of_kind("leaf_grad")}
    exp = expected_grads()
    for k in ("w", "x", "b"):
        np.testing.assert_allclose(leaves[k], exp[k], rtol=1e-5)
        assert format_array(np.float32(exp[k])) in source
    assert format_array(np.float32(exp["w"] * 100.0)) not in source
    assert format_array(np.float32(exp["b"] * 100.0)) not in source
    # the hooks are still there and still work for the user's own backward
    L.backward()
    assert calls == ["z", "w"]
    np.testing.assert_allclose(names["w"].grad.numpy(), exp["w"] * 100 * 100, rtol=1e-4)
    np.testing.assert_allclose(names["b"].grad.numpy(), exp["b"] * 100, rtol=1e-4)


def test_backprop_steps_and_draw_gradcheck_do_not_call_user_hooks():
    L, names, calls = hooked_example()
    frames = viz.backprop_steps(L, names=names)
    assert calls == []
    assert format_array(np.float32(expected_grads()["w"])) in frames[-1].source
    viz.draw_gradcheck(L, [names["w"], names["x"]], names=names)
    assert calls == []


def test_draw_network_does_not_call_hooks_on_the_parameters():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)).double()
    before = draw_network(model, [1.0, 2.0], [1.0], view="backward").source
    calls = []
    model[0].weight.register_hook(lambda g: calls.append("w") or g * 0.0)
    model[2].bias.register_hook(lambda g: calls.append("b") or g * 0.0)
    after = draw_network(model, [1.0, 2.0], [1.0], view="backward").source
    assert calls == []
    assert after == before
