"""``collapse="module"`` (one box per nn module) and the animated GIF of the backward pass."""
from __future__ import annotations

import re

import shutil
import sys

import numpy as np
import pytest

import autograd_core as ag
import nn
import viz
from viz.graph_model import _walk
from viz.labels import format_array
from viz.modules import assign_ops, module_model

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


def mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def traced_step(sizes=(3, 4, 2), batch=5, seed=0):
    rng = np.random.default_rng(seed)
    model, loss_fn = mlp(sizes), nn.MSELoss()
    x = ag.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    t = ag.tensor(rng.standard_normal((batch, sizes[-1])).astype(np.float32))
    with viz.trace_modules(model, loss_fn) as trace:
        loss = loss_fn(model(x), t)
    return model, loss_fn, loss, trace


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return ag.relu(self.fc(x)) * 2.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.block(x))


def test_trace_records_calls_innermost_first_and_removes_hooks():
    model, loss_fn, loss, trace = traced_step()
    names = [c.name for c in trace.calls]
    assert names == ["Sequential.0", "Sequential.1", "Sequential.2", "Sequential", "MSELoss"]
    assert trace.calls[0].output.shape == (5, 4)
    assert all(not m._forward_hooks for _, m in model.named_modules())
    assert not loss_fn._forward_hooks


def test_one_box_per_module_with_op_counts_and_grouped_parameters():
    model, loss_fn, loss, trace = traced_step()
    m = module_model(loss, trace=trace)
    boxes = {n.data["module"]: n for n in m.nodes_of_kind("module")}
    assert set(boxes) == {"Sequential.0", "Sequential.1", "Sequential.2", "MSELoss"}
    assert boxes["Sequential.0"].data["class"] == "Linear"
    assert boxes["Sequential.0"].data["n_ops"] == 1 and "1 op: linear" in \
        boxes["Sequential.0"].lines
    assert boxes["Sequential.0"].lines[0] == "Layer 1" and boxes["Sequential.2"].lines[0] == \
        "Layer 2"                                       # the course's names of dense layers
    assert boxes["Sequential.1"].data["ops"] == {"relu": 1}
    assert boxes["MSELoss"].data["n_ops"] >= 1
    order = _walk(loss)
    assert sum(n.data["n_ops"] for n in boxes.values()) == len(order)
    assert len(assign_ops(order, trace)) == len(order)
    # parameters: one group per Linear, in the Linear's cluster, with an edge into its box
    groups = {label: ids for _, label, ids in m.groups}
    assert set(groups) == {"Layer 1", "Layer 2"}
    for k, label in ((1, "Sequential.0"), (2, "Sequential.2")):
        box, params = groups[f"Layer {k}"]
        assert box == boxes[label].id
        pnode = m.node(params)
        assert pnode.kind == "parameter"
        sup = "⁽¹⁾" if k == 1 else "⁽²⁾"
        assert pnode.data["params"] == [f"W{sup}", f"b{sup}"]
        assert any(e.src == params and e.dst == box for e in m.edges)
    # edges between modules carry the tensor's shape; the chain runs input → ... → output
    ids = {k: n.id for k, n in boxes.items()}
    chain = [("Sequential.0", "Sequential.1", "(5,4)"), ("Sequential.1", "Sequential.2", "(5,4)"),
             ("Sequential.2", "MSELoss", "(5,2)")]
    for src, dst, shape in chain:
        (edge,) = [e for e in m.edges if e.src == ids[src] and e.dst == ids[dst]]
        assert edge.lines == [shape]
    assert any(e.src == ids["MSELoss"] and e.dst == "output" for e in m.edges)
    assert not m.nodes_of_kind("op")                    # every op was inside a module


def test_dot_source_has_one_cluster_per_parameterized_module():
    model, loss_fn, loss, trace = traced_step((3, 4, 4, 2))
    src = viz.draw_forward(loss, collapse="module", trace=trace).source
    assert src.count("subgraph cluster_") == 3
    assert src.count("shape=box3d") == 6                # 3 Linear, 2 ReLU, the loss
    assert "W⁽²⁾ (4,4)" in src and "module (nn)" in src
    es = viz.draw_forward(loss, collapse="module", trace=trace, lang="es").source
    assert 'label="Capa 2"' in es and "1 operación" in es and "módulo (nn)" in es


def test_nested_modules_functional_ops_belong_to_the_enclosing_module():
    net = Net()
    x = ag.tensor(np.ones((2, 3), dtype=np.float32))
    with viz.trace_modules(net) as trace:
        y = net(x)
    loss = (y ** 2).mean()
    m = module_model(loss, trace=trace)
    boxes = {n.data["module"]: n.data for n in m.nodes_of_kind("module")}
    assert boxes["block.fc"]["ops"] == {"linear": 1}
    assert boxes["block"]["n_ops"] == 2                 # relu and × 2 (its own, not fc's)
    assert boxes["head"]["n_ops"] == 1
    assert "Net" not in boxes                           # Net ran no op of its own
    assert len(m.nodes_of_kind("op")) == 2              # the square and the mean, outside


def test_model_without_trace_maps_ops_through_parameters():
    model, loss_fn, loss, _ = traced_step()
    m = module_model(loss, model=model)
    boxes = {n.data["module"] for n in m.nodes_of_kind("module")}
    assert boxes == {"0", "2"}                          # the Linears own weight and bias
    ops = [n.lines[0] for n in m.nodes_of_kind("op")]
    assert "relu" in ops                                # parameter-free: drawn as an op


def test_module_called_twice_gets_two_boxes():
    fc = nn.Linear(2, 2)
    x = ag.tensor(np.ones((1, 2), dtype=np.float32))
    with viz.trace_modules(fc) as trace:
        y = fc(fc(x))
    m = module_model(y.sum(), trace=trace)
    labels = sorted(n.data["module"] for n in m.nodes_of_kind("module"))
    assert labels == ["Linear", "Linear #2"]


def test_collapsed_backward_unit_one_to_parameter_gradients():
    model, loss_fn, loss, trace = traced_step((2, 2, 1), batch=3)
    m = module_model(loss, view="backward", trace=trace)
    assert m.node("unit").lines[0] == "1"
    unit_edge = next(e for e in m.edges if e.src == "unit")
    assert m.node(unit_edge.dst).data["module"] == "MSELoss"
    first = next(n for n in m.nodes_of_kind("module") if n.data["module"] == "Sequential.0")
    (grad_edge,) = [e for e in m.edges if e.dst == f"params{first.id}"]
    assert grad_edge.src == first.id and grad_edge.kind == "grad"
    loss.backward(retain_graph=True)
    params = m.node(f"params{first.id}")
    assert any(format_array(model[0].weight.grad.data) in line for line in params.lines)
    src = viz.draw_backward(loss, collapse="module", trace=trace).source
    assert "∂J/∂· (3,2)" in src and "∂J/∂W⁽¹⁾" in src


def test_collapse_without_model_finds_the_modules_through_the_parameters():
    model, _, loss, _ = traced_step()
    for draw in (viz.draw_forward, viz.draw_backward):
        assert canonical_ids(draw(loss, collapse="module").source) == \
            canonical_ids(draw(loss, collapse="module", model=model).source)
    m = module_model(loss)
    assert sorted(n.lines[0] for n in m.nodes_of_kind("module")) == ["Layer 1", "Layer 2"]


def canonical_ids(source: str) -> str:
    ids: dict[str, str] = {}
    return re.sub(r"\b(?:paramsmod|cluster_mod|mod|params|op|t)\d+\b",
                  lambda m: ids.setdefault(m.group(0), f"N{len(ids)}"), source)


def test_collapse_errors():
    _, _, loss, trace = traced_step()
    a, b = ag.tensor(1.0, requires_grad=True), ag.tensor(2.0, requires_grad=True)
    with pytest.raises(ValueError, match="trace_modules"):
        viz.draw_forward(a * b, collapse="module")         # no parameter belongs to a module
    with pytest.raises(ValueError, match="collapse="):
        viz.draw_forward(loss, collapse="layer", trace=trace)
    with pytest.raises(TypeError, match="nn.Module"):
        with viz.trace_modules(object()):
            pass


def test_large_training_step_collapsed_draws_and_renders():
    # NOTE: how fast it draws is a benchmark's business, not a timed unit test's
    sizes = (784, 512, 256, 256, 128, 10)
    rng = np.random.default_rng(0)
    model, loss_fn = mlp(sizes), nn.CrossEntropyLoss()
    x = ag.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    t = ag.tensor(rng.integers(0, 10, 64))
    with viz.trace_modules(model, loss_fn) as trace:
        loss = loss_fn(model(x), t)
    g = viz.draw_forward(loss, collapse="module", trace=trace)
    gb = viz.draw_backward(loss, collapse="module", trace=trace)
    assert g.source.count("shape=box3d") == 10          # 5 Linear, 4 ReLU, the loss
    if shutil.which("dot") is not None:
        assert b"<svg" in g.pipe(format="svg") and b"<svg" in gb.pipe(format="svg")


@needs_dot
def test_save_frames_gif_is_a_multi_frame_animation(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    w = ag.tensor(0.5, requires_grad=True)
    b = ag.tensor(-0.3, requires_grad=True)
    L = (ag.sigmoid(w * 1.5 + b) - 1.0) ** 2
    frames = viz.backprop_steps(L, names={"w": w, "b": b})
    (path,) = viz.save_frames(frames, tmp_path, format="gif", duration=300)
    assert path.endswith("backprop.gif")
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated
        assert im.n_frames == len(frames)


def test_save_frames_gif_without_pillow_says_so(tmp_path, monkeypatch):
    w = ag.tensor(0.5, requires_grad=True)
    frames = viz.backprop_steps(w * 2.0)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(RuntimeError, match="needs Pillow"):
        viz.save_frames(frames, tmp_path, format="gif")


def test_save_frames_unknown_format(tmp_path):
    w = ag.tensor(0.5, requires_grad=True)
    with pytest.raises(ValueError, match="'gif'"):
        viz.save_frames(viz.backprop_steps(w * 2.0), tmp_path, format="mp4")
