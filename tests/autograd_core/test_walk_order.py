"""The walk's documented order: each node after all its consumers, and among the nodes ready at
the same time, input order first (depth-first along the first input).

Gradients do not depend on this order, but the engine's steps, gradcheck's blame list and the
step-by-step frames students click through do: a walk that visits siblings in reverse would
still give right gradients, so the order is pinned here on small graphs worked out by hand.

Kahn's algorithm with a stack, for out = (eˣ · tanh x) + relu(tanh x):

    Add            consumers: Mul 1, Relu 1, Exp 1, Tanh 2
    ├─ Mul         after Add: push Relu, then Mul → Mul is popped first (input 0)
    │  ├─ Exp      after Mul: Tanh still has a consumer (Relu) → only Exp is ready
    │  └─ Tanh
    └─ Relu        after Relu: Tanh's count reaches 0
       └─ Tanh
    order: Add, Mul, Exp, Relu, Tanh
"""
from __future__ import annotations

import numpy as np

import autograd_core as ag
from autograd_core.graph import engine
from autograd_core.graph.walk import topological_order


def _names(nodes):
    return [node.op.__name__ for node in nodes]


def _shared_branch_graph():
    x = ag.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    t = x.tanh()
    return x, (x.exp() * t) + t.relu()


def test_walk_visits_inputs_in_order_and_waits_for_every_consumer():
    _, out = _shared_branch_graph()
    assert _names(topological_order([out.grad_fn])) == ["Add", "Mul", "Exp", "ReLU", "Tanh"]


def test_engine_steps_follow_the_walk():
    x, out = _shared_branch_graph()
    seen = []
    with engine.add_observer(lambda step: seen.append(step.node.op.__name__)):
        out.sum().backward()
    assert seen == ["Sum", "Add", "Mul", "Exp", "ReLU", "Tanh"]
    t = np.tanh(x.numpy())                 # the order changes nothing in the gradient
    expected = np.exp(x.numpy()) * t + np.exp(x.numpy()) * (1 - t * t) + \
        (t > 0) * (1 - t * t)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_sibling_order_follows_input_order_not_creation_order():
    # b is created before a, but a is input 0 of the Sub: a's branch comes first
    x = ag.tensor([0.3], dtype="float64", requires_grad=True)
    b = x.exp()
    a = x.sigmoid()
    assert _names(topological_order([(a - b).grad_fn])) == ["Sub", "Sigmoid", "Exp"]
    assert _names(topological_order([(b - a).grad_fn])) == ["Sub", "Exp", "Sigmoid"]


# --- the walk on plain nodes (any hashable, with a parents function) --------------------------
GRAPH = {                      # node: the nodes it consumes, in input order
    "out": ["a", "b", "c"],
    "a": ["d"],
    "b": ["d", "e"],
    "c": [],
    "d": ["e"],
    "e": [],
}


def test_walk_on_a_diamond_by_hand():
    # out; then a (input 0) – its parent d still waits for b; then b: e waits for d; d; e; c
    assert list(topological_order(["out"], GRAPH.__getitem__)) == ["out", "a", "b", "d", "e", "c"]


def test_several_roots_come_out_in_the_order_given():
    assert list(topological_order(["c", "a"], GRAPH.__getitem__)) == ["c", "a", "d", "e"]
    assert list(topological_order(["a", "c"], GRAPH.__getitem__)) == ["a", "d", "e", "c"]


def test_a_root_that_another_root_consumes_waits_for_it():
    # d is listed first, but b (a root too) consumes it: d only after b
    assert list(topological_order(["d", "b"], GRAPH.__getitem__)) == ["b", "d", "e"]


def test_a_repeated_root_is_visited_once():
    assert list(topological_order(["c", "c"], GRAPH.__getitem__)) == ["c"]


def test_an_edge_used_twice_is_counted_twice():
    # x * x: the node has one parent reached along two edges; it comes out once, after both
    graph = {"mul": ["sq", "sq"], "sq": ["leaf"], "leaf": []}
    assert list(topological_order(["mul"], graph.__getitem__)) == ["mul", "sq", "leaf"]
    x = ag.tensor([2.0], dtype="float64", requires_grad=True)
    y = x.exp()
    assert _names(topological_order([(y * y).grad_fn])) == ["Mul", "Exp"]


def test_tensors_computed_under_no_grad_are_not_walked():
    x = ag.tensor([1.0], dtype="float64", requires_grad=True)
    with ag.no_grad():
        frozen = ag.tensor([2.0], dtype="float64").exp()
    out = x.tanh() * frozen
    assert _names(topological_order([out.grad_fn])) == ["Mul", "Tanh"]
