"""The one graph traversal: reverse topological order by Kahn's algorithm, without recursion.

A node comes out only after every node that consumes its output (within the part of the graph
reachable from the roots): the moment its gradient is complete, the course's *suma de salidas*.
The engine, gradcheck's blame search, freeing and viz all walk the graph through this function.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

N = TypeVar("N")


def topological_order(roots: Iterable[N], parents: Callable[[N], Iterable[N]] | None = None
                      ) -> Iterator[N]:
    """Yield every node reachable from ``roots``, each after all of its consumers.

    ``parents(node)`` gives the nodes whose outputs ``node`` consumes, once per edge (a node used
    twice, as in ``x * x``, appears twice); by default ``node.parents()``. The order is
    deterministic: it follows input order.
    """
    roots = list(dict.fromkeys(roots))
    consumers: dict[N, int] = {node: 0 for node in roots}
    edges: dict[N, list[N]] = {}                   # each node's parents, read once
    stack = list(roots)
    while stack:                                   # pass 1: count consumer edges per node
        node = stack.pop()
        node_parents = node.parents() if parents is None else list(parents(node))
        edges[node] = node_parents
        for parent in node_parents:
            if parent in consumers:
                consumers[parent] += 1
            else:
                consumers[parent] = 1
                stack.append(parent)
    ready = [node for node in reversed(roots) if consumers[node] == 0]
    while ready:                                   # pass 2: emit a node once its count hits zero
        node = ready.pop()
        yield node                                 # (the caller may release it: edges are kept)
        for parent in reversed(edges.pop(node)):
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)
