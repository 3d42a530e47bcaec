"""Module calls drawn as nested Graphviz clusters on the per-op views (no collapse)."""
from __future__ import annotations

import numpy as np

import autograd_core as ag
import nn
import viz
from viz.backward_model import backward_model
from viz.graph_model import _walk, forward_model
from viz.modules import module_tree, nest_modules

from .dot_tree import cluster_paths


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4))

    def forward(self, x):
        return ag.relu(self.seq(x)) * 2.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.block(x))


def traced(with_loss=True):
    ag.manual_seed(0)
    net = Net()
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    t = ag.tensor(rng.standard_normal((5, 1)).astype(np.float32))
    loss_fn = nn.MSELoss()
    roots = (net, loss_fn) if with_loss else (net,)
    with viz.trace_modules(*roots) as trace:
        loss = loss_fn(net(x), t)
    return net, loss, trace, x, t


def op_paths(source, m):
    """{op class name: sorted cluster paths of its nodes} from the DOT text."""
    paths = cluster_paths(source)
    found: dict[str, list] = {}
    for n in m.nodes:
        if n.kind == "op" or n.kind in ("derivative", "weighted", "branch", "inverse"):
            found.setdefault(n.data["op"], []).append(paths[n.id])
    return {k: sorted(v) for k, v in found.items()}


def root_id(m, loss):
    prefix = "op" if m.view == "forward" else "inv"
    return f"{prefix}{id(loss.grad_fn)}"


def test_module_tree_nests_calls_as_they_were_made():
    net, loss, trace, x, t = traced()
    owner, parent = module_tree(_walk(loss), trace)
    by_name = {c.name: c for c in trace.calls}
    up = {c.name: parent[id(c)].name for c in trace.calls if id(c) in parent}
    assert up == {"Net.block.seq.0": "Net.block.seq", "Net.block.seq.1": "Net.block.seq",
                  "Net.block.seq.2": "Net.block.seq", "Net.block.seq": "Net.block",
                  "Net.block": "Net", "Net.head": "Net"}
    assert id(by_name["Net"]) not in parent and id(by_name["MSELoss"]) not in parent
    ops = {node.op.__name__ + str(i): owner[id(node)].name
           for i, node in enumerate(_walk(loss)) if id(node) in owner}
    assert set(ops.values()) >= {"Net.block.seq.0", "Net.block", "Net.head", "MSELoss"}


def test_forward_dot_has_the_sequential_cluster_inside_the_module_cluster():
    net, loss, trace, x, t = traced()
    source = viz.draw_forward(loss, trace=trace, names={"x": x, "t": t}).source
    m = nest_modules(forward_model(loss, names={"x": x, "t": t}), loss, trace=trace)
    paths = op_paths(source, m)
    seq = ["Net (Net)", "Net.block (Block)", "Net.block.seq (Sequential)"]
    assert paths["Linear"] == sorted([["Net (Net)", "Layer 3"],
                                      seq + ["Layer 1"],
                                      seq + ["Layer 2"]])
    assert paths["Tanh"] == [seq + ["Net.block.seq.1 (Tanh)"]]
    assert paths["ReLU"] == [["Net (Net)", "Net.block (Block)"]]      # Block's own ops
    assert paths["Mul"] == [["Net (Net)", "Net.block (Block)"]]
    tree = cluster_paths(source)
    assert tree[root_id(m, loss)] == ["MSELoss (MSELoss)"]
    assert tree[f"t{id(x)}"] == [] and tree[f"t{id(t)}"] == []      # inputs stay outside
    w0 = net.block.seq[0].weight
    assert tree[f"t{id(w0)}"] == seq + ["Layer 1"]  # parameters inside
    assert "W⁽¹⁾" in source                          # named from the trace, as the course does
    assert source.count("subgraph cluster_") == 8          # + MSELoss
    # the Sequential's cluster is opened inside Block's, which is inside Net's
    lines = [ln.strip() for ln in source.splitlines()]
    opened = [ln.split('label="')[1].split('"')[0] for ln in lines
              if ln.startswith("color=") and 'label="' in ln]
    assert opened.index("Net (Net)") < opened.index("Net.block (Block)") < \
        opened.index("Net.block.seq (Sequential)")


def test_backward_dot_nests_the_inverse_nodes_and_clusters_false_turns_it_off():
    net, loss, trace, x, t = traced()
    source = viz.draw_backward(loss, trace=trace).source
    m = nest_modules(backward_model(loss), loss, trace=trace)
    paths = op_paths(source, m)
    seq = ["Net (Net)", "Net.block (Block)", "Net.block.seq (Sequential)"]
    assert paths["Tanh"] == [seq + ["Net.block.seq.1 (Tanh)"]]
    assert paths["Mul"] == [["Net (Net)", "Net.block (Block)"]]
    tree = cluster_paths(source)
    assert tree[root_id(m, loss)] == ["MSELoss (MSELoss)"]
    assert tree["unit"] == []
    assert tree[f"leaft{id(net.head.bias)}"] == ["Net (Net)", "Layer 3"]
    # without module clusters, the inverse network keeps its inverse neurons only
    for source in (viz.draw_backward(loss, trace=trace, clusters=False).source,
                   viz.draw_backward(loss).source):                  # modules unknown
        assert "cluster_m" not in source and "subgraph cluster_neuron" in source


def test_model_without_trace_nests_by_the_module_tree():
    net, loss, trace, x, t = traced()
    source = viz.draw_forward(loss, model=net).source
    tree = cluster_paths(source)
    m = forward_model(loss, model=net)
    linears = [n for n in m.nodes if n.data.get("op") == "Linear"]
    assert sorted(len(tree[n.id]) for n in linears) == [2, 4, 4]
    inner = max((tree[n.id] for n in linears), key=len)
    assert inner[:3] == ["Net (Net)", "block (Block)", "block.seq (Sequential)"]
    relu = next(n for n in m.nodes if n.data.get("op") == "ReLU")
    assert tree[relu.id] == []                # parameter-free: not found without a trace
    assert tree[f"t{id(net.block.seq[2].weight)}"] == inner[:3] + ["Layer 2"]


def test_backprop_steps_keep_the_clusters_in_every_frame():
    net, loss, trace, x, t = traced(with_loss=False)
    frames = viz.backprop_steps(loss, trace=trace)
    assert len(frames) == len(_walk(loss)) + 1
    for f in frames:
        assert f.source.count("subgraph cluster_") == 7     # Net, block, seq, 0, 1, 2, head


def test_parameter_free_op_between_modules_goes_to_their_common_cluster():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(3, 1)

        def forward(self, x):
            return self.b(ag.exp(self.a(x)))

    pair = Pair()
    y = pair(ag.ones((4, 2))).sum()
    source = viz.draw_forward(y, model=pair).source
    m = forward_model(y, model=pair)
    tree = cluster_paths(source)
    exp = next(n for n in m.nodes if n.data.get("op") == "Exp")
    total = next(n for n in m.nodes if n.data.get("op") == "Sum")
    assert tree[exp.id] == ["Pair (Pair)"]                 # between a and b: inside Pair
    assert tree[total.id] == []                            # after the model: outside
